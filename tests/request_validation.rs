//! Request validation on the real binary, as "Request validation for REST
//! APIs in API Gateway" describes it: "The required request parameters in
//! the URI, query string, and headers of an incoming request are included
//! and not blank" and "The applicable request payload adheres to the
//! configured JSON schema request of the method"; "If the validation
//! fails, API Gateway fails the request, returns a 400 error response to
//! the caller, and publishes the validation results in CloudWatch Logs."

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "request-validation-token-0123";

const PET: &str = r#"{"$schema":"http://json-schema.org/draft-04/schema#","title":"Pet",
 "type":"object","required":["name","age"],
 "properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}}}"#;

struct Mgmt(Managed);

impl Mgmt {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0.ok(method, path, body, status)
    }

    /// A new API with model `Pet`, a validator checking `params`/`body`,
    /// and `POST /pets` (a MOCK answering `{"ok": true}`) requiring query
    /// string `name` and header `x-id` and the Pet model for JSON bodies.
    fn api(&mut self, params: bool, body: bool) -> String {
        let api = self.ok("POST", "/restapis", Some(json!({ "name": "v" })), 201);
        let (id, root) = (
            api["id"].as_str().unwrap(),
            api["rootResourceId"].as_str().unwrap(),
        );
        let validator = self.0.pet_validator(id, PET, (params, body));
        let under = format!("/restapis/{id}/resources/{root}");
        let r = self.ok("POST", &under, Some(json!({ "pathPart": "pets" })), 201);
        let method = format!(
            "/restapis/{id}/resources/{}/methods/POST",
            r["id"].as_str().unwrap()
        );
        let m = json!({
            "authorizationType": "NONE",
            "requestValidatorId": validator,
            "requestParameters": {
                "method.request.querystring.name": true,
                "method.request.header.x-id": true,
                "method.request.querystring.optional": false
            },
            "requestModels": { "application/json": "Pet" }
        });
        self.ok("PUT", &method, Some(m), 201);
        let i = json!({ "type": "MOCK",
            "requestTemplates": { "application/json": "{\"statusCode\": 200}" } });
        self.ok("PUT", &format!("{method}/integration"), Some(i), 201);
        self.ok(
            "PUT",
            &format!("{method}/responses/200"),
            Some(json!({})),
            201,
        );
        let ir = json!({ "responseTemplates": { "application/json": "{\"ok\": true}" } });
        self.ok(
            "PUT",
            &format!("{method}/integration/responses/200"),
            Some(ir),
            201,
        );
        id.to_string()
    }

    fn deploy(&mut self, id: &str) {
        let body = json!({ "stageName": "prod" });
        self.ok(
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(body),
            201,
        );
    }

    /// `POST path` (relative to stage prod) with `headers` and `body`, once
    /// the data plane answers `status`.
    fn post(
        &mut self,
        id: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
        status: u16,
    ) -> Response {
        self.0.served(id, ("POST", path), headers, body, status)
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const VALID: &str = r#"{"name":"rex","age":3}"#;

#[test]
fn missing_required_parameters_are_named_in_a_400() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let id = m.api(true, true);
    m.deploy(&id);
    let r = m.post(&id, "/pets", &[JSON], VALID, 400);
    assert_eq!(
        r.json(),
        json!({ "message": "Missing required request parameters: [x-id, name]" }),
        "{r:?}"
    );
    let r = m.post(&id, "/pets?name=a", &[JSON], VALID, 400);
    assert_eq!(
        r.json(),
        json!({ "message": "Missing required request parameters: [x-id]" })
    );
    let r = m.post(&id, "/pets?name=a", &[JSON, ("x-id", "1")], VALID, 200);
    assert_eq!(
        r.json(),
        json!({ "ok": true }),
        "the integration answered: {r:?}"
    );
}

