//! Documentation parts and versions (CreateDocumentationPart,
//! GetDocumentationPart(s), UpdateDocumentationPart, DeleteDocumentationPart,
//! ImportDocumentationParts, Create/Get/Update/DeleteDocumentationVersion(s))
//! on the real binary: shapes, location rules, filters, errors, import
//! modes and warnings, versions associated with a stage, and the
//! `x-amazon-apigateway-documentation` export/import round trip.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "documentation-token-0123456";

const BAD: (u16, &str) = (400, "BadRequestException");
const GONE: (u16, &str) = (404, "NotFoundException");
const TAKEN: (u16, &str) = (409, "ConflictException");

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

    /// `body` as sent, with no Content-Type; (status, JSON answer).
    fn raw(&mut self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let port = self.0.admin_port();
        let auth = format!("Bearer {TOKEN}");
        let extra = [("Connection", "close"), ("Authorization", auth.as_str())];
        let r = Client::connect(port).request(request(
            method,
            path,
            "localhost",
            &extra,
            body.as_bytes(),
        ));
        let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, v)
    }

    /// A new API's id.
    fn api(&mut self) -> String {
        let api = self.ok("POST", "/restapis", Some(json!({ "name": "docs" })), 201);
        api["id"].as_str().unwrap().to_string()
    }

    fn part(&mut self, id: &str, location: Value, properties: &str) -> Value {
        self.ok(
            "POST",
            &format!("/restapis/{id}/documentation/parts"),
            Some(json!({ "location": location, "properties": properties })),
            201,
        )
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn parts_crud_shapes_and_errors() {
    let mut m = Mgmt::new();
    let id = m.api();
    let parts = format!("/restapis/{id}/documentation/parts");

    // API: no other location fields; the answer is exactly DocumentationPart.
    let api = m.part(
        &id,
        json!({ "type": "API" }),
        r#"{"info":{"description":"d"}}"#,
    );
    assert_eq!(keys(&api), ["id", "location", "properties"]);
    assert_eq!(api["location"], json!({ "type": "API" }));
    assert_eq!(api["properties"], r#"{"info":{"description":"d"}}"#);
    let pid = api["id"].as_str().unwrap().to_string();

    // METHOD: path and method kept; RESPONSE gets the `*` status code default.
    let get = m.part(
        &id,
        json!({ "type": "METHOD", "path": "/pets", "method": "GET" }),
        r#"{"summary":"list"}"#,
    );
    assert_eq!(
        get["location"],
        json!({ "type": "METHOD", "path": "/pets", "method": "GET" })
    );
    let resp = m.part(&id, json!({ "type": "RESPONSE", "path": "/pets" }), "{}");
    assert_eq!(
        resp["location"],
        json!({ "type": "RESPONSE", "path": "/pets", "method": "*", "statusCode": "*" })
    );

    // Location rules.
    for bad in [
        json!({ "type": "API", "path": "/x" }),
        json!({ "type": "RESOURCE", "method": "GET" }),
        json!({ "type": "METHOD", "statusCode": "200" }),
        json!({ "type": "RESOURCE", "name": "n" }),
        json!({ "type": "MODEL" }),
        json!({ "type": "QUERY_PARAMETER", "path": "/pets" }),
        json!({ "type": "NOPE" }),
    ] {
        m.fails(
            "POST",
            &parts,
            Some(json!({ "location": bad, "properties": "{}" })),
            BAD,
        );
    }
    // properties: a JSON string of an object.
    m.fails(
        "POST",
        &parts,
        Some(json!({ "location": { "type": "MODEL", "name": "Pet" }, "properties": { "a": 1 } })),
        BAD,
    );
    m.fails(
        "POST",
        &parts,
        Some(json!({ "location": { "type": "MODEL", "name": "Pet" }, "properties": "not json" })),
        BAD,
    );
    // Same location again (the default `/` path spelled out).
    m.fails(
        "POST",
        &parts,
        Some(json!({ "location": { "type": "RESPONSE", "path": "/pets", "method": "*" }, "properties": "{}" })),
        TAKEN,
    );

    // Get, update, delete.
    assert_eq!(m.ok("GET", &format!("{parts}/{pid}"), None, 200), api);
    let up = m.ok(
        "PATCH",
        &format!("{parts}/{pid}"),
        Some(json!({ "patchOperations": [
            { "op": "replace", "path": "/properties", "value": r#"{"info":{"description":"e"}}"# }
        ] })),
        200,
    );
    assert_eq!(up["properties"], r#"{"info":{"description":"e"}}"#);
    m.fails(
        "PATCH",
        &format!("{parts}/{pid}"),
        Some(json!({ "patchOperations": [
            { "op": "replace", "path": "/properties", "value": "[1]" }
        ] })),
        BAD,
    );
    m.fails(
        "PATCH",
        &format!("{parts}/{pid}"),
        Some(json!({ "patchOperations": [
            { "op": "replace", "path": "/location/type", "value": "MODEL" }
        ] })),
        BAD,
    );
    m.ok("DELETE", &format!("{parts}/{pid}"), None, 202);
    let v = m.ok("GET", &format!("{parts}/{pid}"), None, 404);
    assert_eq!(v["__type"], "NotFoundException");
    assert_eq!(
        v["message"],
        "Invalid Documentation part identifier specified"
    );
    m.fails("DELETE", &format!("{parts}/{pid}"), None, GONE);
    m.fails("GET", "/restapis/nope/documentation/parts", None, GONE);
}

#[test]
fn parts_filters_and_pages() {
    let mut m = Mgmt::new();
    let id = m.api();
    let parts = format!("/restapis/{id}/documentation/parts");
    m.part(&id, json!({ "type": "API" }), r#"{"a":1}"#);
    m.part(
        &id,
        json!({ "type": "MODEL", "name": "PetModel" }),
        r#"{"a":1}"#,
    );
    m.part(&id, json!({ "type": "MODEL", "name": "Error" }), "{}");
    m.part(
        &id,
        json!({ "type": "RESOURCE", "path": "/pets" }),
        r#"{"a":1}"#,
    );
    m.part(
        &id,
        json!({ "type": "METHOD", "path": "/pets", "method": "GET" }),
        r#"{"a":1}"#,
    );

    let count = |m: &mut Mgmt, q: &str| -> usize {
        let v = m.ok("GET", &format!("{parts}{q}"), None, 200);
        v["item"].as_array().unwrap().len()
    };
    assert_eq!(count(&mut m, ""), 5);
    assert_eq!(count(&mut m, "?type=MODEL"), 2);
    assert_eq!(count(&mut m, "?type=MODEL&name=Pet"), 1);
    assert_eq!(count(&mut m, "?path=%2Fpets"), 2);
    assert_eq!(count(&mut m, "?locationStatus=DOCUMENTED"), 4);
    assert_eq!(count(&mut m, "?locationStatus=UNDOCUMENTED"), 1);
    m.fails("GET", &format!("{parts}?type=NOPE"), None, BAD);
    m.fails("GET", &format!("{parts}?locationStatus=MAYBE"), None, BAD);

    let first = m.ok("GET", &format!("{parts}?limit=2"), None, 200);
    assert_eq!(keys(&first), ["item", "position"]);
    assert_eq!(first["item"].as_array().unwrap().len(), 2);
    let pos = first["position"].as_str().unwrap();
    let rest = m.ok("GET", &format!("{parts}?limit=5&position={pos}"), None, 200);
    assert_eq!(keys(&rest), ["item"]);
    assert_eq!(rest["item"].as_array().unwrap().len(), 3);
}

#[test]
fn import_parts_merge_overwrite_warnings_yaml() {
    let mut m = Mgmt::new();
    let id = m.api();
    let parts = format!("/restapis/{id}/documentation/parts");
    let kept = m.part(
        &id,
        json!({ "type": "MODEL", "name": "Kept" }),
        r#"{"k":1}"#,
    );
    let api = m.part(&id, json!({ "type": "API" }), r#"{"old":1}"#);

    let doc = json!({
        "openapi": "3.0.1",
        "info": { "title": "t", "version": "1" },
        "paths": {},
        "x-amazon-apigateway-documentation": {
            "documentationParts": [
                { "location": { "type": "API" }, "properties": { "new": 1 } },
                { "location": { "type": "METHOD", "path": "/pets", "method": "GET" }, "properties": { "summary": "s" } },
            ]
        }
    });
    // merge (the default): the API part is replaced in place, one is added.
    let r = m.ok("PUT", &parts, Some(doc.clone()), 200);
    assert_eq!(keys(&r), ["ids"]);
    let ids = r["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], api["id"]);
    let now = m.ok(
        "GET",
        &format!("{parts}/{}", api["id"].as_str().unwrap()),
        None,
        200,
    );
    assert_eq!(now["properties"], r#"{"new":1}"#);
    assert_eq!(
        m.ok("GET", &parts, None, 200)["item"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // overwrite: only the document's parts remain.
    m.ok(
        "PUT",
        &format!("{parts}?mode=overwrite"),
        Some(doc.clone()),
        200,
    );
    let all = m.ok("GET", &parts, None, 200);
    assert_eq!(all["item"].as_array().unwrap().len(), 2);
    assert!(all["item"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != kept["id"]));
    m.fails("PUT", &format!("{parts}?mode=sideways"), Some(doc), BAD);

    // A part that cannot be imported is a warning; failonwarnings refuses.
    let warned = json!({
        "swagger": "2.0",
        "info": { "title": "t", "version": "1" },
        "paths": {},
        "x-amazon-apigateway-documentation": {
            "documentationParts": [
                { "location": { "type": "MODEL" }, "properties": { "x": 1 } },
                { "location": { "type": "MODEL", "name": "Fine" }, "properties": { "x": 1 } },
            ]
        }
    });
    m.fails(
        "PUT",
        &format!("{parts}?failonwarnings=true"),
        Some(warned.clone()),
        BAD,
    );
    assert_eq!(
        m.ok("GET", &parts, None, 200)["item"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = m.ok("PUT", &parts, Some(warned), 200);
    assert_eq!(r["ids"].as_array().unwrap().len(), 1);
    assert_eq!(r["warnings"].as_array().unwrap().len(), 1);

    // YAML documents too.
    let yaml = "openapi: 3.0.1\ninfo:\n  title: t\n  version: '1'\npaths: {}\nx-amazon-apigateway-documentation:\n  documentationParts:\n    - location:\n        type: RESOURCE\n        path: /yaml\n      properties:\n        description: from yaml\n";
    let (status, r) = m.raw("PUT", &parts, yaml);
    assert_eq!(status, 200, "{r}");
    let got = m.ok(
        "GET",
        &format!("{parts}/{}", r["ids"][0].as_str().unwrap()),
        None,
        200,
    );
    assert_eq!(got["properties"], r#"{"description":"from yaml"}"#);
    let (status, r) = m.raw("PUT", &parts, "{ not: [json or yaml");
    assert_eq!(
        (status, r["__type"].as_str()),
        (400, Some("BadRequestException"))
    );
}

#[test]
fn versions_snapshot_stage_and_errors() {
    let mut m = Mgmt::new();
    let id = m.api();
    let versions = format!("/restapis/{id}/documentation/versions");
    let root = m.ok("GET", &format!("/restapis/{id}/resources"), None, 200)["item"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let method = format!("/restapis/{id}/resources/{root}/methods/GET");
    m.ok(
        "PUT",
        &method,
        Some(json!({ "authorizationType": "NONE" })),
        201,
    );
    m.ok(
        "PUT",
        &format!("{method}/integration"),
        Some(json!({ "type": "MOCK" })),
        201,
    );
    m.ok(
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    m.part(&id, json!({ "type": "API" }), r#"{"v":1}"#);

    let v1 = m.ok(
        "POST",
        &versions,
        Some(json!({ "documentationVersion": "1.0", "description": "first", "stageName": "prod" })),
        201,
    );
    assert_eq!(keys(&v1), ["createdDate", "description", "version"]);
    assert_eq!(v1["version"], "1.0");
    assert!(v1["createdDate"].is_i64());
    let stage = m.ok("GET", &format!("/restapis/{id}/stages/prod"), None, 200);
    assert_eq!(stage["documentationVersion"], "1.0");

    m.fails(
        "POST",
        &versions,
        Some(json!({ "documentationVersion": "1.0" })),
        TAKEN,
    );
    m.fails(
        "POST",
        &versions,
        Some(json!({ "documentationVersion": "2.0", "stageName": "nope" })),
        GONE,
    );
    m.fails("POST", &versions, Some(json!({})), BAD);
    m.ok(
        "POST",
        &versions,
        Some(json!({ "documentationVersion": "2.0" })),
        201,
    );

    assert_eq!(m.ok("GET", &format!("{versions}/1.0"), None, 200), v1);
    let all = m.ok("GET", &format!("{versions}?limit=1"), None, 200);
    assert_eq!(all["item"].as_array().unwrap().len(), 1);
    assert_eq!(all["position"], "1");
    let up = m.ok(
        "PATCH",
        &format!("{versions}/2.0"),
        Some(json!({ "patchOperations": [{ "op": "replace", "path": "/description", "value": "second" }] })),
        200,
    );
    assert_eq!(up["description"], "second");
    m.fails("GET", &format!("{versions}/9.9"), None, GONE);

    // A version a stage uses stays; another goes.
    m.fails("DELETE", &format!("{versions}/1.0"), None, BAD);
    m.ok("DELETE", &format!("{versions}/2.0"), None, 202);
    m.fails("GET", &format!("{versions}/2.0"), None, GONE);
    m.fails("DELETE", &format!("{versions}/2.0"), None, GONE);

    // The stage's export carries version 1.0's snapshot, not later parts.
    m.part(
        &id,
        json!({ "type": "MODEL", "name": "Later" }),
        r#"{"v":2}"#,
    );
    let export = m.ok(
        "GET",
        &format!("/restapis/{id}/stages/prod/exports/oas30?extensions=documentation"),
        None,
        200,
    );
    let x = &export["x-amazon-apigateway-documentation"];
    assert_eq!(x["version"], "1.0");
    assert!(x["createdDate"].as_str().unwrap().ends_with('Z'), "{x}");
    assert_eq!(
        x["documentationParts"],
        json!([{ "location": { "type": "API" }, "properties": { "v": 1 } }])
    );
    // Without the extension, no documentation.
    let plain = m.ok(
        "GET",
        &format!("/restapis/{id}/stages/prod/exports/oas30"),
        None,
        200,
    );
    assert!(plain.get("x-amazon-apigateway-documentation").is_none());
}

#[test]
fn export_import_round_trip() {
    let mut m = Mgmt::new();
    let doc = json!({
        "swagger": "2.0",
        "info": { "title": "round", "version": "1" },
        "paths": { "/pets": { "get": {
            "responses": { "200": { "description": "ok" } },
            "x-amazon-apigateway-integration": { "type": "mock" }
        } } },
        "x-amazon-apigateway-documentation": {
            "version": "v1",
            "documentationParts": [
                { "location": { "type": "API" }, "properties": { "info": { "description": "pets" } } },
                { "location": { "type": "METHOD", "path": "/pets", "method": "GET" }, "properties": { "summary": "list" } }
            ]
        }
    });
    let api = m.ok("POST", "/restapis?mode=import", Some(doc), 201);
    let id = api["id"].as_str().unwrap().to_string();
    let parts = m.ok(
        "GET",
        &format!("/restapis/{id}/documentation/parts"),
        None,
        200,
    );
    assert_eq!(parts["item"].as_array().unwrap().len(), 2);
    let v = m.ok(
        "GET",
        &format!("/restapis/{id}/documentation/versions/v1"),
        None,
        200,
    );
    assert_eq!(v["version"], "v1");

    m.ok(
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    m.ok(
        "PATCH",
        &format!("/restapis/{id}/stages/prod"),
        Some(json!({ "patchOperations": [{ "op": "replace", "path": "/documentationVersion", "value": "v1" }] })),
        200,
    );
    let export = m.ok(
        "GET",
        &format!("/restapis/{id}/stages/prod/exports/swagger?extensions=apigateway"),
        None,
        200,
    );
    let x = export["x-amazon-apigateway-documentation"].clone();
    assert_eq!(x["version"], "v1");
    assert_eq!(x["documentationParts"].as_array().unwrap().len(), 2);

    // The export imported again (PutRestApi into a new API) gives the same parts.
    let other = m.ok("POST", "/restapis", Some(json!({ "name": "other" })), 201);
    let oid = other["id"].as_str().unwrap().to_string();
    m.ok("PUT", &format!("/restapis/{oid}"), Some(export), 200);
    let again = m.ok(
        "GET",
        &format!("/restapis/{oid}/documentation/parts"),
        None,
        200,
    );
    let locs = |v: &Value| -> Vec<(Value, Value)> {
        let mut l: Vec<(Value, Value)> = v["item"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["location"].clone(), p["properties"].clone()))
            .collect();
        l.sort_by_key(|(a, _)| a.to_string());
        l
    };
    assert_eq!(locs(&again), locs(&parts));
    m.ok(
        "GET",
        &format!("/restapis/{oid}/documentation/versions/v1"),
        None,
        200,
    );
}
