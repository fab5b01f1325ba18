//! HTTP/1.1 codec behaviour: mock answers, request ids, keep-alive,
//! pipelining, connection close semantics, HEAD, malformed framing.
mod common;

use common::*;

#[test]
fn mock_route_status_headers_and_body() {
    let srv = Server::demo();
    let mut c = srv.connect();
    let r = c.get("/prod/hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-mock"), Some("yes"));
    assert_eq!(r.body_str(), HELLO_BODY);
    assert!(!r.chunked, "mock body should carry a Content-Length");
    assert_eq!(
        r.header("content-length"),
        Some(HELLO_BODY.len().to_string().as_str())
    );
    assert!(!r.request_id().is_empty());

    // A non-200 configured status and another content type.
    let r = c.request(request("POST", "/prod/any", "localhost", &[], b"x"));
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("8"));
    assert_eq!(r.body_str(), "any-body");
    assert!(!r.request_id().is_empty());
}

/// `GET /prod/hello` with `X-Request-Id: id` on `c` is a 200; returns the
/// request id of the response.
fn hello_request_id(c: &mut Client, id: &str) -> String {
    let r = c.request(get_with("/prod/hello", &[("X-Request-Id", id)]));
    assert_eq!(r.status, 200, "X-Request-Id {id:?}: {r:?}");
    r.request_id()
}

/// A UUID's shape: 8-4-4-4-12 lower-case hex digits.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

#[test]
fn request_ids_are_always_generated_never_the_clients() {
    let srv = Server::demo();
    let mut c = srv.connect();
    // A client's id, sane or not, is never taken (log forging, correlation spoofing).
    for given in ["abc-123", "abc 123 def", &"a".repeat(300)] {
        let id = hello_request_id(&mut c, given);
        assert_ne!(id, given, "the client's x-request-id became the request id");
        assert!(is_uuid(&id), "not a generated id: {id:?}");
    }

    // Generated ids: present, distinct per request.
    let a = c.get("/prod/hello").request_id();
    let b = c.get("/prod/hello").request_id();
    assert!(is_uuid(&a) && is_uuid(&b), "{a:?} {b:?}");
    assert_ne!(a, b, "generated request ids must differ");

    // Error responses carry one too.
    let r = c.get("/prod/nope");
    assert_eq!(r.status, 403);
    assert!(is_uuid(&r.request_id()));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let srv = Server::demo();
    let mut c = srv.connect();
    for i in 0..5 {
        let r = c.get("/prod/hello");
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.body_str(), HELLO_BODY);
        assert!(!r.closes(), "server asked to close a keep-alive connection");
    }
}

#[test]
fn pipelined_requests_answered_in_order() {
    let srv = Server::demo();
    let mut c = srv.connect();
    let mut all = Vec::new();
    all.extend_from_slice(get("/prod/hello").as_bytes());
    all.extend_from_slice(get("/prod/items/special").as_bytes());
    all.extend(request("POST", "/prod/any", "localhost", &[], b"12345"));
    c.send(&all);
    let r1 = c.read_response();
    let r2 = c.read_response();
    let r3 = c.read_response();
    assert_eq!((r1.status, r1.body_str().as_str()), (200, HELLO_BODY));
    assert_eq!((r2.status, r2.body_str().as_str()), (200, "special"));
    assert_eq!((r3.status, r3.body_str().as_str()), (201, "any-body"));
    // And the connection still works afterwards.
    assert_eq!(c.get("/prod/hello").status, 200);
}

/// `raw`, a `GET /prod/hello`, is answered with the hello mock, then the
/// server closes the connection; returns the response.
fn hello_then_close(raw: &str) -> Response {
    let srv = Server::demo();
    let mut c = srv.connect();
    c.send(raw);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), HELLO_BODY);
    c.expect_eof();
    r
}

#[test]
fn http10_without_keep_alive_closes_after_response() {
    hello_then_close("GET /prod/hello HTTP/1.0\r\nHost: localhost\r\n\r\n");
}

#[test]
fn connection_close_on_http11_is_honoured() {
    let r = hello_then_close(
        "GET /prod/hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(
        r.closes(),
        "response lacks `connection: close`: {:?}",
        r.headers
    );
}

#[test]
fn head_on_any_route_has_headers_but_no_body() {
    let srv = Server::demo();
    let mut c = srv.connect();
    let mut both = b"HEAD /prod/any HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    both.extend_from_slice(get("/prod/hello").as_bytes());
    c.send(&both);
    let h = c.read_head_response();
    assert_eq!(h.status, 201);
    assert_eq!(h.header("content-length"), Some("8"));
    // The next pipelined response must follow the HEAD head directly.
    let r = c.read_response();
    assert_eq!(
        r.status, 200,
        "HEAD response carried body bytes? next: {r:?}"
    );
    assert_eq!(r.body_str(), HELLO_BODY);
}

#[test]
fn garbage_request_line_is_400() {
    let srv = Server::demo();
    let mut c = srv.connect();
    c.send("THIS IS NOT HTTP AT ALL\r\n\r\n");
    let r = c.read_response();
    assert_error(&r, 400, None);
    assert_serving(srv.port);
}

/// `bad` (a request with broken framing) and a pipelined GET after it: a
/// 400, then the connection closes without answering the GET; the server
/// keeps serving.
fn assert_400_and_close(bad: &[u8]) {
    let srv = Server::demo();
    let mut c = srv.connect();
    let mut raw = bad.to_vec();
    raw.extend_from_slice(get("/prod/hello").as_bytes());
    c.send(&raw);
    let r = c.read_response();
    assert_error(&r, 400, None);
    // The pipelined request after it must not be answered.
    c.expect_eof();
    assert_serving(srv.port);
}

#[test]
fn content_length_with_chunked_is_400_and_closes() {
    assert_400_and_close(
        b"POST /prod/any HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
}

#[test]
fn conflicting_content_lengths_are_400_and_close() {
    assert_400_and_close(
        b"POST /prod/any HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
Content-Length: 6\r\n\r\nhello!",
    );
}
