//! Every gateway response type portico's data plane produces, customised
//! through the management API (PutGatewayResponse: a status of its own, a
//! header and a body template naming `$context.error.responseType`),
//! deployed, and provoked the way a client would: an unknown path, a
//! throttle, a quota, a missing API key, a TOKEN authorizer's refusals and
//! failures, a body over the limit, a backend refusing connections and one
//! that never answers; DEFAULT_4XX and DEFAULT_5XX standing in for types
//! not customised. The Lambda authorizer is a test upstream speaking the
//! Invoke API.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "gateway-served-token-0123";
const KEY: &str = "served-key-0123456789abcdefgh";
const AUTH_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:gate/invocations";

struct Mgmt(Server);

impl Mgmt {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0
            .admin_call(TOKEN, method, path, body.as_ref(), status)
    }

    /// A resource `part` under `parent` with a `GET` method `method` and
    /// integration `integration`.
    fn route(&mut self, id: &str, parent: &str, part: &str, method: Value, integration: Value) {
        let r = self.ok(
            "POST",
            &format!("/restapis/{id}/resources/{parent}"),
            Some(json!({ "pathPart": part })),
            201,
        );
        let get = format!(
            "/restapis/{id}/resources/{}/methods/GET",
            r["id"].as_str().unwrap()
        );
        self.ok("PUT", &get, Some(method), 201);
        let mock = integration["type"] == "MOCK";
        self.ok("PUT", &format!("{get}/integration"), Some(integration), 201);
        if mock {
            self.0.put_default_200(TOKEN, &get);
        }
    }

    /// Customises `kind` with status `status`, header `x-gr: kind` and a
    /// JSON body naming the type and the message.
    fn customise(&mut self, id: &str, kind: &str, status: u16) {
        self.ok(
            "PUT",
            &format!("/restapis/{id}/gatewayresponses/{kind}"),
            Some(json!({
                "statusCode": status.to_string(),
                "responseParameters": { "gatewayresponse.header.x-gr": format!("'{kind}'") },
                "responseTemplates": {
                    "application/json": "{\"type\":\"$context.error.responseType\",\"said\":$context.error.messageString}"
                }
            })),
            201,
        );
    }

    fn deploy(&mut self, id: &str) {
        self.ok(
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(json!({ "stageName": "prod" })),
            201,
        );
    }

    /// `method path` of stage prod with `extra` headers and `body`, once
    /// answered with `status`.
    fn served(
        &self,
        id: &str,
        (method, path): (&str, &str),
        extra: &[(&str, &str)],
        body: &[u8],
        status: u16,
    ) -> Response {
        let url = format!("/restapis/{id}/prod/_user_request_{path}");
        let req = request(method, &url, "localhost", extra, body);
        poll_until(
            POLL_FOR,
            || self.0.connect().request(&req),
            |r| r.status == status,
            |r| format!("{method} {url}: want {status}, got {r:?}"),
        )
    }
}

fn mock() -> Value {
    json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } })
}

