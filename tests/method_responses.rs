//! Method responses as AWS enforces them, on the real binary.
//!
//! The management API: PutIntegrationResponse for a status without a
//! method response answers NotFoundException "Invalid Response status code
//! specified"; mapping a header the method response does not declare
//! answers BadRequestException "Invalid mapping expression specified:
//! Validation Result: warnings : [], errors : [Invalid mapping expression
//! parameter specified: method.response.header.X]" (AWS's words, as
//! CloudFormation and the SDKs report them); a value that is no mapping
//! source ("*" unquoted) is refused likewise.
//!
//! The data plane: a MOCK or HTTP integration whose status selects no
//! integration response, with no default one, answers AWS's 500
//! `{"message": "Internal server error"}` ("Execution failed due to
//! configuration error: No match for output mapping and no default output
//! mapping specified for Endpoint Response Status Code").

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "method-responses-token-0123";

struct Mgmt(Managed);

impl Mgmt {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0.ok(method, path, body, status)
    }

    /// A new API with `GET /{part}` and `extra` method settings: (api id, method path).
    fn method(&mut self, part: &str, extra: Value) -> (String, String) {
        let (id, root) = self.0.new_api("mr");
        let path = self.0.put_method_under((&id, &root), part, "GET", extra);
        (id, path)
    }

    /// A refusal: its `__type` and message.
    fn refused(&mut self, method: &str, path: &str, body: Value, status: u16) -> (String, String) {
        let v = self.ok(method, path, Some(body), status);
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        (s("__type"), s("message"))
    }

    fn deploy(&mut self, id: &str) {
        self.0.deploy(id, json!({ "stageName": "prod" }));
    }

    /// `GET path` of stage prod, once answered `status`.
    fn get(&self, id: &str, path: &str, status: u16) -> Response {
        self.0.served(id, ("GET", path), &[], "", status)
    }
}

const INVALID: &str =
    "Invalid mapping expression specified: Validation Result: warnings : [], errors : ";

#[test]
fn integration_responses_need_their_method_response_and_its_declared_headers() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let (_, method) = m.method("checked", json!({}));
    let mock = json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } });
    m.ok("PUT", &format!("{method}/integration"), Some(mock), 201);
    let ir = format!("{method}/integration/responses/200");

    // No method response for 200 yet.
    let (kind, msg) = m.refused("PUT", &ir, json!({}), 404);
    assert_eq!(
        (kind.as_str(), msg.as_str()),
        (
            "NotFoundException",
            "Invalid Response status code specified"
        )
    );
    let mapped = json!({ "responseParameters": { "method.response.header.X-A": "'a'" } });
    let (kind, msg) = m.refused("PUT", &ir, mapped.clone(), 400);
    assert_eq!(kind, "BadRequestException");
    assert_eq!(
        msg,
        format!("{INVALID}[No method response exists for method.]")
    );

    // A method response declaring X-A only.
    let (kind, _) = m.refused(
        "PUT",
        &format!("{method}/responses/200"),
        json!({ "responseParameters": { "method.request.header.X-A": false } }),
        400,
    );
    assert_eq!(
        kind, "BadRequestException",
        "a method response declares response headers"
    );
    m.ok(
        "PUT",
        &format!("{method}/responses/200"),
        Some(json!({ "responseParameters": { "method.response.header.X-A": false } })),
        201,
    );
    m.ok("PUT", &ir, Some(mapped), 201);

    let undeclared = json!({ "responseParameters": { "method.response.header.X-B": "'b'" } });
    let (kind, msg) = m.refused("PUT", &ir, undeclared, 400);
    assert_eq!(kind, "BadRequestException");
    assert_eq!(
        msg,
        format!(
            "{INVALID}[Invalid mapping expression parameter specified: method.response.header.X-B]"
        )
    );
    let unquoted = json!({ "responseParameters": { "method.response.header.X-A": "*" } });
    let (_, msg) = m.refused("PUT", &ir, unquoted, 400);
    assert_eq!(
        msg,
        format!("{INVALID}[Invalid mapping expression specified: *]")
    );

    // UpdateIntegrationResponse is held to the same, and stores nothing refused.
    let patch = json!({ "patchOperations": [{ "op": "add",
        "path": "/responseParameters/method.response.header.X-B", "value": "'b'" }] });
    let (kind, msg) = m.refused("PATCH", &ir, patch, 400);
    assert_eq!(kind, "BadRequestException");
    assert!(msg.ends_with("method.response.header.X-B]"), "{msg}");
    let stored = m.ok("GET", &ir, None, 200);
    assert_eq!(
        stored["responseParameters"],
        json!({ "method.response.header.X-A": "'a'" })
    );
    // Once the method response declares X-B, the same update is taken.
    let declare = json!({ "patchOperations": [{ "op": "add",
        "path": "/responseParameters/method.response.header.X-B", "value": "false" }] });
    m.ok(
        "PATCH",
        &format!("{method}/responses/200"),
        Some(declare),
        201,
    );
    let patch = json!({ "patchOperations": [{ "op": "add",
        "path": "/responseParameters/method.response.header.X-B", "value": "integration.response.header.b" }] });
    m.ok("PATCH", &ir, Some(patch), 200);

    // A status without a method response cannot be updated into one.
    let (kind, _) = m.refused(
        "PUT",
        &format!("{method}/integration/responses/500"),
        json!({ "selectionPattern": "5\\d{2}" }),
        404,
    );
    assert_eq!(kind, "NotFoundException");
}