#[test]
fn bodies_the_model_refuses_are_invalid_request_bodies() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let id = m.api(true, true);
    m.deploy(&id);
    let ok = [JSON, ("x-id", "1")];
    for bad in [
        r#"{"name":"rex"}"#,
        r#"{"name":"rex","age":"three"}"#,
        "{not json",
        "",
    ] {
        let r = m.post(&id, "/pets?name=a", &ok, bad, 400);
        assert_eq!(
            r.json(),
            json!({ "message": "Invalid request body" }),
            "{bad}: {r:?}"
        );
    }
    let r = m.post(&id, "/pets?name=a", &ok, VALID, 200);
    assert_eq!(r.json(), json!({ "ok": true }));
}

/// "Validate query string parameters and headers" only: the body is not checked.
#[test]
fn a_parameters_only_validator_leaves_the_body_alone() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let id = m.api(true, false);
    m.deploy(&id);
    let r = m.post(
        &id,
        "/pets?name=a",
        &[JSON, ("x-id", "1")],
        "{not json",
        200,
    );
    assert_eq!(r.json(), json!({ "ok": true }));
    m.post(&id, "/pets", &[JSON, ("x-id", "1")], VALID, 400);
}

/// A body-only validator does not require the parameters; a customised
/// BAD_REQUEST_BODY gateway response changes the refusal.
#[test]
fn a_customised_bad_request_body_response_is_served() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let id = m.api(false, true);
    m.ok(
        "PUT",
        &format!("/restapis/{id}/gatewayresponses/BAD_REQUEST_BODY"),
        Some(json!({
            "statusCode": "422",
            "responseTemplates": { "application/json":
                "{\"type\":\"$context.error.responseType\",\"said\":$context.error.messageString}" }
        })),
        201,
    );
    m.deploy(&id);
    let r = m.post(&id, "/pets", &[JSON], r#"{"age":1}"#, 422);
    assert_eq!(
        r.json(),
        json!({ "type": "BAD_REQUEST_BODY", "said": "Invalid request body" }),
        "{r:?}"
    );
    m.post(&id, "/pets", &[JSON], VALID, 200);
}

/// An OpenAPI document with `x-amazon-apigateway-request-validators`, as
/// the "Request validation" page's example declares them ("all",
/// "params-only"), its `$ref` model resolved as GetModel?flatten=true does.
#[test]
fn an_imported_openapi_document_validates() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let mock = json!({ "type": "mock",
        "requestTemplates": { "application/json": "{\"statusCode\": 200}" },
        "responses": { "default": { "statusCode": "200",
            "responseTemplates": { "application/json": "{\"ok\": true}" } } } });
    let doc = json!({
        "openapi": "3.0.1",
        "info": { "title": "imported" },
        "x-amazon-apigateway-request-validators": {
            "all": { "validateRequestBody": true, "validateRequestParameters": true },
            "params-only": { "validateRequestBody": false, "validateRequestParameters": true }
        },
        "paths": {
            "/validation": {
                "post": {
                    "x-amazon-apigateway-request-validator": "all",
                    "parameters": [{ "name": "q1", "in": "query", "required": true,
                        "schema": { "type": "string" } }],
                    "requestBody": { "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/Order" } } } },
                    "responses": { "200": { "description": "ok" } },
                    "x-amazon-apigateway-integration": mock
                }
            }
        },
        "components": { "schemas": {
            "Order": { "type": "object", "required": ["pet"],
                "properties": { "pet": { "$ref": "#/components/schemas/Pet" } } },
            "Pet": { "type": "object", "required": ["name"],
                "properties": { "name": { "type": "string" } } }
        } }
    });
    let api = m.ok("POST", "/restapis?mode=import", Some(doc), 201);
    let id = api["id"].as_str().unwrap().to_string();
    m.deploy(&id);
    let r = m.post(&id, "/validation", &[JSON], r#"{"pet":{"name":"a"}}"#, 400);
    assert_eq!(
        r.json(),
        json!({ "message": "Missing required request parameters: [q1]" })
    );
    let r = m.post(
        &id,
        "/validation?q1=x",
        &[JSON],
        r#"{"pet":{"name":1}}"#,
        400,
    );
    assert_eq!(
        r.json(),
        json!({ "message": "Invalid request body" }),
        "the referenced model is checked"
    );
    let r = m.post(
        &id,
        "/validation?q1=x",
        &[JSON],
        r#"{"pet":{"name":"a"}}"#,
        200,
    );
    assert_eq!(r.json(), json!({ "ok": true }));
}

