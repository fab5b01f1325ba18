//! The management API's answers where AWS's wording or shape is the
//! contract: NotFoundException messages without the identifier (as AWS
//! writes them), PutRestApi/ImportRestApi's document errors, GetExport's
//! unknown type, UpdateAccount's UsagePlans refusal, an API key's
//! `customerId`, CreateDeployment with an empty `stageName`, and a stage's
//! cache status and description as AWS's GetStage example shows them.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "wording-token-0123456789";

fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

const BAD: (u16, &str) = (400, "BadRequestException");
const GONE: (u16, &str) = (404, "NotFoundException");

/// One refused call: method, path, body, (status, `__type`), message.
type Refusal<'a> = (&'a str, String, Option<Value>, (u16, &'a str), &'a str);

/// Each call must be refused with exactly that type and message.
fn refused(srv: &mut Server, cases: Vec<Refusal<'_>>) {
    for (method, path, body, (status, kind), message) in cases {
        let v = call(srv, method, &path, body, status);
        assert_eq!(
            (v["__type"].as_str(), v["message"].as_str()),
            (Some(kind), Some(message)),
            "{method} {path}"
        );
    }
}

fn start() -> Server {
    Server::start(&Config::new("").admin("token", &toml_str(TOKEN)))
}

/// An API with a mock GET / (deployed to stage `prod` when `stage`): its id
/// and root resource id.
fn api(srv: &mut Server, stage: bool) -> (String, String) {
    let a = call(srv, "POST", "/restapis", Some(json!({"name": "w"})), 201);
    let id = a["id"].as_str().unwrap().to_string();
    let root = a["rootResourceId"].as_str().unwrap().to_string();
    let m = format!("/restapis/{id}/resources/{root}/methods/GET");
    let mut steps = vec![
        ("PUT", m.clone(), json!({"authorizationType": "NONE"})),
        ("PUT", format!("{m}/integration"), json!({"type": "MOCK"})),
    ];
    if stage {
        let d = format!("/restapis/{id}/deployments");
        steps.push(("POST", d, json!({"stageName": "prod"})));
    }
    for (verb, path, body) in steps {
        call(srv, verb, &path, Some(body), 201);
    }
    (id, root)
}

#[test]
fn not_found_messages_name_no_identifier() {
    let mut srv = start();
    let (id, _) = api(&mut srv, true);
    let patch = json!({"patchOperations": [{"op": "replace", "path": "/name", "value": "x"}]});
    let key = "Invalid API Key identifier specified";
    let plan = "Invalid Usage Plan ID specified";
    let stage = "Invalid Stage identifier specified";
    let res = "Invalid Resource identifier specified";
    let dep = "Invalid Deployment identifier specified";
    let a = format!("/restapis/{id}");
    let stages = json!({"name": "p", "apiStages": [{"apiId": id, "stage": "nostage"}]});
    refused(
        &mut srv,
        vec![
            ("GET", "/apikeys/nokey".into(), None, GONE, key),
            ("PATCH", "/apikeys/nokey".into(), Some(patch), GONE, key),
            ("DELETE", "/apikeys/nokey".into(), None, GONE, key),
            ("GET", "/usageplans/noplan".into(), None, GONE, plan),
            ("GET", "/usageplans/noplan/keys".into(), None, GONE, plan),
            ("GET", format!("{a}/stages/nostage"), None, GONE, stage),
            ("DELETE", format!("{a}/stages/nostage"), None, GONE, stage),
            (
                "GET",
                format!("{a}/stages/nostage/exports/oas30"),
                None,
                GONE,
                stage,
            ),
            ("POST", "/usageplans".into(), Some(stages), GONE, stage),
            ("GET", format!("{a}/resources/nores"), None, GONE, res),
            (
                "GET",
                format!("{a}/resources/nores/methods/GET"),
                None,
                GONE,
                res,
            ),
            ("GET", format!("{a}/deployments/nodep"), None, GONE, dep),
            ("DELETE", format!("{a}/deployments/nodep"), None, GONE, dep),
        ],
    );
}

