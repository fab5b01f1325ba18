//! The admin listener against a hostile client: SigV4 management calls
//! cannot be replayed or carry another body than the one signed, and no
//! connection (idle, slow, oversized, unauthenticated) stops it answering
//! health checks, metrics and other management calls.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portico::aws::sigv4;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TOKEN: &str = "admin-sec-token-0123456789";
const KEY_ID: &str = "AKIDADMINSECURITY";
const SECRET: &str = "admin-security-secret-0123456789";
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match";
/// An answer the listener owes at once: well under the read timeout a
/// stalled listener would run into.
const PROMPT: Duration = Duration::from_secs(3);

/// A portico with the admin token and an access key pair.
fn start(cfg: Config) -> Server {
    Server::start(
        &cfg.admin("token", &toml_str(TOKEN))
            .admin("access_key_id", &toml_str(KEY_ID))
            .admin("secret_access_key", &toml_str(SECRET)),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of `method path` signed as botocore signs API Gateway calls
/// (`host` and `x-amz-date`, no `x-amz-content-sha256`), or over the
/// payload hash `declared` sends in `X-Amz-Content-Sha256` (signed too).
fn signed(method: &str, path: &str, body: &[u8], declared: Option<&str>) -> Vec<u8> {
    let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let mut headers = vec![
        ("host".to_string(), "localhost".to_string()),
        ("x-amz-date".to_string(), amz_date.clone()),
    ];
    if let Some(d) = declared {
        headers.insert(1, ("x-amz-content-sha256".to_string(), d.to_string()));
    }
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let r = sigv4::Signed {
        method,
        path: path_only,
        query,
        headers: &headers,
        body,
    };
    let auth = sigv4::sign(&r, KEY_ID, SECRET, "us-east-1", "apigateway");
    let mut extra = vec![
        ("X-Amz-Date", amz_date.as_str()),
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Connection", "close"),
    ];
    if let Some(d) = declared {
        extra.push(("X-Amz-Content-Sha256", d));
    }
    request(method, path, "localhost", &extra, body)
}

/// `raw` on a fresh admin connection; the answer as JSON.
fn send(srv: &mut Server, raw: &[u8], ctx: &str) -> AdminJson {
    let mut c = Client::connect(srv.admin_port());
    AdminJson::of(c.request(raw), ctx)
}

/// `raw` with `old` replaced by `new` (the same length or not).
fn replace(raw: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let at = raw
        .windows(old.len())
        .position(|w| w == old)
        .unwrap_or_else(|| panic!("{:?} not in the request", String::from_utf8_lossy(old)));
    [&raw[..at], new, &raw[at + old.len()..]].concat()
}

fn bearer(srv: &mut Server, method: &str, path: &str, body: Option<&Value>) -> AdminJson {
    let auth = format!("Bearer {TOKEN}");
    srv.admin_json(method, path, &[("Authorization", &auth)], body)
}

/// The API keys' names.
fn key_names(srv: &mut Server) -> Vec<String> {
    let r = bearer(srv, "GET", "/apikeys", None);
    assert_eq!(r.status, 200, "GetApiKeys: {}", r.text);
    r.json["item"]
        .as_array()
        .unwrap_or_else(|| panic!("no item list: {}", r.text))
        .iter()
        .map(|k| k["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn assert_refused(r: &AdminJson, status: u16, kind: &str, message: &str, ctx: &str) {
    assert_eq!(r.status, status, "{ctx}: {} {}", r.status, r.text);
    assert_eq!(r.header("x-amzn-ErrorType"), Some(kind), "{ctx}: {r:?}");
    assert_eq!(r.json["__type"], kind, "{ctx}: {}", r.text);
    let got = r.json["message"].as_str().unwrap_or_default();
    assert!(got.contains(message), "{ctx}: message {got:?}");
}

/// (a) Someone who saw a signed CreateApiKey sends its head with a body of
/// their own, declaring the signed body's hash in `X-Amz-Content-Sha256`
/// (which botocore does not sign for apigateway): refused, before and
/// after the genuine call, and no key of theirs exists.
#[test]
fn a_signed_call_with_another_body_is_refused_and_changes_nothing() {
    let mut srv = start(Config::new(""));
    let genuine = br#"{"name":"innocent","enabled":true}"#;
    let evil = br#"{"name":"evil","enabled":true,"value":"attacker-chosen-value-01234"}"#;
    let call = signed("POST", "/apikeys", genuine, None);
    let declared = hex(&Sha256::digest(genuine));
    let swap = |raw: &[u8]| {
        let raw = replace(raw, genuine, evil);
        let raw = replace(
            &raw,
            format!("Content-Length: {}", genuine.len()).as_bytes(),
            format!(
                "X-Amz-Content-Sha256: {declared}\r\nContent-Length: {}",
                evil.len()
            )
            .as_bytes(),
        );
        raw
    };
    let forged = swap(&call);
    let r = send(&mut srv, &forged, "forged before the genuine call");
    assert_refused(
        &r,
        403,
        "InvalidSignatureException",
        SIGNATURE_MISMATCH,
        "forged first",
    );
    // The same body swap without the declared hash.
    let plain = replace(
        &replace(&call, genuine, evil),
        format!("Content-Length: {}", genuine.len()).as_bytes(),
        format!("Content-Length: {}", evil.len()).as_bytes(),
    );
    let r = send(&mut srv, &plain, "body swapped");
    assert_refused(
        &r,
        403,
        "InvalidSignatureException",
        SIGNATURE_MISMATCH,
        "body swapped",
    );
    let r = send(&mut srv, &call, "the genuine call");
    assert_eq!(r.status, 201, "genuine CreateApiKey: {}", r.text);
    let r = send(&mut srv, &forged, "forged after the genuine call");
    assert_eq!(r.status, 403, "forged after: {}", r.text);
    assert_eq!(key_names(&mut srv), vec!["innocent".to_string()]);
}

/// (b) A state-changing signed call sent again byte for byte (within the
/// signature's 15 minutes) is refused and changes nothing; an identical
/// read is answered again (botocore repeats identical GETs when polling).
#[test]
fn a_mutating_signed_call_replayed_verbatim_is_refused() {
    let mut srv = start(Config::new("").admin("replay_grace_ms", "0"));
    let create = signed("POST", "/restapis", br#"{"name":"once"}"#, None);
    let r = send(&mut srv, &create, "CreateRestApi");
    assert_eq!(r.status, 201, "CreateRestApi: {}", r.text);
    let id = r.json["id"].as_str().expect("an id").to_string();
    let r = send(&mut srv, &create, "CreateRestApi replayed");
    assert_refused(
        &r,
        403,
        "InvalidSignatureException",
        "already been used",
        "replayed CreateRestApi",
    );
    let list = bearer(&mut srv, "GET", "/restapis", None);
    let names: Vec<&str> = list.json["item"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, vec!["once"], "{}", list.text);

    let delete = signed("DELETE", &format!("/restapis/{id}"), b"", None);
    assert_eq!(send(&mut srv, &delete, "DeleteRestApi").status, 202);
    let r = send(&mut srv, &delete, "DeleteRestApi replayed");
    assert_refused(
        &r,
        403,
        "InvalidSignatureException",
        "already been used",
        "replayed delete",
    );

    let read = signed("GET", "/restapis", b"", None);
    for n in 0..2 {
        let r = send(&mut srv, &read, "GetRestApis");
        assert_eq!(r.status, 200, "identical GetRestApis #{n}: {}", r.text);
    }
}

/// Within `[admin] replay_grace_ms` of its first use the same signature
/// is served as a new call: a client that repeats a create within one
/// second (same signature) gets AWS's 409, not a replay refusal.
#[test]
fn an_identical_call_within_the_grace_is_served_as_new() {
    let mut srv = start(Config::new("").admin("replay_grace_ms", "600000"));
    let r = send(
        &mut srv,
        &signed("POST", "/restapis", br#"{"name":"pets"}"#, None),
        "CreateRestApi",
    );
    let id = r.json["id"].as_str().expect("an id").to_string();
    let resources = bearer(&mut srv, "GET", &format!("/restapis/{id}/resources"), None);
    let root = resources.json["item"][0]["id"]
        .as_str()
        .expect("the root resource")
        .to_string();
    let create = signed(
        "POST",
        &format!("/restapis/{id}/resources/{root}"),
        br#"{"pathPart":"pets"}"#,
        None,
    );
    assert_eq!(send(&mut srv, &create, "CreateResource").status, 201);
    let r = send(&mut srv, &create, "CreateResource again");
    assert_refused(&r, 409, "ConflictException", "", "CreateResource again");
}

/// (c) A signature made over a declared payload hash that is not the
/// body's (UNSIGNED-PAYLOAD, a streaming value, another body's hash) is
/// refused with AWS's error, and the call has no effect.
#[test]
fn a_content_sha256_that_is_not_the_bodys_is_refused() {
    let mut srv = start(Config::new(""));
    let body = br#"{"name":"declared"}"#;
    let other = hex(&Sha256::digest(br#"{"name":"other"}"#));
    for declared in [
        "UNSIGNED-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        other.as_str(),
        &other.to_uppercase(),
    ] {
        let r = send(
            &mut srv,
            &signed("POST", "/apikeys", body, Some(declared)),
            declared,
        );
        assert_refused(
            &r,
            403,
            "InvalidSignatureException",
            SIGNATURE_MISMATCH,
            declared,
        );
    }
    assert!(key_names(&mut srv).is_empty());
    // The body's own hash, declared and signed, is accepted.
    let own = hex(&Sha256::digest(body));
    let r = send(
        &mut srv,
        &signed("POST", "/apikeys", body, Some(&own)),
        "own",
    );
    assert_eq!(r.status, 201, "declared own hash: {}", r.text);
}

/// A `GET path` answered on a fresh admin connection within [`PROMPT`].
fn prompt(srv: &mut Server, raw: &[u8], ctx: &str) -> Response {
    let mut c = Client::connect(srv.admin_port());
    c.set_read_timeout(PROMPT);
    c.send(raw);
    c.try_read_response(false)
        .unwrap_or_else(|e| panic!("{ctx}: no prompt answer while a connection is held: {e}"))
}

/// (d) Connections that announce a body and send none (unauthenticated
/// and authenticated) do not stop health checks, metrics and management
/// calls from being answered.
#[test]
fn an_idle_connection_does_not_stall_the_admin_listener() {
    let mut srv = start(Config::new(""));
    let port = srv.admin_port();
    let held = "POST /restapis HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100000\r\n";
    let mut anonymous = Client::connect(port);
    anonymous.send(format!("{held}\r\n"));
    let mut authenticated = Client::connect(port);
    authenticated.send(format!("{held}Authorization: Bearer {TOKEN}\r\n\r\n"));
    let signed_head = signed("POST", "/restapis", &[b'x'; 100_000], None);
    let head_end = signed_head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let mut signed_idle = Client::connect(port);
    signed_idle.send(&signed_head[..head_end]);

    for round in 0..3 {
        let r = prompt(&mut srv, get("/healthz").as_bytes(), "healthz");
        assert_eq!(r.status, 200, "round {round}: healthz {r:?}");
        let r = prompt(&mut srv, get("/readyz").as_bytes(), "readyz");
        assert_eq!(r.status, 200, "round {round}: readyz {r:?}");
        let r = prompt(&mut srv, get("/metrics").as_bytes(), "metrics");
        assert_eq!(r.status, 200, "round {round}: metrics {r:?}");
        assert!(r.body_str().contains("portico_workers"), "{}", r.body_str());
        let auth = format!("Bearer {TOKEN}");
        let list = request(
            "GET",
            "/restapis",
            "localhost",
            &[("Authorization", &auth)],
            b"",
        );
        let r = prompt(&mut srv, &list, "GetRestApis");
        assert_eq!(r.status, 200, "round {round}: GetRestApis {}", r.body_str());
        let create = json!({"name": format!("while-held-{round}")}).to_string();
        let call = signed("POST", "/restapis", create.as_bytes(), None);
        let r = prompt(&mut srv, &call, "signed CreateRestApi");
        assert_eq!(
            r.status,
            201,
            "round {round}: CreateRestApi {}",
            r.body_str()
        );
    }
    // The unauthenticated one was refused from its head, body unread.
    let r = anonymous.read_response();
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    // The authenticated ones are still waiting for their bodies.
    authenticated.expect_silence(Duration::from_millis(50));
    signed_idle.expect_silence(Duration::from_millis(50));
}

/// (e) An unauthenticated head announcing 512 MiB is answered at once, no
/// byte of the body sent; so is one with a wrong token.
#[test]
fn an_unauthenticated_huge_body_is_refused_from_its_head() {
    let mut srv = start(Config::new(""));
    for (what, auth, kind) in [
        (
            "no authorization",
            None,
            "MissingAuthenticationTokenException",
        ),
        (
            "wrong token",
            Some("Bearer not-the-admin-token"),
            "UnrecognizedClientException",
        ),
    ] {
        let mut head = "POST /restapis HTTP/1.1\r\nHost: x\r\nContent-Length: 536870912\r\n\
                        Expect: 100-continue\r\n"
            .to_string();
        if let Some(a) = auth {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        head.push_str("\r\n");
        let r = prompt(&mut srv, head.as_bytes(), what);
        assert_eq!(r.status, 403, "{what}: {r:?}");
        assert_eq!(r.header("x-amzn-ErrorType"), Some(kind), "{what}");
    }
    let r = prompt(&mut srv, get("/healthz").as_bytes(), "healthz after");
    assert_eq!(r.status, 200);
}

/// (f) An authenticated call whose declared body is over its operation's
/// cap (1 MiB; 6 MiB for imports) gets 413 without the body being read;
/// a body under the import cap is read.
#[test]
fn an_oversized_authenticated_body_gets_413_unread() {
    let mut srv = start(Config::new(""));
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    for (target, length, operation) in [
        ("/restapis", 1024 * 1024 + 1, "CreateRestApi"),
        (
            "/restapis?mode=import",
            6 * 1024 * 1024 + 1,
            "ImportRestApi",
        ),
        (
            "/restapis/abc?mode=overwrite",
            64 * 1024 * 1024,
            "PutRestApi",
        ),
    ] {
        let method = if operation == "PutRestApi" {
            "PUT"
        } else {
            "POST"
        };
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {length}\r\n\r\n"
        );
        let r = prompt(&mut srv, head.as_bytes(), operation);
        assert_eq!(r.status, 413, "{operation}: {}", r.body_str());
        assert_eq!(
            r.header("x-amzn-ErrorType"),
            Some("RequestTooLargeException")
        );
        let message = r.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(operation), "{message}");
    }
    // Signed, with a head that verifies as far as a head can.
    let raw = signed("POST", "/apikeys", &vec![b' '; 2 * 1024 * 1024], None);
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let r = prompt(&mut srv, &raw[..head_end], "signed oversized");
    assert_eq!(r.status, 413, "signed oversized: {}", r.body_str());
    // 2 MiB of OpenAPI padding is over 1 MiB and under the import cap: read.
    let mut doc = json!({"openapi": "3.0.1", "info": {"title": "big", "version": "1"},
                         "paths": {}})
    .to_string();
    doc.push_str(&" ".repeat(2 * 1024 * 1024));
    let call = request(
        "POST",
        "/restapis?mode=import",
        "localhost",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Connection", "close"),
        ],
        doc.as_bytes(),
    );
    let r = send(&mut srv, &call, "ImportRestApi 2 MiB");
    assert_eq!(r.status, 201, "ImportRestApi 2 MiB: {}", r.text);
}

/// A body that stops arriving is answered 408 after `[timeouts] body_ms`;
/// a connection whose head does not arrive (partly sent, not begun, or
/// the next one on a kept-alive connection) is closed after `header_ms`.
#[test]
fn slow_heads_and_bodies_are_timed_out() {
    let mut srv = start(
        Config::new("")
            .timeouts("header_ms", "300")
            .timeouts("body_ms", "300"),
    );
    let port = srv.admin_port();
    let started = Instant::now();
    let mut c = Client::connect(port);
    c.send(format!(
        "POST /restapis HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 100\r\n\r\n{{\"name\":"
    ));
    let r = c.read_response();
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("RequestTimeoutException")
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let mut slow = Client::connect(port);
    slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    slow.expect_eof();
    // A connection that sends nothing, and one kept alive after an
    // answer, are closed after `header_ms` too.
    Client::connect(port).expect_eof();
    let mut kept = Client::connect(port);
    assert_eq!(kept.get("/healthz").status, 200);
    kept.expect_eof();
    // Nothing was created.
    let list = bearer(&mut srv, "GET", "/restapis", None);
    assert_eq!(list.json["item"], json!([]), "{}", list.text);
}
