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

/// A call that must fail as `want` says; its message.
fn err(
    srv: &mut Server,
    method: &str,
    path: &str,
    body: Option<Value>,
    want: (u16, &str),
) -> String {
    let v = call(srv, method, path, body, want.0);
    assert_eq!(v["__type"], want.1, "{method} {path}: {v}");
    v["message"].as_str().unwrap_or_default().to_string()
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
    call(
        srv,
        "PUT",
        &m,
        Some(json!({"authorizationType": "NONE"})),
        201,
    );
    call(
        srv,
        "PUT",
        &format!("{m}/integration"),
        Some(json!({"type": "MOCK"})),
        201,
    );
    if stage {
        call(
            srv,
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(json!({"stageName": "prod"})),
            201,
        );
    }
    (id, root)
}

#[test]
fn not_found_messages_name_no_identifier() {
    let mut srv = start();
    let (id, _) = api(&mut srv, true);
    let patch = json!({"patchOperations": [{"op": "replace", "path": "/name", "value": "x"}]});
    for (method, path, body, want) in [
        (
            "GET",
            "/apikeys/nokey".to_string(),
            None,
            "Invalid API Key identifier specified",
        ),
        (
            "PATCH",
            "/apikeys/nokey".to_string(),
            Some(patch.clone()),
            "Invalid API Key identifier specified",
        ),
        (
            "DELETE",
            "/apikeys/nokey".to_string(),
            None,
            "Invalid API Key identifier specified",
        ),
        (
            "GET",
            "/usageplans/noplan".to_string(),
            None,
            "Invalid Usage Plan ID specified",
        ),
        (
            "GET",
            "/usageplans/noplan/keys".to_string(),
            None,
            "Invalid Usage Plan ID specified",
        ),
        (
            "GET",
            format!("/restapis/{id}/stages/nostage"),
            None,
            "Invalid Stage identifier specified",
        ),
        (
            "DELETE",
            format!("/restapis/{id}/stages/nostage"),
            None,
            "Invalid Stage identifier specified",
        ),
        (
            "GET",
            format!("/restapis/{id}/stages/nostage/exports/oas30"),
            None,
            "Invalid Stage identifier specified",
        ),
        (
            "GET",
            format!("/restapis/{id}/resources/nores"),
            None,
            "Invalid Resource identifier specified",
        ),
        (
            "GET",
            format!("/restapis/{id}/resources/nores/methods/GET"),
            None,
            "Invalid Resource identifier specified",
        ),
        (
            "GET",
            format!("/restapis/{id}/deployments/nodep"),
            None,
            "Invalid Deployment identifier specified",
        ),
        (
            "DELETE",
            format!("/restapis/{id}/deployments/nodep"),
            None,
            "Invalid Deployment identifier specified",
        ),
    ] {
        let msg = err(&mut srv, method, &path, body, GONE);
        assert_eq!(msg, want, "{method} {path}");
    }
    // A usage plan's apiStages naming a stage that does not exist.
    let msg = err(
        &mut srv,
        "POST",
        "/usageplans",
        Some(json!({"name": "p", "apiStages": [{"apiId": id, "stage": "nostage"}]})),
        GONE,
    );
    assert_eq!(msg, "Invalid Stage identifier specified");
}

#[test]
fn api_key_customer_id_is_kept_and_patched() {
    let mut srv = start();
    let k = call(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "k", "customerId": "cust-1"})),
        201,
    );
    assert_eq!(k["customerId"], "cust-1");
    let id = k["id"].as_str().unwrap().to_string();
    let k = call(
        &mut srv,
        "PATCH",
        &format!("/apikeys/{id}"),
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/customerId", "value": "cust-2"}
        ]})),
        200,
    );
    assert_eq!(k["customerId"], "cust-2");
    let k = call(&mut srv, "GET", &format!("/apikeys/{id}"), None, 200);
    assert_eq!(k["customerId"], "cust-2");
    // Without one, the member is absent.
    let k = call(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "a"})),
        201,
    );
    assert!(k.get("customerId").is_none(), "{k}");
    // GetApiKeys lists by name, whatever the (random) ids.
    let all = call(&mut srv, "GET", "/apikeys", None, 200);
    let names: Vec<&str> = all["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "k"]);
}

#[test]
fn deployment_with_an_empty_stage_name_makes_no_stage() {
    let mut srv = start();
    let (id, _) = api(&mut srv, false);
    let d = call(
        &mut srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({"stageName": ""})),
        201,
    );
    let dep = d["id"].as_str().unwrap();
    call(
        &mut srv,
        "GET",
        &format!("/restapis/{id}/deployments/{dep}"),
        None,
        200,
    );
    let stages = call(
        &mut srv,
        "GET",
        &format!("/restapis/{id}/stages"),
        None,
        200,
    );
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
fn openapi_document_errors_are_worded_as_aws() {
    let mut srv = start();
    let (id, _) = api(&mut srv, true);
    let good = json!({
        "openapi": "3.0.1",
        "info": {"title": "doc", "version": "1"},
        "paths": {"/": {"get": {"responses": {"200": {"description": "ok"}}}}},
    });
    let msg = err(
        &mut srv,
        "PUT",
        &format!("/restapis/{id}?mode=unknown"),
        Some(good.clone()),
        BAD,
    );
    assert_eq!(
        msg,
        "Enumeration value of OpenAPI import mode must be \"overwrite\" or \"merge\""
    );
    let mut no_paths = good.clone();
    no_paths.as_object_mut().unwrap().remove("paths");
    for path in [
        format!("/restapis/{id}"),
        "/restapis?mode=import".to_string(),
    ] {
        let method = if path.contains("import") {
            "POST"
        } else {
            "PUT"
        };
        let msg = err(&mut srv, method, &path, Some(no_paths.clone()), BAD);
        assert_eq!(
            msg,
            "Failed to parse the uploaded OpenAPI document due to: 'paths' is a required property",
            "{method} {path}"
        );
        let mut v2 = good.clone();
        v2["openapi"] = json!("2.0.0");
        let msg = err(&mut srv, method, &path, Some(v2), BAD);
        assert_eq!(
            msg, "Only OpenAPI 3.x.x are currently supported",
            "{method} {path}"
        );
    }
    // Nothing was imported by the refused calls.
    let apis = call(&mut srv, "GET", "/restapis", None, 200);
    assert_eq!(apis["item"].as_array().map(Vec::len), Some(1), "{apis}");
    // Swagger 2.0 is still read.
    let swagger = json!({
        "swagger": "2.0",
        "info": {"title": "sw", "version": "1"},
        "paths": {"/": {"get": {"responses": {"200": {"description": "ok"}}}}},
    });
    call(
        &mut srv,
        "POST",
        "/restapis?mode=import",
        Some(swagger),
        201,
    );

    let msg = err(
        &mut srv,
        "GET",
        &format!("/restapis/{id}/stages/prod/exports/a"),
        None,
        BAD,
    );
    assert_eq!(msg, "No API exporter for type 'a'");
}

#[test]
fn usage_plans_feature_cannot_be_removed() {
    let mut srv = start();
    let msg = err(
        &mut srv,
        "PATCH",
        "/account",
        Some(json!({"patchOperations": [
            {"op": "remove", "path": "/features", "value": "UsagePlans"}
        ]})),
        BAD,
    );
    assert_eq!(msg, "Usage Plans cannot be disabled once enabled");
}
