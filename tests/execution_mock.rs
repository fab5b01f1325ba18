//! REST APIs' non-proxy execution for MOCK integrations, on the real
//! binary: the request template's `statusCode`, the integration response
//! it selects (selection pattern, default), the response template and
//! header mappings, passthrough behaviour, `$context.responseOverride`;
//! templates that do not compile refused by the management API and by
//! `portico check`; a config file route with `execution`.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "execution-mock-token-0123";

struct Mgmt(Server);

impl Mgmt {
    fn new() -> Mgmt {
        let config = Config::new("").admin("token", &toml_str(TOKEN));
        Mgmt(Server::start(&config))
    }

    /// One management call that must answer `status`.
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let body = body.as_ref();
        self.0.admin_call(TOKEN, method, path, body, status)
    }

    /// PUTs each (path, body) of `steps` in turn; each must answer 201.
    fn put_all(&mut self, steps: Vec<(String, Value)>) {
        for (path, body) in steps {
            self.ok("PUT", &path, Some(body), 201);
        }
    }

    /// A new REST API with resource `/{part}`: (api id, the method path
    /// of `verb` on it, already PUT without authorization).
    fn method(&mut self, part: &str, verb: &str) -> (String, String) {
        let api = self.ok("POST", "/restapis", Some(json!({ "name": "exec" })), 201);
        let (id, root) = (&api["id"], &api["rootResourceId"]);
        let (id, root) = (id.as_str().unwrap(), root.as_str().unwrap());
        let under = format!("/restapis/{id}/resources/{root}");
        let r = self.ok("POST", &under, Some(json!({ "pathPart": part })), 201);
        let r = r["id"].as_str().unwrap();
        let method = format!("/restapis/{id}/resources/{r}/methods/{verb}");
        self.put_all(vec![(
            method.clone(),
            json!({ "authorizationType": "NONE" }),
        )]);
        (id.to_string(), method)
    }

    /// A MOCK integration with `extra` settings, and each of `responses`
    /// as (status, its PutIntegrationResponse body) with a method response.
    fn mock(&mut self, method: &str, extra: Value, responses: &[(&str, Value)]) {
        let mut body = json!({ "type": "MOCK" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let mut steps = vec![(format!("{method}/integration"), body)];
        for (status, r) in responses {
            steps.push((
                format!("{method}/responses/{status}"),
                method_response_for(r),
            ));
            steps.push((
                format!("{method}/integration/responses/{status}"),
                r.clone(),
            ));
        }
        self.put_all(steps);
    }

    /// `verb /{part}` of a new API as a MOCK (see `mock`), deployed to
    /// stage prod with `variables`: the API's id.
    fn deployed(
        &mut self,
        (part, verb): (&str, &str),
        extra: Value,
        responses: &[(&str, Value)],
        variables: Value,
    ) -> String {
        let (id, method) = self.method(part, verb);
        self.mock(&method, extra, responses);
        self.deploy(&id, variables);
        id
    }

    fn deploy(&mut self, id: &str, variables: Value) {
        let body = json!({ "stageName": "prod", "variables": variables });
        let path = format!("/restapis/{id}/deployments");
        self.ok("POST", &path, Some(body), 201);
    }

    /// `req` (path relative to stage prod) once the data plane answers `status`.
    fn served(
        &mut self,
        raw: impl Fn(&str) -> Vec<u8>,
        id: &str,
        path: &str,
        status: u16,
    ) -> Response {
        let url = format!("/restapis/{id}/prod/_user_request_{path}");
        poll_until(
            POLL_FOR,
            || self.0.connect().request(raw(&url)),
            |r| r.status == status,
            |r| format!("{url}: want {status}, got {r:?}"),
        )
    }

    fn get(&mut self, id: &str, path: &str, status: u16) -> Response {
        self.served(|u| get_with(u, &[]).to_vec(), id, path, status)
    }
}

/// "For a method with the mock integration to return a 200 response,
/// configure the integration request body mapping template to return
/// {"statusCode": 200}" (Mock integrations for REST APIs in API Gateway);
/// `$input.params(x)`, `$context.requestId`, `$stageVariables` as the
/// "Mapping template and access logging variable reference" lists them.
#[test]
fn the_response_template_reads_params_context_stage_variables_and_loops() {
    let mut m = Mgmt::new();
    let template = concat!(
        "#set($names = [\"a\", \"b\", \"c\"])\n",
        "{\"hello\": \"$input.params('name')\", \"id\": \"$context.requestId\",\n",
        " \"x\": \"$stageVariables.x\", \"resource\": \"$context.resourcePath\",\n",
        " \"names\": [#foreach($n in $names)\"$n\"#if($foreach.hasNext),#end#end]}"
    );
    let id = m.deployed(
        ("greet", "GET"),
        json!({ "requestTemplates": { "application/json": "{\"statusCode\": 200}" } }),
        &[(
            "200",
            json!({ "responseTemplates": { "application/json": template } }),
        )],
        json!({ "x": "from-stage" }),
    );
    let r = m.get(&id, "/greet?name=bob", 200);
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let body = r.json();
    assert_eq!(body["hello"], "bob", "{body}");
    assert_eq!(body["x"], "from-stage", "{body}");
    assert_eq!(body["resource"], "/greet", "{body}");
    assert_eq!(body["names"], json!(["a", "b", "c"]), "{body}");
    assert_eq!(
        body["id"].as_str(),
        r.header("x-request-id"),
        "the template's requestId is the answer's: {r:?}"
    );
}

/// "you can use the scope query parameter on the incoming request to
/// determine whether to return a successful response or an error
/// response" (Mock integrations for REST APIs in API Gateway); the 500
/// integration response is chosen by its selection pattern ("a regular
/// expression ... matched against the status code", Integration responses
/// for REST APIs in API Gateway), its header from a static value.
#[test]
fn the_templates_status_selects_the_pattern_or_the_default_response() {
    let mut m = Mgmt::new();
    let id = m.deployed(
        ("maybe", "GET"),
        json!({ "requestTemplates": { "application/json":
            "{\"statusCode\": #if($input.params('fail') == 'yes')500#else 200#end}" } }),
        &[
            (
                "200",
                json!({ "responseTemplates": { "application/json": "{\"ok\": true}" } }),
            ),
            (
                "500",
                json!({
                    "selectionPattern": "5\\d\\d",
                    "responseParameters": { "method.response.header.X-Failed": "'yes'" },
                    "responseTemplates": { "application/json":
                        "{\"error\": \"failed for $input.params('who')\"}" }
                }),
            ),
        ],
        json!({}),
    );
    let failed = m.get(&id, "/maybe?fail=yes&who=ann", 500);
    assert_eq!(failed.header("x-failed"), Some("yes"), "{failed:?}");
    assert_eq!(failed.json(), json!({ "error": "failed for ann" }));
    let ok = m.get(&id, "/maybe", 200);
    assert_eq!(ok.json(), json!({ "ok": true }), "{ok:?}");
    assert_eq!(ok.header("x-failed"), None, "{ok:?}");
}

/// AWS answers 500 Internal server error when no integration response
/// matches and none is the default ("No match for output mapping and no
/// default output mapping specified"); and when the template names no
/// valid statusCode.
#[test]
fn no_matching_response_and_no_default_is_a_configuration_error() {
    let mut m = Mgmt::new();
    let id = m.deployed(
        ("strict", "GET"),
        json!({ "requestTemplates": { "application/json":
            "{\"statusCode\": $input.params('code')}" } }),
        &[(
            "404",
            json!({ "selectionPattern": "4\\d\\d", "responseTemplates": { "application/json": "{\"missing\": 1}" } }),
        )],
        json!({}),
    );
    let found = m.get(&id, "/strict?code=404", 404);
    assert_eq!(found.json(), json!({ "missing": 1 }));
    let unmatched = m.get(&id, "/strict?code=200", 500);
    assert_eq!(
        unmatched.json(),
        json!({ "message": "Internal server error" })
    );
    // `{"statusCode": }`: no valid status.
    let no_status = m.get(&id, "/strict", 500);
    assert_eq!(
        no_status.json(),
        json!({ "message": "Internal server error" })
    );
}

/// "NEVER ... Rejects unmapped content types with an HTTP 415 'Unsupported
/// Media Type' response"; a request without Content-Type is taken as
/// application/json ("Method request behavior for payloads without mapping
/// templates for REST APIs in API Gateway").
#[test]
fn passthrough_never_refuses_an_unmapped_content_type_with_415() {
    let mut m = Mgmt::new();
    let id = m.deployed(
        ("typed", "POST"),
        json!({
            "passthroughBehavior": "NEVER",
            "requestTemplates": { "application/json": "{\"statusCode\": 200}" }
        }),
        &[(
            "200",
            json!({ "responseTemplates": { "application/json": "{\"seen\": \"$input.body\"}" } }),
        )],
        json!({}),
    );
    let post = |ct: Option<&'static str>| {
        move |u: &str| {
            let extra: Vec<(&str, &str)> = ct.iter().map(|c| ("Content-Type", *c)).collect();
            request("POST", u, "localhost", &extra, b"hi")
        }
    };
    let refused = m.served(post(Some("text/plain")), &id, "/typed", 415);
    assert_eq!(
        refused.json(),
        json!({ "message": "Unsupported Media Type" })
    );
    let json_ok = m.served(
        post(Some("application/json; charset=utf-8")),
        &id,
        "/typed",
        200,
    );
    // The response template's $input is the integration's (MOCK's empty) body.
    assert_eq!(json_ok.json(), json!({ "seen": "" }), "{json_ok:?}");
    m.served(post(None), &id, "/typed", 200);
}

