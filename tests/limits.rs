//! Size limits, timeouts on slow or idle clients (the connection cap: tests/connections.rs).
mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn content_length_over_body_limit_is_413() {
    let up = Upstream::ok(b"ok");
    let srv = Server::start(&Config::demo(&up.addr()).limits("max_body_bytes", "1000"));
    let mut c = srv.connect();
    let body = payload(5000);
    let r = c.request(request("POST", "/prod/proxy/big", "localhost", &[], &body));
    assert_error(&r, 413, None);
    up.assert_nothing();
    // At the limit is fine.
    let mut c = srv.connect();
    let r = c.request(request(
        "POST",
        "/prod/proxy/ok",
        "localhost",
        &[],
        &payload(1000),
    ));
    assert_eq!(r.status, 200);
    assert_eq!(up.recv().body, payload(1000));
    assert_serving(srv.port);
}

#[test]
fn chunked_body_over_limit_is_413() {
    let up = Upstream::ok(b"ok");
    let srv = Server::start(&Config::demo(&up.addr()).limits("max_body_bytes", "1000"));
    let mut c = srv.connect();
    let mut raw =
        b"POST /prod/proxy/big HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = payload(600);
    for _ in 0..3 {
        raw.extend_from_slice(b"258\r\n"); // 0x258 = 600
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = c.request(&raw);
    assert_error(&r, 413, None);
    assert_serving(srv.port);
}

#[test]
fn header_block_over_limit_is_431() {
    let srv = Server::start(&Config::demo(NO_BACKEND).limits("max_header_bytes", "1024"));
    let mut c = srv.connect();
    let big = "v".repeat(2000);
    let r = c.request(request(
        "GET",
        "/prod/hello",
        "localhost",
        &[("X-Big", &big)],
        b"",
    ));
    assert_error(&r, 431, None);
    // Just under the limit is fine.
    let mut c = srv.connect();
    let r = c.request(request(
        "GET",
        "/prod/hello",
        "localhost",
        &[("X-Medium", &"v".repeat(600))],
        b"",
    ));
    assert_eq!(r.status, 200);
    assert_serving(srv.port);
}

#[test]
fn too_many_headers_is_431() {
    let srv = Server::start(&Config::demo(NO_BACKEND).limits("max_headers", "10"));
    let mut c = srv.connect();
    let names: Vec<String> = (0..20).map(|i| format!("X-H{i}")).collect();
    let extra: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let r = c.request(request("GET", "/prod/hello", "localhost", &extra, b""));
    assert_error(&r, 431, None);
    // A few headers are fine.
    let mut c = srv.connect();
    let r = c.request(request("GET", "/prod/hello", "localhost", &extra[..5], b""));
    assert_eq!(r.status, 200);
    assert_serving(srv.port);
}

#[test]
fn uri_over_limit_is_414() {
    let srv = Server::start(&Config::demo(NO_BACKEND).limits("max_uri_bytes", "256"));
    let mut c = srv.connect();
    let long = format!("/prod/hello?q={}", "a".repeat(300));
    let r = c.get(&long);
    assert_error(&r, 414, None);
    let mut c = srv.connect();
    let ok = format!("/prod/hello?q={}", "a".repeat(100));
    assert_eq!(c.get(&ok).status, 200);
    assert_serving(srv.port);
}

#[test]
fn slowloris_head_gets_408_and_close() {
    let srv = Server::start(&Config::demo(NO_BACKEND).timeouts("header_ms", "300"));
    // Before the connection exists, so before the server's timer starts,
    // however late this thread runs after it.
    let t0 = Instant::now();
    let mut c = srv.connect();
    c.set_read_timeout(POLL_FOR);
    c.send("GET /prod/hello HTTP/1.1\r\nHost: x\r\n");
    let r = c.read_response();
    assert_error(&r, 408, None);
    c.expect_eof();
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "408 before header_ms elapsed"
    );
    assert_serving(srv.port);
}

#[test]
fn idle_keep_alive_connection_is_closed_silently() {
    let srv = Server::start(&Config::demo(NO_BACKEND).timeouts("keepalive_ms", "300"));
    let mut c = srv.connect();
    // Before the request, so before the server's idle timer starts (once it
    // has answered), however late this thread reads the answer.
    let t0 = Instant::now();
    assert_eq!(c.get("/prod/hello").status, 200);
    c.set_read_timeout(POLL_FOR);
    c.expect_eof();
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "closed before keepalive_ms elapsed"
    );
    assert_serving(srv.port);
}
