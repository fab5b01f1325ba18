//! One address, one portico: a second process on the same data-plane,
//! admin or HTTPS address is refused before it says "listening", with a
//! message naming the address and its holder, while the first keeps serving
//! every request (SO_REUSEPORT would otherwise let the second join the
//! group and take half the traffic). A hand-over is `--takeover`
//! (tests/takeover.rs).
mod common;

use common::*;

/// `cfg` must not start: non-zero exit, nothing listening, and the error
/// names `what ADDR is already in use by portico (pid PID)` and `--takeover`.
fn assert_refused_in_use(cfg: &Config, what: &str, addr: &str, holder_pid: u32) {
    let out = start_config(&write_config(&cfg.render()));
    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert!(
        !out.stderr.contains("listening on"),
        "said listening before failing: {}",
        out.stderr
    );
    let wanted = format!("{what} {addr} is already in use by portico (pid {holder_pid})");
    assert!(
        out.stderr.contains(&wanted),
        "no `{wanted}` in: {}",
        out.stderr
    );
    assert!(out.stderr.contains("--takeover"), "{}", out.stderr);
}

/// Every one of 40 calls on new connections (spread over both workers'
/// sockets by the kernel) is answered by `srv`.
fn assert_serves_all(srv: &Server) {
    for i in 0..40 {
        let r = srv.connect().get("/prod/hello");
        assert_eq!(r.status, 200, "call {i}");
        assert_eq!(r.body_str(), HELLO_BODY, "call {i}");
    }
}

#[test]
fn a_second_portico_on_the_same_listen_address_is_refused() {
    let first = Server::start(&Config::demo(NO_BACKEND).server("workers", "2"));
    let addr = first.addr();
    let second = Config::demo(NO_BACKEND).server("listen", &toml_str(&addr));
    assert_refused_in_use(&second, "[server] listen", &addr, first.pid);
    assert_serves_all(&first);
}

#[test]
fn a_second_portico_on_the_same_admin_address_is_refused() {
    let mut first = Server::start(&Config::demo(NO_BACKEND));
    let admin = format!("127.0.0.1:{}", first.admin_port());
    let second = Config::demo(NO_BACKEND).admin("listen", &toml_str(&admin));
    assert_refused_in_use(&second, "[admin] listen", &admin, first.pid);
    assert_serves_all(&first);
    assert_eq!(first.admin_request("GET", "/healthz", None).status, 200);
}

#[test]
fn a_second_portico_on_the_same_https_address_is_refused() {
    let dir = TempDir::new("certs");
    std::fs::create_dir_all(&dir.path).unwrap();
    let (crt, key) = make_cert(&dir.path, "a", &["a.test"], false);
    let tls = |listen: &str| {
        format!(
            "[tls]\nlisten = \"{listen}\"\n[[tls.certificates]]\ncert = {}\nkey = {}\n\n{}",
            toml_str(&crt.to_string_lossy()),
            toml_str(&key.to_string_lossy()),
            demo_api(NO_BACKEND)
        )
    };
    let mut first = Server::start(&Config::new(&tls("127.0.0.1:0")));
    let https = format!("127.0.0.1:{}", first.https_port());
    let second = Config::new(&tls(&https));
    assert_refused_in_use(&second, "[tls] listen", &https, first.pid);
    assert_serves_all(&first);
    let c = client_config(&[], &[]);
    let seen =
        tls_get(&c, first.https_port(), "a.test", "/prod/hello").expect("HTTPS still served");
    assert!(seen.answer.contains(HELLO_BODY), "{}", seen.answer);
}

/// A holder that is not portico is named too (the test process holds it).
#[test]
fn an_address_held_by_another_program_names_it() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let out = start_config(&write_config(
        &Config::demo(NO_BACKEND)
            .server("listen", &toml_str(&addr))
            .render(),
    ));
    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    let wanted = format!("{addr} is already in use by ");
    assert!(out.stderr.contains(&wanted), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("(pid {})", std::process::id())),
        "{}",
        out.stderr
    );
}

/// An OS error is printed once, not once per layer of the error chain.
#[test]
fn a_bind_error_is_not_doubled() {
    // TEST-NET-1: not an address of this machine (EADDRNOTAVAIL).
    let cfg = Config::demo(NO_BACKEND).server("listen", "\"192.0.2.1:8080\"");
    let out = start_config(&write_config(&cfg.render()));
    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("192.0.2.1:8080"), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("os error").count(),
        1,
        "doubled: {}",
        out.stderr
    );
}
