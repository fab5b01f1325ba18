//! `method.request.body` and `method.request.body.a.b` mapped on an
//! HTTP_PROXY, on the real binary against a recording upstream. "Parameter
//! mapping source reference for REST APIs": "Method request body:
//! method.request.body"; "Method request body (JsonPath):
//! method.request.body.JSONPATH_EXPRESSION"; "You can use parameter mapping
//! in your integration request for proxy and non-proxy integrations."
//!
//! Such a route reads the body whole first, bounded, exactly as a route
//! validating its body does (`tests/proxy_validation.rs`: chunked,
//! `Expect: 100-continue`, 413), evaluates the mapping, and sends the same
//! bytes on; a route whose mapping does not read the body still streams.
//! Mapped values are hostile: they never split the head, replace the
//! gateway's framing or `host`, or add a path segment or query pair.

mod common;

use std::net::TcpListener;

use common::*;
use serde_json::json;

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// Whole body to a header, a field to the query, a nested field to the URI's `{oid}`.
const MAPS: &str = r#""integration.request.header.X-Body" = "method.request.body", "integration.request.querystring.user" = "method.request.body.user", "integration.request.path.oid" = "method.request.body.order.id""#;

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    request("POST", path, "localhost", &[JSON], body)
}

fn ok(r: &Response) {
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (200, "upstream"),
        "{r:?}"
    );
}