fn method(auth: &str, extra: Value) -> Value {
    let mut m = json!({ "authorizationType": auth });
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

/// The Lambda Invoke API of the authorizer `gate`, deciding by the token:
/// `allow`, `deny` (a policy denying), `unauthorized` (the function's
/// `Unauthorized` error), `fail` (another function error), `unreachable`
/// (the connection closes unanswered).
fn authorizer_lambda() -> Upstream {
    Upstream::start(|req| {
        let event: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let token = event["authorizationToken"].as_str().unwrap_or("");
        let arn = event["methodArn"].as_str().unwrap_or("");
        let policy = |effect: &str| {
            json!({
                "principalId": "u",
                "policyDocument": { "Version": "2012-10-17", "Statement": [
                    { "Action": "execute-api:Invoke", "Effect": effect, "Resource": arn }
                ]}
            })
            .to_string()
        };
        let error = |message: &str| {
            http_response(
                200,
                &[
                    ("content-type", "application/json"),
                    ("x-amz-function-error", "Unhandled"),
                ],
                json!({ "errorMessage": message }).to_string().as_bytes(),
            )
        };
        match token {
            "allow" | "deny" => Reply::Send(http_response(
                200,
                &[("content-type", "application/json")],
                policy(if token == "allow" { "Allow" } else { "Deny" }).as_bytes(),
            )),
            "unauthorized" => Reply::Send(error("Unauthorized")),
            "unreachable" => Reply::Close,
            _ => Reply::Send(error("boom")),
        }
    })
}

/// An API on the management API with one route per way to fail, every
/// type customised but those in `plain`; the server, the API's id.
fn api_failing_every_way(lambda: &Upstream, stall: &Upstream, plain: &[&str]) -> (Mgmt, String) {
    let cfg = Config::new(&format!(
        "[aws]\naccount_id = \"123456789012\"\nregion = \"us-east-1\"\nlambda_endpoint = \"http://{}\"\n",
        lambda.addr()
    ))
    .admin("token", &toml_str(TOKEN))
    .limits("max_body_bytes", "64");
    let mut m = Mgmt(Server::start_with_env(&cfg, &[(TEST_CLOCK, QUIET_NOON)]));
    let api = m.ok("POST", "/restapis", Some(json!({ "name": "served" })), 201);
    let id = api["id"].as_str().unwrap().to_string();
    let root = api["rootResourceId"].as_str().unwrap().to_string();
    let authorizer = m.ok(
        "POST",
        &format!("/restapis/{id}/authorizers"),
        Some(json!({
            "name": "gate", "type": "TOKEN", "authorizerUri": AUTH_URI,
            "identitySource": "method.request.header.Auth",
            "authorizerResultTtlInSeconds": 0
        })),
        201,
    );
    let authorizer = authorizer["id"].as_str().unwrap();
    m.route(&id, &root, "open", method("NONE", json!({})), mock());
    m.route(&id, &root, "slow", method("NONE", json!({})), mock());
    m.route(
        &id,
        &root,
        "keyed",
        method("NONE", json!({ "apiKeyRequired": true })),
        mock(),
    );
    m.route(
        &id,
        &root,
        "guarded",
        method("CUSTOM", json!({ "authorizerId": authorizer })),
        mock(),
    );
    let proxy = |uri: String, timeout: u64| json!({ "type": "HTTP_PROXY", "httpMethod": "GET", "uri": uri, "timeoutInMillis": timeout });
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    m.route(
        &id,
        &root,
        "refused",
        method("NONE", json!({})),
        proxy(refused, 29000),
    );
    let stalled = format!("http://{}/", stall.addr());
    m.route(
        &id,
        &root,
        "stalled",
        method("NONE", json!({})),
        proxy(stalled, 50),
    );
    for (kind, status) in TYPES {
        if !plain.contains(kind) {
            m.customise(&id, kind, *status);
        }
    }
    m.deploy(&id);
    m.ok(
        "PATCH",
        &format!("/restapis/{id}/stages/prod"),
        Some(json!({ "patchOperations": [
            { "op": "replace", "path": "/~1slow/GET/throttling/rateLimit", "value": "1" },
            { "op": "replace", "path": "/~1slow/GET/throttling/burstLimit", "value": "1" }
        ]})),
        200,
    );
    // A key in a plan over prod with a quota of one call a day.
    let key = m.ok(
        "POST",
        "/apikeys",
        Some(json!({ "name": "k", "enabled": true, "value": KEY })),
        201,
    );
    let plan = m.ok(
        "POST",
        "/usageplans",
        Some(json!({
            "name": "one-a-day",
            "apiStages": [{ "apiId": id, "stage": "prod" }],
            "quota": { "limit": 1, "period": "DAY" }
        })),
        201,
    );
    m.ok(
        "POST",
        &format!("/usageplans/{}/keys", plan["id"].as_str().unwrap()),
        Some(json!({ "keyId": key["id"], "keyType": "API_KEY" })),
        201,
    );
    (m, id)
}

/// Each type with the status it is customised with: one no other has, so
/// the status alone says which answer came.
const TYPES: &[(&str, u16)] = &[
    ("MISSING_AUTHENTICATION_TOKEN", 461),
    ("THROTTLED", 462),
    ("QUOTA_EXCEEDED", 463),
    ("INVALID_API_KEY", 464),
    ("UNAUTHORIZED", 465),
    ("ACCESS_DENIED", 466),
    ("REQUEST_TOO_LARGE", 467),
    ("AUTHORIZER_FAILURE", 561),
    ("AUTHORIZER_CONFIGURATION_ERROR", 562),
    ("INTEGRATION_FAILURE", 563),
    ("INTEGRATION_TIMEOUT", 564),
];

fn status_of(kind: &str) -> u16 {
    TYPES.iter().find(|(k, _)| *k == kind).unwrap().1
}

/// A call that provokes an answer: (method, path), headers, body.
type Provoked = (
    (&'static str, &'static str),
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
);

/// How a client provokes `kind`.
fn provoke(kind: &str) -> Provoked {
    let get = |p| ("GET", p);
    match kind {
        "MISSING_AUTHENTICATION_TOKEN" => (get("/nowhere"), vec![], vec![]),
        "THROTTLED" => (get("/slow"), vec![], vec![]),
        "QUOTA_EXCEEDED" => (get("/keyed"), vec![("x-api-key", KEY)], vec![]),
        "INVALID_API_KEY" => (get("/keyed"), vec![], vec![]),
        "UNAUTHORIZED" => (get("/guarded"), vec![("Auth", "unauthorized")], vec![]),
        "ACCESS_DENIED" => (get("/guarded"), vec![("Auth", "deny")], vec![]),
        "AUTHORIZER_FAILURE" => (get("/guarded"), vec![("Auth", "fail")], vec![]),
        "AUTHORIZER_CONFIGURATION_ERROR" => {
            (get("/guarded"), vec![("Auth", "unreachable")], vec![])
        }
        "REQUEST_TOO_LARGE" => (get("/open"), vec![], vec![b'x'; 100]),
        "INTEGRATION_FAILURE" => (get("/refused"), vec![], vec![]),
        "INTEGRATION_TIMEOUT" => (get("/stalled"), vec![], vec![]),
        _ => unreachable!("{kind}"),
    }
}

/// The message AWS's default answer for `kind` carries.
fn message(kind: &str) -> &'static str {
    match kind {
        "MISSING_AUTHENTICATION_TOKEN" => "Missing Authentication Token",
        "THROTTLED" => "Too Many Requests",
        "QUOTA_EXCEEDED" => "Limit Exceeded",
        "INVALID_API_KEY" => "Forbidden",
        "UNAUTHORIZED" => "Unauthorized",
        "ACCESS_DENIED" => "User is not authorized to access this resource with an explicit deny",
        "REQUEST_TOO_LARGE" => "Request entity too large",
        "INTEGRATION_TIMEOUT" => "Endpoint request timed out",
        _ => "Internal server error",
    }
}

