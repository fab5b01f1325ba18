//! REST APIs' non-proxy HTTP integrations on the real binary, the backend
//! a recording test upstream: the request template reshaping the body,
//! `requestParameters` from the method request, literals, stage variables,
//! `$context` and the body's JSON, `$context.requestOverride` applied last,
//! the integration's own method and URI; the backend's status selecting the
//! integration response, its headers and body mapped to the method
//! response; an unreachable or slow backend. Through a config file
//! (`http_proxy` with `execution`) and the management API (`type: HTTP`).
//!
//! "Set up an HTTP integration ... non-proxy": "you must configure both
//! the integration request and the integration response, and set up
//! necessary data mappings from the method request to the integration
//! request, and from the integration response to the method response."

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// The backend: `X-Caller: missing` answers 404 with a reason, anything
/// else 200 with items and a header.
fn backend() -> Upstream {
    Upstream::start(|r| {
        if r.header("x-caller") == Some("missing") {
            return Reply::Send(http_response(
                404,
                &[("content-type", "application/json")],
                br#"{"reason": "no such order"}"#,
            ));
        }
        Reply::Send(http_response(
            200,
            &[("content-type", "application/json"), ("X-Backend", "b-1")],
            br#"{"items": [{"n": 1}, {"n": 2}], "meta": {"id": "m-9"}}"#,
        ))
    })
}

fn route(port: u16) -> String {
    format!(
        r##"
[[api]]
name = "orders"

[api.stages.prod]
variables = {{ tenant = "acme", version = "v2" }}

[[api.routes]]
method = "POST"
path = "/orders/{{id}}"
integration = {{ type = "http_proxy", uri = "http://127.0.0.1:{port}/${{stageVariables.version}}/orders/{{oid}}", timeout_ms = 5000 }}

[api.routes.execution]
http_method = "PUT"
request_templates = {{ "application/json" = '''
#set($b = $input.path('$'))
#set($context.requestOverride.querystring.q = "from-template")
#set($context.requestOverride.header.overridden = "yes")
{{"customerId": "$b.customer.id", "count": $b.lines.size(), "skus": [#foreach($l in $b.lines)"$l.sku"#if($foreach.hasNext),#end#end]}}''' }}

[api.routes.execution.request_parameters]
"integration.request.path.oid" = "method.request.path.id"
"integration.request.header.X-Caller" = "method.request.header.X-Caller"
"integration.request.header.X-Tenant" = "stageVariables.tenant"
"integration.request.header.X-Static" = "'fixed'"
"integration.request.header.X-Stage" = "context.stage"
"integration.request.header.X-Customer" = "method.request.body.customer.id"
"integration.request.header.X-All" = "method.request.multivalueheader.X-Multi"
"integration.request.querystring.q" = "method.request.querystring.search"
"integration.request.querystring.tags" = "method.request.multivaluequerystring.tag"

[[api.routes.execution.integration_responses]]
status = 200
response_parameters = {{ "method.response.header.X-From-Backend" = "integration.response.header.X-Backend", "method.response.header.X-Meta" = "integration.response.body.meta.id" }}
response_templates = {{ "application/json" = '''{{"items": $input.json('$.items')}}''' }}

[[api.routes.execution.integration_responses]]
status = 400
selection_pattern = '4\d{{2}}'
response_templates = {{ "application/json" = '''{{"error": "backend said: $input.path('$.reason')"}}''' }}
"##
    )
}

const ORDER: &str =
    r#"{"customer": {"id": "c-7", "name": "Ann"}, "lines": [{"sku": "a"}, {"sku": "b"}]}"#;

fn post_order(s: &Server, caller: &str) -> Response {
    s.connect().request(request(
        "POST",
        "/prod/orders/o-42?search=shoes&tag=x&tag=y",
        "localhost",
        &[
            ("Content-Type", "application/json"),
            ("X-Caller", caller),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("X-Not-Mapped", "secret"),
        ],
        ORDER.as_bytes(),
    ))
}

fn received(up: &Upstream) -> Recorded {
    up.rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the backend got a request")
}

