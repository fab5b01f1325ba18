//! `portico --takeover`: a new process receives the running one's
//! listening sockets, serves, then tells it to drain; under continuous load
//! (keep-alive and new connections, sequential and concurrent) no request
//! is lost and the old process exits once drained. Also the drain itself:
//! a second signal stops it now, and requests cut at the deadline are logged.
mod common;

use common::*;
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An API whose `GET /prod/who` answers `who` (text/plain), on two
/// workers; with `tls` (a certificate and key), over HTTPS too, on port 0.
fn who_config(who: &str, tls: Option<&(std::path::PathBuf, std::path::PathBuf)>) -> Config {
    let mut text = String::new();
    if let Some((crt, key)) = tls {
        text = format!(
            "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\ncert = {}\nkey = {}\n\n",
            toml_str(&crt.to_string_lossy()),
            toml_str(&key.to_string_lossy())
        );
    }
    text.push_str(&api_toml(
        "who",
        &[],
        &["prod"],
        &[mock_route("GET", "/who", false, who)],
    ));
    Config::new(&text)
        .server("workers", "2")
        .timeouts("drain_ms", "10000")
}

/// What one load thread saw: each answer's body in order, the failures,
/// and how many requests were sent again because a kept-alive connection
/// closed before any byte of their answer came (the server never read
/// them; every HTTP client sends such a request again).
#[derive(Default, Debug)]
struct Seen {
    bodies: Vec<String>,
    failures: Vec<String>,
    retried: usize,
}

/// One `GET /prod/who` on `conn` (a new connection when `None`), which is
/// kept for the next call unless the answer closes it. `Err((retriable, why))`.
fn call(port: u16, conn: &mut Option<Client>, keep_alive: bool) -> Result<String, (bool, String)> {
    let reused = conn.is_some();
    let c = match conn {
        Some(c) => c,
        None => {
            let s = TcpStream::connect(("127.0.0.1", port))
                .map_err(|e| (false, format!("connect: {e}")))?;
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            conn.insert(Client { r: Reader::new(s) })
        }
    };
    let raw = match keep_alive {
        true => get("/prod/who").into_bytes(),
        false => get_with("/prod/who", &[("Connection", "close")]),
    };
    let gone = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        )
    };
    let result = match c.r.inner.write_all(&raw) {
        Err(e) => Err((reused && gone(&e), format!("write: {e}"))),
        Ok(()) => match c.try_read_response(false) {
            Err(e) => Err((
                reused && gone(&e) && c.r.buf.is_empty(),
                format!("read: {e}"),
            )),
            Ok(r) if r.status != 200 => Err((false, format!("{} {}", r.status, r.body_str()))),
            Ok(r) if keep_alive && !r.closes() => return Ok(r.body_str()),
            Ok(r) => Ok(r.body_str()),
        },
    };
    // Closed by the server (it drains), by the request, or broken: a new one next time.
    *conn = None;
    result
}

