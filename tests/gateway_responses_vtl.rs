//! Gateway responses' body templates rendered by the VTL engine, against
//! what "Gateway responses in API Gateway" and "Gateway response types"
//! document for them: `$context.error.message`, `.messageString`,
//! `.responseType`, `.validationErrorString`, `$context.requestId` and the
//! request's other context, `$stageVariables` and `$input.params()`
//! ("Whenever API Gateway returns a response of this type, the header
//! mappings and payload mapping templates defined in the gateway response
//! are applied"). The refusals a request's validation, its content type
//! and a broken integration earn (BAD_REQUEST_PARAMETERS,
//! BAD_REQUEST_BODY, UNSUPPORTED_MEDIA_TYPE, API_CONFIGURATION_ERROR) go
//! through them like every other answer the gateway makes; a template
//! that passes its limits falls back to AWS's default body; one that does
//! not parse is refused by PutGatewayResponse, UpdateGatewayResponse and
//! `portico check`.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "gateway-vtl-token-0123456789";

const PET: &str = r#"{"$schema":"http://json-schema.org/draft-04/schema#","title":"Pet",
 "type":"object","required":["name"],"properties":{"name":{"type":"string"}}}"#;

/// Every customised answer says its type (as a header mapped from
/// `context.error.responseType` and in the body), the message both ways,
/// the validation detail, and what it read of the request.
const TEMPLATE: &str = "#set($t = $context.error.responseType)\
{\"type\":\"$t\",\"lower\":\"$t.toLowerCase()\",\"said\":$context.error.messageString,\
\"raw\":\"$context.error.message\",\"detail\":\"$context.error.validationErrorString\",\
\"method\":\"$context.httpMethod\",\"q\":\"$input.params('name')\",\
\"who\":\"$input.params().header.get('x-who')\",\"stage\":\"$stageVariables.color\",\
\"id\":\"$context.requestId\"}";

struct Mgmt(Managed);

impl Mgmt {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0.ok(method, path, body, status)
    }

    /// A new API: its id and root resource.
    fn api(&mut self) -> (String, String) {
        self.0.new_api("gv")
    }

    /// `POST /pets` validated (query string `name` required, the Pet model
    /// for JSON), a MOCK accepting JSON only (NEVER passes a body through);
    /// `GET /broken`, a MOCK whose template names no valid `statusCode`.
    fn routes(&mut self, id: &str, root: &str) {
        let validator = self.0.pet_validator(id, PET, (true, true));
        let validated = json!({
            "requestValidatorId": validator,
            "requestParameters": { "method.request.querystring.name": true },
            "requestModels": { "application/json": "Pet" }
        });
        let pets = self
            .0
            .put_method_under((id, root), "pets", "POST", validated);
        let mock = json!({ "type": "MOCK", "passthroughBehavior": "NEVER",
            "requestTemplates": { "application/json": "{\"statusCode\": 200}" } });
        self.ok("PUT", &format!("{pets}/integration"), Some(mock), 201);
        let ir = json!({ "responseTemplates": { "application/json": "{\"ok\": true}" } });
        self.0.put_responses(&pets, "200", ir);
        let broken = self
            .0
            .put_method_under((id, root), "broken", "GET", json!({}));
        let mock = json!({ "type": "MOCK",
            "requestTemplates": { "application/json": "{\"statusCode\": \"nope\"}" } });
        self.ok("PUT", &format!("{broken}/integration"), Some(mock), 201);
    }

    fn customise(&mut self, id: &str, kind: &str, status: u16, template: &str) {
        let headers = json!({
            "gatewayresponse.header.x-type": "context.error.responseType",
            "gatewayresponse.header.x-echo": "method.request.header.x-who",
            "gatewayresponse.header.x-color": "stageVariables.color",
            "gatewayresponse.header.x-none": "stageVariables.absent"
        });
        let body = json!({
            "statusCode": status.to_string(),
            "responseParameters": headers,
            "responseTemplates": { "application/json": template }
        });
        let at = format!("/restapis/{id}/gatewayresponses/{kind}");
        self.ok("PUT", &at, Some(body), 201);
    }

    fn deploy(&mut self, id: &str) {
        let body = json!({ "stageName": "prod", "variables": { "color": "teal" } });
        self.0.deploy(id, body);
    }

    /// `method path` of stage prod with `headers` and `body`, once answered `status`.
    fn call(
        &mut self,
        id: &str,
        at: (&str, &str),
        headers: &[(&str, &str)],
        body: &str,
        status: u16,
    ) -> Response {
        self.0.served(id, at, headers, body, status)
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const WHO: (&str, &str) = ("x-who", "ann");

/// What every customised answer must say, `kind` with `message`.
fn assert_rendered(r: &Response, kind: &str, message: &str, detail: &str, method: &str, q: &str) {
    assert_eq!(r.header("x-type"), Some(kind), "{r:?}");
    assert_eq!(r.header("x-echo"), Some("ann"), "{r:?}");
    assert_eq!(r.header("x-color"), Some("teal"), "{r:?}");
    assert_eq!(
        r.header("x-none"),
        None,
        "a variable without a value: {r:?}"
    );
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let id = r.header("x-request-id").unwrap_or_default().to_string();
    assert_eq!(
        r.json(),
        json!({
            "type": kind, "lower": kind.to_lowercase(), "said": message, "raw": message,
            "detail": detail, "method": method, "q": q, "who": "ann", "stage": "teal",
            "id": id
        }),
        "{r:?}"
    );
}

#[test]
fn validation_media_type_and_configuration_refusals_render_their_gateway_responses() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let (id, root) = m.api();
    m.routes(&id, &root);
    m.customise(&id, "BAD_REQUEST_PARAMETERS", 460, TEMPLATE);
    m.customise(&id, "BAD_REQUEST_BODY", 461, TEMPLATE);
    m.customise(&id, "UNSUPPORTED_MEDIA_TYPE", 462, TEMPLATE);
    m.customise(&id, "API_CONFIGURATION_ERROR", 560, TEMPLATE);
    m.deploy(&id);

    let valid = r#"{"name":"rex"}"#;
    m.call(&id, ("POST", "/pets?name=rex"), &[JSON], valid, 200);

    let missing = "Missing required request parameters: [name]";
    let r = m.call(&id, ("POST", "/pets"), &[JSON, WHO], valid, 460);
    assert_rendered(&r, "BAD_REQUEST_PARAMETERS", missing, missing, "POST", "");

    let r = m.call(&id, ("POST", "/pets?name=a"), &[JSON, WHO], "{}", 461);
    let bad_body = "Invalid request body";
    assert_rendered(&r, "BAD_REQUEST_BODY", bad_body, bad_body, "POST", "a");

    let text = ("content-type", "text/plain");
    let r = m.call(&id, ("POST", "/pets?name=b"), &[text, WHO], "x", 462);
    assert_rendered(
        &r,
        "UNSUPPORTED_MEDIA_TYPE",
        "Unsupported Media Type",
        "",
        "POST",
        "b",
    );

    let r = m.call(&id, ("GET", "/broken?name=c"), &[WHO], "", 560);
    assert_rendered(
        &r,
        "API_CONFIGURATION_ERROR",
        "Internal server error",
        "",
        "GET",
        "c",
    );
}

