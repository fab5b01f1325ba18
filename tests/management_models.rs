//! Models and request validators of the management API (CreateModel …
//! DeleteModel, GetModelTemplate, *RequestValidator), and methods naming
//! them (PutMethod/UpdateMethod `requestModels`, `requestValidatorId`),
//! against the real binary.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";

/// Management calls with the token, on the real binary.
trait Calls {
    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> AdminJson;
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value;
    /// A call that must fail with `want`: a status and the error type
    /// (header and `__type`); its message.
    fn err(&mut self, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) -> String {
        let (status, kind) = want;
        let r = self.call(method, path, body.clone());
        let ctx = format!("{method} {path} {body:?}");
        assert_eq!(r.status, status, "{ctx}: {}", r.text);
        assert_eq!(r.header("x-amzn-ErrorType"), Some(kind), "{ctx}: {r:?}");
        assert_eq!(r.json["__type"], kind, "{ctx}: {}", r.text);
        r.json["message"].as_str().expect("message").to_string()
    }

    /// A BadRequestException; its message.
    fn bad(&mut self, method: &str, path: &str, body: Value) -> String {
        self.err(method, path, Some(body), (400, "BadRequestException"))
    }

    /// A NotFoundException; its message.
    fn missing(&mut self, method: &str, path: &str) -> String {
        self.err(method, path, None, (404, "NotFoundException"))
    }

    /// A DELETE that answers 202.
    fn deleted(&mut self, path: &str) {
        let r = self.call("DELETE", path, None);
        assert_eq!(r.status, 202, "DELETE {path}: {}", r.text);
    }

    fn patch(&mut self, path: &str, ops: &[(&str, &str, &str)], status: u16) -> Value {
        let ops: Vec<Value> = ops
            .iter()
            .map(|(op, p, v)| json!({ "op": op, "path": p, "value": v }))
            .collect();
        self.ok(
            "PATCH",
            path,
            Some(json!({ "patchOperations": ops })),
            status,
        )
    }

    /// A new API; its id.
    fn api(&mut self) -> String {
        let a = self.ok("POST", "/restapis", Some(json!({ "name": "m" })), 201);
        a["id"].as_str().unwrap().to_string()
    }

    fn model(&mut self, api: &str, name: &str, schema: Value) -> Value {
        let body = json!({
            "name": name,
            "contentType": "application/json",
            "schema": schema.to_string(),
        });
        self.ok("POST", &format!("/restapis/{api}/models"), Some(body), 201)
    }

    fn root(&mut self, api: &str) -> String {
        let r = self.ok("GET", &format!("/restapis/{api}/resources"), None, 200);
        r["item"][0]["id"].as_str().unwrap().to_string()
    }
}

impl Calls for Server {
    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> AdminJson {
        let auth = format!("Bearer {TOKEN}");
        self.admin_json(method, path, &[("Authorization", &auth)], body.as_ref())
    }

    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.admin_call(TOKEN, method, path, body.as_ref(), status)
    }
}

fn config() -> Config {
    Config::new("").admin("token", &toml_str(TOKEN))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| s.to_string()).collect()
}

fn names(list: &Value) -> Vec<String> {
    list["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_new_api_lists_aws_default_models() {
    let mut m = Server::start(&config());
    let api = m.api();
    let list = m.ok("GET", &format!("/restapis/{api}/models"), None, 200);
    assert_eq!(names(&list), ["Empty", "Error"]);
    let empty = m.ok("GET", &format!("/restapis/{api}/models/Empty"), None, 200);
    assert_eq!(
        keys(&empty),
        set(&["id", "name", "description", "schema", "contentType"])
    );
    assert_eq!(empty["contentType"], "application/json");
    assert_eq!(empty["description"], "This is a default empty schema model");
    let schema: Value = serde_json::from_str(empty["schema"].as_str().unwrap()).unwrap();
    assert_eq!(
        schema,
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "title": "Empty Schema", "type": "object"})
    );
    let error = m.ok("GET", &format!("/restapis/{api}/models/Error"), None, 200);
    let schema: Value = serde_json::from_str(error["schema"].as_str().unwrap()).unwrap();
    assert_eq!(
        schema,
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "title": "Error Schema",
               "type": "object", "properties": {"message": {"type": "string"}}})
    );
    assert_ne!(empty["id"], error["id"]);
    // Pagination as every list.
    let page = m.ok("GET", &format!("/restapis/{api}/models?limit=1"), None, 200);
    assert_eq!(names(&page), ["Empty"]);
    assert_eq!(page["position"], "1");
    let page = m.ok(
        "GET",
        &format!("/restapis/{api}/models?limit=1&position=1"),
        None,
        200,
    );
    assert_eq!(names(&page), ["Error"]);
    assert!(page.get("position").is_none());
}