/// Calls in a loop until `stop`: on one kept-alive connection (re-made
/// when the server closes it), or on a new connection each time; counts
/// its answers in `answered`.
fn load(
    port: u16,
    keep_alive: bool,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Seen> {
    std::thread::spawn(move || {
        let mut seen = Seen::default();
        let mut conn = None;
        while !stop.load(Ordering::Relaxed) {
            match call(port, &mut conn, keep_alive) {
                Ok(body) => {
                    seen.bodies.push(body);
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                Err((true, _)) => seen.retried += 1,
                Err((false, why)) => seen.failures.push(why),
            }
        }
        seen
    })
}

#[test]
fn takeover_under_load_loses_no_request_and_the_old_process_drains() {
    let certs = TempDir::new("certs");
    std::fs::create_dir_all(&certs.path).unwrap();
    let cert = make_cert(&certs.path, "a", &["a.test"], false);
    let old_cfg = who_config("old", Some(&cert));
    let mut old = Server::start(&old_cfg);
    let admin = old.admin_port();
    let https = old.https_port();
    let port = old.port;
    // Same addresses (HTTPS: port 0, which takes the old process's port)
    // and state directory (where the old one offers its sockets); another
    // answer, to tell them apart.
    let new_cfg = who_config("new", Some(&cert))
        .server("listen", &toml_str(&old.addr()))
        .admin("listen", &toml_str(&format!("127.0.0.1:{admin}")))
        .state("dir", &toml_str(&old_cfg.state_dir().to_string_lossy()));

    let stop = Arc::new(AtomicBool::new(false));
    let kinds = [true, true, true, false, false, false];
    let answered: Vec<Arc<AtomicUsize>> = kinds.iter().map(|_| Default::default()).collect();
    let threads: Vec<_> = kinds
        .iter()
        .zip(&answered)
        .map(|(&keep_alive, n)| load(port, keep_alive, stop.clone(), n.clone()))
        .collect();
    // Every thread has `more` answers past `from` (its counts).
    let progress = |from: &[usize], more: usize, what: &str| {
        poll_until(
            POLL_FOR,
            || {
                answered
                    .iter()
                    .map(|n| n.load(Ordering::Relaxed))
                    .collect::<Vec<_>>()
            },
            |now| now.iter().zip(from).all(|(n, f)| *n >= f + more),
            |now| format!("load stalled {what}: {from:?} -> {now:?}"),
        )
    };
    // Load before the hand-over, answered by the old process alone.
    let zero = vec![0; kinds.len()];
    progress(&zero, 20, "before the hand-over");

    let mut new = Server::start_args(&new_cfg, &["--takeover"]);
    assert_eq!(new.port, port, "the new process serves the same port");
    assert_eq!(new.admin_port(), admin, "and the same admin port");
    assert_eq!(new.https_port(), https, "and the same HTTPS port");
    // Said before `listening on`: by then the old process is draining and
    // the new one's sockets are offered to the next `--takeover`.
    let took = new
        .startup
        .iter()
        .find(|l| l.contains("took over from portico"))
        .cloned();
    assert!(
        took.as_deref()
            .is_some_and(|l| l.contains(&format!("pid {}", old.pid))),
        "no `took over` line naming pid {}: {took:?}",
        old.pid
    );
    // The old process drains and exits on its own, cleanly, while the load runs.
    old.expect_clean_exit(Duration::from_secs(15), "after the hand-over");
    // Then more load, on the new process alone.
    let at_exit: Vec<usize> = answered.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    progress(&at_exit, 20, "after the old process exited");
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let failures: Vec<&String> = seen.iter().flat_map(|s| &s.failures).collect();
    assert!(failures.is_empty(), "requests lost: {failures:?}");
    for (i, s) in seen.iter().enumerate() {
        let first_new = s.bodies.iter().position(|b| b == "new");
        assert!(
            s.bodies[..first_new.unwrap_or(0)]
                .iter()
                .all(|b| b == "old")
                && s.bodies.first().is_some_and(|b| b == "old")
                && first_new.is_some(),
            "thread {i} was not answered by the old, then the new process: {:?}",
            s.bodies
        );
        // Once the old process is gone, only the new one answers.
        assert_eq!(
            s.bodies.last().map(String::as_str),
            Some("new"),
            "thread {i}"
        );
    }
    let total: usize = seen.iter().map(|s| s.bodies.len()).sum();
    let retried: usize = seen.iter().map(|s| s.retried).sum();
    eprintln!("{total} calls answered, {retried} re-sent after a kept-alive connection closed");
    // The admin and HTTPS listeners were handed over too.
    assert_eq!(new.admin_request("GET", "/readyz", None).status, 200);
    let c = client_config(&[], &[]);
    let seen = tls_get(&c, https, "a.test", "/prod/who").expect("HTTPS after the hand-over");
    assert!(seen.answer.ends_with("new"), "{}", seen.answer);
    new.stop();
}

#[test]
fn takeover_with_nothing_running_says_so_and_fails() {
    let cfg = who_config("alone", None);
    let path = write_config(&cfg.render());
    let out = run_bin(
        &["--config".as_ref(), path.as_os_str(), "--takeover".as_ref()],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("no running portico to take over"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("listening on"), "{}", out.stderr);
}

/// Waits (bounded) for a stderr line of `srv` containing `what`.
fn line_with(srv: &mut Server, what: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(l) = srv.next_line(deadline.saturating_duration_since(Instant::now())) {
        if l.contains(what) {
            return l;
        }
        seen.push(l);
    }
    panic!("no line with {what:?} within {within:?}; got {seen:#?}")
}

#[test]
fn a_second_signal_stops_the_drain_now_and_says_what_it_cut() {
    // A drain that would wait a minute for the held request.
    let (held, mut srv) = HeldRequest::start_demo("60000");
    let _c = held.hold(&srv, "slow");
    srv.sigterm();
    line_with(&mut srv, "stopped accepting", Duration::from_secs(5));
    srv.sigterm();
    let started = Instant::now();
    let cut = line_with(&mut srv, "stopping now: cut", Duration::from_secs(10));
    assert!(
        cut.contains("cut 1 request(s) in flight [GET /prod/proxy/slow]"),
        "{cut}"
    );
    srv.expect_clean_exit(Duration::from_secs(10), "after the second signal");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn requests_cut_at_the_drain_deadline_are_logged() {
    let (held, mut srv) = HeldRequest::start_demo("300");
    let _c = held.hold(&srv, "slow");
    srv.sigterm();
    let cut = line_with(&mut srv, "drain deadline", Duration::from_secs(10));
    assert!(
        cut.contains(
            "drain deadline (300 ms) passed: cut 1 request(s) in flight [GET /prod/proxy/slow]"
        ),
        "{cut}"
    );
    srv.expect_clean_exit(Duration::from_secs(10), "after the drain deadline");
}

/// A new process with fewer workers than the old one had sockets serves
/// every handed-over socket (closing one would drop what queues on it).
#[test]
fn fewer_workers_than_handed_sockets_still_serve_them_all() {
    let old_cfg = who_config("old", None);
    let mut old = Server::start(&old_cfg);
    let new_cfg = who_config("new", None)
        .server("workers", "1")
        .server("listen", &toml_str(&old.addr()))
        .state("dir", &toml_str(&old_cfg.state_dir().to_string_lossy()));
    let mut new = Server::start_args(&new_cfg, &["--takeover"]);
    old.expect_clean_exit(Duration::from_secs(15), "after the hand-over");
    // The kernel spreads new connections over both sockets of the group.
    for i in 0..40 {
        let mut c = new.connect();
        c.set_read_timeout(Duration::from_secs(5));
        let r = c.get("/prod/who");
        assert_eq!(r.body_str(), "new", "call {i}");
    }
    new.stop();
}