/// Directives work: `#if` on a query string parameter.
#[test]
fn directives_render() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let (id, root) = m.api();
    m.routes(&id, &root);
    let branching = "#if($input.params('debug') == 'yes')\
{\"debug\":$context.error.messageString,\"path\":\"$context.path\"}\
#else{\"hidden\":true}#end";
    m.customise(&id, "MISSING_AUTHENTICATION_TOKEN", 404, branching);
    m.deploy(&id);

    let r = m.call(&id, ("GET", "/nowhere?debug=yes"), &[WHO], "", 404);
    assert_eq!(
        r.json(),
        json!({ "debug": "Missing Authentication Token",
                "path": format!("/restapis/{id}/prod/_user_request_/nowhere") }),
        "{r:?}"
    );
    let r = m.call(&id, ("GET", "/nowhere"), &[WHO], "", 404);
    assert_eq!(r.json(), json!({ "hidden": true }), "{r:?}");
}

/// A template over its limits: the customised status and headers, AWS's
/// default body; the failure logged once.
#[test]
fn a_template_over_its_limits_answers_the_default_body() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let (id, root) = m.api();
    m.routes(&id, &root);
    let huge = "#foreach($i in [1..1000])#foreach($j in [1..1000])0123456789#end#end";
    m.customise(&id, "MISSING_AUTHENTICATION_TOKEN", 404, huge);
    m.deploy(&id);
    for _ in 0..2 {
        let r = m.call(&id, ("GET", "/nowhere"), &[WHO], "", 404);
        assert_eq!(r.header("x-type"), Some("MISSING_AUTHENTICATION_TOKEN"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.body_str(),
            r#"{"message":"Missing Authentication Token"}"#
        );
    } // Logged the first time only.
    let srv = &mut m.0.srv;
    srv.sigterm();
    let mut warned = 0;
    while let Some(l) = srv.next_line(POLL_FOR) {
        warned += usize::from(l.contains("gateway response template failed"));
    }
    assert_eq!(warned, 1);
}

/// "Templates are compiled at publish time; a template that does not
/// parse is refused by the management call (BadRequestException naming
/// the line)".
#[test]
fn a_template_that_does_not_parse_is_refused_naming_its_line() {
    let mut m = Mgmt(Managed::start(TOKEN));
    let (id, _) = m.api();
    let at = format!("/restapis/{id}/gatewayresponses/DEFAULT_4XX");
    let broken = json!({ "responseTemplates": { "application/json": "{\n\"a\": 1,\n#if($x\n}" } });
    let r = m.ok("PUT", &at, Some(broken), 400);
    assert_eq!(r["__type"], "BadRequestException", "{r}");
    let msg = r["message"].as_str().unwrap();
    // The line where the `#if` is found unclosed.
    assert!(msg.contains("template line 4"), "{msg}");
    // Nothing was stored.
    assert_eq!(m.ok("GET", &at, None, 200)["defaultResponse"], true);

    let fine = json!({ "responseTemplates": { "application/json": "{\"ok\":1}" } });
    m.ok("PUT", &at, Some(fine), 201);
    let patch = json!({ "patchOperations": [{ "op": "replace",
        "path": "/responseTemplates/application~1json", "value": "#foreach($i in $x)" }] });
    let r = m.ok("PATCH", &at, Some(patch), 400);
    assert_eq!(r["__type"], "BadRequestException", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("template line 1"),
        "{r}"
    );
    let kept = m.ok("GET", &at, None, 200);
    assert_eq!(kept["responseTemplates"]["application/json"], "{\"ok\":1}");
}

#[test]
fn portico_check_refuses_a_gateway_response_template_that_does_not_parse() {
    let api = api_toml("f", &[], &["prod"], &[mock_route("GET", "/x", false, "x")]).replacen(
        "hosts = []\n",
        "hosts = []\ngateway_responses.DEFAULT_4XX = { templates = { \"application/json\" = \"ok\\n#end\" } }\n",
        1,
    );
    let path = write_config(&Config::new(&api).render());
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("gateway_responses.DEFAULT_4XX"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);

    let fixed = api.replace("ok\\n#end", "#if(true)ok#end");
    let out = check_config(&write_config(&Config::new(&fixed).render()));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