#[test]
fn create_get_update_delete_model() {
    let mut m = Server::start(&config());
    let api = m.api();
    let created = m.ok(
        "POST",
        &format!("/restapis/{api}/models"),
        Some(
            json!({"name": "Pet", "description": "a pet", "contentType": "application/json",
                    "schema": "{\"type\": \"object\"}"}),
        ),
        201,
    );
    assert_eq!(
        keys(&created),
        set(&["id", "name", "description", "schema", "contentType"])
    );
    assert_eq!(created["name"], "Pet");
    assert_eq!(created["schema"], "{\"type\": \"object\"}");
    let got = m.ok("GET", &format!("/restapis/{api}/models/Pet"), None, 200);
    assert_eq!(got, created);
    let list = m.ok("GET", &format!("/restapis/{api}/models"), None, 200);
    assert_eq!(names(&list), ["Empty", "Error", "Pet"]);

    // Without a description the member is absent.
    let bare = m.ok(
        "POST",
        &format!("/restapis/{api}/models"),
        Some(json!({"name": "Bare", "contentType": "text/plain"})),
        201,
    );
    assert_eq!(keys(&bare), set(&["id", "name", "contentType"]));

    let updated = m.patch(
        &format!("/restapis/{api}/models/Pet"),
        &[
            ("replace", "/schema", "{\"type\": \"string\"}"),
            ("replace", "/description", "now a string"),
        ],
        200,
    );
    assert_eq!(updated["schema"], "{\"type\": \"string\"}");
    assert_eq!(updated["description"], "now a string");
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(
        m.ok("GET", &format!("/restapis/{api}/models/Pet"), None, 200),
        updated
    );
    let body =
        json!({"patchOperations": [{"op": "replace", "path": "/contentType", "value": "x"}]});
    let msg = m.bad("PATCH", &format!("/restapis/{api}/models/Pet"), body);
    assert!(msg.contains("/contentType"), "{msg}");
    let body =
        json!({"patchOperations": [{"op": "replace", "path": "/schema", "value": "not json"}]});
    m.bad("PATCH", &format!("/restapis/{api}/models/Pet"), body);

    m.deleted(&format!("/restapis/{api}/models/Pet"));
    let msg = m.missing("GET", &format!("/restapis/{api}/models/Pet"));
    assert!(msg.contains("Pet"), "{msg}");
    m.missing("DELETE", &format!("/restapis/{api}/models/Pet"));
    m.err(
        "PATCH",
        &format!("/restapis/{api}/models/Pet"),
        Some(json!({})),
        (404, "NotFoundException"),
    );
}

#[test]
fn model_names_must_be_alphanumeric_and_unique() {
    let mut m = Server::start(&config());
    let api = m.api();
    let path = format!("/restapis/{api}/models");
    let msg = m.bad(
        "POST",
        &path,
        json!({"name": "body_1", "contentType": "application/json", "schema": "{}"}),
    );
    assert_eq!(msg, "Model name must be alphanumeric: body_1");
    m.model(&api, "Pet", json!({"type": "object"}));
    let msg = m.err(
        "POST",
        &path,
        Some(json!({"name": "Pet", "contentType": "application/json", "schema": "{}"})),
        (409, "ConflictException"),
    );
    assert!(msg.contains("already exists"), "{msg}");
    // The defaults count too.
    m.err(
        "POST",
        &path,
        Some(json!({"name": "Empty", "contentType": "application/json", "schema": "{}"})),
        (409, "ConflictException"),
    );
    // contentType is required; a JSON model's schema must be JSON.
    m.bad("POST", &path, json!({"name": "NoType"}));
    m.bad(
        "POST",
        &path,
        json!({"name": "Bad", "contentType": "application/json", "schema": "{not json"}),
    );
    m.err(
        "POST",
        "/restapis/nope/models",
        Some(json!({"name": "A", "contentType": "a/b"})),
        (404, "NotFoundException"),
    );
    m.missing("GET", "/restapis/nope/models");
}

