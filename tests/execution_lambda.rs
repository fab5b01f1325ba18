//! Lambda custom (non-proxy) integrations on the real binary: a management
//! `AWS` integration with a Lambda invocation URI, and a config file's
//! `lambda` route with `execution`. The Invoke API is a fake upstream; the
//! tests check the event the function received (the request template's
//! output, or the body passed through), the success mapped by a response
//! template, function errors selected by pattern on `errorMessage`, an
//! error no pattern matches taking the default response, and a timeout.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "execution-lambda-token-01";

/// The fake Invoke API: the function is the path's; `greet` answers a
/// greeting for the event's `name`, or fails with AWS's standard error
/// shape when it is missing (`fail:<message>` as `name` fails with that
/// message); `slow` never answers.
fn functions() -> Upstream {
    Upstream::start(|r| {
        let function = r
            .target
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|t| t.strip_suffix("/invocations"))
            .unwrap_or_default()
            .to_string();
        if function == "slow" {
            return Reply::Stall;
        }
        let event: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let failed = |message: &str| {
            let payload = json!({
                "errorMessage": message,
                "errorType": "Error",
                "stackTrace": ["exports.handler (/var/task/index.js:3:14)"]
            });
            Reply::Send(http_response(
                200,
                &[
                    ("content-type", "application/json"),
                    ("x-amz-function-error", "Unhandled"),
                ],
                payload.to_string().as_bytes(),
            ))
        };
        match event["name"].as_str() {
            None | Some("") => failed("Bad request: missing name"),
            Some(n) if n.starts_with("fail:") => failed(&n["fail:".len()..]),
            Some(n) => {
                let payload = json!({ "greeting": format!("Hello, {n}"), "n": event["n"] });
                Reply::Send(http_response(
                    200,
                    &[("content-type", "application/json")],
                    payload.to_string().as_bytes(),
                ))
            }
        }
    })
}

struct Mgmt {
    srv: Server,
    fns: Upstream,
}

impl Mgmt {
    fn new() -> Mgmt {
        let fns = functions();
        let config = Config::new("")
            .admin("token", &toml_str(TOKEN))
            .append(&format!(
                "[aws]\naccount_id = \"123456789012\"\nlambda_endpoint = \"http://{}\"\n",
                fns.addr()
            ));
        Mgmt {
            srv: Server::start(&config),
            fns,
        }
    }

    fn ok(&mut self, method: &str, path: &str, body: Value, status: u16) -> Value {
        self.srv
            .admin_call(TOKEN, method, path, Some(&body), status)
    }

    /// `POST /{part}` of a new API invoking `function` as an `AWS`
    /// integration with `extra` settings and each of `responses` (status,
    /// PutIntegrationResponse body), deployed to stage prod: the API's id.
    fn deployed(
        &mut self,
        part: &str,
        function: &str,
        extra: Value,
        responses: &[(&str, Value)],
    ) -> String {
        let api = self.ok("POST", "/restapis", json!({ "name": "lambda" }), 201);
        let (id, root) = (&api["id"], &api["rootResourceId"]);
        let (id, root) = (id.as_str().unwrap(), root.as_str().unwrap());
        let under = format!("/restapis/{id}/resources/{root}");
        let r = self.ok("POST", &under, json!({ "pathPart": part }), 201);
        let method = format!(
            "/restapis/{id}/resources/{}/methods/POST",
            r["id"].as_str().unwrap()
        );
        let mut integration = json!({
            "type": "AWS",
            "httpMethod": "POST",
            "uri": format!(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations"
            ),
        });
        for (k, v) in extra.as_object().unwrap() {
            integration[k] = v.clone();
        }
        self.srv
            .put_integrated_method(TOKEN, &method, &integration, responses);
        let body = json!({ "stageName": "prod", "variables": { "greeter": "gw" } });
        self.ok("POST", &format!("/restapis/{id}/deployments"), body, 201);
        id.to_string()
    }

    /// POSTs `body` to `path` of stage prod once the data plane answers `status`.
    fn post(&mut self, id: &str, path: &str, body: &str, status: u16) -> Response {
        let url = format!("/restapis/{id}/prod/_user_request_{path}");
        let headers = [("Content-Type", "application/json")];
        poll_until(
            POLL_FOR,
            || {
                self.srv.connect().request(request(
                    "POST",
                    &url,
                    "localhost",
                    &headers,
                    body.as_bytes(),
                ))
            },
            |r| r.status == status,
            |r| format!("{url}: want {status}, got {r:?}"),
        )
    }

    /// The event of the function's last invocation.
    fn last_event(&self) -> Value {
        let r = self.last_invocation();
        serde_json::from_slice(&r.body).expect("the event is JSON")
    }

