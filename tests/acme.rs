//! Automatic certificates against a real ACME CA: pebble (Let's Encrypt's
//! test CA, from Debian's package, installed by tests/acme/pebble.sh) on
//! loopback, validating HTTP-01 on portico's plain listener (or TLS-ALPN-01
//! on its TLS listener). Issuance, renewal of a certificate inside the
//! renewal window, and a CA that cannot be reached (the stand-in keeps
//! serving, the failure is logged). Issuing servers run several workers:
//! the CA's validation may reach any of them, so each must answer the
//! challenge by the time the CA is told to validate.
mod common;

use std::process::Command;

use common::*;

struct Pebble {
    directory: String,
    ca: String,
    pids: Vec<String>,
    dir: TempDir,
}

impl Pebble {
    /// Pebble validating HTTP-01 challenges on `http_port`.
    fn start(http_port: u16) -> Pebble {
        Pebble::start_with(http_port, 0)
    }

    /// Pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`.
    fn start_with(http_port: u16, tls_port: u16) -> Pebble {
        let dir = TempDir::new("pebble");
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/acme/pebble.sh"))
            .args(["--dir"])
            .arg(&dir.path)
            .args(["--http-port", &http_port.to_string()])
            .args(["--tls-port", &tls_port.to_string()])
            .env("PEBBLE_AUTHZREUSE", "0")
            .output()
            .expect("run tests/acme/pebble.sh");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "pebble.sh failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k}= in {text}"))
                .to_string()
        };
        Pebble {
            directory: get("DIRECTORY"),
            ca: get("CA"),
            pids: get("PIDS").split_whitespace().map(str::to_string).collect(),
            dir,
        }
    }

    /// The HTTP-01 tokens pebble's validation authority fetched: each one
    /// was published by portico for a real order (pebble logs the URL it
    /// pulls, `.../.well-known/acme-challenge/TOKEN`).
    fn validated_tokens(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path.join("pebble.log")).unwrap_or_default();
        let marker = "/.well-known/acme-challenge/";
        let mut tokens: Vec<String> = log
            .match_indices(marker)
            .map(|(i, _)| {
                log[i + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect()
            })
            .filter(|t: &String| !t.is_empty())
            .collect();
        tokens.dedup();
        tokens
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for p in &self.pids {
            let _ = Command::new("kill").arg(p).status();
        }
    }
}

/// A port free now, below Linux's ephemeral range (32768 and up): pebble
/// must know it before portico starts, and a port the kernel handed out
/// for `:0` and that was released again went to another test's portico
/// (listening on `:0`) in CI before this one bound it.
fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        // Randomly keyed per process, and anew for each RandomState.
        let h = std::collections::hash_map::RandomState::new().build_hasher();
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// portico on `port` with an `acme = true` certificate for `test.example`,
/// on four workers.
fn acme_config(port: u16, directory: &str, ca: &str) -> Config {
    Config::new(&format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\nacme = true\nhosts = [\"test.example\"]\n\n\
         [acme]\ndirectory = \"{directory}\"\nca_file = \"{ca}\"\n\n{}",
        api_toml("s", &[], &["prod"], &[mock_route("GET", "/x", false, "acme")])
    ))
    .server("listen", &format!("\"127.0.0.1:{port}\""))
    .server("workers", "4")
}

fn issuer_of(der: &[u8]) -> String {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    c.issuer().to_string()
}

/// Waits until the HTTPS listener presents a certificate issued by pebble.
fn wait_for_pebble_cert(port: u16) -> TlsSeen {
    let c = no_resumption_config();
    poll_until(
        std::time::Duration::from_secs(60),
        || tls_get(&c, port, "test.example", "/prod/x").ok(),
        |s| {
            s.as_ref()
                .is_some_and(|s| issuer_of(&s.cert).contains("Pebble"))
        },
        |s| {
            format!(
                "no certificate from pebble; last: {:?}",
                s.as_ref().map(|s| issuer_of(&s.cert))
            )
        },
    )
    .unwrap()
}