#[test]
fn get_model_flatten_inlines_referenced_models() {
    let mut m = Server::start(&config());
    let api = m.api();
    m.model(
        &api,
        "Tag",
        json!({"type": "object", "properties": {"label": {"type": "string"}}}),
    );
    let reference = format!("https://apigateway.amazonaws.com/restapis/{api}/models/Tag");
    m.model(
        &api,
        "Pet",
        json!({"type": "object", "properties": {"tag": {"$ref": reference}}}),
    );
    let plain = m.ok("GET", &format!("/restapis/{api}/models/Pet"), None, 200);
    let schema: Value = serde_json::from_str(plain["schema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["properties"]["tag"]["$ref"], reference.as_str());
    let flat = m.ok(
        "GET",
        &format!("/restapis/{api}/models/Pet?flatten=true"),
        None,
        200,
    );
    let schema: Value = serde_json::from_str(flat["schema"].as_str().unwrap()).unwrap();
    assert_eq!(
        schema["properties"]["tag"],
        json!({"type": "object", "properties": {"label": {"type": "string"}}})
    );
}

#[test]
fn get_model_template_builds_the_vtl_skeleton() {
    let mut m = Server::start(&config());
    let api = m.api();
    m.model(
        &api,
        "Pets",
        json!({"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "type": {"type": "string"}}}}),
    );
    let t = m.ok(
        "GET",
        &format!("/restapis/{api}/models/Pets/default_template"),
        None,
        200,
    );
    assert_eq!(keys(&t), set(&["value"]));
    assert_eq!(
        t["value"],
        "#set($inputRoot = $input.path('$'))\n[\n#foreach($elem0 in $inputRoot)\n  {\n    \"id\" : $elem0.id,\n    \"type\" : \"$elem0.type\"\n  }#if($foreach.hasNext),#end\n#end\n]"
    );
    let t = m.ok(
        "GET",
        &format!("/restapis/{api}/models/Error/default_template"),
        None,
        200,
    );
    assert_eq!(
        t["value"],
        "#set($inputRoot = $input.path('$'))\n{\n  \"message\" : \"$inputRoot.message\"\n}"
    );
    m.missing(
        "GET",
        &format!("/restapis/{api}/models/Nope/default_template"),
    );
}

#[test]
fn request_validators_crud() {
    let mut m = Server::start(&config());
    let api = m.api();
    let path = format!("/restapis/{api}/requestvalidators");
    let empty = m.ok("GET", &path, None, 200);
    assert_eq!(empty["item"], json!([]));
    let v = m.ok(
        "POST",
        &path,
        Some(json!({"name": "body-only", "validateRequestBody": true})),
        201,
    );
    assert_eq!(
        keys(&v),
        set(&[
            "id",
            "name",
            "validateRequestBody",
            "validateRequestParameters"
        ])
    );
    assert_eq!(v["validateRequestBody"], true);
    assert_eq!(v["validateRequestParameters"], false);
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(m.ok("GET", &format!("{path}/{id}"), None, 200), v);
    let w = m.ok(
        "POST",
        &path,
        Some(json!({"name": "params", "validateRequestParameters": true})),
        201,
    );
    let page = m.ok("GET", &format!("{path}?limit=1"), None, 200);
    assert_eq!(page["item"], json!([v]));
    assert_eq!(page["position"], "1");
    let all = m.ok("GET", &path, None, 200);
    assert_eq!(all["item"], json!([v, w]));

    let u = m.patch(
        &format!("{path}/{id}"),
        &[
            ("replace", "/name", "both"),
            ("replace", "/validateRequestBody", "false"),
            ("replace", "/validateRequestParameters", "true"),
        ],
        200,
    );
    assert_eq!(
        u,
        json!({"id": id, "name": "both", "validateRequestBody": false, "validateRequestParameters": true})
    );
    assert_eq!(m.ok("GET", &format!("{path}/{id}"), None, 200), u);
    let body = json!({"patchOperations": [{"op": "replace", "path": "/id", "value": "x"}]});
    m.bad("PATCH", &format!("{path}/{id}"), body);
    let body = json!({"patchOperations": [{"op": "replace", "path": "/validateRequestBody", "value": "maybe"}]});
    m.bad("PATCH", &format!("{path}/{id}"), body);

    m.deleted(&format!("{path}/{id}"));
    let msg = m.missing("GET", &format!("{path}/{id}"));
    assert_eq!(msg, "Invalid Request Validator identifier specified");
    m.missing("DELETE", &format!("{path}/{id}"));
    m.missing("GET", "/restapis/nope/requestvalidators");
}

#[test]
fn methods_name_existing_models_and_validators() {
    let mut m = Server::start(&config());
    let api = m.api();
    let root = m.root(&api);
    m.model(&api, "Pet", json!({"type": "object"}));
    let v = m.ok(
        "POST",
        &format!("/restapis/{api}/requestvalidators"),
        Some(
            json!({"name": "all", "validateRequestBody": true, "validateRequestParameters": true}),
        ),
        201,
    );
    let vid = v["id"].as_str().unwrap().to_string();
    let method = format!("/restapis/{api}/resources/{root}/methods/POST");

    // Unknown names are refused, and nothing is stored.
    let msg = m.bad(
        "PUT",
        &method,
        json!({"authorizationType": "NONE", "requestValidatorId": "nope00"}),
    );
    assert_eq!(msg, "Invalid Request Validator identifier specified");
    let msg = m.bad(
        "PUT",
        &method,
        json!({"authorizationType": "NONE", "requestModels": {"application/json": "Cat"}}),
    );
    assert!(msg.contains("Cat"), "{msg}");
    m.missing("GET", &method);

    let put = m.ok(
        "PUT",
        &method,
        Some(
            json!({"authorizationType": "NONE", "requestValidatorId": vid,
                    "requestModels": {"application/json": "Pet"}}),
        ),
        201,
    );
    assert_eq!(put["requestValidatorId"], vid.as_str());
    assert_eq!(put["requestModels"], json!({"application/json": "Pet"}));
    let got = m.ok("GET", &method, None, 200);
    assert_eq!(got["requestValidatorId"], vid.as_str());
    assert_eq!(got["requestModels"], json!({"application/json": "Pet"}));

    // A model a method names cannot be deleted.
    let msg = m.err(
        "DELETE",
        &format!("/restapis/{api}/models/Pet"),
        None,
        (409, "ConflictException"),
    );
    assert!(msg.contains("Pet") && msg.contains("POST"), "{msg}");

    // UpdateMethod: the same checks.
    let body = json!({"patchOperations": [{"op": "replace", "path": "/requestValidatorId", "value": "nope00"}]});
    m.bad("PATCH", &method, body);
    let body = json!({"patchOperations": [{"op": "add", "path": "/requestModels/text~1plain", "value": "Cat"}]});
    m.bad("PATCH", &method, body);
    let u = m.patch(
        &method,
        &[("add", "/requestModels/text~1plain", "Empty")],
        200,
    );
    assert_eq!(
        u["requestModels"],
        json!({"application/json": "Pet", "text/plain": "Empty"})
    );
    let body =
        json!({"patchOperations": [{"op": "remove", "path": "/requestModels/application~1json"}]});
    let u = m.ok("PATCH", &method, Some(body), 200);
    assert_eq!(u["requestModels"], json!({"text/plain": "Empty"}));
    m.deleted(&format!("/restapis/{api}/models/Pet"));

    // Deleting the validator leaves no method naming it.
    let r = m.call(
        "DELETE",
        &format!("/restapis/{api}/requestvalidators/{vid}"),
        None,
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let got = m.ok("GET", &method, None, 200);
    assert!(got.get("requestValidatorId").is_none(), "{got}");
}

#[test]
fn models_and_validators_survive_a_restart_and_go_with_their_api() {
    let cfg = config();
    let mut m = Server::start(&cfg);
    let api = m.api();
    let pet = m.model(&api, "Pet", json!({"type": "object"}));
    let v = m.ok(
        "POST",
        &format!("/restapis/{api}/requestvalidators"),
        Some(json!({"name": "v"})),
        201,
    );
    m.stop();

    let mut m = Server::start(&cfg);
    assert_eq!(
        m.ok("GET", &format!("/restapis/{api}/models/Pet"), None, 200),
        pet
    );
    let vs = m.ok(
        "GET",
        &format!("/restapis/{api}/requestvalidators"),
        None,
        200,
    );
    assert_eq!(vs["item"], json!([v]));

    m.deleted(&format!("/restapis/{api}"));
    m.missing("GET", &format!("/restapis/{api}/models"));
    m.missing("GET", &format!("/restapis/{api}/requestvalidators"));
    // A new API starts again from the defaults only.
    let other = m.api();
    let list = m.ok("GET", &format!("/restapis/{other}/models"), None, 200);
    assert_eq!(names(&list), ["Empty", "Error"]);
}

#[test]
fn openapi_import_and_export_carry_models_and_validators() {
    let mut m = Server::start(&config());
    let doc = json!({
        "swagger": "2.0",
        "info": {"title": "pets", "version": "1"},
        "x-amazon-apigateway-request-validators": {
            "all": {"validateRequestBody": true, "validateRequestParameters": true},
            "params": {"validateRequestBody": false, "validateRequestParameters": true}
        },
        "x-amazon-apigateway-request-validator": "params",
        "paths": {"/pets": {
            "post": {
                "x-amazon-apigateway-request-validator": "all",
                "parameters": [{"in": "body", "name": "Pet", "schema": {"$ref": "#/definitions/Pet"}}],
                "x-amazon-apigateway-integration": {"type": "mock",
                    "requestTemplates": {"application/json": "{\"statusCode\": 200}"}}
            },
            "get": {"x-amazon-apigateway-integration": {"type": "mock",
                    "requestTemplates": {"application/json": "{\"statusCode\": 200}"}}}
        }},
        "definitions": {
            "Tag": {"type": "object", "properties": {"label": {"type": "string"}}},
            "Pet": {"type": "object", "properties": {"tag": {"$ref": "#/definitions/Tag"}}}
        }
    });
    let api = m.ok("POST", "/restapis?mode=import", Some(doc), 201);
    let api = api["id"].as_str().unwrap().to_string();
    let list = m.ok("GET", &format!("/restapis/{api}/models"), None, 200);
    assert_eq!(names(&list), ["Empty", "Error", "Pet", "Tag"]);
    let pet = m.ok("GET", &format!("/restapis/{api}/models/Pet"), None, 200);
    assert_eq!(pet["contentType"], "application/json");
    let schema: Value = serde_json::from_str(pet["schema"].as_str().unwrap()).unwrap();
    assert_eq!(
        schema["properties"]["tag"]["$ref"],
        format!("https://apigateway.amazonaws.com/restapis/{api}/models/Tag")
    );
    assert_eq!(schema["title"], "Pet");
    let vs = m.ok(
        "GET",
        &format!("/restapis/{api}/requestvalidators"),
        None,
        200,
    );
    let by_name = |n: &str| {
        vs["item"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == n)
            .unwrap_or_else(|| panic!("no validator {n} in {vs}"))
            .clone()
    };
    let (all, params) = (by_name("all"), by_name("params"));
    assert_eq!(all["validateRequestBody"], true);
    assert_eq!(params["validateRequestBody"], false);
    let resources = m.ok("GET", &format!("/restapis/{api}/resources"), None, 200);
    let pets = resources["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/pets")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post = m.ok(
        "GET",
        &format!("/restapis/{api}/resources/{pets}/methods/POST"),
        None,
        200,
    );
    assert_eq!(post["requestValidatorId"], all["id"]);
    assert_eq!(post["requestModels"], json!({"application/json": "Pet"}));
    let get = m.ok(
        "GET",
        &format!("/restapis/{api}/resources/{pets}/methods/GET"),
        None,
        200,
    );
    assert_eq!(
        get["requestValidatorId"], params["id"],
        "the document's default"
    );

    m.ok(
        "POST",
        &format!("/restapis/{api}/deployments"),
        Some(json!({"stageName": "prod"})),
        201,
    );
    let oas = m.ok(
        "GET",
        &format!("/restapis/{api}/stages/prod/exports/oas30?extensions=apigateway"),
        None,
        200,
    );
    assert_eq!(
        oas["components"]["schemas"]["Pet"]["properties"]["tag"]["$ref"],
        "#/components/schemas/Tag"
    );
    assert_eq!(
        oas["components"]["schemas"]["Empty"],
        json!({"title": "Empty Schema", "type": "object"})
    );
    assert_eq!(
        oas["x-amazon-apigateway-request-validators"]["all"],
        json!({"validateRequestBody": true, "validateRequestParameters": true})
    );
    let op = &oas["paths"]["/pets"]["post"];
    assert_eq!(op["x-amazon-apigateway-request-validator"], "all");
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Pet"
    );
    let swagger = m.ok(
        "GET",
        &format!("/restapis/{api}/stages/prod/exports/swagger"),
        None,
        200,
    );
    assert_eq!(swagger["definitions"]["Tag"]["title"], "Tag");
    assert!(swagger
        .get("x-amazon-apigateway-request-validators")
        .is_none());
    let body = swagger["paths"]["/pets"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["in"] == "body")
        .cloned()
        .expect("a body parameter");
    assert_eq!(body["schema"]["$ref"], "#/definitions/Pet");

    // AWS's refusal of a model name that is not alphanumeric.
    let bad = json!({"swagger": "2.0", "info": {"title": "bad"}, "paths": {},
                     "definitions": {"body_1": {"type": "object"}}});
    let msg = m.bad("POST", "/restapis?mode=import", bad);
    assert!(
        msg.contains(
            "Unable to create model for 'body_1': Model name must be alphanumeric: body_1"
        ),
        "{msg}"
    );
}
