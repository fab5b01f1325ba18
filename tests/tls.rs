//! The HTTPS front door with a real TLS client (rustls): SNI selection and
//! the default certificate, TLS 1.2 and 1.3, ALPN, session resumption
//! across workers, certificate reload (file change and SIGHUP) under load
//! with no failed handshake, the expiry metric, refused certificates, and
//! `portico cert self-signed`.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;

/// Two certificates: `a.test` (the default) and `*.b.test`, and a mock
/// route and a proxy route to `backend`.
fn tls_config(dir: &TempDir, backend: &str, workers: usize) -> (Config, Vec<u8>, Vec<u8>) {
    let (a_crt, a_key) = make_cert(&dir.path, "a", &["a.test"], false);
    let (b_crt, b_key) = make_cert(&dir.path, "b", &["*.b.test"], false);
    let text = format!(
        r#"[tls]
listen = "127.0.0.1:0"

[[tls.certificates]]
cert = "{}"
key = "{}"

[[tls.certificates]]
cert = "{}"
key = "{}"

[[api]]
name = "site"
[api.stages.prod]
[[api.routes]]
method = "GET"
path = "/hello"
integration = {{ type = "mock", status = 200, body = "hello over tls" }}
[[api.routes]]
method = "GET"
path = "/up"
integration = {{ type = "http_proxy", uri = "http://{backend}/up" }}
"#,
        a_crt.display(),
        a_key.display(),
        b_crt.display(),
        b_key.display()
    );
    let cfg = Config::new(&text).server("workers", &workers.to_string());
    (cfg, cert_der(&a_crt), cert_der(&b_crt))
}

#[test]
fn sni_picks_the_certificate_and_unknown_or_no_names_get_the_default() {
    let dir = TempDir::new("tls");
    let (cfg, a, b) = tls_config(&dir, NO_BACKEND, 1);
    let mut srv = Server::start(&cfg);
    let port = srv.https_port();
    let c = client_config(&[], &[]);
    let seen = tls_get(&c, port, "a.test", "/prod/hello").unwrap();
    assert!(seen.answer.starts_with("HTTP/1.1 200"), "{}", seen.answer);
    assert!(seen.answer.ends_with("hello over tls"), "{}", seen.answer);
    assert!(seen.cert == a, "a.test gets its certificate");
    assert!(
        tls_get(&c, port, "x.b.test", "/prod/hello").unwrap().cert == b,
        "wildcard"
    );
    assert!(
        tls_get(&c, port, "B.Test.x.b.test", "/prod/hello")
            .unwrap()
            .cert
            == a,
        "a wildcard is one label deep"
    );
    assert!(
        tls_get(&c, port, "X.B.TEST", "/prod/hello").unwrap().cert == b,
        "names are case-insensitive"
    );
    assert!(
        tls_get(&c, port, "unknown.test", "/prod/hello")
            .unwrap()
            .cert
            == a,
        "unknown name: default"
    );
    assert!(
        tls_get(&c, port, "127.0.0.1", "/prod/hello").unwrap().cert == a,
        "no SNI: default"
    );
    // The plain listener still serves plain HTTP.
    assert_eq!(srv.connect().get("/prod/hello").status, 200);
}

#[test]
fn tls_1_2_and_1_3_with_alpn_http_1_1() {
    let dir = TempDir::new("tls");
    let (cfg, ..) = tls_config(&dir, NO_BACKEND, 1);
    let mut srv = Server::start(&cfg);
    let port = srv.https_port();
    for (v, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let seen = tls_get(
            &client_config(&[v], &["h2", "http/1.1"]),
            port,
            "a.test",
            "/prod/hello",
        )
        .unwrap();
        assert_eq!(seen.version, Some(want));
        assert_eq!(
            seen.alpn.as_deref(),
            Some(&b"http/1.1"[..]),
            "h2 is not offered back"
        );
        assert!(seen.answer.starts_with("HTTP/1.1 200"), "{}", seen.answer);
    }
    // A client that only speaks h2 has no protocol in common.
    let e = tls_get(&client_config(&[], &["h2"]), port, "a.test", "/prod/hello").unwrap_err();
    assert!(
        e.ends_with("received fatal alert: NoApplicationProtocol"),
        "{e}"
    );
}

