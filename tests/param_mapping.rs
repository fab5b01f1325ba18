//! Parameter mapping on HTTP_PROXY integrations, on the real binary
//! against a recording upstream: every source kind AWS lists
//! (`method.request.{path|querystring|multivaluequerystring|header|
//! multivalueheader}`, `context.*`, `stageVariables.*`, `'literal'`)
//! mapped into the URI's `{x}`, the query and the headers, from a config
//! file and from the management API; expressions AWS refuses, refused by
//! PutIntegration and by `portico check`.
//!
//! "Parameter mapping for REST APIs in API Gateway": "You can use
//! parameter mapping in your integration request for proxy and non-proxy
//! integrations." "Parameter mapping source reference": "The name must be
//! one of the supported context variables."

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "param-mapping-token-0123456";

fn echo() -> Upstream {
    Upstream::start(|_| {
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            b"upstream",
        ))
    })
}

fn received(up: &Upstream) -> Recorded {
    up.rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the upstream got a request")
}

/// Every source kind into every target kind of an HTTP_PROXY: the path's
/// `{oid}` from `method.request.path.id` (decoded, then encoded into the
/// URI), query strings added to the client's and one overriding the
/// client's, headers added and one replacing the client's; a source the
/// request lacks maps nothing; the body streams through untouched.
#[test]
fn an_http_proxy_maps_every_source_into_path_query_and_headers() {
    let up = echo();
    let parameters = [
        r#""integration.request.path.oid" = "method.request.path.id""#,
        r#""integration.request.querystring.q" = "method.request.querystring.search""#,
        r#""integration.request.querystring.mode" = "'fast'""#,
        r#""integration.request.querystring.tags" = "method.request.multivaluequerystring.tag""#,
        r#""integration.request.header.X-Caller-Id" = "method.request.header.X-Caller""#,
        r#""integration.request.header.X-All" = "method.request.multivalueheader.X-Multi""#,
        r#""integration.request.header.X-Tenant" = "stageVariables.tenant""#,
        r#""integration.request.header.X-Stage" = "context.stage""#,
        r#""integration.request.header.X-Source-Ip" = "context.identity.sourceIp""#,
        r#""integration.request.header.X-Resource" = "context.resourcePath""#,
        r#""integration.request.header.X-Method" = "context.httpMethod""#,
        r#""integration.request.header.X-Req" = "context.requestId""#,
        r#""integration.request.header.X-Override" = "'gateway'""#,
        r#""integration.request.header.X-Absent" = "method.request.header.X-Nope""#,
    ]
    .join(", ");
    let s = Server::start(&Config::new(&mapping_route(up.port, &parameters)));
    let r = s.connect().request(request(
        "POST",
        "/prod/items/o%2042?search=shoes&mode=slow&tag=x&tag=y",
        "localhost",
        &[
            ("Content-Type", "application/json"),
            ("X-Caller", "c-1"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("X-Override", "client"),
            ("X-Kept", "as sent"),
        ],
        br#"{"a": 1}"#,
    ));
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (200, "upstream"),
        "{r:?}"
    );
    let got = received(&up);
    // The client's pairs but the overridden `mode`, then the mapped ones
    // in the mappings' order (by name), encoded.
    assert_eq!(
        got.target,
        "/backend/o%2042?fixed=1&search=shoes&tag=x&tag=y&mode=fast&q=shoes&tags=x%2Cy"
    );
    let want = [
        ("x-caller-id", "c-1"),
        ("x-all", "one,two"),
        ("x-tenant", "acme"),
        ("x-stage", "prod"),
        ("x-source-ip", "127.0.0.1"),
        ("x-resource", "/items/{id}"),
        ("x-method", "POST"),
        ("x-kept", "as sent"),
        ("x-caller", "c-1"),
    ];
    for (name, value) in want {
        assert_eq!(got.header(name), Some(value), "{name}: {got:?}");
    }
    assert_eq!(got.header_all("x-override"), ["gateway"], "{got:?}");
    assert!(!got.has("x-absent"), "{got:?}");
    assert_eq!(got.header("x-req"), Some(r.request_id().as_str()));
    assert_eq!(got.body, br#"{"a": 1}"#);
}

/// A mapped header never splits the head, the gateway's own headers
/// (framing, `host`) stay the gateway's, and a path value holding a dot
/// segment is left out.
#[test]
fn mapped_values_cannot_split_the_head_or_replace_the_framing() {
    let up = echo();
    let parameters = [
        r#""integration.request.header.X-Echo" = "method.request.querystring.v""#,
        r#""integration.request.header.Host" = "'evil.example'""#,
        r#""integration.request.header.Content-Length" = "'1'""#,
        r#""integration.request.path.oid" = "method.request.querystring.p""#,
    ]
    .join(", ");
    let s = Server::start(&Config::new(&mapping_route(up.port, &parameters)));
    let r = s.connect().request(request(
        "POST",
        "/prod/items/x?v=a%0D%0AX-Injected:%201&p=..%2Fadmin",
        "localhost",
        &[],
        b"hello",
    ));
    assert_eq!(r.status, 200, "{r:?}");
    let got = received(&up);
    assert!(!got.has("x-injected") && !got.has("x-echo"), "{got:?}");
    assert_eq!(got.header("host"), Some(up.addr().as_str()));
    assert_eq!(got.header("content-length"), Some("5"));
    assert_eq!(got.body, b"hello");
    // `../admin` would climb for a backend that decodes `%2F`: left out.
    assert!(got.target.starts_with("/backend/?"), "{got:?}");
}

/// `portico check` refuses what AWS refuses, naming the key and its line
/// (body sources it accepts: `tests/proxy_body_mapping.rs`).
#[test]
fn check_refuses_mappings_aws_refuses() {
    for (bad, what) in [
        (
            r#""integration.request.header.X" = "method.request.cookie.c""#,
            "method.request.cookie.c",
        ),
        (
            r#""integration.request.header.X" = "context.noSuchVariable""#,
            "context.noSuchVariable",
        ),
        (
            r#""integration.request.body.x" = "'a'""#,
            "integration.request.body.x",
        ),
    ] {
        let text = mapping_route(1, bad);
        let out = check_config(&write_config(&text));
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        assert!(
            out.stderr.contains(what) && out.stderr.contains("request_parameters"),
            "{bad}: {}",
            out.stderr
        );
    }
}

const BODY: &[u8] = br#"{"a": "b-1", "z": [1]}"#;

fn admin(s: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    s.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// The management API's HTTP_PROXY: PutIntegration refuses a context
/// variable AWS does not list, with AWS's wording; the mappings it
/// accepts are served once deployed, a body mapping among them (the
/// body read whole, then forwarded as sent: `tests/proxy_body_mapping.rs`).
#[test]
fn a_management_http_proxy_serves_its_request_parameters() {
    let up = echo();
    let mut s = Server::start(&Config::new("").admin("token", &toml_str(TOKEN)));
    let api = admin(
        &mut s,
        "POST",
        "/restapis",
        Some(json!({ "name": "m" })),
        201,
    );
    let (id, root) = (
        api["id"].as_str().unwrap(),
        api["rootResourceId"].as_str().unwrap(),
    );
    let under = format!("/restapis/{id}/resources/{root}");
    let r = admin(
        &mut s,
        "POST",
        &under,
        Some(json!({ "pathPart": "{id}" })),
        201,
    );
    let method = format!(
        "/restapis/{id}/resources/{}/methods/POST",
        r["id"].as_str().unwrap()
    );
    // What the integration maps, the method declares, as AWS requires.
    let none = json!({ "authorizationType": "NONE", "requestParameters": {
        "method.request.path.id": true, "method.request.header.X-Key": false } });
    admin(&mut s, "PUT", &method, Some(none), 201);
    let integ = format!("{method}/integration");
    let uri = format!("http://127.0.0.1:{}/m/{{item}}", up.port);
    let bad = json!({ "type": "HTTP_PROXY", "httpMethod": "ANY", "uri": uri,
        "requestParameters": { "integration.request.header.X": "context.noSuchVariable" } });
    let v = admin(&mut s, "PUT", &integ, Some(bad), 400);
    assert_eq!(v["__type"], "BadRequestException", "{v}");
    assert_eq!(
        v["message"],
        "Invalid mapping expression specified: Validation Result: warnings : [], \
         errors : [Invalid mapping expression specified: context.noSuchVariable]"
    );
    let good = json!({ "type": "HTTP_PROXY", "httpMethod": "ANY", "uri": uri,
        "requestParameters": {
            "integration.request.path.item": "method.request.path.id",
            "integration.request.querystring.k": "method.request.header.X-Key",
            "integration.request.header.X-Api": "'v3'",
            "integration.request.header.X-Stage": "context.stage",
            "integration.request.header.X-Body": "method.request.body.a"
        } });
    admin(&mut s, "PUT", &integ, Some(good), 201);
    let deploy = json!({ "stageName": "prod" });
    admin(
        &mut s,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(deploy),
        201,
    );
    let url = format!("/restapis/{id}/prod/_user_request_/it-5?x=1");
    let r = poll_until(
        POLL_FOR,
        || {
            let headers = [("X-Key", "k 1"), ("Content-Type", "application/json")];
            s.connect()
                .request(request("POST", &url, "localhost", &headers, BODY))
        },
        |r| r.status == 200,
        |r| format!("{url}: {r:?}"),
    );
    assert_eq!(r.body_str(), "upstream");
    let got = received(&up);
    assert_eq!(got.target, "/m/it-5?x=1&k=k%201", "{got:?}");
    assert_eq!(got.header("x-api"), Some("v3"));
    assert_eq!(got.header("x-stage"), Some("prod"));
    assert_eq!(got.header("x-body"), Some("b-1"), "{got:?}");
    assert_eq!(got.body, BODY);
}