/// The whole body to a header, a field to a query string, a nested field
/// to a path parameter; the upstream gets the body's bytes as sent
/// (spacing, key order and non-ASCII kept), with its length.
#[test]
fn body_and_json_path_sources_map_and_the_body_travels_byte_exact() {
    let up = Upstream::ok(b"upstream");
    let s = Server::start(&Config::new(&mapping_route(up.port, MAPS)));
    let body = r#"{ "user" : "ann é",  "order": {"id": 42} }"#;
    let mut c = s.connect();
    ok(&c.request(post("/prod/items/i-1?user=client&keep=1", body.as_bytes())));
    let got = up.recv();
    assert_eq!(got.body, body.as_bytes());
    assert_eq!(
        got.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(!got.chunked, "{got:?}");
    assert_eq!(got.header("x-body"), Some(body), "{got:?}");
    // A mapped query string replaces the client's pair of that name; a
    // number maps as its JSON text.
    assert_eq!(
        got.target, "/backend/42?fixed=1&keep=1&user=ann%20%C3%A9",
        "{got:?}"
    );
    assert_eq!(got.header("content-type"), Some("application/json"));
    // The connection stays usable: the body was read, nothing left over.
    ok(&c.request(post(
        "/prod/items/i-2",
        br#"{"user":"bo","order":{"id":"x/y"}}"#,
    )));
    let got = up.recv();
    assert_eq!(got.target, "/backend/x%2Fy?fixed=1&user=bo", "{got:?}");
}

/// A chunked body is read whole, mapped, and sent with its length.
#[test]
fn a_chunked_body_is_mapped_and_sent_whole() {
    let up = Upstream::ok(b"upstream");
    let s = Server::start(&Config::new(&mapping_route(up.port, MAPS)));
    let mut c = s.connect();
    let body = br#"{"user": "chunky", "order": {"id": 7}}"#;
    ok(&post_chunked(&mut c, "/prod/items/i", body));
    let got = up.recv();
    assert_eq!(got.body, body);
    assert!(!got.chunked, "{got:?}");
    assert_eq!(got.header("content-length"), Some("38"));
    assert_eq!(got.target, "/backend/7?fixed=1&user=chunky", "{got:?}");
}

/// A client waiting for `100 Continue` gets it before the body is read.
#[test]
fn a_body_mapping_route_answers_expect_continue() {
    let up = Upstream::ok(b"upstream");
    let s = Server::start(&Config::new(&mapping_route(up.port, MAPS)));
    let mut c = s.connect();
    let body = br#"{"user": "u", "order": {"id": 1}}"#;
    c.send(format!(
        "POST /prod/items/i HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    ));
    let interim = c.read_response();
    assert_eq!(interim.status, 100, "{interim:?}");
    c.send(body);
    ok(&c.read_response());
    let got = up.recv();
    assert_eq!(got.body, body);
    assert!(!got.has("expect"), "{got:?}");
    assert_eq!(got.target, "/backend/1?fixed=1&user=u");
}

/// The body is read bounded by `max_body_bytes`: past it, 413 and no upstream call.
#[test]
fn a_body_past_the_limit_is_413_and_never_forwarded() {
    let up = Upstream::ok(b"upstream");
    let s =
        Server::start(&Config::new(&mapping_route(up.port, MAPS)).limits("max_body_bytes", "64"));
    let big = format!(r#"{{"user": "{}"}}"#, "x".repeat(100));
    let r = post_chunked(&mut s.connect(), "/prod/items/i", big.as_bytes());
    assert_error(&r, 413, None);
    let r = s.connect().request(post("/prod/items/i", big.as_bytes()));
    assert_error(&r, 413, None);
    up.assert_nothing();
}

/// What a JSONPath selects, as non-proxy HTTP maps it too: a string its
/// text, anything else its JSON text (an object or array compact), nothing
/// where the path selects nothing or the body is not JSON, so `{oid}`
/// stays empty; the whole body maps as it came either way.
#[test]
fn what_a_json_path_yields_for_each_kind_of_body() {
    let up = Upstream::ok(b"upstream");
    let maps = r#""integration.request.header.X-Body" = "method.request.body", "integration.request.header.X-User" = "method.request.body.user", "integration.request.path.oid" = "method.request.body.order.id""#;
    let s = Server::start(&Config::new(&mapping_route(up.port, maps)));
    let mut c = s.connect();
    let cases: [(&[u8], Option<&str>, &str); 5] = [
        (b"not json, just text", None, "/backend/?fixed=1"),
        (
            br#"{"user": {"a": [1, 2]}}"#,
            Some(r#"{"a":[1,2]}"#),
            "/backend/?fixed=1",
        ),
        (
            br#"{"user": [true, null]}"#,
            Some("[true,null]"),
            "/backend/?fixed=1",
        ),
        (br#"{"order": {}}"#, None, "/backend/?fixed=1"),
        (
            br#"{"user": false, "order": {"id": null}}"#,
            Some("false"),
            "/backend/null?fixed=1",
        ),
    ];
    for (body, user, target) in cases {
        ok(&c.request(post("/prod/items/i", body)));
        let got = up.recv();
        let text = String::from_utf8_lossy(body);
        assert_eq!(got.body, body, "{text}");
        assert_eq!(got.header("x-user"), user, "{text}: {got:?}");
        assert_eq!(got.target, target, "{text}: {got:?}");
        assert_eq!(got.header("x-body"), Some(&*text), "{text}: {got:?}");
    }
    // No body at all: nothing to map, nothing framed.
    ok(&c.request(request("POST", "/prod/items/i", "localhost", &[], b"")));
    let got = up.recv();
    assert!(!got.has("x-body") && !got.has("x-user"), "{got:?}");
    assert!(got.body.is_empty());
}

/// Hostile values from the body: a CR/LF in a field (or in the whole body)
/// never reaches the head, a request hidden behind it is never executed,
/// `host` and `content-length` stay the gateway's, a `../` path value is
/// left out (however often encoded) and `&k=v` stays one query value.
#[test]
fn hostile_body_values_cannot_change_the_request() {
    let up = Upstream::start(|r| {
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            r.target.as_bytes(),
        ))
    });
    let maps = [
        r#""integration.request.header.X-Echo" = "method.request.body.h""#,
        r#""integration.request.header.X-Whole" = "method.request.body""#,
        r#""integration.request.header.Host" = "method.request.body.host""#,
        r#""integration.request.header.Content-Length" = "method.request.body.len""#,
        r#""integration.request.header.Transfer-Encoding" = "method.request.body.te""#,
        r#""integration.request.path.oid" = "method.request.body.p""#,
        r#""integration.request.querystring.q" = "method.request.body.q""#,
    ]
    .join(", ");
    let s = Server::start(&Config::new(&mapping_route(up.port, &maps)));
    let hidden = "GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";
    let body = json!({
        "h": format!("a\r\nX-Injected: 1\r\nContent-Length: 0\r\n\r\n{hidden}"),
        "host": "evil.example",
        "len": "1",
        "te": "chunked",
        "p": "../../admin",
        "q": "a&admin=1#x",
    })
    .to_string();
    let mut c = s.connect();
    let r = c.request(post("/prod/items/i", body.as_bytes()));
    assert_eq!(r.status, 200, "{r:?}");
    let got = up.recv();
    assert!(!got.has("x-injected") && !got.has("x-echo"), "{got:?}");
    // The JSON text itself holds no raw line break: it maps as sent.
    assert_eq!(got.header("x-whole"), Some(body.as_str()));
    assert_eq!(got.header("host"), Some(up.addr().as_str()));
    assert_eq!(
        got.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(!got.chunked && !got.has("transfer-encoding"), "{got:?}");
    assert_eq!(got.body, body.as_bytes());
    // `../` would climb for a backend that decodes `%2F`: left out; a
    // query value stays one value.
    assert_eq!(
        got.target, "/backend/?fixed=1&q=a%26admin%3D1%23x",
        "{got:?}"
    );
    // A whole body with a raw line break is left out of the header.
    let raw = b"line one\r\nX-Injected: 2\r\n\r\nGET /SMUGGLED HTTP/1.1\r\n\r\n";
    let r = c.request(post("/prod/items/i", raw));
    assert_eq!(r.status, 200, "{r:?}");
    let got = up.recv();
    assert!(!got.has("x-whole") && !got.has("x-injected"), "{got:?}");
    assert_eq!(got.body, raw);
    // Encoded or backslashed dot segments are left out too; a slash alone
    // stays inside its segment.
    for (p, target) in [
        ("%2e%2e", "/backend/?fixed=1"),
        ("..\\secret", "/backend/?fixed=1"),
        ("%252e%252e%252fsecret", "/backend/?fixed=1"),
        ("..;x/secret", "/backend/?fixed=1"),
        ("a/b.c", "/backend/a%2Fb.c?fixed=1"),
    ] {
        let body = json!({ "p": p }).to_string();
        let r = c.request(post("/prod/items/i", body.as_bytes()));
        assert_eq!(r.body_str(), target, "{p}: {r:?}");
        assert_eq!(up.recv().target, target, "{p}");
    }
    // Nothing else reached the upstream, and later answers are their own.
    let r = c.request(post("/prod/items/i", br#"{"p": "after"}"#));
    assert_eq!(r.body_str(), "/backend/after?fixed=1", "{r:?}");
    assert_eq!(up.recv().target, "/backend/after?fixed=1");
    up.assert_nothing();
}

/// A route whose mapping does not read the body keeps streaming it: the
/// upstream has the head and the first chunk while the client has not yet
/// sent the rest (decided per route when the snapshot is compiled).
#[test]
fn a_route_mapping_only_the_head_still_streams() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let maps = r#""integration.request.header.X-Q" = "method.request.querystring.q", "integration.request.path.oid" = "method.request.path.id""#;
    let s = Server::start(&Config::new(&mapping_route(port, maps)));
    let head = assert_body_streams(&mut s.connect(), &listener, "/prod/items/i?q=v");
    assert!(head.to_ascii_lowercase().contains("x-q: v"), "{head}");
    assert!(head.starts_with("POST /backend/i?fixed=1&q=v "), "{head}");
}

/// A route that both validates and maps its body reads it once: an
/// invalid body is 400 and never forwarded, a valid one is mapped.
#[test]
fn a_validated_body_mapping_route_checks_then_maps() {
    let up = Upstream::ok(b"upstream");
    let text = format!(
        "{}validation = {{ body_schema = {{ \"application/json\" = '{{\"type\": \"object\", \"required\": [\"user\"]}}' }} }}\n",
        mapping_route(up.port, MAPS)
    );
    let s = Server::start(&Config::new(&text));
    let mut c = s.connect();
    let r = c.request(post("/prod/items/i", br#"{"order": {"id": 1}}"#));
    assert_eq!(r.status, 400, "{r:?}");
    up.assert_nothing();
    ok(&c.request(post(
        "/prod/items/i",
        br#"{"user": "v", "order": {"id": 2}}"#,
    )));
    assert_eq!(up.recv().target, "/backend/2?fixed=1&user=v");
}

/// `portico check` accepts body sources on an `http_proxy` route.
#[test]
fn check_accepts_body_mappings_on_a_proxy() {
    let out = check_config(&write_config(&mapping_route(1, MAPS)));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