/// "Parameter mapping for REST APIs": header, query string and path
/// parameters of the integration request from the method request's, a
/// static value (`'...'`), a stage variable, a context variable and a
/// JSONPath of the body; the request template's output is the body
/// ("request and response data mapping reference": `$input.path`), and
/// `$context.requestOverride` "is applied last".
#[test]
fn the_integration_request_is_the_templates_body_and_the_mapped_parameters() {
    let up = backend();
    let s = Server::start(&Config::new(&route(up.port)));
    let r = post_order(&s, "ann");
    assert_eq!(r.status, 200, "{r:?}");
    let got = received(&up);
    assert_eq!(got.method, "PUT", "the integration's httpMethod: {got:?}");
    let (path, query) = got.target.split_once('?').expect("a query");
    assert_eq!(path, "/v2/orders/o-42", "{got:?}");
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["q=from-template", "tags=x%2Cy"], "{got:?}");
    assert_eq!(got.header("x-caller"), Some("ann"));
    assert_eq!(got.header("x-tenant"), Some("acme"));
    assert_eq!(got.header("x-static"), Some("fixed"));
    assert_eq!(got.header("x-stage"), Some("prod"));
    assert_eq!(got.header("x-customer"), Some("c-7"));
    assert_eq!(got.header("x-all"), Some("one,two"));
    assert_eq!(got.header("overridden"), Some("yes"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert!(
        !got.has("x-not-mapped"),
        "only mapped headers travel: {got:?}"
    );
    let body: Value = serde_json::from_slice(&got.body).expect("JSON body");
    assert_eq!(
        body,
        json!({ "customerId": "c-7", "count": 2, "skus": ["a", "b"] })
    );
}

/// "Integration responses for REST APIs": the default response for a 200,
/// its `responseParameters` from `integration.response.header.X` and
/// `integration.response.body.a.b`, its template reading the backend's
/// body with `$input.json('$.items')`; a 404 selected by `4\d{2}` answers
/// the method's 400 with its own template.
#[test]
fn the_backends_status_selects_the_method_response_and_its_mappings() {
    let up = backend();
    let s = Server::start(&Config::new(&route(up.port)));
    let ok = post_order(&s, "ann");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("x-from-backend"), Some("b-1"), "{ok:?}");
    assert_eq!(ok.header("x-meta"), Some("m-9"), "{ok:?}");
    assert_eq!(ok.header("content-type"), Some("application/json"));
    assert_eq!(ok.json(), json!({ "items": [{ "n": 1 }, { "n": 2 }] }));
    let missing = post_order(&s, "missing");
    assert_eq!(missing.status, 400, "{missing:?}");
    assert_eq!(missing.header("x-from-backend"), None, "{missing:?}");
    assert_eq!(
        missing.json(),
        json!({ "error": "backend said: no such order" })
    );
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// As the proxy: a backend that cannot be reached is 502, one that does
/// not answer within `timeout_ms` 504.
#[test]
fn an_unreachable_backend_is_502_and_a_slow_one_504() {
    let port = closed_port();
    let s = Server::start(&Config::new(&route(port)));
    let r = post_order(&s, "ann");
    assert_eq!(r.status, 502, "{r:?}");

    let slow = Upstream::start(|_| Reply::Stall);
    let text = route(slow.port).replace("timeout_ms = 5000", "timeout_ms = 300");
    let s = Server::start(&Config::new(&text));
    let r = post_order(&s, "ann");
    assert_eq!(r.status, 504, "{r:?}");
}

const TOKEN: &str = "execution-http-token-0123";

fn admin(s: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    s.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// A management call AWS refuses with BadRequestException: its message.
fn refused(s: &mut Server, method: &str, path: &str, body: Value) -> String {
    let v = admin(s, method, path, Some(body), 400);
    assert_eq!(v["__type"], "BadRequestException", "{v}");
    v["message"].as_str().unwrap_or_default().to_string()
}

/// A server with the management API, a new REST API and `verb` on its
/// root or on `/{part}`, without authorization: (server, api id, method path).
fn managed(verb: &str, part: Option<&str>) -> (Server, String, String) {
    let mut s = Server::start(&Config::new("").admin("token", &toml_str(TOKEN)));
    let api = admin(
        &mut s,
        "POST",
        "/restapis",
        Some(json!({ "name": "h" })),
        201,
    );
    let (id, root) = (
        api["id"].as_str().unwrap(),
        api["rootResourceId"].as_str().unwrap(),
    );
    let mut resource = root.to_string();
    if let Some(part) = part {
        let under = format!("/restapis/{id}/resources/{root}");
        let r = admin(
            &mut s,
            "POST",
            &under,
            Some(json!({ "pathPart": part })),
            201,
        );
        resource = r["id"].as_str().unwrap().to_string();
    }
    let method = format!("/restapis/{id}/resources/{resource}/methods/{verb}");
    // A `{name}` part's parameter, declared as AWS requires of a method
    // whose integration maps it.
    let declared: serde_json::Map<String, Value> = part
        .and_then(|p| p.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| (format!("method.request.path.{name}"), json!(true)))
        .into_iter()
        .collect();
    let none = json!({ "authorizationType": "NONE", "requestParameters": declared });
    admin(&mut s, "PUT", &method, Some(none), 201);
    (s, id.to_string(), method)
}

/// Deploys API `id` to stage prod, then sends `raw(url)` for `path` until it answers 200.
fn deployed_200(s: &mut Server, id: &str, path: &str, raw: impl Fn(&str) -> Vec<u8>) -> Response {
    let deploy = json!({ "stageName": "prod" });
    admin(
        s,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(deploy),
        201,
    );
    let url = format!("/restapis/{id}/prod/_user_request_{path}");
    poll_until(
        POLL_FOR,
        || s.connect().request(raw(&url)),
        |r| r.status == 200,
        |r| format!("{url}: {r:?}"),
    )
}

/// The management API's `type: HTTP` with `httpMethod`, a `{item}`
/// placeholder filled by `integration.request.path.item`, a static header,
/// no request template (the body passes through, WHEN_NO_MATCH); and a
/// mapping that is not AWS's syntax refused by PutIntegration and
/// UpdateIntegration as AWS refuses it.
#[test]
fn a_management_http_integration_runs_non_proxy_and_refuses_bad_mappings() {
    let up = backend();
    let (mut s, id, method) = managed("POST", Some("{id}"));
    let integ = format!("{method}/integration");
    let bad = refused(
        &mut s,
        "PUT",
        &integ,
        json!({
            "type": "HTTP", "httpMethod": "GET", "uri": "http://127.0.0.1:1/",
            "requestParameters": { "integration.request.header.x": "method.request.cookie.y" }
        }),
    );
    assert_eq!(
        bad,
        "Invalid mapping expression specified: Validation Result: warnings : [], \
         errors : [Invalid mapping expression specified: method.request.cookie.y]"
    );
    let body = json!({
        "type": "HTTP",
        "httpMethod": "GET",
        "uri": format!("http://127.0.0.1:{}/items/{{item}}", up.port),
        "requestParameters": {
            "integration.request.path.item": "method.request.path.id",
            "integration.request.header.X-Api-Version": "'3'"
        }
    });
    admin(&mut s, "PUT", &integ, Some(body), 201);
    let patch = json!({ "patchOperations": [{ "op": "add",
        "path": "/requestParameters/integration.request.body", "value": "'x'" }] });
    let bad = refused(&mut s, "PATCH", &integ, patch);
    assert!(
        bad.ends_with("[Invalid mapping expression specified: integration.request.body]"),
        "{bad}"
    );
    let empty = json!({});
    admin(
        &mut s,
        "PUT",
        &format!("{method}/responses/200"),
        Some(empty),
        201,
    );
    let template = "{\"first\": $input.json('$.items[0]')}";
    let response = json!({ "responseTemplates": { "application/json": template } });
    admin(
        &mut s,
        "PUT",
        &format!("{integ}/responses/200"),
        Some(response),
        201,
    );
    let text = [("Content-Type", "text/plain")];
    let r = deployed_200(&mut s, &id, "/it-5", |url| {
        request("POST", url, "localhost", &text, b"as is")
    });
    assert_eq!(r.json(), json!({ "first": { "n": 1 } }), "{r:?}");
    let got = received(&up);
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("GET", "/items/it-5")
    );
    assert_eq!(got.header("x-api-version"), Some("3"));
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.body, b"as is", "passed through: {got:?}");
}

/// AWS maps request parameters onto proxies too ("Parameter mapping for
/// REST APIs"): an HTTP_PROXY's header from a `'literal'` is added to the
/// forwarded request, the client's own headers and query still travel.
#[test]
fn an_http_proxys_literal_header_mapping_is_added() {
    let up = backend();
    let (mut s, id, method) = managed("GET", None);
    let body = json!({
        "type": "HTTP_PROXY",
        "httpMethod": "GET",
        "uri": format!("http://127.0.0.1:{}/", up.port),
        "requestParameters": { "integration.request.header.X-Origin": "'gateway'" }
    });
    admin(
        &mut s,
        "PUT",
        &format!("{method}/integration"),
        Some(body),
        201,
    );
    let r = deployed_200(&mut s, &id, "/?a=1", |url| {
        request("GET", url, "localhost", &[("X-Caller", "ann")], b"")
    });
    assert_eq!(
        r.header("x-backend"),
        Some("b-1"),
        "proxied as it came: {r:?}"
    );
    let got = received(&up);
    assert_eq!(got.target, "/?a=1", "{got:?}");
    assert_eq!(got.header("x-origin"), Some("gateway"), "{got:?}");
    assert_eq!(got.header("x-caller"), Some("ann"), "{got:?}");
}
