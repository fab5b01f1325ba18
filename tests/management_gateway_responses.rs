//! Gateway responses (PutGatewayResponse, GetGatewayResponse(s),
//! UpdateGatewayResponse, DeleteGatewayResponse) on the real binary, and
//! what they change on the data plane once deployed: status, headers from
//! literals, the request and stage variables, and the body template; the
//! DEFAULT_4XX fallback; the config file's `gateway_responses`.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "gateway-responses-token-0123";

const BAD: (u16, &str) = (400, "BadRequestException");
const GONE: (u16, &str) = (404, "NotFoundException");

struct Mgmt(Server);

impl Mgmt {
    fn new() -> Mgmt {
        Mgmt(Server::start(
            &Config::new("").admin("token", &toml_str(TOKEN)),
        ))
    }

    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0
            .admin_call(TOKEN, method, path, body.as_ref(), status)
    }

    fn fails(&mut self, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) {
        self.0.admin_fails(TOKEN, method, path, body.as_ref(), want)
    }

    /// An API whose `GET /open` is a MOCK and `GET /keyed` needs an API
    /// key; (its id, the gateway responses path).
    fn api(&mut self) -> (String, String) {
        let api = self.ok("POST", "/restapis", Some(json!({ "name": "gr" })), 201);
        let id = api["id"].as_str().unwrap().to_string();
        let root = api["rootResourceId"].as_str().unwrap().to_string();
        for (part, keyed) in [("open", false), ("keyed", true)] {
            let r = self.ok(
                "POST",
                &format!("/restapis/{id}/resources/{root}"),
                Some(json!({ "pathPart": part })),
                201,
            );
            let method = format!(
                "/restapis/{id}/resources/{}/methods/GET",
                r["id"].as_str().unwrap()
            );
            self.ok(
                "PUT",
                &method,
                Some(json!({ "authorizationType": "NONE", "apiKeyRequired": keyed })),
                201,
            );
            self.ok(
                "PUT",
                &format!("{method}/integration"),
                Some(json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } })),
                201,
            );
            self.0.put_default_200(TOKEN, &method);
        }
        (id.clone(), format!("/restapis/{id}/gatewayresponses"))
    }

    /// Deploys `id` to stage prod with `variables`.
    fn deploy(&mut self, id: &str, variables: Value) {
        self.ok(
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(json!({ "stageName": "prod", "variables": variables })),
            201,
        );
    }

    /// `GET path` of stage prod with `extra` headers, once the data plane
    /// answers it with `status`.
    fn served(&mut self, id: &str, path: &str, extra: &[(&str, &str)], status: u16) -> Response {
        let url = format!("/restapis/{id}/prod/_user_request_{path}");
        let req = get_with(&url, extra);
        poll_until(
            POLL_FOR,
            || self.0.connect().request(&req),
            |r| r.status == status,
            |r| format!("GET {url}: want {status}, got {r:?}"),
        )
    }
}

#[test]
fn every_type_reads_as_its_default_until_customised_and_again_after_delete() {
    let mut m = Mgmt::new();
    let (_, base) = m.api();
    let all = m.ok("GET", &base, None, 200);
    let items = all["item"].as_array().unwrap();
    assert_eq!(items.len(), 21, "{all}");
    assert!(items.iter().all(|i| i["defaultResponse"] == true), "{all}");
    let throttled = m.ok("GET", &format!("{base}/THROTTLED"), None, 200);
    assert_eq!(
        throttled,
        json!({
            "responseType": "THROTTLED",
            "statusCode": "429",
            "responseParameters": {},
            "responseTemplates": { "application/json": "{\"message\":$context.error.messageString}" },
            "defaultResponse": true
        })
    );
    // The fallbacks have no status of their own.
    let d4 = m.ok("GET", &format!("{base}/DEFAULT_4XX"), None, 200);
    assert!(d4.get("statusCode").is_none(), "{d4}");
    // Pages, as every collection.
    let page = m.ok("GET", &format!("{base}?limit=20"), None, 200);
    assert_eq!(page["item"].as_array().unwrap().len(), 20);
    assert_eq!(page["position"], "20");

    let minimal = m.ok("PUT", &format!("{base}/DEFAULT_4XX"), Some(json!({})), 201);
    assert_eq!(
        minimal,
        json!({ "responseType": "DEFAULT_4XX", "defaultResponse": false })
    );
    let full = json!({
        "statusCode": "401",
        "responseParameters": { "gatewayresponse.header.Authorization": "'Basic'" },
        "responseTemplates": { "application/xml": "<e>$context.error.message</e>" }
    });
    let put = m.ok("PUT", &format!("{base}/UNAUTHORIZED"), Some(full), 201);
    assert_eq!(put["statusCode"], "401");
    assert_eq!(put["defaultResponse"], false);
    assert_eq!(m.ok("GET", &format!("{base}/UNAUTHORIZED"), None, 200), put);

    let patched = m.ok(
        "PATCH",
        &format!("{base}/UNAUTHORIZED"),
        Some(json!({ "patchOperations": [
            { "op": "replace", "path": "/statusCode", "value": "403" },
            { "op": "add", "path": "/responseParameters/gatewayresponse.header.x-why", "value": "'no'" },
            { "op": "remove", "path": "/responseTemplates/application~1xml" }
        ]})),
        200,
    );
    assert_eq!(patched["statusCode"], "403");
    assert_eq!(
        patched["responseParameters"]["gatewayresponse.header.x-why"],
        "'no'"
    );
    assert!(patched.get("responseTemplates").is_none(), "{patched}");

    m.ok("DELETE", &format!("{base}/UNAUTHORIZED"), None, 202);
    let back = m.ok("GET", &format!("{base}/UNAUTHORIZED"), None, 200);
    assert_eq!(back["defaultResponse"], true);
    assert_eq!(back["statusCode"], "401");
    m.fails("DELETE", &format!("{base}/UNAUTHORIZED"), None, GONE);
}

