//! Authorizers of the management API (CreateAuthorizer … DeleteAuthorizer,
//! FlushStageAuthorizersCache), methods naming them, and deployed methods
//! guarded by a TOKEN or REQUEST Lambda authorizer served by the data
//! plane (functions from tests/lambda/invoke_server.py), against the real
//! binary.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";
const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:authorizer-token/invocations";
const REQUEST_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:authorizer-request/invocations";

fn ok(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// A call that must fail with `status` and error type `kind`.
fn err(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16, kind: &str) {
    let auth = format!("Bearer {TOKEN}");
    let r = srv.admin_json(method, path, &[("Authorization", &auth)], body.as_ref());
    assert_eq!(r.status, status, "{method} {path}: {}", r.text);
    assert_eq!(r.json["__type"], kind, "{method} {path}: {}", r.text);
}

fn config(fns: Option<&Functions>) -> Config {
    let cfg = Config::new("").admin("token", &toml_str(TOKEN));
    match fns {
        None => cfg,
        Some(f) => cfg.append(&format!(
            "[aws]\naccount_id = \"123456789012\"\nregion = \"us-east-1\"\nlambda_endpoint = \"{}\"\n",
            f.endpoint()
        )),
    }
}

fn new_api(srv: &mut Server) -> (String, String) {
    let a = ok(srv, "POST", "/restapis", Some(json!({ "name": "g" })), 201);
    (
        a["id"].as_str().unwrap().to_string(),
        a["rootResourceId"].as_str().unwrap().to_string(),
    )
}

#[test]
fn authorizers_crud_and_errors() {
    let mut srv = Server::start(&config(None));
    let (api, root) = new_api(&mut srv);
    let base = format!("/restapis/{api}/authorizers");
    let a = ok(
        &mut srv,
        "POST",
        &base,
        Some(json!({
            "name": "tok", "type": "TOKEN", "authorizerUri": URI,
            "identitySource": "method.request.header.Auth",
            "identityValidationExpression": "^[a-z-]+$",
        })),
        201,
    );
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        a,
        json!({
            "id": id, "name": "tok", "type": "TOKEN", "authorizerUri": URI,
            "identitySource": "method.request.header.Auth",
            "identityValidationExpression": "^[a-z-]+$",
            "authorizerResultTtlInSeconds": 300,
        })
    );
    assert_eq!(ok(&mut srv, "GET", &format!("{base}/{id}"), None, 200), a);
    let c = ok(
        &mut srv,
        "POST",
        &base,
        Some(json!({
            "name": "pool", "type": "COGNITO_USER_POOLS",
            "providerARNs": ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"],
            "identitySource": "method.request.header.Authorization",
        })),
        201,
    );
    assert_eq!(
        c["providerARNs"],
        json!(["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"])
    );
    let list = ok(&mut srv, "GET", &format!("{base}?limit=1"), None, 200);
    assert_eq!(list["item"].as_array().unwrap().len(), 1);
    assert_eq!(list["position"], "1");

    let patch = |p: &str, v: &str| json!({ "patchOperations": [{ "op": "replace", "path": p, "value": v }] });
    let u = ok(
        &mut srv,
        "PATCH",
        &format!("{base}/{id}"),
        Some(patch("/authorizerResultTtlInSeconds", "0")),
        200,
    );
    assert_eq!(u["authorizerResultTtlInSeconds"], 0);
    err(
        &mut srv,
        "PATCH",
        &format!("{base}/{id}"),
        Some(patch("/authorizerResultTtlInSeconds", "4000")),
        400,
        "BadRequestException",
    );
    err(
        &mut srv,
        "PATCH",
        &format!("{base}/{id}"),
        Some(patch("/nope", "x")),
        400,
        "BadRequestException",
    );

    // AWS's rules: TOKEN/REQUEST need a Lambda URI, Cognito its pools.
    for body in [
        json!({ "name": "x", "type": "TOKEN", "identitySource": "method.request.header.A" }),
        json!({ "name": "x", "type": "TOKEN", "authorizerUri": "http://nope", "identitySource": "method.request.header.A" }),
        json!({ "name": "x", "type": "TOKEN", "authorizerUri": URI }),
        json!({ "name": "x", "type": "COGNITO_USER_POOLS", "identitySource": "method.request.header.A" }),
        json!({ "name": "x", "type": "OTHER", "authorizerUri": URI }),
        json!({ "type": "TOKEN", "authorizerUri": URI, "identitySource": "method.request.header.A" }),
        json!({ "name": "x", "type": "REQUEST", "authorizerUri": URI, "authorizerResultTtlInSeconds": 60 }),
    ] {
        err(
            &mut srv,
            "POST",
            &base,
            Some(body),
            400,
            "BadRequestException",
        );
    }
    err(
        &mut srv,
        "GET",
        &format!("{base}/missing"),
        None,
        404,
        "NotFoundException",
    );

    // Methods name an existing authorizer of the right kind.
    let method = format!("/restapis/{api}/resources/{root}/methods/GET");
    for body in [
        json!({ "authorizationType": "CUSTOM" }),
        json!({ "authorizationType": "CUSTOM", "authorizerId": "nope00" }),
        json!({ "authorizationType": "COGNITO_USER_POOLS", "authorizerId": id }),
    ] {
        err(
            &mut srv,
            "PUT",
            &method,
            Some(body),
            400,
            "BadRequestException",
        );
    }
    ok(
        &mut srv,
        "PUT",
        &method,
        Some(json!({ "authorizationType": "CUSTOM", "authorizerId": id })),
        201,
    );
    err(
        &mut srv,
        "PATCH",
        &method,
        Some(patch("/authorizerId", "nope00")),
        400,
        "BadRequestException",
    );

    // One a method uses cannot go.
    err(
        &mut srv,
        "DELETE",
        &format!("{base}/{id}"),
        None,
        409,
        "ConflictException",
    );
    ok(
        &mut srv,
        "PATCH",
        &method,
        Some(patch("/authorizationType", "NONE")),
        200,
    );
    ok(
        &mut srv,
        "PATCH",
        &method,
        Some(json!({ "patchOperations": [{ "op": "replace", "path": "/authorizerId" }] })),
        200,
    );
    let r = srv.admin_json(
        "DELETE",
        &format!("{base}/{id}"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    err(
        &mut srv,
        "GET",
        &format!("{base}/{id}"),
        None,
        404,
        "NotFoundException",
    );
    err(
        &mut srv,
        "DELETE",
        &format!("/restapis/{api}/stages/none/cache/authorizers"),
        None,
        404,
        "NotFoundException",
    );
    srv.stop();
}

/// A new API with `authorizer` (CreateAuthorizer's body), deployed to
/// prod with `GET /` guarded by it (a mock answering "in"); the API's id
/// and its invoke path.
/// Started with the Invoke API `fns`.
fn deploy_guarded(fns: &Functions, authorizer: Value) -> (Server, String, String) {
    let mut server = Server::start(&config(Some(fns)));
    let srv = &mut server;
    let (api, root) = new_api(srv);
    let a = ok(
        srv,
        "POST",
        &format!("/restapis/{api}/authorizers"),
        Some(authorizer),
        201,
    );
    let authorizer = a["id"].as_str().unwrap();
    let get = format!("/restapis/{api}/resources/{root}/methods/GET");
    ok(
        srv,
        "PUT",
        &get,
        Some(json!({ "authorizationType": "CUSTOM", "authorizerId": authorizer })),
        201,
    );
    mock_answering_in(srv, &get);
    let invoke = deploy_prod(srv, &api);
    (server, api, invoke)
}

/// Deploys `api` to prod; its invoke path.
fn deploy_prod(srv: &mut Server, api: &str) -> String {
    ok(
        srv,
        "POST",
        &format!("/restapis/{api}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    format!("/restapis/{api}/prod/_user_request_/")
}

/// A MOCK integration answering "in" for the method at `method` (its path).
fn mock_answering_in(srv: &mut Server, method: &str) {
    ok(
        srv,
        "PUT",
        &format!("{method}/integration"),
        Some(
            json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } }),
        ),
        201,
    );
    ok(
        srv,
        "PUT",
        &format!("{method}/responses/200"),
        Some(json!({})),
        201,
    );
    ok(
        srv,
        "PUT",
        &format!("{method}/integration/responses/200"),
        Some(json!({ "responseTemplates": { "application/json": "in" } })),
        201,
    );
}

/// The first 200 of a freshly deployed `path`.
fn first_ok(srv: &Server, path: &str, headers: &[(&str, &str)]) -> Response {
    poll_until(
        POLL_FOR,
        || get(srv, path, headers),
        |r| r.status == 200,
        |r| format!("{r:?}"),
    )
}

fn get(srv: &Server, path: &str, headers: &[(&str, &str)]) -> Response {
    srv.connect()
        .request(request("GET", path, "localhost", headers, b""))
}

#[test]
fn a_deployed_token_authorizer_guards_its_method_and_its_cache_flushes() {
    let fns = Functions::start();
    let (mut srv, api, invoke) = deploy_guarded(
        &fns,
        json!({
            "name": "tok", "type": "TOKEN", "authorizerUri": URI,
            "identitySource": "method.request.header.Auth",
            "identityValidationExpression": "^[a-z-]+$",
        }),
    );
    let r = first_ok(&srv, &invoke, &[("Auth", "allow")]);
    assert_eq!(r.body_str(), "in");
    let event = fns.last_event("authorizer-token");
    assert_eq!(event["type"], "TOKEN");
    assert_eq!(event["authorizationToken"], "allow");
    assert_eq!(
        event["methodArn"],
        format!("arn:aws:execute-api:us-east-1:123456789012:{api}/prod/GET/")
    );
    assert_eq!(get(&srv, &invoke, &[("Auth", "deny")]).status, 403);
    assert_eq!(get(&srv, &invoke, &[("Auth", "unauthorized")]).status, 401);
    let before = fns.count("authorizer-token");
    // No header, or one the validation expression refuses: 401 unasked.
    assert_eq!(get(&srv, &invoke, &[]).status, 401);
    assert_eq!(get(&srv, &invoke, &[("Auth", "UPPER")]).status, 401);
    assert_eq!(fns.count("authorizer-token"), before);
    // Kept for the TTL (one worker in tests, so every call meets the cache) ...
    assert_eq!(get(&srv, &invoke, &[("Auth", "allow")]).status, 200);
    assert_eq!(fns.count("authorizer-token"), before);
    // ... until FlushStageAuthorizersCache.
    let r = srv.admin_json(
        "DELETE",
        &format!("/restapis/{api}/stages/prod/cache/authorizers"),
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(get(&srv, &invoke, &[("Auth", "allow")]).status, 200);
    assert_eq!(fns.count("authorizer-token"), before + 1);
    srv.stop();
}

#[test]
fn a_deployed_request_authorizer_reads_its_identity_sources() {
    let fns = Functions::start();
    let (mut srv, _, invoke) = deploy_guarded(
        &fns,
        json!({
            "name": "req", "type": "REQUEST", "authorizerUri": REQUEST_URI,
            "identitySource": "method.request.header.X-User, method.request.querystring.q",
            "authorizerResultTtlInSeconds": 0,
        }),
    );
    let with_q = format!("{invoke}?q=1");
    let r = first_ok(&srv, &with_q, &[("X-User", "bob")]);
    assert_eq!(r.body_str(), "in");
    let event = fns.last_event("authorizer-request");
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(event["queryStringParameters"], json!({ "q": "1" }));
    assert_eq!(get(&srv, &with_q, &[("X-User", "mallory")]).status, 403);
    // Every source is needed.
    assert_eq!(get(&srv, &invoke, &[("X-User", "bob")]).status, 401);
    // TTL 0: every call asks.
    let before = fns.count("authorizer-request");
    assert_eq!(get(&srv, &with_q, &[("X-User", "bob")]).status, 200);
    assert_eq!(fns.count("authorizer-request"), before + 1);
    srv.stop();
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
const POOL_ARN: &str = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_pool";
const POOL_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool";

/// A token signed by the test key `rsa-a.pem` (kid `key-a`) with `claims`.
fn pool_token(claims: Value) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("key-a".into());
    let pem = std::fs::read(format!("{FIXTURES}/rsa-a.pem")).unwrap();
    jsonwebtoken::encode(
        &h,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The pool's keys, where `[aws] cognito_endpoint` points, at
/// /{poolId}/.well-known/jwks.json (the paths asked go to `paths`), and a
/// server using them.
fn pool_server(paths: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> (Upstream, Server) {
    let jwks = Upstream::start(move |req| {
        paths.lock().unwrap().push(req.target.clone());
        let body = std::fs::read(format!("{FIXTURES}/jwks-a.json")).unwrap();
        Reply::Send(http_response(
            200,
            &[("content-type", "application/json")],
            &body,
        ))
    });
    let cfg = config(None).append(&format!(
        "[aws]\naccount_id = \"123456789012\"\nregion = \"us-east-1\"\ncognito_endpoint = \"http://{}\"\n",
        jwks.addr()
    ));
    let server = Server::start(&cfg);
    (jwks, server)
}

/// A COGNITO_USER_POOLS authorizer of `api` for the test pool; its id.
fn pool_authorizer(srv: &mut Server, api: &str) -> String {
    let a = ok(
        srv,
        "POST",
        &format!("/restapis/{api}/authorizers"),
        Some(json!({
            "name": "pool", "type": "COGNITO_USER_POOLS", "providerARNs": [POOL_ARN],
            "identitySource": "method.request.header.Authorization",
        })),
        201,
    );
    a["id"].as_str().unwrap().to_string()
}

#[test]
fn a_deployed_cognito_authorizer_verifies_pool_tokens_and_scopes() {
    let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (_jwks, mut server) = pool_server(paths.clone());
    let srv = &mut server;
    let (api, root) = new_api(srv);
    let authorizer = &pool_authorizer(srv, &api);
    // GET / needs any pool token; /scoped an access token with pets/read.
    let scoped = ok(
        srv,
        "POST",
        &format!("/restapis/{api}/resources/{root}"),
        Some(json!({ "pathPart": "scoped" })),
        201,
    );
    let scoped = scoped["id"].as_str().unwrap();
    for (resource, scopes) in [(root.as_str(), None), (scoped, Some(json!(["pets/read"])))] {
        let get = format!("/restapis/{api}/resources/{resource}/methods/GET");
        let mut body =
            json!({ "authorizationType": "COGNITO_USER_POOLS", "authorizerId": authorizer });
        if let Some(s) = scopes {
            body["authorizationScopes"] = s;
        }
        let m = ok(srv, "PUT", &get, Some(body), 201);
        if resource == scoped {
            assert_eq!(m["authorizationScopes"], json!(["pets/read"]));
        }
        mock_answering_in(srv, &get);
    }
    // UpdateMethod adds and removes scopes; GetMethod shows them.
    let scoped_get = format!("/restapis/{api}/resources/{scoped}/methods/GET");
    let scope_op = |op: &str, v: &str| json!({ "patchOperations": [{ "op": op, "path": "/authorizationScopes", "value": v }] });
    let m = ok(
        srv,
        "PATCH",
        &scoped_get,
        Some(scope_op("add", "pets/write")),
        200,
    );
    assert_eq!(m["authorizationScopes"], json!(["pets/read", "pets/write"]));
    ok(
        srv,
        "PATCH",
        &scoped_get,
        Some(scope_op("remove", "pets/write")),
        200,
    );
    let m = ok(srv, "GET", &scoped_get, None, 200);
    assert_eq!(m["authorizationScopes"], json!(["pets/read"]));
    let invoke = deploy_prod(srv, &api);
    let scoped_invoke = format!("{invoke}scoped");

    let exp = unix_now() + 600;
    let id_token = pool_token(json!({
        "iss": POOL_ISSUER, "aud": "any-app-client", "token_use": "id",
        "sub": "user-7", "exp": exp,
    }));
    let access = |scope: &str| {
        pool_token(json!({
            "iss": POOL_ISSUER, "client_id": "another-client", "token_use": "access",
            "sub": "user-7", "exp": exp, "scope": scope,
        }))
    };
    // An ID token, raw as AWS takes it (or with Bearer).
    let r = first_ok(srv, &invoke, &[("Authorization", &id_token)]);
    assert_eq!(r.body_str(), "in");
    assert_eq!(
        paths.lock().unwrap().first().map(String::as_str),
        Some("/us-east-1_pool/.well-known/jwks.json")
    );
    let bearer = format!("Bearer {id_token}");
    assert_eq!(get(srv, &invoke, &[("Authorization", &bearer)]).status, 200);
    assert_eq!(
        get(srv, &invoke, &[("Authorization", &access("openid"))]).status,
        200
    );
    // Scoped: an access token holding the scope; not an ID token.
    assert_eq!(
        get(
            srv,
            &scoped_invoke,
            &[("Authorization", &access("pets/read"))]
        )
        .status,
        200
    );
    assert_eq!(
        get(srv, &scoped_invoke, &[("Authorization", &access("openid"))]).status,
        403
    );
    assert_eq!(
        get(srv, &scoped_invoke, &[("Authorization", &id_token)]).status,
        403
    );
    // Refused: none, another issuer, expired, no token_use.
    assert_eq!(get(srv, &invoke, &[]).status, 401);
    for claims in [
        json!({ "iss": "https://cognito-idp.us-east-1.amazonaws.com/other", "aud": "c", "token_use": "id", "exp": exp }),
        json!({ "iss": POOL_ISSUER, "aud": "c", "token_use": "id", "exp": unix_now() - 600 }),
        json!({ "iss": POOL_ISSUER, "aud": "c", "exp": exp }),
    ] {
        let t = pool_token(claims.clone());
        assert_eq!(
            get(srv, &invoke, &[("Authorization", &t)]).status,
            401,
            "{claims}"
        );
    }
    server.stop();
}

#[test]
fn openapi_imports_and_exports_authorizers_and_method_security() {
    let mut srv = Server::start(&config(None));
    let mock = json!({ "type": "mock", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } });
    let doc = json!({
        "openapi": "3.0.1",
        "info": { "title": "secured" },
        "components": { "securitySchemes": {
            "tok": {
                "type": "apiKey", "name": "Auth", "in": "header",
                "x-amazon-apigateway-authtype": "custom",
                "x-amazon-apigateway-authorizer": {
                    "type": "token", "authorizerUri": URI,
                    "authorizerResultTtlInSeconds": 60,
                    "identityValidationExpression": "^[a-z]+$",
                },
            },
            "pool": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "cognito_user_pools",
                "x-amazon-apigateway-authorizer": {
                    "type": "cognito_user_pools",
                    "providerARNs": [POOL_ARN],
                },
            },
        } },
        "paths": {
            "/a": { "get": { "security": [{ "tok": [] }], "x-amazon-apigateway-integration": mock } },
            "/b": { "get": { "security": [{ "pool": ["pets/read"] }], "x-amazon-apigateway-integration": mock } },
        },
    });
    let api = ok(&mut srv, "POST", "/restapis?mode=import", Some(doc), 201);
    let id = api["id"].as_str().unwrap().to_string();
    let list = ok(
        &mut srv,
        "GET",
        &format!("/restapis/{id}/authorizers"),
        None,
        200,
    );
    let items = list["item"].as_array().unwrap();
    let by_name = |n: &str| items.iter().find(|a| a["name"] == n).unwrap().clone();
    let tok = by_name("tok");
    assert_eq!(tok["type"], "TOKEN");
    assert_eq!(tok["identitySource"], "method.request.header.Auth");
    assert_eq!(tok["authorizerResultTtlInSeconds"], 60);
    assert_eq!(tok["authType"], "custom");
    let pool = by_name("pool");
    assert_eq!(pool["type"], "COGNITO_USER_POOLS");
    assert_eq!(pool["providerARNs"], json!([POOL_ARN]));
    let resources = ok(
        &mut srv,
        "GET",
        &format!("/restapis/{id}/resources"),
        None,
        200,
    );
    let rid = |p: &str| {
        resources["item"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == p)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut get_method = |p: &str| {
        let path = format!("/restapis/{id}/resources/{}/methods/GET", rid(p));
        ok(&mut srv, "GET", &path, None, 200)
    };
    let (a, b) = (get_method("/a"), get_method("/b"));
    assert_eq!(a["authorizationType"], "CUSTOM");
    assert_eq!(a["authorizerId"], tok["id"]);
    assert_eq!(b["authorizationType"], "COGNITO_USER_POOLS");
    assert_eq!(b["authorizerId"], pool["id"]);
    assert_eq!(b["authorizationScopes"], json!(["pets/read"]));

    ok(
        &mut srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    for (kind, schemes) in [
        ("oas30", "/components/securitySchemes"),
        ("swagger", "/securityDefinitions"),
    ] {
        let e = ok(
            &mut srv,
            "GET",
            &format!("/restapis/{id}/stages/prod/exports/{kind}?extensions=integrations"),
            None,
            200,
        );
        let s = e.pointer(schemes).unwrap();
        assert_eq!(s["tok"]["name"], "Auth", "{kind}: {e}");
        assert_eq!(s["tok"]["x-amazon-apigateway-authtype"], "custom");
        assert_eq!(s["tok"]["x-amazon-apigateway-authorizer"]["type"], "token");
        assert_eq!(
            s["tok"]["x-amazon-apigateway-authorizer"]["authorizerUri"],
            URI
        );
        assert_eq!(
            s["pool"]["x-amazon-apigateway-authorizer"]["providerARNs"],
            json!([POOL_ARN])
        );
        assert_eq!(e["paths"]["/a"]["get"]["security"], json!([{ "tok": [] }]));
        assert_eq!(
            e["paths"]["/b"]["get"]["security"],
            json!([{ "pool": ["pets/read"] }])
        );
        // Imported again, the export gives the same authorizers and security.
        let again = ok(
            &mut srv,
            "POST",
            "/restapis?mode=import",
            Some(e.clone()),
            201,
        );
        let list = ok(
            &mut srv,
            "GET",
            &format!("/restapis/{}/authorizers", again["id"].as_str().unwrap()),
            None,
            200,
        );
        let mut names: Vec<&str> = list["item"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["pool", "tok"], "{kind}");
    }
    srv.stop();
}

/// TestInvokeAuthorizer (tests/management_test_invoke_authorizer.rs has
/// the Lambda kinds) with a Cognito pool's token: its claims, as strings.
#[test]
fn test_invoke_authorizer_answers_a_cognito_pool_tokens_claims_or_401() {
    let (_jwks, mut srv) = pool_server(Default::default());
    let (api, _) = new_api(&mut srv);
    let id = pool_authorizer(&mut srv, &api);
    let exp = unix_now() + 600;
    let valid = pool_token(json!({
        "iss": POOL_ISSUER, "aud": "app", "token_use": "id",
        "sub": "user-7", "email": "u@example.com", "exp": exp,
    }));
    let r = ok(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/authorizers/{id}"),
        Some(json!({ "headers": { "Authorization": valid } })),
        200,
    );
    assert_eq!(r["clientStatus"], 200, "{r}");
    assert_eq!(r["claims"]["sub"], "user-7");
    assert_eq!(r["claims"]["email"], "u@example.com");
    // Claims are strings, as AWS's MapOfStringToString.
    assert_eq!(r["claims"]["exp"], exp.to_string());
    assert!(r.get("policy").is_none(), "{r}");

    let expired = pool_token(json!({
        "iss": POOL_ISSUER, "aud": "app", "token_use": "id",
        "sub": "user-7", "exp": unix_now() - 600,
    }));
    let r = ok(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/authorizers/{id}"),
        Some(json!({ "headers": { "Authorization": expired } })),
        200,
    );
    assert_eq!(r["clientStatus"], 401, "{r}");
    assert!(r.get("claims").is_none(), "{r}");
    srv.stop();
}