/// A TLS connection to `port` that made one keep-alive request (so a
/// TLS 1.3 client also took the server's new tickets) and stays open, so
/// the worker holding it shows in `portico_worker_connections`.
fn held_tls_connection(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
) -> (
    rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    bool,
) {
    use std::io::{Read, Write};
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    s.write_all(b"GET /prod/hello HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.ends_with(b"hello over tls") {
        let n = s.read(&mut chunk).expect("read the answer");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let resumed = s.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    (s, resumed)
}

/// Open client connections per worker, once they add up to `total`.
fn connections_per_worker(srv: &mut Server, total: usize) -> BTreeMap<String, usize> {
    let m = scrape_until(srv, &format!("{total} connections"), |m| {
        m.sum("portico_worker_connections") as usize == total
    });
    m.matching("portico_worker_connections", &[])
        .into_iter()
        .map(|s| (s.labels["worker"].clone(), s.value as usize))
        .collect()
}

#[test]
fn sessions_resume_on_every_worker() {
    let dir = TempDir::new("tls");
    let (cfg, ..) = tls_config(&dir, NO_BACKEND, 2);
    let mut srv = Server::start(&cfg);
    let port = srv.https_port();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let c = client_config(&[v], &[]);
        assert!(!tls_get(&c, port, "a.test", "/prod/hello").unwrap().resumed);
        // Tickets are sealed with one process-wide key, so a ticket from
        // one worker resumes on the other. Connections stay open until
        // each worker was seen to hold a resumed one (the kernel spreads
        // them by address, so which one takes the next is chance).
        let mut held = Vec::new();
        let mut before = connections_per_worker(&mut srv, 0);
        assert_eq!(before.len(), 2, "two workers: {before:?}");
        let mut resumed_on = BTreeSet::new();
        while resumed_on.len() < 2 {
            assert!(
                held.len() < 64,
                "{v:?}: {} connections, all resumed on workers {resumed_on:?} only",
                held.len()
            );
            let (conn, resumed) = held_tls_connection(&c, port);
            held.push(conn);
            assert!(resumed, "{v:?}: connection {} did not resume", held.len());
            let now = connections_per_worker(&mut srv, held.len());
            let took: Vec<_> = now
                .iter()
                .filter(|(w, n)| **n == before.get(*w).copied().unwrap_or(0) + 1)
                .map(|(w, _)| w.clone())
                .collect();
            assert_eq!(took.len(), 1, "{before:?} -> {now:?}");
            resumed_on.extend(took);
            before = now;
        }
        drop(held);
        connections_per_worker(&mut srv, 0);
    }
}

/// How often portico looks at the certificate files (src/control/certificates.rs).
const CERT_WATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// Replaces `{dir}/{name}.crt` and `.key` with a new certificate for
/// `hosts` of the same sizes and modification times (each file renamed into
/// place already stamped, so no moment shows another stamp); returns its DER.
fn replace_unnoticed(dir: &Path, name: &str, hosts: &[&str]) -> Vec<u8> {
    let scratch = dir.join("unnoticed");
    let len = |p: &Path| std::fs::metadata(p).unwrap().len();
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    // ECDSA signatures vary in length by a byte or two: draw until they match.
    let (new_crt, new_key) = (0..100)
        .map(|_| make_cert(&scratch, name, hosts, false))
        .find(|(c, k)| len(c) == len(&crt) && len(k) == len(&key))
        .expect("a certificate of the same size in 100 draws");
    assert!(cert_der(&new_crt) != cert_der(&crt));
    for (new, old) in [(&new_key, &key), (&new_crt, &crt)] {
        let mtime = std::fs::metadata(old).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(new)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        std::fs::rename(new, old).unwrap();
        assert_eq!(std::fs::metadata(old).unwrap().modified().unwrap(), mtime);
    }
    cert_der(&crt)
}

