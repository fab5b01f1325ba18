//! The http_proxy integration: request/response forwarding, bodies,
//! header rewriting, connection reuse, upstream failures.
mod common;

use common::*;

/// The demo API in front of an upstream answering 200 `ok`, and a client.
fn ok_proxy() -> (Upstream, Server, Client) {
    let up = Upstream::ok(b"ok");
    let srv = Server::demo_proxy(&up);
    let c = srv.connect();
    (up, srv, c)
}

/// `raw` on `c` is answered 200 by way of `up`; returns the response and the
/// request as `up` received it.
fn proxied(c: &mut Client, up: &Upstream, raw: impl AsRef<[u8]>) -> (Response, Recorded) {
    let r = c.request(raw);
    assert_eq!(r.status, 200, "{r:?}");
    (r, up.recv())
}

// ----------------------------------------------------------------- bodies

#[test]
fn content_length_body_reaches_upstream() {
    let (up, _srv, mut c) = ok_proxy();
    let body = b"{\"name\":\"portico\",\"n\":42}";
    let (r, rec) = proxied(
        &mut c,
        &up,
        request(
            "POST",
            "/prod/proxy/submit",
            "localhost",
            &[("Content-Type", "application/json")],
            body,
        ),
    );
    assert_eq!(r.body_str(), "ok");
    assert_eq!(rec.method, "POST");
    assert_eq!(rec.target, "/submit");
    assert_eq!(rec.body, body);
    assert_eq!(rec.header("content-type"), Some("application/json"));
}

#[test]
fn chunked_body_with_extensions_and_trailers_reaches_upstream() {
    let (up, _srv, mut c) = ok_proxy();
    c.send(
        "POST /prod/proxy/chunks HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
6;name=value\r\nhello \r\n\
8\r\nchunked \r\n\
5;ext\r\nworld\r\n\
0\r\nX-Trailer: t\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "ok");
    let rec = up.recv();
    assert_eq!(String::from_utf8_lossy(&rec.body), "hello chunked world");
    // The connection is still in sync for a next request.
    assert_eq!(c.get("/prod/hello").status, 200);
}

#[test]
fn expect_100_continue_is_answered_and_not_forwarded() {
    let (up, _srv, mut c) = ok_proxy();
    c.send(
        "PUT /prod/proxy/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\
Expect: 100-continue\r\n\r\n",
    );
    let interim = c.read_response();
    assert_eq!(
        interim.status, 100,
        "expected `100 Continue` before sending the body, got {interim:?}"
    );
    c.send("hello world");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "ok");
    let rec = up.recv();
    assert_eq!(rec.method, "PUT");
    assert_eq!(rec.body, b"hello world");
    assert!(
        !rec.has("expect"),
        "upstream saw Expect: {:?}",
        rec.header("expect")
    );
}

#[test]
fn large_body_streams_through_both_ways() {
    // The upstream echoes the request body.
    let up = Upstream::start(|rec| {
        Reply::Send(http_response(
            200,
            &[("content-type", "application/octet-stream")],
            &rec.body,
        ))
    });
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let body = payload(3 * 1024 * 1024);
    let r = c.request(request("POST", "/prod/proxy/echo", "localhost", &[], &body));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len(), "echoed length");
    assert!(r.body == body, "echoed body differs");
    let rec = up.recv();
    assert_eq!(rec.body.len(), body.len());
    assert!(rec.body == body, "body at upstream differs");
}

// ------------------------------------------------------ request forwarding

#[test]
fn proxy_path_query_and_method() {
    let (up, _srv, mut c) = ok_proxy();
    let delete = request("DELETE", "/prod/proxy/a/b?x=1&y=2", "localhost", &[], b"");
    let (_, rec) = proxied(&mut c, &up, delete);
    assert_eq!(rec.method, "DELETE");
    assert_eq!(rec.target, "/a/b?x=1&y=2");

    let (_, rec) = proxied(&mut c, &up, get("/prod/proxy/single"));
    assert_eq!(rec.method, "GET");
    assert_eq!(rec.target, "/single");
}

#[test]
fn path_param_substitution() {
    let (up, _srv, mut c) = ok_proxy();
    let (_, rec) = proxied(&mut c, &up, get("/prod/items/42?full=true"));
    assert_eq!(rec.target, "/things/42?full=true");
}

