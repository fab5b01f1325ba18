//! TestInvokeAuthorizer against the real binary: the API's authorizer as
//! it is now runs on the data plane (TOKEN and REQUEST Lambda authorizers
//! from tests/lambda/invoke_server.py, a Cognito pool's keys from a fake
//! JWKS endpoint), and the answer is AWS's TestInvokeAuthorizerResponse.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";
const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:authorizer-token/invocations";
const REQUEST_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:authorizer-request/invocations";

/// The test functions, a server calling them, and a new API with
/// `authorizer` (CreateAuthorizer's body): the API's id and the authorizer's.
fn with_function(authorizer: Value) -> (Functions, Server, String, String) {
    let fns = Functions::start();
    let mut srv = Server::start(&Config::new("").admin("token", &toml_str(TOKEN)).append(
        &format!(
            "[aws]\naccount_id = \"123456789012\"\nregion = \"us-east-1\"\nlambda_endpoint = \"{}\"\n",
            fns.endpoint()
        ),
    ));
    let (api, id) = api_with(&mut srv, authorizer);
    (fns, srv, api, id)
}

/// A new API with `authorizer` (CreateAuthorizer's body): the API's id
/// and the authorizer's.
fn api_with(srv: &mut Server, authorizer: Value) -> (String, String) {
    let a = srv.admin_call(
        TOKEN,
        "POST",
        "/restapis",
        Some(&json!({ "name": "g" })),
        201,
    );
    let api = a["id"].as_str().unwrap().to_string();
    let z = srv.admin_call(
        TOKEN,
        "POST",
        &format!("/restapis/{api}/authorizers"),
        Some(&authorizer),
        201,
    );
    (api, z["id"].as_str().unwrap().to_string())
}

fn test(srv: &mut Server, api: &str, authorizer: &str, body: Value) -> Value {
    srv.admin_call(
        TOKEN,
        "POST",
        &format!("/restapis/{api}/authorizers/{authorizer}"),
        Some(&body),
        200,
    )
}

/// Only the members of TestInvokeAuthorizerResponse, `latency` a number
/// and `log` a string.
fn assert_shape(r: &Value) {
    let allowed = [
        "clientStatus",
        "log",
        "latency",
        "principalId",
        "policy",
        "authorization",
        "claims",
    ];
    for k in r.as_object().unwrap().keys() {
        assert!(allowed.contains(&k.as_str()), "{k} in {r}");
    }
    assert!(r["latency"].is_i64(), "{r}");
    assert!(r["log"].is_string(), "{r}");
}

#[test]
fn a_token_authorizer_allows_denies_and_refuses() {
    let (fns, mut srv, api, id) = with_function(json!({
        "name": "tok", "type": "TOKEN", "authorizerUri": URI,
        "identitySource": "method.request.header.Auth",
    }));
    let r = test(
        &mut srv,
        &api,
        &id,
        json!({ "headers": { "Auth": "allow" }, "pathWithQueryString": "/pets?x=1" }),
    );
    assert_shape(&r);
    assert_eq!(r["clientStatus"], 200, "{r}");
    assert_eq!(r["principalId"], "alice");
    // The policy as the function returned it, as a JSON string.
    let policy: Value = serde_json::from_str(r["policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        policy["Statement"][0]["Resource"],
        format!("arn:aws:execute-api:us-east-1:123456789012:{api}/test-invoke-stage/GET/pets")
    );
    assert!(r["log"].as_str().unwrap().contains("alice"), "{r}");
    let event = fns.last_event("authorizer-token");
    assert_eq!(event["authorizationToken"], "allow");
    // Every test runs the function (the authorizer's TTL of 300 s aside).
    let before = fns.count("authorizer-token");
    test(
        &mut srv,
        &api,
        &id,
        json!({ "headers": { "Auth": "allow" } }),
    );
    assert_eq!(fns.count("authorizer-token"), before + 1);

    // A Deny policy: 403, no policy; the function's Unauthorized: 401; no token: 401.
    for (headers, status) in [
        (json!({ "Auth": "deny" }), 403),
        (json!({ "Auth": "unauthorized" }), 401),
        (json!({}), 401),
    ] {
        let r = test(&mut srv, &api, &id, json!({ "headers": headers }));
        assert_shape(&r);
        assert_eq!(r["clientStatus"], status, "{headers}: {r}");
        assert!(
            r.get("policy").is_none() && r.get("principalId").is_none(),
            "{r}"
        );
    }
    // multiValueHeaders carry the token too.
    let r = test(
        &mut srv,
        &api,
        &id,
        json!({ "multiValueHeaders": { "Auth": ["allow"] } }),
    );
    assert_eq!(r["clientStatus"], 200, "{r}");

    // Unknown authorizer, unknown API.
    for path in [
        format!("/restapis/{api}/authorizers/nope00"),
        "/restapis/nope00/authorizers/x".to_string(),
    ] {
        let auth = format!("Bearer {TOKEN}");
        let r = srv.admin_json("POST", &path, &[("Authorization", &auth)], Some(&json!({})));
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.json["__type"], "NotFoundException");
    }
    // The hidden definition is gone: the API has no stage, no deployment.
    let stages = srv.admin_call(TOKEN, "GET", &format!("/restapis/{api}/stages"), None, 200);
    assert_eq!(stages["item"], json!([]), "{stages}");
    srv.stop();
}

#[test]
fn a_request_authorizer_reads_headers_and_the_query_string() {
    let (fns, mut srv, api, id) = with_function(json!({
        "name": "req", "type": "REQUEST", "authorizerUri": REQUEST_URI,
        "identitySource": "method.request.header.X-User, method.request.querystring.q",
    }));
    let r = test(
        &mut srv,
        &api,
        &id,
        json!({
            "headers": { "X-User": "bob" },
            "pathWithQueryString": "/items?q=1",
            "stageVariables": { "tenant": "t1" },
        }),
    );
    assert_eq!(r["clientStatus"], 200, "{r}");
    assert_eq!(r["principalId"], "bob");
    let event = fns.last_event("authorizer-request");
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(event["queryStringParameters"], json!({ "q": "1" }));
    assert_eq!(event["stageVariables"], json!({ "tenant": "t1" }));
    // Without the query string: 401 (every source is needed); mallory: 403.
    let r = test(
        &mut srv,
        &api,
        &id,
        json!({ "headers": { "X-User": "bob" } }),
    );
    assert_eq!(r["clientStatus"], 401, "{r}");
    let r = test(
        &mut srv,
        &api,
        &id,
        json!({ "headers": { "X-User": "mallory" }, "pathWithQueryString": "/?q=1" }),
    );
    assert_eq!(r["clientStatus"], 403, "{r}");
    srv.stop();
}