#[test]
fn certificates_reload_on_file_change_and_sighup_without_failed_handshakes() {
    let dir = TempDir::new("tls");
    let (cfg, a, _) = tls_config(&dir, NO_BACKEND, 2);
    let mut srv = Server::start(&cfg);
    let port = srv.https_port();
    let stop = Arc::new(AtomicBool::new(false));
    let tally: SharedTally = Arc::new(Mutex::new(Tally::default()));
    let load: Vec<_> = (0..3)
        .map(|_| {
            let (stop, tally) = (stop.clone(), tally.clone());
            std::thread::spawn(move || {
                let c = client_config(&[], &[]);
                while !stop.load(Ordering::Relaxed) {
                    let r = tls_get(&c, port, "a.test", "/prod/hello");
                    let mut t = tally.lock().unwrap();
                    match r {
                        Ok(s) if s.answer.starts_with("HTTP/1.1 200") => t.ok += 1,
                        Ok(s) => t.failed.push(s.answer),
                        Err(e) => t.failed.push(e),
                    }
                }
            })
        })
        .collect();
    let fresh = no_resumption_config();
    let presented = || tls_get(&fresh, port, "a.test", "/prod/hello").unwrap().cert;
    assert!(presented() == a);
    // Renewed on disk (as certbot would): picked up without a signal.
    let (a2_crt, _) = make_cert(&dir.path, "a", &["a.test"], false);
    let a2 = cert_der(&a2_crt);
    poll_until(
        POLL_FOR,
        presented,
        |c| *c == a2,
        |_| "the renewed certificate was not served".into(),
    );
    // Renewed again, but with the files' size and modification time kept,
    // which the watcher compares: only SIGHUP can notice this one.
    let a3 = replace_unnoticed(&dir.path, "a", &["a.test"]);
    let watched_until = std::time::Instant::now() + 3 * CERT_WATCH;
    while std::time::Instant::now() < watched_until {
        assert!(
            presented() == a2,
            "the watcher reloaded a change it cannot see: the SIGHUP check below would prove nothing"
        );
    }
    srv.signal("HUP");
    poll_until(
        POLL_FOR,
        presented,
        |c| *c == a3,
        |_| "SIGHUP did not serve the new certificate".into(),
    );
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let t = tally.lock().unwrap();
    assert!(
        t.failed.is_empty(),
        "{} of {} failed: {:?}",
        t.failed.len(),
        t.ok + t.failed.len(),
        &t.failed[..t.failed.len().min(3)]
    );
    assert!(t.ok > 0);
}

#[test]
fn a_broken_certificate_on_disk_keeps_the_old_one_serving() {
    let dir = TempDir::new("tls");
    let (cfg, a, _) = tls_config(&dir, NO_BACKEND, 1);
    let mut srv = Server::start(&cfg);
    let port = srv.https_port();
    std::fs::write(dir.path.join("a.key"), "not a key").unwrap();
    srv.signal("HUP");
    let line = poll_until(
        POLL_FOR,
        || srv.next_line(IO_TIMEOUT).unwrap_or_default(),
        |l| l.contains("not reloaded"),
        |_| "no 'not reloaded' line".into(),
    );
    assert!(line.contains("a.key"), "the log names the file: {line}");
    let seen = tls_get(&no_resumption_config(), port, "a.test", "/prod/hello").unwrap();
    assert!(seen.cert == a);
}

#[test]
fn the_expiry_of_each_certificate_is_a_metric() {
    let dir = TempDir::new("tls");
    let (cfg, ..) = tls_config(&dir, NO_BACKEND, 1);
    let mut srv = Server::start(&cfg);
    let m = scrape(&mut srv);
    let a = m.sum_matching("portico_tls_cert_expiry_seconds", &[("hosts", "a.test")]);
    let b = m.sum_matching("portico_tls_cert_expiry_seconds", &[("hosts", "*.b.test")]);
    let files = m.matching("portico_tls_cert_expiry_seconds", &[]);
    assert_eq!(files.len(), 2, "one series per certificate");
    // rcgen's default validity ends in 4096.
    let years = |s: f64| s / (365.25 * 86400.0);
    assert!(years(a) > 2000.0 && years(b) > 2000.0, "{a} {b}");
}