    /// The function's last invocation, as the Invoke API received it.
    fn last_invocation(&self) -> Recorded {
        let mut last = None;
        while let Ok(r) = self.fns.rx.try_recv() {
            last = Some(r);
        }
        last.expect("the function was invoked")
    }
}

/// The request template of "Set up Lambda custom integrations in API
/// Gateway" builds the event from `$input.params`; here also from
/// `$input.json('$')` and `$context`. The success is mapped by a response
/// template reading the function's payload.
#[test]
fn the_event_is_the_request_templates_output_and_the_payload_is_mapped() {
    let mut m = Mgmt::new();
    let template = concat!(
        "{\"name\": \"$input.params('name')\", \"n\": $input.json('$.n'),\n",
        " \"body\": $input.json('$'), \"stage\": \"$context.stage\",\n",
        " \"requestId\": \"$context.requestId\", \"greeter\": \"$stageVariables.greeter\"}"
    );
    let id = m.deployed(
        "greeting",
        "greet",
        json!({ "requestTemplates": { "application/json": template } }),
        &[(
            "200",
            json!({ "responseTemplates": { "application/json":
                "{\"message\": \"$input.path('$.greeting')\", \"n\": $input.json('$.n')}" } }),
        )],
    );
    let r = m.post(&id, "/greeting?name=Ann", r#"{"n": [1, 2]}"#, 200);
    assert_eq!(
        r.json(),
        json!({ "message": "Hello, Ann", "n": [1, 2] }),
        "{r:?}"
    );
    let event = m.last_event();
    assert_eq!(
        event,
        json!({
            "name": "Ann",
            "n": [1, 2],
            "body": { "n": [1, 2] },
            "stage": "prod",
            "requestId": r.request_id(),
            "greeter": "gw",
        })
    );
}

/// "Handle Lambda errors in API Gateway": a function error's
/// `errorMessage` is matched against the selection patterns (its example
/// maps `Malformed.*` to 400 with `$input.path('$.errorMessage')`); an
/// error message no pattern matches takes the default response, so a
/// failed function answers 200 ("Lambda errors are returned as 200 OK
/// responses by default").
#[test]
fn a_function_error_is_selected_by_its_error_message() {
    let mut m = Mgmt::new();
    let id = m.deployed(
        "greeting",
        "greet",
        json!({ "requestTemplates": { "application/json":
            "{\"name\": \"$util.escapeJavaScript($input.params('name'))\"}" } }),
        &[
            (
                "200",
                json!({ "responseTemplates": { "application/json":
                    "{\"ok\": \"$input.path('$.greeting')\", \"error\": \"$input.path('$.errorMessage')\"}" } }),
            ),
            (
                "400",
                json!({
                    "selectionPattern": "Bad request.*",
                    "responseParameters": { "method.response.header.X-Error-Type": "integration.response.body.errorType" },
                    "responseTemplates": { "application/json":
                        "{\"message\": \"$input.path('$.errorMessage')\"}" }
                }),
            ),
        ],
    );
    let bad = m.post(&id, "/greeting", "", 400);
    assert_eq!(
        bad.json(),
        json!({ "message": "Bad request: missing name" }),
        "{bad:?}"
    );
    assert_eq!(bad.header("x-error-type"), Some("Error"), "{bad:?}");
    // The whole message must match: a prefix is not enough.
    let other = m.post(&id, "/greeting?name=fail:Not%20a%20Bad%20request", "", 200);
    assert_eq!(
        other.json(),
        json!({ "ok": "", "error": "Not a Bad request" }),
        "{other:?}"
    );
    // `.` does not match a line break, as AWS warns.
    let multiline = m.post(&id, "/greeting?name=fail:Bad%20request%0Aline%202", "", 200);
    let body = multiline.body_str();
    assert!(
        body.contains("\"error\": \"Bad request\nline 2\""),
        "{body}"
    );
    let ok = m.post(&id, "/greeting?name=Bo", "", 200);
    assert_eq!(ok.json(), json!({ "ok": "Hello, Bo", "error": "" }));
}

/// With no template the body is passed through as the event (the default
/// WHEN_NO_MATCH), and with no response template the payload is the
/// answer as it came.
#[test]
fn without_templates_the_body_and_the_payload_pass_through() {
    let mut m = Mgmt::new();
    let id = m.deployed("echo", "greet", json!({}), &[("200", json!({}))]);
    let r = m.post(&id, "/echo", r#"{"name": "Cy", "n": 3}"#, 200);
    assert_eq!(
        r.json(),
        json!({ "greeting": "Hello, Cy", "n": 3 }),
        "{r:?}"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(m.last_event(), json!({ "name": "Cy", "n": 3 }));
    // An empty body is the event `{}`.
    let r = m.post(&id, "/echo", "", 200);
    assert_eq!(r.json()["errorMessage"], "Bad request: missing name");
    assert_eq!(m.last_event(), json!({}));
}

/// A function that does not answer within `timeoutInMillis` is a 504, as
/// for Lambda proxy integrations.
#[test]
fn a_function_slower_than_the_timeout_is_a_504() {
    let mut m = Mgmt::new();
    let id = m.deployed(
        "slow",
        "slow",
        json!({ "timeoutInMillis": 300 }),
        &[("200", json!({}))],
    );
    let r = m.post(&id, "/slow", "{}", 504);
    assert_error(&r, 504, Some(TIMED_OUT));
}

/// The config file's form: a `lambda` route with `execution` is a Lambda
/// custom integration.
#[test]
fn a_config_file_lambda_route_with_execution_runs_non_proxy() {
    let fns = functions();
    let text = format!(
        r#"[[api]]
name = "file"

[api.stages.prod]

[[api.routes]]
method = "GET"
path = "/hello/{{who}}"
integration = {{ type = "lambda", function = "greet", timeout_ms = 3000 }}

[api.routes.execution]
request_templates = {{ "application/json" = '{{"name": "$input.params("who")"}}' }}

[[api.routes.execution.integration_responses]]
status = 200
response_templates = {{ "text/plain" = '$input.path("$.greeting")' }}

[[api.routes.execution.integration_responses]]
status = 422
selection_pattern = "Bad.*"

[aws]
lambda_endpoint = "http://{}"
"#,
        fns.addr()
    );
    let s = Server::start(&Config::new(&text));
    let r = s.connect().get("/prod/hello/Di");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{r:?}");
    assert_eq!(r.body_str(), "Hello, Di");
    let seen = fns.recv();
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap(),
        json!({ "name": "Di" })
    );
    let r = s.connect().get("/prod/hello/fail:Bad%20thing");
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.json()["errorMessage"], "Bad thing", "{r:?}");
}

/// `$context.requestOverride.header` sets the Invoke API's own headers
/// (here `X-Amz-Invocation-Type`, as AWS's asynchronous Lambda invocation
/// does through the integration request's headers; other names mean
/// nothing to the Invoke API and are not sent), and
/// `$context.responseOverride` sets the method response's status and a
/// header; the integration response's CONVERT_TO_BINARY decodes the
/// Base64 its template wrote.
#[test]
fn overrides_reach_the_invoke_call_and_the_method_response() {
    let mut m = Mgmt::new();
    let template = concat!(
        "#set($context.requestOverride.header.X-Amz-Invocation-Type = \"Event\")",
        "#set($context.requestOverride.header.X-Other = \"no\")",
        "{\"name\": \"$input.params('name')\"}"
    );
    let response = concat!(
        "#set($context.responseOverride.status = 202)",
        "#set($context.responseOverride.header.X-Queued = \"yes\")",
        "$util.base64Encode($input.path('$.greeting'))"
    );
    let id = m.deployed(
        "queued",
        "greet",
        json!({ "requestTemplates": { "application/json": template } }),
        &[(
            "200",
            json!({ "contentHandling": "CONVERT_TO_BINARY",
                    "responseTemplates": { "application/json": response } }),
        )],
    );
    let r = m.post(&id, "/queued?name=Ann", "{}", 202);
    assert_eq!(r.body_str(), "Hello, Ann", "{r:?}");
    assert_eq!(r.header("x-queued"), Some("yes"), "{r:?}");
    let invoked = m.last_invocation();
    assert_eq!(invoked.header("x-amz-invocation-type"), Some("Event"));
    assert_eq!(invoked.header("x-other"), None);
}

/// "integration.request.header.X-Amz-Invocation-Type" mapped from a
/// literal or the method request reaches the Invoke call (AWS's way to
/// invoke a Lambda custom integration asynchronously); a template's
/// `requestOverride` of the same header wins; headers the Invoke API does
/// not take are dropped.
#[test]
fn request_parameters_reach_the_invoke_call() {
    let mut m = Mgmt::new();
    let mapped = json!({
        "integration.request.header.X-Amz-Invocation-Type": "method.request.querystring.mode",
        "integration.request.header.X-Amz-Log-Type": "'None'",
        "integration.request.header.X-Other": "'no'"
    });
    let template = concat!(
        "#set($context.requestOverride.header.X-Amz-Log-Type = \"Tail\")",
        "{\"name\": \"$input.params('name')\"}"
    );
    let id = m.deployed(
        "mapped",
        "greet",
        json!({ "requestParameters": mapped,
                "requestTemplates": { "application/json": template } }),
        &[("200", json!({}))],
    );
    m.post(&id, "/mapped?name=Ann&mode=RequestResponse", "{}", 200);
    let invoked = m.last_invocation();
    assert_eq!(
        invoked.header("x-amz-invocation-type"),
        Some("RequestResponse")
    );
    assert_eq!(invoked.header("x-amz-log-type"), Some("Tail"));
    assert_eq!(invoked.header("x-other"), None);
}