/// A route's `validation` in the config file (and its MOCK execution).
const FILE_ROUTE: &str = r#"[[api.routes]]
method = "POST"
path = "/pets"
integration = { type = "mock" }
validation = { required = ["querystring.name", "header.x-id"], body_schema = { "application/json" = '{"type": "object", "required": ["name"]}' } }

[api.routes.execution]
request_templates = { "application/json" = '{"statusCode": 200}' }

[[api.routes.execution.integration_responses]]
status = 200
response_templates = { "application/json" = '{"ok": true}' }
"#;

fn file_api(route: &str) -> String {
    api_toml("file", &[], &["prod"], &[route.to_string()])
}

/// The config file's `validation`: the same checks, counted as 4xx by status
/// and as validation failures by reason.
#[test]
fn a_config_file_route_validates_and_its_refusals_are_counted() {
    let mut s = Server::start(&Config::new(&file_api(FILE_ROUTE)));
    let post = |s: &Server, path: &str, headers: &[(&str, &str)], body: &str| {
        s.connect()
            .request(request("POST", path, "localhost", headers, body.as_bytes()))
    };
    let r = post(&s, "/prod/pets?x=1", &[JSON], "{}");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({ "message": "Missing required request parameters: [name, x-id]" })
    );
    // "included and not blank".
    let r = post(&s, "/prod/pets?name=", &[JSON, ("x-id", " ")], "{}");
    assert_eq!(r.status, 400, "{r:?}");
    let r = post(&s, "/prod/pets?name=a", &[JSON, ("x-id", "1")], "[1]");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json(), json!({ "message": "Invalid request body" }));
    let r = post(
        &s,
        "/prod/pets?name=a",
        &[JSON, ("x-id", "1")],
        r#"{"name":1}"#,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({ "ok": true }));
    let m = scrape_until(&mut s, "three 400s", |m| {
        m.sum_matching("portico_4xx_total", &[("status", "400")]) == 3.0
    });
    assert_eq!(m.sum("portico_requests_total"), 4.0, "{}", m.text);
    let failures =
        |reason| m.sum_matching("portico_validation_failures_total", &[("reason", reason)]);
    assert_eq!(failures("parameters"), 2.0, "{}", m.text);
    assert_eq!(failures("body"), 1.0, "{}", m.text);
}

/// `portico check` refuses a body schema that is not a draft-4 schema.
#[test]
fn a_bad_body_schema_is_refused_by_the_config_check() {
    let text = file_api(FILE_ROUTE).replace(r#""required": ["name"]"#, r#""type": "nope""#);
    let path = write_config(&Config::new(&text).render());
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let said = &out.stderr;
    assert!(
        said.contains("validation") && said.contains("draft 4"),
        "{said}"
    );
}

/// Lambda proxy reads the body whole: a refused one never invokes the function.
#[test]
fn a_lambda_proxy_route_is_not_invoked_for_an_invalid_body() {
    let fns = Functions::start();
    let route = r#"[[api.routes]]
method = "POST"
path = "/pets"
integration = { type = "lambda", function = "powertools-v1", payload_version = "1.0", timeout_ms = 3000 }
validation = { body_schema = { "$default" = '{"type": "object", "required": ["name"]}' } }
"#;
    let cfg = Config::new(&file_api(route)).append(&format!(
        "[aws]\naccount_id = \"123456789012\"\nlambda_endpoint = \"{}\"\n",
        fns.endpoint()
    ));
    let s = Server::start(&cfg);
    let post = |body: &str| {
        s.connect().request(request(
            "POST",
            "/prod/pets",
            "localhost",
            &[("content-type", "text/plain")],
            body.as_bytes(),
        ))
    };
    let r = post(r#"{"age":1}"#);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json(), json!({ "message": "Invalid request body" }));
    assert_eq!(fns.count("powertools-v1"), 0, "invoked for a refused body");
    let r = post(r#"{"name":"a"}"#);
    assert_ne!(r.status, 400, "{r:?}");
    assert_eq!(fns.count("powertools-v1"), 1);
}
