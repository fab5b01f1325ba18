//! An integration's `requestParameters` may read only the method request
//! parameters its method declares, as AWS holds them: PutIntegration,
//! UpdateIntegration and an OpenAPI import refuse a mapping from an
//! undeclared `method.request.{path|querystring|multivaluequerystring|
//! header|multivalueheader}.X` with AWS's BadRequestException.
//!
//! AWS's words: "The method request parameters must be defined before
//! being referenced" (x-amazon-apigateway-integration.requestParameters);
//! the refusal reads "Invalid mapping expression specified: Validation
//! Result: warnings : [], errors : [Invalid mapping expression parameter
//! specified: method.request.path.page]" even for `{page}` in the
//! resource's path (aws/aws-cdk#17318, the {proxy+} knowledge-center
//! article).

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "undeclared-params-token-01";

fn refusal(source: &str) -> String {
    format!(
        "Invalid mapping expression specified: Validation Result: warnings : [], \
         errors : [Invalid mapping expression parameter specified: {source}]"
    )
}

/// A GET method on `/items/{id}` declaring `declared`: the method's path.
fn method(m: &mut Managed, declared: Value) -> String {
    let (id, root) = m.new_api("undeclared");
    let r = m.ok(
        "POST",
        &format!("/restapis/{id}/resources/{root}"),
        Some(json!({ "pathPart": "items" })),
        201,
    );
    let items = r["id"].as_str().unwrap_or_default().to_string();
    m.put_method_under(
        (&id, &items),
        "{id}",
        "GET",
        json!({ "requestParameters": declared }),
    )
}

fn mock(parameters: Value) -> Value {
    json!({ "type": "MOCK", "requestParameters": parameters,
        "requestTemplates": { "application/json": "{\"statusCode\": 200}" } })
}

/// Each method request source, undeclared, refused with AWS's message
/// naming it as written; `{id}` in the resource's path is no declaration.
/// Nothing is stored.
#[test]
fn put_integration_refuses_every_undeclared_source_kind() {
    let mut m = Managed::start(TOKEN);
    let method = method(&mut m, json!({ "method.request.querystring.other": false }));
    let integration = format!("{method}/integration");
    for source in [
        "method.request.path.id",
        "method.request.querystring.q",
        "method.request.multivaluequerystring.q",
        "method.request.header.X-Caller",
        "method.request.multivalueheader.X-Caller",
    ] {
        let body = mock(json!({ "integration.request.header.X-To": source }));
        let v = m.ok("PUT", &integration, Some(body), 400);
        assert_eq!(v["__type"], "BadRequestException", "{source}: {v}");
        assert_eq!(v["message"], refusal(source), "{source}");
    }
    m.ok("GET", &integration, None, 404);
}

/// Declared parameters map in any of their forms (a multi-value source
/// reads the declared single-value parameter, a header in any case);
/// the body, `context.*`, `stageVariables.*` and literals need no
/// declaration.
#[test]
fn declared_parameters_and_other_sources_are_accepted() {
    let mut m = Managed::start(TOKEN);
    let method = method(
        &mut m,
        json!({
            "method.request.path.id": true,
            "method.request.querystring.q": false,
            "method.request.header.X-Caller": false
        }),
    );
    let parameters = json!({
        "integration.request.path.id": "method.request.path.id",
        "integration.request.querystring.a": "method.request.querystring.q",
        "integration.request.querystring.b": "method.request.multivaluequerystring.q",
        "integration.request.header.X-C": "method.request.header.x-caller",
        "integration.request.header.X-D": "method.request.multivalueheader.X-CALLER",
        "integration.request.header.X-E": "method.request.body.a",
        "integration.request.header.X-F": "context.requestId",
        "integration.request.header.X-G": "stageVariables.v",
        "integration.request.header.X-H": "'method.request.path.nope'"
    });
    let integration = format!("{method}/integration");
    m.ok("PUT", &integration, Some(mock(parameters.clone())), 201);
    let stored = m.ok("GET", &integration, None, 200);
    assert_eq!(stored["requestParameters"], parameters);
}