#[test]
fn bad_puts_are_refused() {
    let mut m = Mgmt::new();
    let (_, base) = m.api();
    m.fails("PUT", &format!("{base}/NOT_A_TYPE"), Some(json!({})), BAD);
    m.fails("GET", &format!("{base}/NOT_A_TYPE"), None, BAD);
    m.fails(
        "PUT",
        &format!("{base}/THROTTLED"),
        Some(json!({ "statusCode": "99" })),
        BAD,
    );
    m.fails(
        "PUT",
        &format!("{base}/THROTTLED"),
        Some(json!({ "statusCode": "600" })),
        BAD,
    );
    m.fails(
        "PUT",
        &format!("{base}/THROTTLED"),
        Some(json!({ "responseParameters": { "method.response.header.x": "'a'" } })),
        BAD,
    );
    m.fails(
        "PUT",
        &format!("{base}/THROTTLED"),
        Some(json!({ "responseParameters": { "gatewayresponse.header.x": "integration.response.body" } })),
        BAD,
    );
    m.fails(
        "PATCH",
        &format!("{base}/THROTTLED"),
        Some(json!({ "patchOperations": [{ "op": "replace", "path": "/responseType", "value": "X" }] })),
        BAD,
    );
    m.fails("GET", "/restapis/nope/gatewayresponses", None, GONE);
    m.fails(
        "PUT",
        "/restapis/nope/gatewayresponses/THROTTLED",
        Some(json!({})),
        GONE,
    );
}