#[test]
fn every_type_the_data_plane_produces_is_served_as_customised() {
    let lambda = authorizer_lambda();
    let stall = Upstream::start(|_| Reply::Stall);
    let (m, id) = api_failing_every_way(&lambda, &stall, &[]);
    // The routes that should pass do, with no gateway response header.
    let open = m.served(&id, ("GET", "/open"), &[], b"", 200);
    assert!(open.header("x-gr").is_none(), "{open:?}");
    let allowed = m.served(&id, ("GET", "/guarded"), &[("Auth", "allow")], b"", 200);
    assert!(allowed.header("x-gr").is_none(), "{allowed:?}");
    for (kind, status) in TYPES {
        let (route, headers, body) = provoke(kind);
        let r = m.served(&id, route, &headers, &body, *status);
        assert_eq!(r.header("x-gr"), Some(*kind), "{kind}: {r:?}");
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{kind}: {r:?}"
        );
        assert_eq!(
            r.json(),
            json!({ "type": kind, "said": message(kind) }),
            "{kind}: {r:?}"
        );
    }
}

/// Types not customised take DEFAULT_4XX's or DEFAULT_5XX's header and
/// body, keeping their own status.
#[test]
fn default_4xx_and_5xx_stand_in_for_types_not_customised() {
    let lambda = authorizer_lambda();
    let stall = Upstream::start(|_| Reply::Stall);
    let plain = [
        "INVALID_API_KEY",
        "THROTTLED",
        "INTEGRATION_FAILURE",
        "AUTHORIZER_FAILURE",
    ];
    let (mut m, id) = api_failing_every_way(&lambda, &stall, &plain);
    for kind in ["DEFAULT_4XX", "DEFAULT_5XX"] {
        m.ok(
            "PUT",
            &format!("/restapis/{id}/gatewayresponses/{kind}"),
            Some(json!({
                "responseParameters": { "gatewayresponse.header.x-gr": format!("'{kind}'") },
                "responseTemplates": {
                    "application/json": "{\"fallback\":true,\"type\":\"$context.error.responseType\"}"
                }
            })),
            201,
        );
    }
    m.deploy(&id);
    for (kind, status, fallback) in [
        ("INVALID_API_KEY", 403, "DEFAULT_4XX"),
        ("THROTTLED", 429, "DEFAULT_4XX"),
        ("INTEGRATION_FAILURE", 502, "DEFAULT_5XX"),
        ("AUTHORIZER_FAILURE", 500, "DEFAULT_5XX"),
    ] {
        let (route, headers, body) = provoke(kind);
        let r = m.served(&id, route, &headers, &body, status);
        assert_eq!(r.header("x-gr"), Some(fallback), "{kind}: {r:?}");
        assert_eq!(
            r.json(),
            json!({ "fallback": true, "type": kind }),
            "{kind}: {r:?}"
        );
    }
    // A type customised itself is not the fallback's.
    let (route, headers, body) = provoke("UNAUTHORIZED");
    let r = m.served(&id, route, &headers, &body, status_of("UNAUTHORIZED"));
    assert_eq!(r.header("x-gr"), Some("UNAUTHORIZED"), "{r:?}");
}