#[test]
fn forwarded_headers_and_request_id() {
    let (up, _srv, mut c) = ok_proxy();
    let (r, rec) = proxied(
        &mut c,
        &up,
        request(
            "GET",
            "/prod/proxy/h",
            "gw.example",
            &[("X-Custom", "v1"), ("Accept", "text/plain")],
            b"",
        ),
    );
    assert_eq!(rec.header("x-custom"), Some("v1"));
    assert_eq!(rec.header("accept"), Some("text/plain"));
    assert_eq!(rec.header("host"), Some(up.addr().as_str()));
    assert_eq!(rec.header_all("host").len(), 1, "several Host headers");
    assert_eq!(rec.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(rec.header("x-forwarded-proto"), Some("http"));
    assert_eq!(rec.header("x-forwarded-host"), Some("gw.example"));
    let id = rec
        .header("x-request-id")
        .expect("upstream got no x-request-id");
    assert_eq!(id, r.request_id());

    // A client's id is dropped: the upstream gets the gateway's only.
    let r = c.request(request(
        "GET",
        "/prod/proxy/h",
        "gw.example",
        &[("x-request-id", "abc-123")],
        b"",
    ));
    assert_ne!(r.request_id(), "abc-123");
    let rec = up.recv();
    assert_eq!(rec.header_all("x-request-id"), [r.request_id().as_str()]);
}

#[test]
fn hop_by_hop_request_headers_are_not_forwarded() {
    let (up, _srv, mut c) = ok_proxy();
    let hop_headers = [
        ("Connection", "keep-alive, x-hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("X-End-To-End", "yes"),
    ];
    let (_, rec) = proxied(&mut c, &up, get_with("/prod/proxy/hop", &hop_headers));
    assert_eq!(rec.header("x-end-to-end"), Some("yes"));
    for h in ["x-hop", "keep-alive", "proxy-authorization"] {
        assert!(!rec.has(h), "{h} forwarded:\n{}", rec.raw_head);
    }
    for v in rec.header_all("connection") {
        assert!(
            !v.to_ascii_lowercase().contains("x-hop"),
            "client Connection header forwarded: {v:?}"
        );
    }
}

#[test]
fn hop_by_hop_response_headers_are_not_returned() {
    let up = Upstream::start(|_| {
        Reply::Send(http_response(
            200,
            &[
                ("Connection", "keep-alive, x-hop"),
                ("Keep-Alive", "timeout=5, max=100"),
                ("X-Hop", "secret"),
                ("X-E2E", "yes"),
            ],
            b"ok",
        ))
    });
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let r = c.get("/prod/proxy/hop");
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "ok");
    assert_eq!(r.header("x-e2e"), Some("yes"));
    for h in ["x-hop", "keep-alive"] {
        assert!(r.header(h).is_none(), "{h} returned: {:?}", r.headers);
    }
    for v in r.header_all("connection") {
        assert!(
            !v.to_ascii_lowercase().contains("x-hop"),
            "upstream Connection header returned: {v:?}"
        );
    }
}

// ------------------------------------------------------ response forwarding

const CHUNKS: [&[u8]; 3] = [b"first chunk|", b"second|", b"third and last"];
const DECHUNKED: &str = "first chunk|second|third and last";

fn chunked_upstream() -> Upstream {
    Upstream::start(|_| {
        Reply::Send(chunked_response(
            &[("content-type", "text/plain"), ("x-up", "1")],
            &CHUNKS,
        ))
    })
}

#[test]
fn chunked_upstream_response_reaches_http11_client() {
    let up = chunked_upstream();
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let r = c.get("/prod/proxy/chunky");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-up"), Some("1"));
    assert_eq!(r.body_str(), DECHUNKED);
    // Still in sync for another exchange on the same connection.
    let r = c.get("/prod/proxy/chunky");
    assert_eq!(r.body_str(), DECHUNKED);
}

#[test]
fn chunked_upstream_response_is_dechunked_for_http10_client() {
    let up = chunked_upstream();
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    c.send("GET /prod/proxy/chunky HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(
        !r.chunked && r.header("transfer-encoding").is_none(),
        "HTTP/1.0 client got a chunked response: {:?}",
        r.headers
    );
    assert_eq!(r.body_str(), DECHUNKED);
    c.expect_eof();
}

#[test]
fn upstream_connection_is_reused() {
    let (up, _srv, mut c) = ok_proxy();
    assert_eq!(c.get("/prod/proxy/one").status, 200);
    let a = up.recv();
    assert_eq!(c.get("/prod/proxy/two").status, 200);
    let b = up.recv();
    assert_eq!((a.target.as_str(), b.target.as_str()), ("/one", "/two"));
    assert_eq!(
        a.conn, b.conn,
        "second request used a new upstream connection"
    );
}

// ------------------------------------------------------- upstream failures

/// After the error answer `r` on `c`: unless `r` closes the connection, the
/// same connection still serves the mock route; a fresh one does anyway.
fn assert_recovers(srv: &Server, c: &mut Client, r: &Response) {
    if !r.closes() {
        let again = c.get("/prod/hello");
        assert_eq!(again.status, 200, "same connection after {}", r.status);
    }
    assert_serving(srv.port);
}

#[test]
fn connection_refused_is_502() {
    let port = refused_port();
    let srv = Server::start(&Config::demo(&format!("127.0.0.1:{port}")));
    let mut c = srv.connect();
    let r = c.get("/prod/proxy/x");
    assert_error(&r, 502, None);
    assert_recovers(&srv, &mut c, &r);
}

#[test]
fn upstream_closing_without_answer_is_502() {
    let up = Upstream::start(|_| Reply::Close);
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let r = c.get("/prod/proxy/x");
    assert_error(&r, 502, None);
    assert_eq!(up.recv().target, "/x");
    assert_recovers(&srv, &mut c, &r);
}

#[test]
fn upstream_reset_is_502() {
    let up = Upstream::reset_after_first_bytes();
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let r = c.get("/prod/proxy/x");
    assert_error(&r, 502, None);
    up.recv();
    assert_recovers(&srv, &mut c, &r);
}

#[test]
fn stalled_upstream_is_504_after_route_timeout() {
    let up = Upstream::start(|_| Reply::Stall);
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let t0 = std::time::Instant::now();
    let r = c.get("/prod/slow/x");
    let took = t0.elapsed();
    assert_error(&r, 504, Some(TIMED_OUT));
    assert_eq!(up.recv().target, "/x");
    assert!(
        took >= std::time::Duration::from_millis(250),
        "504 came before the 300 ms timeout ({took:?})"
    );
    assert_recovers(&srv, &mut c, &r);
}
