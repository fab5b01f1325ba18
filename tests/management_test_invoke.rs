//! TestInvokeMethod: the method as it is now in the API (undeployed) runs
//! through the data plane's pipeline, without its authorizer, and answers
//! status, body, headers, multiValueHeaders, latency and an execution log;
//! against the real binary.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";
const AUTH_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:authorizer-token/invocations";

fn ok(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

fn err(srv: &mut Server, path: &str, body: Value, want: (u16, &str)) {
    let auth = format!("Bearer {TOKEN}");
    let r = srv.admin_json("POST", path, &[("Authorization", &auth)], Some(&body));
    let got = (r.status, r.json["__type"].as_str().unwrap_or_default());
    assert_eq!(got, want, "POST {path}: {}", r.text);
}

fn server() -> Server {
    Server::start(&Config::new("").admin("token", &toml_str(TOKEN)))
}

/// A new API and its root resource id.
fn new_api(srv: &mut Server) -> (String, String) {
    let a = ok(srv, "POST", "/restapis", Some(json!({ "name": "ti" })), 201);
    (
        a["id"].as_str().unwrap().to_string(),
        a["rootResourceId"].as_str().unwrap().to_string(),
    )
}

fn resource(srv: &mut Server, api: &str, parent: &str, part: &str) -> String {
    let r = ok(
        srv,
        "POST",
        &format!("/restapis/{api}/resources/{parent}"),
        Some(json!({ "pathPart": part })),
        201,
    );
    r["id"].as_str().unwrap().to_string()
}

/// A method at `rid` with `integration`, and `method` extra members.
fn method(srv: &mut Server, api: &str, rid: &str, verb: &str, method: Value, integration: Value) {
    let base = format!("/restapis/{api}/resources/{rid}/methods/{verb}");
    let mut m = json!({ "authorizationType": "NONE" });
    m.as_object_mut()
        .unwrap()
        .extend(method.as_object().unwrap().clone());
    ok(srv, "PUT", &base, Some(m), 201);
    let responses = integration.get("responses").cloned();
    let mut integration = integration;
    integration.as_object_mut().unwrap().remove("responses");
    ok(
        srv,
        "PUT",
        &format!("{base}/integration"),
        Some(integration),
        201,
    );
    for (status, r) in responses.iter().flat_map(|r| r.as_object().unwrap()) {
        let path = format!("{base}/responses/{status}");
        ok(srv, "PUT", &path, Some(method_response_for(r)), 201);
        let path = format!("{base}/integration/responses/{status}");
        ok(srv, "PUT", &path, Some(r.clone()), 201);
    }
}

/// A server, an API and a resource `part` under its root with `verb`.
fn setup(part: &str, verb: &str, m: Value, integration: Value) -> (Server, String, String) {
    let mut srv = server();
    let (api, root) = new_api(&mut srv);
    let rid = resource(&mut srv, &api, &root, part);
    method(&mut srv, &api, &rid, verb, m, integration);
    (srv, api, rid)
}

fn mock(status: u16, body: &str) -> Value {
    json!({
        "type": "MOCK",
        "requestTemplates": { "application/json": format!("{{\"statusCode\": {status}}}") },
        "responses": {
            status.to_string(): { "responseTemplates": { "application/json": body } }
        },
    })
}

fn invoke(srv: &mut Server, api: &str, rid: &str, verb: &str, body: Value) -> Value {
    ok(
        srv,
        "POST",
        &format!("/restapis/{api}/resources/{rid}/methods/{verb}"),
        Some(body),
        200,
    )
}

#[test]
fn mock_method_answers_with_the_output_shape_and_log() {
    let (mut srv, api, pets) = setup("pets", "GET", json!({}), mock(200, r#"{"pets": 3}"#));
    // Never deployed: the method as it is now is invoked.
    let r = invoke(
        &mut srv,
        &api,
        &pets,
        "GET",
        json!({ "pathWithQueryString": "/pets" }),
    );
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "body",
            "headers",
            "latency",
            "log",
            "multiValueHeaders",
            "status"
        ],
        "{r}"
    );
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["body"], r#"{"pets": 3}"#, "{r}");
    assert!(r["latency"].is_i64(), "{r}");
    let ct = r["headers"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone());
    assert_eq!(ct, Some(json!("application/json")), "{r}");
    assert!(r["multiValueHeaders"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_array));
    let log = r["log"].as_str().unwrap();
    assert!(log.starts_with("Execution log for request "), "{log}");
    for line in [
        "Starting execution for request: ",
        "HTTP Method: GET, Resource Path: /pets\n",
        "Method request path: {}",
        "Method request query string: {}",
        "Received response. Status: 200, Integration latency: ",
        r#"Method response body after transformations: {"pets": 3}"#,
        "Method completed with status: 200",
    ] {
        assert!(log.contains(line), "{line} not in {log}");
    }
    // Nothing was deployed, and the hidden definition is gone afterwards.
    let resp = srv.connect().request(format!(
        "GET /restapis/{api}/prod/_user_request_/pets HTTP/1.1\r\nHost: x\r\n\r\n"
    ));
    assert_ne!(resp.status, 200, "{}", resp.body_str());
}

#[test]
fn mock_status_other_than_200() {
    let (mut srv, api, gone) = setup("gone", "DELETE", json!({}), mock(404, r#"{"m":"no"}"#));
    let r = invoke(
        &mut srv,
        &api,
        &gone,
        "DELETE",
        json!({ "pathWithQueryString": "/gone" }),
    );
    assert_eq!(r["status"], 404, "{r}");
    let log = r["log"].as_str().unwrap();
    assert!(log.contains("Method completed with status: 404"), "{log}");
    assert!(!log.contains("Successfully completed execution"), "{log}");
}

#[test]
fn http_proxy_with_path_params_query_headers_body_and_stage_variables() {
    let up = Upstream::start(|req| {
        Reply::Send(http_response(
            201,
            &[
                ("x-up", "yes"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
            ],
            format!("{} {}", req.method, req.target).as_bytes(),
        ))
    });
    let mut srv = server();
    let (api, root) = new_api(&mut srv);
    let pets = resource(&mut srv, &api, &root, "pets");
    let id = resource(&mut srv, &api, &pets, "{id}");
    method(
        &mut srv,
        &api,
        &id,
        "POST",
        json!({ "requestParameters": { "method.request.path.id": true } }),
        json!({
            "type": "HTTP_PROXY", "httpMethod": "POST",
            "uri": "http://${stageVariables.backend}/animals/{id}",
            "requestParameters": { "integration.request.path.id": "method.request.path.id" },
        }),
    );
    let backend = format!("127.0.0.1:{}", up.port);
    let r = invoke(
        &mut srv,
        &api,
        &id,
        "POST",
        json!({
            "pathWithQueryString": "/pets/42?color=red&n=2",
            "body": "{\"a\":1}",
            "headers": { "X-Trace": "t1" },
            "multiValueHeaders": { "X-Multi": ["m1", "m2"] },
            "stageVariables": { "backend": backend },
        }),
    );
    let got = up
        .rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the upstream was called");
    assert_eq!(got.method, "POST");
    assert!(got.target.starts_with("/animals/42"), "{}", got.target);
    assert!(got.target.contains("color=red"), "{}", got.target);
    assert_eq!(got.body, b"{\"a\":1}");
    assert_eq!(header(&got.headers, "x-trace"), Some("t1"));
    assert_eq!(header_all(&got.headers, "x-multi").join(","), "m1,m2");

    assert_eq!(r["status"], 201, "{r}");
    assert_eq!(r["body"], format!("POST {}", got.target), "{r}");
    assert_eq!(r["headers"]["x-up"], "yes", "{r}");
    assert_eq!(
        r["multiValueHeaders"]["set-cookie"],
        json!(["a=1", "b=2"]),
        "{r}"
    );
    let log = r["log"].as_str().unwrap();
    for line in [
        "HTTP Method: POST, Resource Path: /pets/42\n",
        "Method request path: {id=42}",
        "Method request query string: {color=red, n=2}",
        "X-Trace=t1",
        "Method request body before transformations: {\"a\":1}",
        &format!("Endpoint request URI: http://{backend}/animals/42"),
        "Received response. Status: 201, Integration latency: ",
        "Method completed with status: 201",
    ] {
        assert!(log.contains(line), "{line} not in {log}");
    }
}

#[test]
fn a_method_with_an_authorizer_is_invoked_without_it() {
    let mut srv = server();
    let (api, root) = new_api(&mut srv);
    let a = ok(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/authorizers"),
        Some(json!({
            "name": "tok", "type": "TOKEN", "authorizerUri": AUTH_URI,
            "identitySource": "method.request.header.Auth",
        })),
        201,
    );
    let secret = resource(&mut srv, &api, &root, "secret");
    method(
        &mut srv,
        &api,
        &secret,
        "GET",
        json!({ "authorizationType": "CUSTOM", "authorizerId": a["id"], "apiKeyRequired": true }),
        mock(200, "inside"),
    );
    // No Auth header, no API key, no Lambda endpoint: only skipping
    // authorization reaches the integration.
    let r = invoke(&mut srv, &api, &secret, "GET", json!({}));
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["body"], "inside", "{r}");
    assert!(
        r["log"]
            .as_str()
            .unwrap()
            .contains("Resource Path: /secret\n"),
        "{r}"
    );
}

#[test]
fn unknown_api_resource_or_method_is_not_found() {
    let (mut srv, api, pets) = setup("pets", "GET", json!({}), mock(200, "{}"));
    for path in [
        format!("/restapis/nosuchapi/resources/{pets}/methods/GET"),
        format!("/restapis/{api}/resources/nosuch/methods/GET"),
        format!("/restapis/{api}/resources/{pets}/methods/PUT"),
    ] {
        err(&mut srv, &path, json!({}), (404, "NotFoundException"));
    }
    // A header that would split the request is refused.
    let path = format!("/restapis/{api}/resources/{pets}/methods/GET");
    let smuggled = json!({ "headers": { "X-A": "1\r\nX-B: 2" } });
    err(&mut srv, &path, smuggled, (400, "BadRequestException"));
}

/// A client that names a stage like the hidden one without the secret, or
/// sends the management call's markers to the data plane, gets nothing
/// special: no definition is served outside a test invocation.
#[test]
fn the_hidden_stage_cannot_be_reached_by_a_client() {
    let key = json!({ "apiKeyRequired": true });
    let (mut srv, api, secret) = setup("secret", "GET", key, mock(200, "inside"));
    ok(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    invoke(&mut srv, &api, &secret, "GET", json!({}));
    for stage in [
        "test-invoke",
        "test-invoke-00000000000000000000000000000000",
        "prod",
    ] {
        let resp = srv.connect().request(format!(
            "GET /restapis/{api}/{stage}/_user_request_/secret HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert_ne!(resp.body_str(), "inside", "stage {stage}");
    }
}
