//! Process lifecycle: start-up output, I/O driver selection, graceful shutdown.
mod common;

use common::*;
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

fn mentions(lines: &[String], word: &str) -> bool {
    lines.iter().any(|l| l.contains(word))
}

#[test]
fn startup_mentions_driver() {
    let srv = Server::start(&Config::demo(NO_BACKEND).server("workers", "2"));
    assert!(
        mentions(&srv.startup, "io_uring") || mentions(&srv.startup, "epoll"),
        "start-up output names no driver: {:#?}",
        srv.startup
    );
    // Both workers serve.
    for _ in 0..4 {
        assert_serving(srv.port);
    }
}

/// `srv` (the demo API proxying to `up`, which answers `up`) says it runs
/// on epoll and serves both a mock and a proxied request.
fn assert_epoll_and_serving(srv: &Server, up: &Upstream) {
    assert!(
        mentions(&srv.startup, "epoll"),
        "start-up output does not say epoll: {:#?}",
        srv.startup
    );
    let mut c = srv.connect();
    let r = c.get("/prod/hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), HELLO_BODY);
    let r = c.request(request(
        "POST",
        "/prod/proxy/p?q=1",
        "localhost",
        &[],
        b"body",
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "up");
    let rec = up.recv();
    assert_eq!(rec.target, "/p?q=1");
    assert_eq!(rec.body, b"body");
}

#[test]
fn legacy_driver_env_forces_epoll() {
    let up = Upstream::ok(b"up");
    let srv = Server::start_with_env(
        &Config::demo(&up.addr()),
        &[("MONOIO_FORCE_LEGACY_DRIVER", "1")],
    );
    assert_epoll_and_serving(&srv, &up);
}

#[test]
fn driver_epoll_in_config() {
    let up = Upstream::ok(b"up");
    let srv = Server::start(&Config::demo(&up.addr()).server("driver", "\"epoll\""));
    assert_epoll_and_serving(&srv, &up);
}

#[test]
fn sigterm_on_idle_server_exits_zero() {
    let mut srv = Server::start(&Config::demo(NO_BACKEND).server("workers", "2"));
    assert_serving(srv.port);
    srv.stop_within(Duration::from_secs(10));
}

#[test]
fn sigterm_drains_in_flight_request_then_exits_zero() {
    let (held, mut srv) = HeldRequest::start_demo("5000");
    let mut c = held.hold(&srv, "slow");

    srv.sigterm();
    // Probe once the server says it stopped accepting (bounded): an earlier
    // line (the admin listener's start-up line) would let the probe race it.
    let deadline = std::time::Instant::now() + POLL_FOR;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match srv.next_line(left) {
            Some(line) if line.contains("stopped accepting") => break,
            Some(line) => seen.push(line),
            None => panic!("no `stopped accepting` line within {POLL_FOR:?} of SIGTERM: {seen:#?}"),
        }
    }

    // A new connection after SIGTERM: refused, or closed without an answer.
    // (It may sit in the accept queue until the process exits.)
    let newcomer = TcpStream::connect(srv.addr()).map(|mut s| {
        let _ = std::io::Write::write_all(&mut s, get("/prod/hello").as_bytes());
        s
    });

    held.release(&mut c);

    if let Ok(mut s) = newcomer {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!(
                "connection made after SIGTERM was answered: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => panic!("connection made after SIGTERM neither answered nor closed: {e}"),
        }
    }

    srv.expect_clean_exit(Duration::from_secs(10), "after draining");
}