#[test]
fn unusable_certificates_refuse_the_config_naming_the_file() {
    let dir = TempDir::new("tls");
    let (good_crt, good_key) = make_cert(&dir.path, "good", &["g.test"], false);
    let (old_crt, old_key) = make_cert(&dir.path, "old", &["o.test"], true);
    let (other_crt, _) = make_cert(&dir.path, "other", &["x.test"], false);
    let cases = [
        (old_crt.clone(), old_key.clone(), "expired at"),
        (other_crt.clone(), good_key.clone(), "does not match"),
        (
            dir.path.join("missing.crt"),
            good_key.clone(),
            "missing.crt",
        ),
        (
            good_crt.clone(),
            dir.path.join("missing.key"),
            "missing.key",
        ),
    ];
    for (crt, key, wanted) in cases {
        let text = format!(
            "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\n",
            crt.display(),
            key.display()
        );
        assert_refused(&text, &[wanted, "tls.certificates"]);
    }
    assert_refused(
        "[tls]
listen = \"127.0.0.1:0\"
",
        &["needs at least one [[tls.certificates]]"],
    );
}

#[test]
fn self_signed_certificates_from_the_command_serve() {
    let dir = TempDir::new("tls");
    let out = std::process::Command::new(BIN)
        .args([
            "cert",
            "self-signed",
            "--host",
            "local.test",
            "--host",
            "*.local.test",
            "--out",
        ])
        .arg(&dir.path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (crt, key) = (
        dir.path.join("local.test.crt"),
        dir.path.join("local.test.key"),
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text =
        format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\n\n{}",
        crt.display(),
        key.display(),
        api_toml("s", &[], &["prod"], &[mock_route("GET", "/x", false, "self")])
    );
    let mut srv = Server::start(&Config::new(&text));
    let port = srv.https_port();
    let seen = tls_get(&client_config(&[], &[]), port, "www.local.test", "/prod/x").unwrap();
    assert!(seen.cert == cert_der(&crt));
    assert!(seen.answer.ends_with("self"), "{}", seen.answer);
}

#[test]
fn proxied_calls_say_they_came_over_https() {
    let dir = TempDir::new("tls");
    let up = Upstream::ok(b"up");
    let (cfg, ..) = tls_config(&dir, &up.addr(), 1);
    let mut srv = Server::start(&cfg);
    let port = srv.https_port();
    let seen = tls_get(&client_config(&[], &[]), port, "a.test", "/prod/up").unwrap();
    assert!(seen.answer.ends_with("up"), "{}", seen.answer);
    assert_eq!(up.recv().header("x-forwarded-proto"), Some("https"));
    srv.connect().get("/prod/up");
    assert_eq!(up.recv().header("x-forwarded-proto"), Some("http"));
}

/// An API whose route proxies to `https://{host}:{port}/x`, `[upstream] ca_file` = `ca`.
fn https_upstream_api(host: &str, port: u16, ca: Option<&std::path::Path>) -> Config {
    let text = format!(
        "[[api]]\nname = \"u\"\n[api.stages.prod]\n[[api.routes]]\nmethod = \"GET\"\npath = \"/x\"\n\
         integration = {{ type = \"http_proxy\", uri = \"https://{host}:{port}/x\" }}\n"
    );
    let cfg = Config::new(&text);
    match ca {
        Some(ca) => cfg.upstream("ca_file", &toml_str(&ca.to_string_lossy())),
        None => cfg,
    }
}

#[test]
fn https_upstreams_are_verified_and_get_sni() {
    let dir = TempDir::new("tls");
    let (crt, key) = make_cert(&dir.path, "up", &["localhost"], false);
    let up = TlsUpstream::start(&crt, &key);
    let srv = Server::start(&https_upstream_api("localhost", up.port, Some(&crt)));
    let mut c = srv.connect();
    for _ in 0..3 {
        let r = c.get("/prod/x");
        assert_eq!((r.status, r.body_str().as_str()), (200, "ok"), "{r:?}");
    }
    let (sni, head) = up.rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert!(head.starts_with("GET /x HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("host: localhost:"),
        "{head}"
    );
}

#[test]
fn an_upstream_certificate_that_does_not_verify_is_a_502_with_a_log_line() {
    let dir = TempDir::new("tls");
    let (crt, key) = make_cert(&dir.path, "up", &["localhost"], false);
    let (other_ca, _) = make_cert(&dir.path, "other", &["elsewhere.test"], false);
    let up = TlsUpstream::start(&crt, &key);
    // Checked against an unrelated CA, then against the system's: neither trusts it.
    for ca in [Some(other_ca.as_path()), None] {
        let mut srv = Server::start(&https_upstream_api("localhost", up.port, ca));
        let r = srv.connect().get("/prod/x");
        assert_error(&r, 502, Some("Internal server error"));
        let line = poll_until(
            POLL_FOR,
            || srv.next_line(IO_TIMEOUT).unwrap_or_default(),
            |l| l.contains("TLS to upstream"),
            |_| "no 'TLS to upstream' log line".into(),
        );
        assert!(line.to_ascii_lowercase().contains("certificate"), "{line}");
    }
    assert!(
        matches!(up.rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)),
        "no request reached the untrusted upstream"
    );
}

#[test]
fn lambda_endpoints_can_be_https() {
    let dir = TempDir::new("tls");
    let (crt, key) = make_cert(&dir.path, "up", &["localhost"], false);
    let up = TlsUpstream::start(&crt, &key);
    let text = format!(
        "[[api]]\nname = \"f\"\n[api.stages.prod]\n[[api.routes]]\nmethod = \"GET\"\npath = \"/f\"\n\
         integration = {{ type = \"lambda\", function = \"fn-1\", endpoint = \"https://localhost:{}\" }}\n",
        up.port
    );
    let cfg = Config::new(&text).upstream("ca_file", &toml_str(&crt.to_string_lossy()));
    let srv = Server::start(&cfg);
    // The test upstream answers `ok`, which is no Lambda result: 502, but it was invoked over TLS.
    assert_error(
        &srv.connect().get("/prod/f"),
        502,
        Some("Internal server error"),
    );
    let (sni, head) = up.rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert!(
        head.starts_with("POST /2015-03-31/functions/fn-1/invocations HTTP/1.1"),
        "{head}"
    );
}

type CertEntry<'p> = (&'p Path, &'p Path, Option<&'p Path>);