#[test]
fn a_certificate_is_obtained_over_http_01_and_served() {
    let port = free_port();
    let pebble = Pebble::start(port);
    let cfg = acme_config(port, &pebble.directory, &pebble.ca);
    let state = cfg.state_dir().to_path_buf();
    let mut srv = Server::start(&cfg);
    let tls_port = srv.https_port();
    let seen = wait_for_pebble_cert(tls_port);
    assert!(seen.answer.ends_with("acme"), "{}", seen.answer);
    use std::os::unix::fs::PermissionsExt;
    let key = state.join("acme/test.example.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        state.join("acme/account.json").exists(),
        "the account is kept"
    );
    // The challenge pebble really validated was answered then (the
    // certificate exists) and is withdrawn once the order is done.
    let tokens = pebble.validated_tokens();
    assert!(!tokens.is_empty(), "pebble.log names no HTTP-01 token");
    for token in tokens {
        let path = format!("/.well-known/acme-challenge/{token}");
        let r = poll_until(
            POLL_FOR,
            || srv.connect().get(&path),
            |r| r.status == 403,
            |r| format!("{path} still answers {}: {}", r.status, r.body_str()),
        );
        assert!(
            !r.body_str().contains(&token),
            "the withdrawn key authorization leaks: {}",
            r.body_str()
        );
    }
}

#[test]
fn a_certificate_inside_the_renewal_window_is_renewed() {
    let port = free_port();
    let pebble = Pebble::start(port);
    let cfg = acme_config(port, &pebble.directory, &pebble.ca);
    // A certificate expiring in 10 days, inside the 30-day window.
    let dir = cfg.state_dir().join("acme");
    std::fs::create_dir_all(&dir).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["test.example".to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(10);
    let key = rcgen::KeyPair::generate().unwrap();
    let old = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("test.example.crt"), old.pem()).unwrap();
    std::fs::write(dir.join("test.example.key"), key.serialize_pem()).unwrap();
    let mut srv = Server::start(&cfg);
    let seen = wait_for_pebble_cert(srv.https_port());
    assert!(seen.cert != old.der().to_vec());
}