#[test]
fn api_key_customer_id_is_kept_and_patched() {
    let mut srv = start();
    let new = json!({"name": "k", "customerId": "cust-1"});
    let k = call(&mut srv, "POST", "/apikeys", Some(new), 201);
    assert_eq!(k["customerId"], "cust-1");
    let p = format!("/apikeys/{}", k["id"].as_str().unwrap());
    let ops = json!({"patchOperations": [
        {"op": "replace", "path": "/customerId", "value": "cust-2"}
    ]});
    assert_eq!(
        call(&mut srv, "PATCH", &p, Some(ops), 200)["customerId"],
        "cust-2"
    );
    assert_eq!(call(&mut srv, "GET", &p, None, 200)["customerId"], "cust-2");
    // Without one, the member is absent.
    let bare = Some(json!({"name": "a"}));
    let k = call(&mut srv, "POST", "/apikeys", bare, 201);
    assert!(k.get("customerId").is_none(), "{k}");
    // GetApiKeys lists by name, whatever the (random) ids.
    let all = call(&mut srv, "GET", "/apikeys", None, 200);
    assert_eq!(
        (&all["item"][0]["name"], &all["item"][1]["name"]),
        (&json!("a"), &json!("k"))
    );
}

#[test]
fn deployment_with_an_empty_stage_name_makes_no_stage() {
    let mut srv = start();
    let (id, _) = api(&mut srv, false);
    let a = format!("/restapis/{id}");
    let empty = json!({"stageName": ""});
    let d = call(
        &mut srv,
        "POST",
        &format!("{a}/deployments"),
        Some(empty),
        201,
    );
    let dep = format!("{a}/deployments/{}", d["id"].as_str().unwrap());
    call(&mut srv, "GET", &dep, None, 200);
    let stages = call(&mut srv, "GET", &format!("{a}/stages"), None, 200);
    assert_eq!(stages["item"], json!([]), "{stages}");
}

#[test]
fn stage_shows_cache_status_and_no_empty_description() {
    // AWS's GetStage example: cacheClusterEnabled false, cacheClusterStatus
    // NOT_AVAILABLE, and no description member when none was given.
    let mut srv = start();
    let (id, _) = api(&mut srv, true);
    let s = call(
        &mut srv,
        "GET",
        &format!("/restapis/{id}/stages/prod"),
        None,
        200,
    );
    assert_eq!(s["cacheClusterEnabled"], false);
    assert_eq!(s["cacheClusterStatus"], "NOT_AVAILABLE");
    assert!(s.get("description").is_none(), "{s}");
}

#[test]
fn openapi_document_errors_and_account_refusal_are_worded_as_aws() {
    let mut srv = start();
    let (id, _) = api(&mut srv, true);
    let good = json!({
        "openapi": "3.0.1",
        "info": {"title": "doc", "version": "1"},
        "paths": {"/": {"get": {"responses": {"200": {"description": "ok"}}}}},
    });
    let mut no_paths = good.clone();
    no_paths.as_object_mut().unwrap().remove("paths");
    let mut v2 = good.clone();
    v2["openapi"] = json!("2.0.0");
    let paths =
        "Failed to parse the uploaded OpenAPI document due to: 'paths' is a required property";
    let version = "Only OpenAPI 3.x.x are currently supported";
    let put = format!("/restapis/{id}");
    let import = "/restapis?mode=import".to_string();
    let features = json!({"patchOperations": [
        {"op": "remove", "path": "/features", "value": "UsagePlans"}
    ]});
    refused(
        &mut srv,
        vec![
            (
                "PUT",
                format!("{put}?mode=unknown"),
                Some(good),
                BAD,
                "Enumeration value of OpenAPI import mode must be \"overwrite\" or \"merge\"",
            ),
            ("PUT", put.clone(), Some(no_paths.clone()), BAD, paths),
            ("POST", import.clone(), Some(no_paths), BAD, paths),
            ("PUT", put.clone(), Some(v2.clone()), BAD, version),
            ("POST", import.clone(), Some(v2), BAD, version),
            (
                "GET",
                format!("{put}/stages/prod/exports/a"),
                None,
                BAD,
                "No API exporter for type 'a'",
            ),
            (
                "PATCH",
                "/account".into(),
                Some(features),
                BAD,
                "Usage Plans cannot be disabled once enabled",
            ),
        ],
    );
    // Nothing was imported by the refused calls; Swagger 2.0 is still read.
    let apis = call(&mut srv, "GET", "/restapis", None, 200);
    assert_eq!(apis["item"].as_array().map(Vec::len), Some(1), "{apis}");
    let swagger = json!({
        "swagger": "2.0",
        "info": {"title": "sw", "version": "1"},
        "paths": {"/": {"get": {"responses": {"200": {"description": "ok"}}}}},
    });
    call(&mut srv, "POST", &import, Some(swagger), 201);
}