/// A config-file API's `gateway_responses` customise other types than an
/// unknown path's, and DEFAULT_4XX stands in for those it leaves out.
#[test]
fn config_file_gateway_responses_customise_every_type() {
    let template = "{\\\"type\\\":\\\"$context.error.responseType\\\"}";
    let responses = format!(
        "hosts = []\n\
         gateway_responses.INVALID_API_KEY = {{ status = 464, headers = {{ x-gr = \"'INVALID_API_KEY'\" }}, templates = {{ \"application/json\" = \"{template}\" }} }}\n\
         gateway_responses.DEFAULT_4XX = {{ headers = {{ x-gr = \"'DEFAULT_4XX'\" }}, templates = {{ \"application/json\" = \"{template}\" }} }}\n"
    );
    let api = api_toml(
        "f",
        &[],
        &["prod"],
        &[
            mock_route("GET", "/k", true, "k"),
            mock_route("GET", "/o", false, "o"),
        ],
    )
    .replacen("hosts = []\n", &responses, 1);
    let srv = Server::start(&Config::new(&api).limits("max_body_bytes", "64"));
    let r = srv.connect().get("/prod/k");
    assert_eq!(r.status, 464, "{r:?}");
    assert_eq!(r.header("x-gr"), Some("INVALID_API_KEY"));
    assert_eq!(r.json(), json!({ "type": "INVALID_API_KEY" }));
    let big = request("GET", "/prod/o", "localhost", &[], &[b'x'; 100]);
    let r = srv.connect().request(&big);
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.header("x-gr"), Some("DEFAULT_4XX"));
    assert_eq!(r.json(), json!({ "type": "REQUEST_TOO_LARGE" }));
}

/// A VPC_LINK integration whose connectionId is `${stageVariables.vpcLinkId}`:
/// each stage names its own link (and its uri its own backend) and reaches
/// it; a stage naming a link that does not exist answers AWS's 500
/// `Internal server error` and calls no backend.
#[test]
fn a_vpc_link_named_by_a_stage_variable_is_resolved_per_stage() {
    let backends: Vec<Upstream> = ["one", "two", "never"]
        .into_iter()
        .map(|name| {
            Upstream::start(move |_| {
                Reply::Send(http_response(
                    200,
                    &[("content-type", "text/plain")],
                    name.as_bytes(),
                ))
            })
        })
        .collect();
    let cfg = Config::new("[aws]\nregion = \"us-east-1\"\n").admin("token", &toml_str(TOKEN));
    let mut m = Mgmt(Server::start(&cfg));
    let mut link = |name: &str| {
        let nlb = format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/{name}/1"
        );
        let l = m.ok(
            "POST",
            "/vpclinks",
            Some(json!({ "name": name, "targetArns": [nlb] })),
            202,
        );
        l["id"].as_str().unwrap().to_string()
    };
    let (a, b) = (link("a"), link("b"));
    let api = m.ok("POST", "/restapis", Some(json!({ "name": "linked" })), 201);
    let id = api["id"].as_str().unwrap().to_string();
    let root = api["rootResourceId"].as_str().unwrap().to_string();
    m.route(
        &id,
        &root,
        "via",
        method("NONE", json!({})),
        json!({
            "type": "HTTP_PROXY", "httpMethod": "GET",
            "uri": "http://${stageVariables.backend}/",
            "connectionType": "VPC_LINK", "connectionId": "${stageVariables.vpcLinkId}"
        }),
    );
    for (stage, link, backend) in [
        ("one", a.as_str(), &backends[0]),
        ("two", b.as_str(), &backends[1]),
        ("bad", "nosuchlink", &backends[2]),
    ] {
        m.ok(
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(json!({
                "stageName": stage,
                "variables": { "vpcLinkId": link, "backend": backend.addr() }
            })),
            201,
        );
    }
    for (stage, status, body) in [
        ("one", 200, "one"),
        ("two", 200, "two"),
        ("bad", 500, r#"{"message": "Internal server error"}"#),
    ] {
        let url = format!("/restapis/{id}/{stage}/_user_request_/via");
        let r = poll_until(
            POLL_FOR,
            || m.0.connect().get(&url),
            |r| r.status == status,
            |r| format!("{url}: want {status}, got {r:?}"),
        );
        assert_eq!(r.body_str(), body, "{stage}");
    }
    backends[2].assert_nothing();
}