/// "$context.responseOverride.status ... $context.responseOverride.header.header_name"
/// override the method response's status and headers (Override your API's
/// request and response parameters and status codes for REST APIs).
#[test]
fn response_override_sets_the_status_and_a_header() {
    let mut m = Mgmt::new();
    let id = m.deployed(
        ("teapot", "GET"),
        json!({ "requestTemplates": { "application/json": "{\"statusCode\": 200}" } }),
        &[(
            "200",
            json!({ "responseTemplates": { "text/plain": concat!(
                "#set($context.responseOverride.status = 418)",
                "#set($context.responseOverride.header.X-Teapot = \"short\")",
                "short and stout"
            ) } }),
        )],
        json!({}),
    );
    let r = m.get(&id, "/teapot", 418);
    assert_eq!(r.header("x-teapot"), Some("short"), "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{r:?}");
    assert_eq!(r.body_str(), "short and stout");
}

/// A template that does not parse is refused by the call that sets it, as
/// AWS refuses one ("Invalid mapping expression specified"), naming its line.
#[test]
fn a_template_that_does_not_compile_is_refused_with_its_line() {
    let mut m = Mgmt::new();
    let (_, method) = m.method("bad", "GET");
    let bad =
        json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\n  #if($x ]\n}" } });
    let e = m.ok("PUT", &format!("{method}/integration"), Some(bad), 400);
    assert_eq!(e["__type"], "BadRequestException", "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Invalid mapping expression specified"),
        "{msg}"
    );
    assert!(msg.contains("template line 2"), "{msg}");
    // Nothing was stored.
    m.ok("GET", &format!("{method}/integration"), None, 404);

    m.mock(&method, json!({}), &[]);
    m.ok(
        "PUT",
        &format!("{method}/responses/200"),
        Some(json!({})),
        201,
    );
    let e = m.ok(
        "PUT",
        &format!("{method}/integration/responses/200"),
        Some(json!({ "responseTemplates": { "application/json": "#foreach($a in [1])" } })),
        400,
    );
    assert!(
        e["message"].as_str().unwrap().contains("template line 1"),
        "{e}"
    );
    let e = m.ok(
        "PATCH",
        &format!("{method}/integration"),
        Some(json!({ "patchOperations": [
            { "op": "add", "path": "/requestTemplates/application~1json", "value": "#end" }
        ] })),
        400,
    );
    assert!(
        e["message"].as_str().unwrap().contains("template line 1"),
        "{e}"
    );
}