/// UpdateIntegration is held to the same and stores nothing it refuses;
/// once the method declares the parameter, the same update is taken.
#[test]
fn update_integration_refuses_an_undeclared_mapping() {
    let mut m = Managed::start(TOKEN);
    let method = method(&mut m, json!({ "method.request.path.id": true }));
    let integration = format!("{method}/integration");
    let first = json!({ "integration.request.path.id": "method.request.path.id" });
    m.ok("PUT", &integration, Some(mock(first.clone())), 201);
    let add = json!({ "patchOperations": [{ "op": "add",
        "path": "/requestParameters/integration.request.querystring.q",
        "value": "method.request.querystring.q" }] });
    let v = m.ok("PATCH", &integration, Some(add.clone()), 400);
    assert_eq!(v["__type"], "BadRequestException", "{v}");
    assert_eq!(v["message"], refusal("method.request.querystring.q"));
    let stored = m.ok("GET", &integration, None, 200);
    assert_eq!(stored["requestParameters"], first);

    let declare = json!({ "patchOperations": [{ "op": "add",
        "path": "/requestParameters/method.request.querystring.q", "value": "false" }] });
    m.ok("PATCH", &method, Some(declare), 200);
    m.ok("PATCH", &integration, Some(add), 200);
    let stored = m.ok("GET", &integration, None, 200);
    assert_eq!(
        stored["requestParameters"]["integration.request.querystring.q"],
        "method.request.querystring.q"
    );
}

/// UpdateMethod may drop a parameter an integration maps (AWS takes it:
/// hashicorp/terraform-provider-aws#39801); the integration keeps the
/// mapping, and an update of the integration is taken only once it no
/// longer maps the dropped parameter.
#[test]
fn dropping_a_mapped_declaration_holds_later_integration_updates() {
    let mut m = Managed::start(TOKEN);
    let method = method(
        &mut m,
        json!({ "method.request.path.id": true, "method.request.header.X-Key": false }),
    );
    let integration = format!("{method}/integration");
    let mapped = json!({
        "integration.request.path.id": "method.request.path.id",
        "integration.request.header.X-Key": "method.request.header.X-Key"
    });
    m.ok("PUT", &integration, Some(mock(mapped.clone())), 201);
    let drop = json!({ "patchOperations": [{ "op": "remove",
        "path": "/requestParameters/method.request.header.X-Key" }] });
    let updated = m.ok("PATCH", &method, Some(drop), 200);
    assert_eq!(
        updated["requestParameters"],
        json!({ "method.request.path.id": true })
    );
    let stored = m.ok("GET", &integration, None, 200);
    assert_eq!(stored["requestParameters"], mapped);

    let timeout = json!({ "patchOperations": [{ "op": "replace",
        "path": "/timeoutInMillis", "value": "5000" }] });
    let v = m.ok("PATCH", &integration, Some(timeout), 400);
    assert_eq!(v["message"], refusal("method.request.header.X-Key"));
    let unmap = json!({ "patchOperations": [
        { "op": "remove", "path": "/requestParameters/integration.request.header.X-Key" },
        { "op": "replace", "path": "/timeoutInMillis", "value": "5000" }] });
    let v = m.ok("PATCH", &integration, Some(unmap), 200);
    assert_eq!(
        v["requestParameters"],
        json!({ "integration.request.path.id": "method.request.path.id" })
    );
    assert_eq!(v["timeoutInMillis"], 5000);
}

fn document(parameters: Value) -> Value {
    let get = json!({
        "parameters": parameters,
        "responses": { "200": { "description": "ok" } },
        "x-amazon-apigateway-integration": { "type": "mock",
            "requestParameters": {
                "integration.request.path.id": "method.request.path.id",
                "integration.request.header.X-Q": "method.request.querystring.q"
            },
            "requestTemplates": { "application/json": "{\"statusCode\": 200}" },
            "responses": { "default": { "statusCode": "200" } } }
    });
    json!({
        "openapi": "3.0.1",
        "info": { "title": "imported" },
        "paths": { "/items/{id}": { "get": get } }
    })
}

/// An import whose integration maps a parameter the operation does not
/// declare fails as AWS's does ("Errors found during import: Unable to put
/// integration on ..."), creating nothing; declared in the operation's
/// `parameters`, it imports.
#[test]
fn an_import_refuses_an_undeclared_mapping() {
    let mut m = Managed::start(TOKEN);
    let path_only = json!([{ "name": "id", "in": "path", "required": true,
        "schema": { "type": "string" } }]);
    let v = m.ok(
        "POST",
        "/restapis?mode=import",
        Some(document(path_only.clone())),
        400,
    );
    assert_eq!(v["__type"], "BadRequestException", "{v}");
    assert_eq!(
        v["message"],
        format!(
            "Errors found during import:\n\tUnable to put integration on 'GET' for resource \
             at path '/items/{{id}}': {}",
            refusal("method.request.querystring.q")
        )
    );
    let apis = m.ok("GET", "/restapis", None, 200);
    let none = apis["item"].as_array().is_none_or(Vec::is_empty);
    assert!(none, "nothing imported: {apis}");

    let mut both = path_only;
    both.as_array_mut()
        .unwrap()
        .push(json!({ "name": "q", "in": "query", "schema": { "type": "string" } }));
    let api = m.ok("POST", "/restapis?mode=import", Some(document(both)), 201);
    assert!(api["id"].is_string(), "{api}");
}