/// The CA's address refuses connections; the trust anchor itself is a
/// valid PEM, so the failure can only come from reaching the directory.
#[test]
fn an_unreachable_ca_is_logged_and_the_stand_in_serves() {
    let port = free_port();
    let anchor = TempDir::new("acme-anchor");
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["ca.test".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::create_dir_all(&anchor.path).unwrap();
    let ca_file = anchor.path.join("ca.pem");
    std::fs::write(&ca_file, params.self_signed(&key).unwrap().pem()).unwrap();
    let directory = format!("https://127.0.0.1:{}/dir", refused_port());
    let cfg = acme_config(port, &directory, &ca_file.display().to_string());
    let mut srv = Server::start(&cfg);
    let tls_port = srv.https_port();
    // The ACME thread may fail before the listeners are up: the line is
    // then among those startup read.
    let failed = |l: &String| l.contains("not obtained");
    let line = match srv.startup.iter().find(|l| failed(l)).cloned() {
        Some(line) => line,
        None => poll_until(
            POLL_FOR,
            || srv.next_line(IO_TIMEOUT).unwrap_or_default(),
            failed,
            |_| "no 'not obtained' line".into(),
        ),
    };
    assert!(
        line.contains(&format!("new account at {directory}")),
        "not a failure to reach the CA: {line}"
    );
    assert!(
        line.to_ascii_lowercase().contains("connect"),
        "not a connection failure: {line}"
    );
    assert!(line.contains("next try in 60s"), "{line}");
    // Until then HTTPS works with a self-signed stand-in for the names.
    let seen = tls_get(&no_resumption_config(), tls_port, "test.example", "/prod/x").unwrap();
    assert!(seen.answer.ends_with("acme"));
    assert!(!issuer_of(&seen.cert).contains("Pebble"));
}

#[test]
fn a_certificate_is_obtained_over_tls_alpn_01_on_the_tls_listener() {
    let (port, tls_port) = (free_port(), free_port());
    let pebble = Pebble::start_with(port, tls_port);
    let cfg = acme_config(port, &pebble.directory, &pebble.ca);
    let text = cfg
        .render()
        .replace(
            "listen = \"127.0.0.1:0\"\n[[tls.certificates]]",
            &format!("listen = \"127.0.0.1:{tls_port}\"\n[[tls.certificates]]"),
        )
        .replace("[acme]\n", "[acme]\nchallenge = \"tls-alpn-01\"\n");
    assert!(
        text.contains("tls-alpn-01") && text.contains(&tls_port.to_string()),
        "{text}"
    );
    let mut srv = Server::start_text(&text, &[]);
    assert_eq!(srv.https_port(), tls_port);
    let seen = wait_for_pebble_cert(tls_port);
    assert!(seen.answer.ends_with("acme"), "{}", seen.answer);
    // Once the order is done the challenge certificate is withdrawn, and
    // without a pending challenge no worker speaks `acme-tls/1`.
    let acme_tls = client_config(&[], &["acme-tls/1"]);
    // (The challenge certificate shows as rustls refusing its critical
    // acmeIdentifier extension.)
    poll_until(
        POLL_FOR,
        || tls_get(&acme_tls, tls_port, "test.example", "/prod/x"),
        |r| {
            r.as_ref()
                .is_err_and(|e| e.contains("NoApplicationProtocol"))
        },
        |r| {
            let seen = r.as_ref().map(|s| issuer_of(&s.cert));
            format!("acme-tls/1 still answered: {seen:?}")
        },
    )
    .unwrap_err();
}

/// A domain name made through the management API without a certificate
/// gets one from the CA (as AWS provisions one), while a domain a
/// `[[tls.certificates]]` entry already covers is not ordered again.
#[test]
fn a_management_api_domain_without_a_certificate_gets_one_over_acme() {
    const TOKEN: &str = "acme-domain-token-0123456789";
    let port = free_port();
    let pebble = Pebble::start(port);
    let certs = TempDir::new("acme-file-cert");
    let (cert, key) = make_cert(&certs.path, "file", &["file.example"], false);
    let cfg = Config::new(&format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\n\n\
         [acme]\ndirectory = \"{}\"\nca_file = \"{}\"\n",
        cert.display(),
        key.display(),
        pebble.directory,
        pebble.ca
    ))
    .server("listen", &format!("\"127.0.0.1:{port}\""))
    .server("workers", "2")
    .admin("token", &toml_str(TOKEN));
    let state = cfg.state_dir().to_path_buf();
    let mut srv = Server::start(&cfg);
    let tls_port = srv.https_port();
    for name in ["API.test.example", "file.example"] {
        srv.admin_call(
            TOKEN,
            "POST",
            "/domainnames",
            Some(&serde_json::json!({ "domainName": name })),
            201,
        );
    }
    let c = no_resumption_config();
    poll_until(
        std::time::Duration::from_secs(60),
        || tls_get(&c, tls_port, "api.test.example", "/").ok(),
        |s| {
            s.as_ref()
                .is_some_and(|s| issuer_of(&s.cert).contains("Pebble"))
        },
        |s| {
            format!(
                "api.test.example has no certificate from pebble; last: {:?}",
                s.as_ref().map(|s| issuer_of(&s.cert))
            )
        },
    );
    assert!(state.join("acme/api.test.example.crt").exists());
    let file = tls_get(&c, tls_port, "file.example", "/").unwrap();
    assert_eq!(
        file.cert,
        cert_der(&cert),
        "file.example keeps its own certificate"
    );
    assert!(
        !state.join("acme/file.example.crt").exists(),
        "a covered name was ordered"
    );
}