/// A MOCK whose template names 404, integration responses for 2xx only
/// and no default: AWS's 500.
#[test]
fn a_mock_status_without_an_integration_response_answers_500() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let (id, method) = m.method("mocked", json!({}));
    let template =
        "#if($input.params('missing') == 'yes'){\"statusCode\": 404}#else{\"statusCode\": 200}#end";
    let mock = json!({ "type": "MOCK", "requestTemplates": { "application/json": template } });
    m.ok("PUT", &format!("{method}/integration"), Some(mock), 201);
    let ok = json!({ "selectionPattern": "2\\d{2}",
        "responseTemplates": { "application/json": "{\"found\": true}" } });
    m.0.put_responses(&method, "200", ok);
    m.deploy(&id);
    assert_eq!(m.get(&id, "/mocked", 200).json(), json!({ "found": true }));
    let r = m.get(&id, "/mocked?missing=yes", 500);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({ "message": "Internal server error" }),
        "{r:?}"
    );
}

/// An HTTP (non-proxy) integration whose backend answers a status no
/// integration response selects, and none is the default: AWS's 500.
#[test]
fn an_http_status_without_an_integration_response_answers_500() {
    let up = Upstream::start(|r| {
        let status = if r.target.ends_with("/gone") {
            410
        } else {
            200
        };
        Reply::Send(http_response(
            status,
            &[("content-type", "application/json")],
            br#"{"from": "backend"}"#,
        ))
    });
    let mut m = Mgmt(Managed::start(TOKEN));
    let declared = json!({ "requestParameters": { "method.request.querystring.which": false } });
    let (id, method) = m.method("items", declared);
    let http = json!({ "type": "HTTP", "httpMethod": "GET",
        "uri": format!("http://127.0.0.1:{}/{{which}}", up.port),
        "requestParameters": { "integration.request.path.which": "method.request.querystring.which" } });
    m.ok("PUT", &format!("{method}/integration"), Some(http), 201);
    m.0.put_responses(&method, "200", json!({ "selectionPattern": "200" }));
    m.deploy(&id);
    let r = m.get(&id, "/items?which=here", 200);
    assert_eq!(r.json(), json!({ "from": "backend" }), "{r:?}");
    let r = m.get(&id, "/items?which=gone", 500);
    assert_eq!(
        r.json(),
        json!({ "message": "Internal server error" }),
        "{r:?}"
    );
}