const FILE_ROUTE: &str = r#"
[[api]]
name = "file"

[api.stages.prod]
variables = { v = "one" }

[[api.routes]]
method = "GET"
path = "/hi"
integration = { type = "mock" }

[api.routes.execution]
request_templates = { "application/json" = '{"statusCode": #if($input.params("n") == "2")202#else 201#end}' }

[[api.routes.execution.integration_responses]]
status = 201
response_parameters = { "method.response.header.X-From" = "'file'" }
response_templates = { "application/json" = '{"stage": "$context.stage", "v": "$stageVariables.v"}' }

[[api.routes.execution.integration_responses]]
status = 299
selection_pattern = "202"
"#;

/// The config file's `execution`: the same model as the management API's.
#[test]
fn a_config_file_route_runs_its_execution() {
    let s = Server::start(&Config::new(FILE_ROUTE));
    let r = s.connect().get("/prod/hi");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("x-from"), Some("file"), "{r:?}");
    assert_eq!(r.json(), json!({ "stage": "prod", "v": "one" }));
    // No template: the integration's (empty) body passes through.
    let r = s.connect().get("/prod/hi?n=2");
    assert_eq!(r.status, 299, "{r:?}");
    assert_eq!(r.body_str(), "");
}

/// `portico check` refuses a template that does not compile, at its file,
/// line and key, with the template's own line.
#[test]
fn portico_check_refuses_a_bad_template_with_file_and_line() {
    let text = FILE_ROUTE.replace(
        r#"'{"stage": "$context.stage", "v": "$stageVariables.v"}'"#,
        "'''\n{\n#if($x\n}'''",
    );
    let path = write_config(&Config::new(&text).render());
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let key = r#"api[0].routes[0].execution.integration_responses[0].response_templates."application/json""#;
    assert!(out.stderr.contains(key), "{}", out.stderr);
    assert!(out.stderr.contains("template line 3"), "{}", out.stderr);
    let line = Config::new(&text)
        .render()
        .lines()
        .position(|l| l.starts_with("response_templates"))
        .unwrap()
        + 1;
    assert!(
        out.stderr.contains(&format!("{}:{line}:", path.display())),
        "line {line}: {}",
        out.stderr
    );
}