/// A server with these certificates (cert, key, `client_ca`) and API `s`,
/// answering `GET /prod/x` with `mutual` on any host.
fn mutual_tls_server(entries: &[CertEntry<'_>]) -> Server {
    let mut text = String::from("[tls]\nlisten = \"127.0.0.1:0\"\n");
    for (crt, key, ca) in entries {
        text.push_str(&format!(
            "[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\n",
            crt.display(),
            key.display()
        ));
        if let Some(ca) = ca {
            text.push_str(&format!("client_ca = \"{}\"\n", ca.display()));
        }
    }
    text.push('\n');
    text.push_str(&api_toml(
        "s",
        &[],
        &["prod"],
        &[mock_route("GET", "/x", false, "mutual")],
    ));
    Server::start(&Config::new(&text))
}

#[test]
fn a_mutual_tls_domain_requires_a_client_certificate_from_its_truststore() {
    let dir = TempDir::new("tls");
    let (a_crt, a_key) = make_cert(&dir.path, "a", &["a.test"], false);
    let (m_crt, m_key) = make_cert(&dir.path, "m", &["m.test"], false);
    let (ca_file, ca) = make_ca(&dir.path, "clients");
    let (_, stranger_ca) = make_ca(&dir.path.join("other"), "strangers");
    let mut srv = mutual_tls_server(&[(&a_crt, &a_key, None), (&m_crt, &m_key, Some(&ca_file))]);
    let port = srv.https_port();
    let trusted = client_config_with_cert(&ca, "partner-1");
    let seen = tls_get(&trusted, port, "m.test", "/prod/x").unwrap();
    assert!(seen.answer.ends_with("mutual"), "{}", seen.answer);
    assert!(seen.cert == cert_der(&m_crt));
    let anonymous = no_resumption_config();
    let e = tls_get(&anonymous, port, "m.test", "/prod/x").unwrap_err();
    assert!(
        e.ends_with("received fatal alert: CertificateRequired"),
        "no client certificate: {e}"
    );
    let stranger = client_config_with_cert(&stranger_ca, "intruder");
    let e = tls_get(&stranger, port, "m.test", "/prod/x").unwrap_err();
    assert!(
        e.ends_with("received fatal alert: UnknownCA"),
        "untrusted issuer: {e}"
    );
    // Other names on the listener need none.
    let seen = tls_get(&anonymous, port, "a.test", "/prod/x").unwrap();
    assert!(seen.answer.ends_with("mutual") && seen.cert == cert_der(&a_crt));
}

#[test]
fn a_mutual_tls_host_is_421_unless_its_sni_verified_a_client_certificate() {
    let dir = TempDir::new("tls");
    let (a_crt, a_key) = make_cert(&dir.path, "a", &["a.test"], false);
    let (m_crt, m_key) = make_cert(&dir.path, "m", &["m.test"], false);
    let (n_crt, n_key) = make_cert(&dir.path, "n", &["n.test"], false);
    let (m_ca_file, m_ca) = make_ca(&dir.path, "m-clients");
    let (n_ca_file, n_ca) = make_ca(&dir.path.join("n"), "n-clients");
    let mut srv = mutual_tls_server(&[
        (&a_crt, &a_key, None),
        (&m_crt, &m_key, Some(&m_ca_file)),
        (&n_crt, &n_key, Some(&n_ca_file)),
    ]);
    let port = srv.https_port();
    let m_client = client_config_with_cert(&m_ca, "partner-1");
    let n_client = client_config_with_cert(&n_ca, "partner-2");
    let anonymous = no_resumption_config();
    let served = |seen: Result<TlsSeen, String>| {
        let seen = seen.unwrap();
        assert!(seen.answer.starts_with("HTTP/1.1 200"), "{}", seen.answer);
    };
    let misdirected = |seen: Result<TlsSeen, String>, ctx: &str| {
        let seen = seen.unwrap();
        assert!(
            seen.answer.starts_with("HTTP/1.1 421"),
            "{ctx}: {}",
            seen.answer
        );
        assert!(
            seen.answer
                .ends_with(r#"{"message":"Misdirected Request"}"#),
            "{ctx}: {}",
            seen.answer
        );
    };
    served(tls_get_host(&m_client, port, "m.test", "m.test", "/prod/x"));
    served(tls_get_host(
        &m_client,
        port,
        "m.test",
        "M.Test:443",
        "/prod/x",
    ));
    // Another name in the handshake (no certificate asked for), or none at all.
    misdirected(
        tls_get_host(&anonymous, port, "a.test", "m.test", "/prod/x"),
        "SNI a.test",
    );
    misdirected(
        tls_get_host(&m_client, port, "a.test", "m.test", "/prod/x"),
        "SNI a.test with a client that has a certificate",
    );
    misdirected(
        tls_get_host(&anonymous, port, "127.0.0.1", "m.test", "/prod/x"),
        "no SNI",
    );
    // Another mutual-TLS domain's certificate is not this domain's.
    served(tls_get_host(&n_client, port, "n.test", "n.test", "/prod/x"));
    misdirected(
        tls_get_host(&n_client, port, "n.test", "m.test", "/prod/x"),
        "SNI n.test, certificate from n's CA",
    );
    // Never over plain HTTP.
    let r = srv
        .connect()
        .request(request("GET", "/prod/x", "m.test", &[], b""));
    assert_error(&r, 421, Some("Misdirected Request"));
    // Other hosts are served as before, on either listener.
    served(tls_get_host(
        &anonymous, port, "a.test", "a.test", "/prod/x",
    ));
    assert_eq!(srv.connect().get("/prod/x").status, 200);
}

#[test]
fn upstreams_that_ask_for_a_client_certificate_get_the_configured_one() {
    let dir = TempDir::new("tls");
    let (crt, key) = make_cert(&dir.path, "up", &["localhost"], false);
    let (ca_file, ca) = make_ca(&dir.path, "backend-clients");
    let up = TlsUpstream::start_with(&crt, &key, Some(&ca_file));
    let (cert, cert_key) = client_cert(&ca, "portico");
    let (cc, ck) = (dir.path.join("portico.crt"), dir.path.join("portico.key"));
    std::fs::write(&cc, cert.pem()).unwrap();
    std::fs::write(&ck, cert_key.serialize_pem()).unwrap();
    let with = https_upstream_api("localhost", up.port, Some(&crt))
        .upstream("client_cert", &toml_str(&cc.to_string_lossy()))
        .upstream("client_key", &toml_str(&ck.to_string_lossy()));
    let srv = Server::start(&with);
    let r = srv.connect().get("/prod/x");
    assert_eq!((r.status, r.body_str().as_str()), (200, "ok"), "{r:?}");
    let (sni, head) = up.rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert!(head.starts_with("GET /x HTTP/1.1"), "{head}");
    // Without one the backend refuses the handshake: 502.
    let srv = Server::start(&https_upstream_api("localhost", up.port, Some(&crt)));
    assert_error(
        &srv.connect().get("/prod/x"),
        502,
        Some("Internal server error"),
    );
    // Half of the pair is a config error.
    let half = https_upstream_api("localhost", up.port, Some(&crt))
        .upstream("client_cert", &toml_str(&cc.to_string_lossy()));
    assert_refused(&half.render(), &["client_cert and client_key go together"]);
}

#[test]
fn a_mutual_tls_callers_certificate_reaches_lambda_events() {
    let fns = Functions::start();
    let dir = TempDir::new("tls");
    let (m_crt, m_key) = make_cert(&dir.path, "m", &["m.test"], false);
    let (ca_file, ca) = make_ca(&dir.path, "clients");
    let text = format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\n\
         [[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n\n\
         [aws]\nlambda_endpoint = \"{}\"\n\n\
         [[api]]\nname = \"m\"\n[api.stages.prod]\n\
         [[api.routes]]\nmethod = \"GET\"\npath = \"/v1\"\nintegration = {{ type = \"lambda\", function = \"powertools-v1\" }}\n\
         [[api.routes]]\nmethod = \"GET\"\npath = \"/v2\"\nintegration = {{ type = \"lambda\", function = \"powertools-v2\", payload_version = \"2.0\" }}\n",
        m_crt.display(),
        m_key.display(),
        ca_file.display(),
        fns.endpoint()
    );
    let mut srv = Server::start(&Config::new(&text));
    let port = srv.https_port();
    let client = client_config_with_cert(&ca, "partner-7");
    let seen = tls_get(&client, port, "m.test", "/prod/v1").unwrap();
    assert!(seen.answer.starts_with("HTTP/1.1 200"), "{}", seen.answer);
    let v1 = &fns.last_event("powertools-v1")["requestContext"]["identity"]["clientCert"];
    assert_eq!(v1["subjectDN"], "CN=partner-7", "{v1}");
    assert_eq!(v1["issuerDN"], "CN=clients test CA");
    assert!(v1["clientCertPem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(v1["validity"]["notAfter"]
        .as_str()
        .unwrap()
        .ends_with("GMT"));
    tls_get(&client, port, "m.test", "/prod/v2").unwrap();
    let v2 = &fns.last_event("powertools-v2")["requestContext"]["authentication"]["clientCert"];
    assert_eq!(v2["subjectDN"], "CN=partner-7", "{v2}");
    // Callers without mutual TLS have no clientCert at all.
    srv.connect().get("/prod/v1");
    let plain = fns.last_event("powertools-v1");
    assert!(plain["requestContext"]["identity"]
        .get("clientCert")
        .is_none());
}
