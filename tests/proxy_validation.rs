//! Request body validation on routes whose integration does not read the
//! body itself: HTTP_PROXY, a Lambda proxy (AWS_PROXY) and a config-file
//! MOCK. "Request validation for REST APIs in API Gateway": "The
//! applicable request payload adheres to the configured JSON schema
//! request of the method"; "If the validation fails, API Gateway fails the
//! request, returns a 400 error response to the caller" — before any
//! integration, so an invalid body never reaches the upstream. A route
//! without a body validator keeps streaming its body as it arrives.

mod common;

use std::net::TcpListener;

use common::*;
use serde_json::json;

const SCHEMA: &str = r#"validation = { body_schema = { "application/json" = '{"type": "object", "required": ["name"]}' } }"#;
const JSON: (&str, &str) = ("Content-Type", "application/json");
const INVALID: &[u8] = br#"{"age": 3}"#;
const VALID: &[u8] = br#"{"name": "rex"}"#;

fn config(integration: &str, validated: bool) -> Config {
    Config::new(&format!(
        r#"
[[api]]
name = "v"

[api.stages.prod]

[[api.routes]]
method = "POST"
path = "/pets"
integration = {integration}
{}
"#,
        if validated { SCHEMA } else { "" }
    ))
}

fn proxy(up: &Upstream, validated: bool) -> Config {
    let i = format!(
        r#"{{ type = "http_proxy", uri = "http://127.0.0.1:{}/pets", timeout_ms = 5000 }}"#,
        up.port
    );
    config(&i, validated)
}

fn post(body: &[u8]) -> Vec<u8> {
    request("POST", "/prod/pets", "localhost", &[JSON], body)
}

/// `r` is the upstream's answer, and the upstream got the valid body.
fn forwarded(up: &Upstream, r: Response) -> Recorded {
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (200, "upstream"),
        "{r:?}"
    );
    let got = up.recv();
    assert_eq!(got.body, VALID);
    got
}

fn assert_invalid_body(r: &Response) {
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({ "message": "Invalid request body" }),
        "{r:?}"
    );
}

#[test]
fn an_http_proxy_forwards_a_valid_body_and_never_an_invalid_one() {
    let up = Upstream::ok(b"upstream");
    let s = Server::start(&proxy(&up, true));
    let mut c = s.connect();
    assert_invalid_body(&c.request(post(INVALID)));
    up.assert_nothing();
    // The connection stays usable: the invalid body was read, not left.
    let got = forwarded(&up, c.request(post(VALID)));
    assert_eq!(got.header("content-type"), Some("application/json"));
    // A chunked body is read whole, checked, and sent with its length.
    assert_invalid_body(&post_chunked(&mut c, "/prod/pets", INVALID));
    up.assert_nothing();
    let r = post_chunked(&mut c, "/prod/pets", VALID);
    assert_eq!(r.status, 200, "{r:?}");
    let got = up.recv();
    assert_eq!(got.body, VALID);
    assert!(!got.chunked, "{got:?}");
    assert_eq!(got.header("content-length"), Some("15"));
}

/// A client waiting for `100 Continue` gets it before the body is read
/// for validation, as on any other route.
#[test]
fn a_validated_proxy_answers_expect_continue() {
    let up = Upstream::ok(b"upstream");
    let s = Server::start(&proxy(&up, true));
    let mut c = s.connect();
    c.send(
        "POST /prod/pets HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: 15\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = c.read_response();
    assert_eq!(interim.status, 100, "{interim:?}");
    c.send(VALID);
    let got = forwarded(&up, c.read_response());
    assert!(!got.has("expect"), "{got:?}");
}

/// The body is read bounded by `max_body_bytes`, as every body is.
#[test]
fn a_validated_proxy_body_is_bounded() {
    let up = Upstream::ok(b"upstream");
    let s = Server::start(&proxy(&up, true).limits("max_body_bytes", "64"));
    let mut c = s.connect();
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(100));
    let r = post_chunked(&mut c, "/prod/pets", big.as_bytes());
    assert_error(&r, 413, None);
    up.assert_nothing();
}

/// Without a body validator the proxy streams as before, unchecked: the
/// upstream has the head and the first chunk while the client has not
/// yet sent the rest (no copy of the whole body is made first).
#[test]
fn an_unvalidated_proxy_body_streams_unchecked() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let i = format!(
        r#"{{ type = "http_proxy", uri = "http://127.0.0.1:{port}/pets", timeout_ms = 5000 }}"#
    );
    let s = Server::start(&config(&i, false));
    assert_body_streams(&mut s.connect(), &listener, "/prod/pets");
}

/// A Lambda proxy integration whose Invoke API is the recording upstream:
/// an invalid body never invokes the function.
#[test]
fn a_lambda_proxy_is_invoked_with_a_valid_body_only() {
    let result = br#"{"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "fn"}"#;
    let up = Upstream::start(move |_| {
        Reply::Send(http_response(
            200,
            &[("content-type", "application/json")],
            result,
        ))
    });
    let i = format!(
        r#"{{ type = "lambda", function = "f", endpoint = "http://127.0.0.1:{}", timeout_ms = 5000 }}"#,
        up.port
    );
    let s = Server::start(&config(&i, true));
    let mut c = s.connect();
    assert_invalid_body(&c.request(post(INVALID)));
    up.assert_nothing();
    let r = c.request(post(VALID));
    assert_eq!((r.status, r.body_str().as_str()), (200, "fn"), "{r:?}");
    let got = up.recv();
    assert!(got.target.ends_with("/functions/f/invocations"), "{got:?}");
    let event: serde_json::Value = serde_json::from_slice(&got.body).expect("an event");
    assert_eq!(event["body"], r#"{"name": "rex"}"#);
}

/// A config-file MOCK (no execution) answers its fixed response for a
/// valid body only.
#[test]
fn a_mock_checks_the_body_before_answering() {
    let i = r#"{ type = "mock", status = 201, body = "created" }"#;
    let s = Server::start(&config(i, true));
    let mut c = s.connect();
    assert_invalid_body(&c.request(post(INVALID)));
    let r = c.request(post(VALID));
    assert_eq!((r.status, r.body_str().as_str()), (201, "created"), "{r:?}");
    assert_invalid_body(&post_chunked(&mut c, "/prod/pets", INVALID));
    let r = post_chunked(&mut c, "/prod/pets", VALID);
    assert_eq!(r.status, 201, "{r:?}");
    // Not JSON at all is invalid too.
    assert_invalid_body(&c.request(post(b"not json")));
}