/// A customised MISSING_AUTHENTICATION_TOKEN changes an unknown path's
/// answer once deployed; DEFAULT_4XX stands in for types not customised,
/// keeping their status; a value with a line break never splits the head.
#[test]
fn deployed_gateway_responses_change_the_gateway_answers() {
    let mut m = Mgmt::new();
    let (id, base) = m.api();
    m.deploy(&id, json!({ "who": "ops" }));
    let before = m.served(&id, "/nowhere", &[], 403);
    assert_eq!(
        before.json(),
        json!({ "message": "Missing Authentication Token" })
    );

    m.ok(
        "PUT",
        &format!("{base}/MISSING_AUTHENTICATION_TOKEN"),
        Some(json!({
            "statusCode": "404",
            "responseParameters": {
                "gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
                "gatewayresponse.header.x-trace": "method.request.header.x-trace-id",
                "gatewayresponse.header.x-q": "method.request.querystring.q",
                "gatewayresponse.header.x-who": "stageVariables.who",
                "gatewayresponse.header.x-evil": "stageVariables.evil",
                "gatewayresponse.header.x-api": "context.apiId"
            },
            "responseTemplates": {
                "application/json": "{\"error\":$context.error.messageString,\"type\":\"$context.error.responseType\",\"id\":\"$context.requestId\",\"who\":\"${stageVariables.who}\",\"stage\":\"$context.stage\"}"
            }
        })),
        201,
    );
    m.ok(
        "PUT",
        &format!("{base}/DEFAULT_4XX"),
        Some(json!({ "responseParameters": { "gatewayresponse.header.x-default": "'4xx'" } })),
        201,
    );
    // Not served until deployed, as on AWS.
    let still = m.served(&id, "/nowhere", &[], 403);
    assert!(still.header("x-default").is_none(), "{still:?}");

    m.deploy(&id, json!({ "who": "ops", "evil": "a\r\nx-injected: 1" }));
    let r = m.served(&id, "/nowhere?q=why", &[("x-trace-id", "t-42")], 404);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-trace"), Some("t-42"));
    assert_eq!(r.header("x-q"), Some("why"));
    assert_eq!(r.header("x-who"), Some("ops"));
    assert_eq!(r.header("x-api"), Some(id.as_str()));
    assert!(
        r.header("x-evil").is_none() && r.header("x-injected").is_none(),
        "{r:?}"
    );
    assert!(
        r.header("x-default").is_none(),
        "its own response, not the fallback: {r:?}"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(
        body,
        json!({
            "error": "Missing Authentication Token",
            "type": "MISSING_AUTHENTICATION_TOKEN",
            "id": r.request_id(),
            "who": "ops",
            "stage": "prod"
        })
    );
    // A request without the header: the header it fills is left out.
    let bare = m.served(&id, "/nowhere", &[], 404);
    assert!(bare.header("x-trace").is_none(), "{bare:?}");

    // INVALID_API_KEY is not customised: DEFAULT_4XX's header, its own
    // status and AWS's default body.
    let keyed = m.served(&id, "/keyed", &[], 403);
    assert_eq!(keyed.header("x-default"), Some("4xx"));
    assert_eq!(keyed.json(), json!({ "message": "Forbidden" }));
    // Answers that are not the gateway's own are untouched.
    let open = m.served(&id, "/open", &[], 200);
    assert!(open.header("x-default").is_none(), "{open:?}");

    // DEFAULT_4XX with a status changes every 4xx not customised itself.
    m.ok(
        "PATCH",
        &format!("{base}/DEFAULT_4XX"),
        Some(
            json!({ "patchOperations": [{ "op": "add", "path": "/statusCode", "value": "418" }] }),
        ),
        200,
    );
    m.deploy(&id, json!({ "who": "ops" }));
    let teapot = m.served(&id, "/keyed", &[], 418);
    assert_eq!(teapot.json(), json!({ "message": "Forbidden" }));
    m.served(&id, "/nowhere", &[], 404);
}

/// Exported as `x-amazon-apigateway-gateway-responses` and imported back.
#[test]
fn gateway_responses_round_trip_through_openapi() {
    let mut m = Mgmt::new();
    let (id, base) = m.api();
    m.ok(
        "PUT",
        &format!("{base}/THROTTLED"),
        Some(json!({ "statusCode": "503", "responseTemplates": { "application/json": "{\"slow\":true}" } })),
        201,
    );
    m.deploy(&id, json!({}));
    let doc = m.ok(
        "GET",
        &format!("/restapis/{id}/stages/prod/exports/oas30?extensions=apigateway"),
        None,
        200,
    );
    let x = &doc["x-amazon-apigateway-gateway-responses"]["THROTTLED"];
    assert_eq!(x["statusCode"], "503", "{doc}");
    let copy = m.ok("POST", "/restapis?mode=import", Some(doc), 201);
    let copy = copy["id"].as_str().unwrap();
    let r = m.ok(
        "GET",
        &format!("/restapis/{copy}/gatewayresponses/THROTTLED"),
        None,
        200,
    );
    assert_eq!(r["statusCode"], "503");
    assert_eq!(r["defaultResponse"], false);
    // A document whose gateway response would not serve is refused.
    let bad = json!({
        "openapi": "3.0.1",
        "info": { "title": "bad" },
        "paths": {},
        "x-amazon-apigateway-gateway-responses": { "THROTTLED": { "statusCode": 42 } }
    });
    m.fails("POST", "/restapis?mode=import", Some(bad), BAD);
}

/// The config file's APIs take the same gateway responses.
#[test]
fn config_file_gateway_responses_are_served() {
    let api = api_toml("f", &[], &["prod"], &[mock_route("GET", "/x", false, "x")]).replacen(
        "hosts = []\n",
        "hosts = []\ngateway_responses.MISSING_AUTHENTICATION_TOKEN = { status = 404, headers = { x-gw = \"'file'\" }, templates = { \"text/plain\" = \"no $context.error.message here\" } }\n",
        1,
    );
    let srv = Server::start(&Config::new(&api));
    let r = srv.connect().get("/prod/nothing");
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.header("x-gw"), Some("file"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.body_str(), "no Missing Authentication Token here");
    assert_eq!(srv.connect().get("/prod/x").body_str(), "x");
}
