//! Every management operation's answer against the service model
//! (specs/apigateway-2015-07-09.service.json): each successful answer has
//! the operation's status and its output shape (no member the shape lacks,
//! every required member, the right JSON types, recursively), and each
//! error answer's `__type` / `x-amzn-ErrorType` is one the operation
//! declares, with that error's status.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";
const REGION: &str = "eu-west-3";

/// Operations of the model the success sweep may leave out: GetSdk always
/// refuses (portico generates no SDKs); TestInvokeAuthorizer is called
/// unless it answers 501 (not implemented yet).
const SKIPPED: &[&str] = &["GetSdk", "TestInvokeAuthorizer"];

/// Known differences from the model, each `operation: violation` exactly as
/// the checker words it, with the reason it is kept. Any violation not
/// listed fails the tests.
const ALLOWED: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------
// The service model and the shape checker
// ---------------------------------------------------------------------------

struct Model(Value);

impl Model {
    /// The model vendored in the repository (as tests/management.rs reads it).
    fn load() -> Model {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/apigateway-2015-07-09.service.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read the service model {}: {e}", path.display()));
        Model(serde_json::from_str(&text).expect("service model JSON"))
    }

    fn op(&self, name: &str) -> &Value {
        let op = &self.0["operations"][name];
        assert!(op.is_object(), "{name} is not in the service model");
        op
    }

    fn ops(&self) -> Vec<String> {
        self.0["operations"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn shape(&self, name: &str) -> &Value {
        let s = &self.0["shapes"][name];
        assert!(s.is_object(), "no shape {name} in the service model");
        s
    }

    /// Every violation of shape `name` by `v` at `at`, into `out`.
    fn check(&self, name: &str, v: &Value, at: &str, out: &mut Vec<String>) {
        let shape = self.shape(name);
        let ty = shape["type"].as_str().unwrap_or_default();
        let bad = |want: &str, out: &mut Vec<String>| {
            out.push(format!("{at}: {want} ({name}) expected, got {v}"))
        };
        match ty {
            "structure" => {
                let Some(obj) = v.as_object() else {
                    return bad("object", out);
                };
                let members = shape["members"].as_object().unwrap();
                // The body's name of each member: `locationName` when given;
                // members elsewhere (header, status code) are not in it.
                let wire: BTreeMap<String, &Value> = members
                    .iter()
                    .filter(|(_, m)| m.get("location").is_none())
                    .map(|(k, m)| {
                        let key = m["locationName"].as_str().unwrap_or(k).to_string();
                        (key, &m["shape"])
                    })
                    .collect();
                for (k, val) in obj {
                    match wire.get(k) {
                        Some(s) => self.check(s.as_str().unwrap(), val, &format!("{at}.{k}"), out),
                        None => out.push(format!("{at}: member `{k}` not in {name}")),
                    }
                }
                for req in shape["required"].as_array().into_iter().flatten() {
                    let req = req.as_str().unwrap();
                    let m = &members[req];
                    let key = m["locationName"].as_str().unwrap_or(req);
                    if m.get("location").is_none() && !obj.contains_key(key) {
                        out.push(format!("{at}: required member `{key}` of {name} missing"));
                    }
                }
            }
            "list" => {
                let Some(items) = v.as_array() else {
                    return bad("array", out);
                };
                let member = shape["member"]["shape"].as_str().unwrap();
                for (i, item) in items.iter().enumerate() {
                    self.check(member, item, &format!("{at}[{i}]"), out);
                }
            }
            "map" => {
                let Some(obj) = v.as_object() else {
                    return bad("object", out);
                };
                let value = shape["value"]["shape"].as_str().unwrap();
                for (k, val) in obj {
                    self.check(value, val, &format!("{at}[{k:?}]"), out);
                }
            }
            "string" => match v.as_str() {
                None => bad("string", out),
                Some(s) => {
                    if let Some(values) = shape["enum"].as_array() {
                        if !values.iter().any(|e| e == s) {
                            out.push(format!("{at}: {s:?} is no value of enum {name}"));
                        }
                    }
                }
            },
            "boolean" if !v.is_boolean() => bad("boolean", out),
            "integer" | "long" if !(v.is_i64() || v.is_u64()) => bad("integer", out),
            "double" if !v.is_number() => bad("number", out),
            // botocore's parser takes epoch seconds (what API Gateway sends)
            // or an ISO 8601 string.
            "timestamp" if !(v.is_number() || v.is_string()) => bad("timestamp", out),
            "blob" if !v.is_string() => bad("base64 string", out),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The sweep: each operation called through the model's method and URI
// ---------------------------------------------------------------------------

struct Sweep {
    srv: Server,
    model: Model,
    /// Every violation found, `operation: what`.
    found: Vec<String>,
    /// Operations called.
    called: BTreeSet<String>,
}

/// `path` with `:` and `/` encoded, as the SDKs send an ARN as one segment.
fn seg(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

fn patch(op: &str, path: &str, value: &str) -> Value {
    json!({ "patchOperations": [{ "op": op, "path": path, "value": value }] })
}

fn replace(path: &str, value: &str) -> Value {
    patch("replace", path, value)
}

fn id(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {v}"))
        .to_string()
}

impl Sweep {
    fn new() -> Sweep {
        // A Lambda endpoint, so that the token authorizer's API publishes.
        let cfg = Config::new(&format!(
            "[aws]\nregion = \"{REGION}\"\nlambda_endpoint = \"http://127.0.0.1:9\"\n"
        ))
        .admin("token", &toml_str(TOKEN));
        Sweep {
            srv: Server::start(&cfg),
            model: Model::load(),
            found: Vec::new(),
            called: BTreeSet::new(),
        }
    }

    /// The path of operation `name`: its URI with `params` in order for its
    /// `{...}` segments, and `query` appended.
    fn path(&self, name: &str, params: &[&str], query: &str) -> (String, String) {
        let op = self.model.op(name);
        let method = op["http"]["method"].as_str().unwrap().to_string();
        let uri = op["http"]["requestUri"].as_str().unwrap();
        let uri = uri.split('?').next().unwrap();
        let mut path = String::new();
        let mut rest = uri;
        let mut params = params.iter();
        while let Some(i) = rest.find('{') {
            let j = rest[i..].find('}').unwrap() + i;
            path.push_str(&rest[..i]);
            let p = params
                .next()
                .unwrap_or_else(|| panic!("{name}: no value for {}", &rest[i..=j]));
            path.push_str(p);
            rest = &rest[j + 1..];
        }
        path.push_str(rest);
        assert!(params.next().is_none(), "{name}: too many parameters");
        if !query.is_empty() {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(query);
        }
        (method, path)
    }

    /// Whether operation `name` is implemented: it does not answer 501.
    fn implemented(&mut self, name: &str, params: &[&str]) -> bool {
        let (method, path) = self.path(name, params, "");
        self.send(&method, &path, Some((b"{}", "application/json")))
            .status
            != 501
    }

    /// A raw call: status, headers, body text.
    fn send(&mut self, method: &str, path: &str, body: Option<(&[u8], &str)>) -> Response {
        let port = self.srv.admin_port();
        let auth = format!("Bearer {TOKEN}");
        let mut extra = vec![("Connection", "close"), ("Authorization", auth.as_str())];
        if let Some((_, ct)) = body {
            extra.push(("Content-Type", ct));
        }
        let bytes = body.map(|(b, _)| b).unwrap_or_default();
        Client::connect(port).request(request(method, path, "localhost", &extra, bytes))
    }

    /// Operation `name`, which must succeed; its answer checked against the
    /// model; its JSON body (Null if it failed or is no JSON).
    fn op(&mut self, name: &str, params: &[&str], query: &str, body: Option<Value>) -> Value {
        let text = body.map(|b| b.to_string());
        self.raw(
            name,
            params,
            query,
            text.as_deref().map(|t| (t.as_bytes(), "application/json")),
        )
    }

    fn raw(
        &mut self,
        name: &str,
        params: &[&str],
        query: &str,
        body: Option<(&[u8], &str)>,
    ) -> Value {
        let (method, path) = self.path(name, params, query);
        self.called.insert(name.to_string());
        let r = self.send(&method, &path, body);
        let text = r.body_str();
        let op = self.model.op(name).clone();
        let want = op["http"]["responseCode"].as_u64().unwrap_or(200) as u16;
        if !(200..300).contains(&r.status) {
            self.found.push(format!(
                "{name}: {method} {path} failed: {} {text}",
                r.status
            ));
            return Value::Null;
        }
        if r.status != want {
            self.found.push(format!(
                "{name}: status {} (the model's is {want})",
                r.status
            ));
        }
        if r.header("x-amzn-ErrorType").is_some() {
            self.found
                .push(format!("{name}: a success with x-amzn-ErrorType"));
        }
        let out = op["output"]["shape"].as_str();
        let payload = out.and_then(|o| self.model.shape(o)["payload"].as_str().map(String::from));
        if payload.is_some() {
            // A blob payload (GetExport): the body is the document itself.
            return serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    self.found
                        .push(format!("{name}: body is no JSON ({e}): {text}"));
                    return Value::Null;
                }
            }
        };
        match out {
            None => {
                if !(json.is_null() || json == json!({})) {
                    self.found
                        .push(format!("{name}: no output shape, but a body {text}"));
                }
            }
            Some(shape) => {
                let mut v = Vec::new();
                self.model.check(shape, &json, "$", &mut v);
                self.found
                    .extend(v.into_iter().map(|e| format!("{name}: {e}")));
            }
        }
        json
    }

    /// Operation `name` provoked to fail (`want`: the status expected); the
    /// error type must be one the operation declares, in the header and
    /// `__type`, with that error's status.
    fn fail(&mut self, name: &str, params: &[&str], query: &str, body: Option<Value>, want: u16) {
        let (method, path) = self.path(name, params, query);
        self.called.insert(name.to_string());
        let text = body.map(|b| b.to_string());
        let r = self.send(
            &method,
            &path,
            text.as_deref().map(|t| (t.as_bytes(), "application/json")),
        );
        let ctx = format!("{name}: {method} {path}");
        let body_text = r.body_str();
        if r.status != want {
            self.found.push(format!(
                "{ctx}: want status {want}, got {} {body_text}",
                r.status
            ));
            return;
        }
        let json: Value = serde_json::from_str(&body_text).unwrap_or(Value::Null);
        let kind = json["__type"].as_str().unwrap_or_default().to_string();
        if r.header("x-amzn-ErrorType") != Some(kind.as_str()) {
            self.found.push(format!(
                "{ctx}: x-amzn-ErrorType {:?} is not __type {kind:?}",
                r.header("x-amzn-ErrorType")
            ));
        }
        if !json["message"].is_string() {
            self.found.push(format!("{ctx}: no message in {body_text}"));
        }
        let declared = self.model.op(name)["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["shape"] == kind.as_str());
        if !declared {
            self.found
                .push(format!("{name}: error {kind:?} is not one it declares"));
            return;
        }
        let status = self.model.shape(&kind)["error"]["httpStatusCode"].as_u64();
        if status != Some(r.status as u64) {
            self.found.push(format!(
                "{name}: {kind} with status {} (the model's is {status:?})",
                r.status
            ));
        }
    }

    /// Fails with every violation not in `ALLOWED`, all of them at once.
    fn verdict(self, what: &str) {
        let allowed: BTreeSet<String> = ALLOWED.iter().map(|(v, _)| v.to_string()).collect();
        let found: BTreeSet<String> = self.found.iter().cloned().collect();
        let new: Vec<&String> = found.difference(&allowed).collect();
        assert!(
            new.is_empty(),
            "{what}: {} violation(s) of the service model:\n{}",
            new.len(),
            new.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    fn coverage(&self) {
        let missing: Vec<String> = self
            .model
            .ops()
            .into_iter()
            .filter(|o| !self.called.contains(o) && !SKIPPED.contains(&o.as_str()))
            .collect();
        assert!(missing.is_empty(), "operations not called: {missing:?}");
    }
}

/// The checker itself: each kind of violation is found, all of them, and a
/// conforming answer (`items` sent as `item`) passes.
#[test]
fn the_checker_finds_every_kind_of_violation() {
    let model = Model::load();
    let check = |shape: &str, v: Value| {
        let mut out = Vec::new();
        model.check(shape, &v, "$", &mut out);
        out
    };
    let good = json!({ "position": "1", "item": [{ "id": "a", "name": "n",
        "createdDate": 1795996927, "binaryMediaTypes": ["image/png"],
        "disableExecuteApiEndpoint": false, "minimumCompressionSize": 5,
        "endpointConfiguration": { "types": ["EDGE"] }, "tags": { "t": "1" } }] });
    assert_eq!(check("RestApis", good), Vec::<String>::new());
    let bad = json!({ "items": [], "item": [{ "id": 1, "extra": true,
        "createdDate": true, "binaryMediaTypes": "image/png",
        "disableExecuteApiEndpoint": "no", "minimumCompressionSize": 1.5,
        "endpointConfiguration": { "types": ["NOPE"] }, "tags": { "t": 1 } }] });
    let found = check("RestApis", bad);
    for want in [
        "$: member `items` not in RestApis",
        "$.item[0]: member `extra` not in RestApi",
        "$.item[0].id: string (String) expected, got 1",
        "$.item[0].createdDate: timestamp (Timestamp) expected, got true",
        "$.item[0].binaryMediaTypes: array (ListOfString) expected, got \"image/png\"",
        "$.item[0].disableExecuteApiEndpoint: boolean (Boolean) expected, got \"no\"",
        "$.item[0].minimumCompressionSize: integer (NullableInteger) expected, got 1.5",
        "$.item[0].endpointConfiguration.types[0]: \"NOPE\" is no value of enum EndpointType",
        "$.item[0].tags[\"t\"]: string (String) expected, got 1",
    ] {
        assert!(
            found.iter().any(|f| f == want),
            "{want:?} not in {found:#?}"
        );
    }
    assert_eq!(found.len(), 9, "{found:#?}");
    // A required member (the model's error shapes have one).
    assert_eq!(
        check("NotFoundException", json!({})),
        Vec::<String>::new(),
        "no member of NotFoundException is required"
    );
    let mut required = Vec::new();
    let mut m = Model(model.0.clone());
    m.0["shapes"]["Tags"]["required"] = json!(["tags"]);
    m.check("Tags", &json!({}), "$", &mut required);
    assert_eq!(required, ["$: required member `tags` of Tags missing"]);
}

const LAMBDA: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations";

fn openapi(title: &str) -> Value {
    json!({
        "openapi": "3.0.1",
        "info": { "title": title, "version": "1" },
        "paths": { "/pets": { "get": {
            "responses": { "200": { "description": "ok" } },
            "x-amazon-apigateway-integration": {
                "type": "mock",
                "requestTemplates": { "application/json": "{\"statusCode\": 200}" },
                "responses": { "default": { "statusCode": "200" } }
            }
        } } }
    })
}

/// Every operation once, in dependency order, with a realistic call; each
/// answer checked against its output shape.
#[test]
fn every_operation_answers_its_output_shape() {
    let mut s = Sweep::new();

    // RestApis, resources, methods, integrations and their responses.
    let api = s.op(
        "CreateRestApi",
        &[],
        "",
        Some(json!({ "name": "shapes", "description": "d", "tags": { "t": "1" } })),
    );
    let a = id(&api, "id");
    s.op("GetRestApis", &[], "", None);
    s.op("GetRestApi", &[&a], "", None);
    s.op(
        "UpdateRestApi",
        &[&a],
        "",
        Some(replace("/description", "e")),
    );
    let resources = s.op("GetResources", &[&a], "", None);
    let root = id(&resources["item"][0], "id");
    let r = s.op(
        "CreateResource",
        &[&a, &root],
        "",
        Some(json!({ "pathPart": "pets" })),
    );
    let r = id(&r, "id");
    s.op("GetResource", &[&a, &r], "", None);
    s.op(
        "UpdateResource",
        &[&a, &r],
        "",
        Some(replace("/pathPart", "pets")),
    );
    let mut m = vec![a.as_str(), r.as_str(), "GET"];
    s.op(
        "PutMethod",
        &m,
        "",
        Some(json!({ "authorizationType": "NONE",
                     "requestParameters": { "method.request.querystring.q": false } })),
    );
    s.op("GetMethod", &m, "", None);
    s.op(
        "UpdateMethod",
        &m,
        "",
        Some(replace("/operationName", "listPets")),
    );
    s.op(
        "PutIntegration",
        &m,
        "",
        Some(json!({ "type": "MOCK",
                     "requestTemplates": { "application/json": "{\"statusCode\": 200}" } })),
    );
    s.op("GetIntegration", &m, "", None);
    s.op(
        "UpdateIntegration",
        &m,
        "",
        Some(replace("/timeoutInMillis", "5000")),
    );
    m.push("200");
    s.op(
        "PutMethodResponse",
        &m,
        "",
        Some(json!({ "responseParameters": { "method.response.header.X-A": false } })),
    );
    s.op("GetMethodResponse", &m, "", None);
    s.op(
        "UpdateMethodResponse",
        &m,
        "",
        Some(patch(
            "add",
            "/responseParameters/method.response.header.X-B",
            "false",
        )),
    );
    s.op(
        "PutIntegrationResponse",
        &m,
        "",
        Some(json!({ "selectionPattern": "",
                     "responseTemplates": { "application/json": "{\"ok\": true}" } })),
    );
    s.op("GetIntegrationResponse", &m, "", None);
    s.op(
        "UpdateIntegrationResponse",
        &m,
        "",
        Some(replace("/selectionPattern", "2\\d{2}")),
    );
    m.pop();

    // Models, validators, authorizers.
    s.op(
        "CreateModel",
        &[&a],
        "",
        Some(json!({ "name": "Pet", "contentType": "application/json",
                     "schema": "{\"type\": \"object\"}" })),
    );
    s.op("GetModel", &[&a, "Pet"], "", None);
    s.op("GetModels", &[&a], "", None);
    s.op(
        "UpdateModel",
        &[&a, "Pet"],
        "",
        Some(replace("/description", "a pet")),
    );
    s.op("GetModelTemplate", &[&a, "Pet"], "", None);
    let v = s.op(
        "CreateRequestValidator",
        &[&a],
        "",
        Some(json!({ "name": "body", "validateRequestBody": true })),
    );
    let v = id(&v, "id");
    s.op("GetRequestValidator", &[&a, &v], "", None);
    s.op("GetRequestValidators", &[&a], "", None);
    s.op(
        "UpdateRequestValidator",
        &[&a, &v],
        "",
        Some(replace("/name", "b")),
    );
    let au = s.op(
        "CreateAuthorizer",
        &[&a],
        "",
        Some(
            json!({ "name": "tok", "type": "TOKEN", "authorizerUri": LAMBDA,
                     "identitySource": "method.request.header.Authorization" }),
        ),
    );
    let au = id(&au, "id");
    s.op("GetAuthorizer", &[&a, &au], "", None);
    s.op("GetAuthorizers", &[&a], "", None);
    s.op(
        "UpdateAuthorizer",
        &[&a, &au],
        "",
        Some(replace("/name", "tok2")),
    );
    if s.implemented("TestInvokeAuthorizer", &[&a, &au]) {
        s.op(
            "TestInvokeAuthorizer",
            &[&a, &au],
            "",
            Some(json!({ "headers": { "Authorization": "allow" } })),
        );
    }

    // Gateway responses and documentation, before the deployment.
    s.op(
        "PutGatewayResponse",
        &[&a, "DEFAULT_4XX"],
        "",
        Some(json!({ "statusCode": "400",
                     "responseTemplates": { "application/json": "{\"m\": 1}" } })),
    );
    s.op("GetGatewayResponse", &[&a, "DEFAULT_4XX"], "", None);
    s.op("GetGatewayResponses", &[&a], "", None);
    s.op(
        "UpdateGatewayResponse",
        &[&a, "DEFAULT_4XX"],
        "",
        Some(replace("/statusCode", "401")),
    );
    let part = s.op(
        "CreateDocumentationPart",
        &[&a],
        "",
        Some(json!({ "location": { "type": "API" },
                     "properties": "{\"description\": \"the API\"}" })),
    );
    let part = id(&part, "id");
    s.op("GetDocumentationPart", &[&a, &part], "", None);
    s.op("GetDocumentationParts", &[&a], "", None);
    s.op(
        "UpdateDocumentationPart",
        &[&a, &part],
        "",
        Some(replace("/properties", "{\"description\": \"it\"}")),
    );
    let doc = json!({ "openapi": "3.0.1", "info": { "title": "shapes", "version": "1" },
        "paths": {},
        "x-amazon-apigateway-documentation": { "documentationParts": [
            { "location": { "type": "RESOURCE", "path": "/pets" },
              "properties": { "description": "pets" } } ] } });
    let doc = doc.to_string();
    s.raw(
        "ImportDocumentationParts",
        &[&a],
        "mode=merge",
        Some((doc.as_bytes(), "application/json")),
    );

    // Deployment, stages, documentation versions, export, test invoke.
    let d = s.op(
        "CreateDeployment",
        &[&a],
        "",
        Some(json!({ "stageName": "prod", "description": "first" })),
    );
    let d = id(&d, "id");
    s.op("GetDeployments", &[&a], "", None);
    s.op("GetDeployment", &[&a, &d], "", None);
    s.op(
        "UpdateDeployment",
        &[&a, &d],
        "",
        Some(replace("/description", "1st")),
    );
    s.op(
        "CreateStage",
        &[&a],
        "",
        Some(
            json!({ "stageName": "beta", "deploymentId": d, "cacheClusterEnabled": true,
                     "variables": { "v": "1" }, "tags": { "t": "1" } }),
        ),
    );
    s.op("GetStages", &[&a], "", None);
    s.op("GetStage", &[&a, "beta"], "", None);
    s.op(
        "UpdateStage",
        &[&a, "beta"],
        "",
        Some(replace("/description", "b")),
    );
    s.op("FlushStageCache", &[&a, "beta"], "", None);
    s.op("FlushStageAuthorizersCache", &[&a, "beta"], "", None);
    s.op(
        "CreateDocumentationVersion",
        &[&a],
        "",
        Some(json!({ "documentationVersion": "1", "stageName": "prod" })),
    );
    s.op("GetDocumentationVersion", &[&a, "1"], "", None);
    s.op("GetDocumentationVersions", &[&a], "", None);
    s.op(
        "UpdateDocumentationVersion",
        &[&a, "1"],
        "",
        Some(replace("/description", "v1")),
    );
    s.op("GetExport", &[&a, "prod", "oas30"], "", None);
    s.op(
        "TestInvokeMethod",
        &m,
        "",
        Some(json!({ "pathWithQueryString": "/pets?q=1" })),
    );

    // Imports.
    let imported = openapi("imported").to_string();
    let i = s.raw(
        "ImportRestApi",
        &[],
        "mode=import",
        Some((imported.as_bytes(), "application/json")),
    );
    let i = id(&i, "id");
    let put = openapi("put").to_string();
    s.raw(
        "PutRestApi",
        &[&i],
        "mode=overwrite",
        Some((put.as_bytes(), "application/json")),
    );

    // Keys, plans, plan keys, usage.
    let k = s.op(
        "CreateApiKey",
        &[],
        "",
        Some(
            json!({ "name": "k", "enabled": true, "value": "shapeskey0123456789abcdef",
                     "tags": { "t": "1" } }),
        ),
    );
    let k = id(&k, "id");
    s.op("GetApiKeys", &[], "includeValues=true", None);
    s.op("GetApiKey", &[&k], "includeValue=true", None);
    s.op(
        "UpdateApiKey",
        &[&k],
        "",
        Some(replace("/description", "key")),
    );
    let csv = "name,key,description,enabled\nimported,importedkey0123456789abcd,i,TRUE\n";
    s.raw(
        "ImportApiKeys",
        &[],
        "mode=import&format=csv",
        Some((csv.as_bytes(), "text/csv")),
    );
    let p = s.op(
        "CreateUsagePlan",
        &[],
        "",
        Some(
            json!({ "name": "gold", "apiStages": [{ "apiId": a, "stage": "prod" }],
                     "throttle": { "rateLimit": 10.5, "burstLimit": 20 },
                     "quota": { "limit": 1000, "period": "DAY" }, "tags": { "t": "1" } }),
        ),
    );
    let p = id(&p, "id");
    s.op("GetUsagePlans", &[], "", None);
    s.op("GetUsagePlan", &[&p], "", None);
    s.op(
        "UpdateUsagePlan",
        &[&p],
        "",
        Some(replace("/description", "gold")),
    );
    s.op(
        "CreateUsagePlanKey",
        &[&p],
        "",
        Some(json!({ "keyId": k, "keyType": "API_KEY" })),
    );
    s.op("GetUsagePlanKeys", &[&p], "", None);
    s.op("GetUsagePlanKey", &[&p, &k], "", None);
    s.op(
        "GetUsage",
        &[&p],
        &format!("keyId={k}&startDate=2026-01-01&endDate=2026-01-02"),
        None,
    );
    s.op(
        "UpdateUsage",
        &[&p, &k],
        "",
        Some(replace("/remaining", "10")),
    );

    // SDK types, account.
    s.op("GetSdkTypes", &[], "", None);
    // portico offers no SDK type: GetSdkType only ever answers NotFound.
    s.fail("GetSdkType", &["java"], "", None, 404);
    s.op("GetAccount", &[], "", None);
    s.op(
        "UpdateAccount",
        &[],
        "",
        Some(replace(
            "/cloudwatchRoleArn",
            "arn:aws:iam::123456789012:role/apigw",
        )),
    );

    // Domain names, base path mappings, access associations.
    let dn = "api.example.com";
    s.op(
        "CreateDomainName",
        &[],
        "",
        Some(json!({ "domainName": dn, "certificateName": "c",
                     "certificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                     "tags": { "t": "1" } })),
    );
    s.op("GetDomainName", &[dn], "", None);
    s.op("GetDomainNames", &[], "", None);
    s.op(
        "UpdateDomainName",
        &[dn],
        "",
        Some(replace("/certificateName", "c2")),
    );
    s.op(
        "CreateBasePathMapping",
        &[dn],
        "",
        Some(json!({ "restApiId": a, "stage": "prod", "basePath": "v1" })),
    );
    s.op("GetBasePathMapping", &[dn, "v1"], "", None);
    s.op("GetBasePathMappings", &[dn], "", None);
    s.op(
        "UpdateBasePathMapping",
        &[dn, "v1"],
        "",
        Some(replace("/stage", "beta")),
    );
    let dn_arn = format!("arn:aws:apigateway:{REGION}::/domainnames/{dn}");
    let assoc = s.op(
        "CreateDomainNameAccessAssociation",
        &[],
        "",
        Some(
            json!({ "domainNameArn": dn_arn, "accessAssociationSourceType": "VPCE",
                     "accessAssociationSource": "vpce-0123", "tags": { "t": "1" } }),
        ),
    );
    let assoc = id(&assoc, "domainNameAccessAssociationArn");
    s.op("GetDomainNameAccessAssociations", &[], "", None);
    let assoc2 = s.op(
        "CreateDomainNameAccessAssociation",
        &[],
        "",
        Some(
            json!({ "domainNameArn": dn_arn, "accessAssociationSourceType": "VPCE",
                     "accessAssociationSource": "vpce-0456" }),
        ),
    );
    let assoc2 = id(&assoc2, "domainNameAccessAssociationArn");
    s.op(
        "RejectDomainNameAccessAssociation",
        &[],
        &format!(
            "domainNameAccessAssociationArn={}&domainNameArn={}",
            seg(&assoc2),
            seg(&dn_arn)
        ),
        None,
    );

    // Client certificates, VPC links.
    let c = s.op(
        "GenerateClientCertificate",
        &[],
        "",
        Some(json!({ "description": "c", "tags": { "t": "1" } })),
    );
    let c = id(&c, "clientCertificateId");
    s.op("GetClientCertificate", &[&c], "", None);
    s.op("GetClientCertificates", &[], "", None);
    s.op(
        "UpdateClientCertificate",
        &[&c],
        "",
        Some(replace("/description", "d")),
    );
    let nlb = format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/net/a/1");
    let vl = s.op(
        "CreateVpcLink",
        &[],
        "",
        Some(json!({ "name": "a", "targetArns": [nlb], "tags": { "t": "1" } })),
    );
    let vl = id(&vl, "id");
    s.op("GetVpcLink", &[&vl], "", None);
    s.op("GetVpcLinks", &[], "", None);
    s.op(
        "UpdateVpcLink",
        &[&vl],
        "",
        Some(replace("/description", "v")),
    );

    // Tags.
    let stage_arn = seg(&format!(
        "arn:aws:apigateway:{REGION}::/restapis/{a}/stages/beta"
    ));
    s.op(
        "TagResource",
        &[&stage_arn],
        "",
        Some(json!({ "tags": { "x": "y" } })),
    );
    s.op("GetTags", &[&stage_arn], "", None);
    s.op("UntagResource", &[&stage_arn], "tagKeys=x", None);

    // And every delete, dependants first.
    s.op("DeleteVpcLink", &[&vl], "", None);
    s.op("DeleteClientCertificate", &[&c], "", None);
    s.op(
        "DeleteDomainNameAccessAssociation",
        &[&seg(&assoc)],
        "",
        None,
    );
    s.op("DeleteBasePathMapping", &[dn, "v1"], "", None);
    s.op("DeleteDomainName", &[dn], "", None);
    s.op("DeleteUsagePlanKey", &[&p, &k], "", None);
    s.op("DeleteUsagePlan", &[&p], "", None);
    s.op("DeleteApiKey", &[&k], "", None);
    s.op("DeleteDocumentationPart", &[&a, &part], "", None);
    s.op("DeleteGatewayResponse", &[&a, "DEFAULT_4XX"], "", None);
    s.op("DeleteStage", &[&a, "beta"], "", None);
    s.op("DeleteStage", &[&a, "prod"], "", None);
    s.op("DeleteDocumentationVersion", &[&a, "1"], "", None);
    s.op("DeleteDeployment", &[&a, &d], "", None);
    s.op("DeleteAuthorizer", &[&a, &au], "", None);
    s.op("DeleteRequestValidator", &[&a, &v], "", None);
    m.push("200");
    s.op("DeleteIntegrationResponse", &m, "", None);
    s.op("DeleteMethodResponse", &m, "", None);
    m.pop();
    s.op("DeleteIntegration", &m, "", None);
    s.op("DeleteMethod", &m, "", None);
    s.op("DeleteModel", &[&a, "Pet"], "", None);
    s.op("DeleteResource", &[&a, &r], "", None);
    s.op("DeleteRestApi", &[&i], "", None);
    s.op("DeleteRestApi", &[&a], "", None);

    s.coverage();
    s.verdict("successful answers");
}

/// Every operation provoked to fail (an unknown id: NotFound; bad input:
/// BadRequest) answers an error type it declares.
#[test]
fn every_operation_errs_with_an_error_it_declares() {
    let mut s = Sweep::new();
    let api = s.op("CreateRestApi", &[], "", Some(json!({ "name": "e" })));
    let a = id(&api, "id");
    let resources = s.op("GetResources", &[&a], "", None);
    let root = id(&resources["item"][0], "id");
    let bad_patch = || Some(replace("/nonsense", "x"));
    let nf = 404;
    let br = 400;
    let x = "nope000000";

    // Unknown ids: every operation on a thing that is not there.
    for (name, params) in [
        ("GetRestApi", vec![x]),
        ("DeleteRestApi", vec![x]),
        ("GetResources", vec![x]),
        ("GetResource", vec![&a, x]),
        ("DeleteResource", vec![&a, x]),
        ("GetMethod", vec![&a, &root, "GET"]),
        ("DeleteMethod", vec![&a, &root, "GET"]),
        ("GetMethodResponse", vec![&a, &root, "GET", "200"]),
        ("DeleteMethodResponse", vec![&a, &root, "GET", "200"]),
        ("GetIntegration", vec![&a, &root, "GET"]),
        ("DeleteIntegration", vec![&a, &root, "GET"]),
        ("GetIntegrationResponse", vec![&a, &root, "GET", "200"]),
        ("DeleteIntegrationResponse", vec![&a, &root, "GET", "200"]),
        ("GetDeployments", vec![x]),
        ("GetDeployment", vec![&a, x]),
        ("DeleteDeployment", vec![&a, x]),
        ("GetStages", vec![x]),
        ("GetStage", vec![&a, x]),
        ("DeleteStage", vec![&a, x]),
        ("FlushStageCache", vec![&a, x]),
        ("FlushStageAuthorizersCache", vec![&a, x]),
        ("GetExport", vec![&a, x, "oas30"]),
        ("GetApiKey", vec![x]),
        ("DeleteApiKey", vec![x]),
        ("GetUsagePlan", vec![x]),
        ("DeleteUsagePlan", vec![x]),
        ("GetUsagePlanKeys", vec![x]),
        ("GetUsagePlanKey", vec![x, x]),
        ("DeleteUsagePlanKey", vec![x, x]),
        ("GetSdkType", vec![x]),
        ("GetModel", vec![&a, x]),
        ("GetModels", vec![x]),
        ("DeleteModel", vec![&a, x]),
        ("GetModelTemplate", vec![&a, x]),
        ("GetRequestValidator", vec![&a, x]),
        ("GetRequestValidators", vec![x]),
        ("DeleteRequestValidator", vec![&a, x]),
        ("GetClientCertificate", vec![x]),
        ("DeleteClientCertificate", vec![x]),
        ("GetVpcLink", vec![x]),
        ("DeleteVpcLink", vec![x]),
        ("GetGatewayResponse", vec![x, "DEFAULT_4XX"]),
        ("GetGatewayResponses", vec![x]),
        ("DeleteGatewayResponse", vec![&a, "DEFAULT_4XX"]),
        ("GetDomainName", vec!["nowhere.example.com"]),
        ("DeleteDomainName", vec!["nowhere.example.com"]),
        ("GetBasePathMappings", vec!["nowhere.example.com"]),
        ("GetBasePathMapping", vec!["nowhere.example.com", "v1"]),
        ("DeleteBasePathMapping", vec!["nowhere.example.com", "v1"]),
        ("GetAuthorizer", vec![&a, x]),
        ("GetAuthorizers", vec![x]),
        ("DeleteAuthorizer", vec![&a, x]),
        ("GetDocumentationPart", vec![&a, x]),
        ("GetDocumentationParts", vec![x]),
        ("DeleteDocumentationPart", vec![&a, x]),
        ("GetDocumentationVersion", vec![&a, x]),
        ("GetDocumentationVersions", vec![x]),
        ("DeleteDocumentationVersion", vec![&a, x]),
    ] {
        s.fail(name, &params, "", None, nf);
    }
    let nowhere = seg(&format!(
        "arn:aws:apigateway:{REGION}::/domainnameaccessassociations/domainname/nowhere.example.com/vpcesource/vpce-1"
    ));
    s.fail(
        "DeleteDomainNameAccessAssociation",
        &[&nowhere],
        "",
        None,
        nf,
    );
    let gone_api = seg(&format!("arn:aws:apigateway:{REGION}::/restapis/{x}"));
    s.fail("GetTags", &[&gone_api], "", None, nf);
    s.fail("UntagResource", &[&gone_api], "tagKeys=a", None, nf);
    s.fail(
        "TagResource",
        &[&gone_api],
        "",
        Some(json!({ "tags": { "a": "b" } })),
        nf,
    );
    let dn_arn = seg(&format!(
        "arn:aws:apigateway:{REGION}::/domainnames/nowhere.example.com"
    ));
    s.fail(
        "RejectDomainNameAccessAssociation",
        &[],
        &format!("domainNameAccessAssociationArn={nowhere}&domainNameArn={dn_arn}"),
        None,
        nf,
    );
    // Updates and puts of unknown things.
    for (name, params) in [
        ("UpdateRestApi", vec![x]),
        ("UpdateResource", vec![&a, x]),
        ("UpdateMethod", vec![&a, &root, "GET"]),
        ("UpdateMethodResponse", vec![&a, &root, "GET", "200"]),
        ("UpdateIntegration", vec![&a, &root, "GET"]),
        ("UpdateIntegrationResponse", vec![&a, &root, "GET", "200"]),
        ("UpdateDeployment", vec![&a, x]),
        ("UpdateStage", vec![&a, x]),
        ("UpdateApiKey", vec![x]),
        ("UpdateUsagePlan", vec![x]),
        ("UpdateUsage", vec![x, x]),
        ("UpdateModel", vec![&a, x]),
        ("UpdateRequestValidator", vec![&a, x]),
        ("UpdateClientCertificate", vec![x]),
        ("UpdateVpcLink", vec![x]),
        ("UpdateGatewayResponse", vec![x, "DEFAULT_4XX"]),
        ("UpdateDomainName", vec!["nowhere.example.com"]),
        ("UpdateBasePathMapping", vec!["nowhere.example.com", "v1"]),
        ("UpdateAuthorizer", vec![&a, x]),
        ("UpdateDocumentationPart", vec![&a, x]),
        ("UpdateDocumentationVersion", vec![&a, x]),
    ] {
        s.fail(name, &params, "", Some(replace("/description", "d")), nf);
    }
    for (name, params, body) in [
        ("CreateResource", vec![&a, x], json!({ "pathPart": "p" })),
        (
            "PutMethod",
            vec![&a, x, "GET"],
            json!({ "authorizationType": "NONE" }),
        ),
        (
            "PutMethodResponse",
            vec![&a, &root, "GET", "200"],
            json!({}),
        ),
        (
            "PutIntegration",
            vec![&a, &root, "GET"],
            json!({ "type": "MOCK" }),
        ),
        (
            "PutIntegrationResponse",
            vec![&a, &root, "GET", "200"],
            json!({}),
        ),
        ("TestInvokeMethod", vec![&a, &root, "GET"], json!({})),
        ("CreateDeployment", vec![x], json!({})),
        (
            "CreateStage",
            vec![&a],
            json!({ "stageName": "s", "deploymentId": x }),
        ),
        (
            "CreateUsagePlanKey",
            vec![x],
            json!({ "keyId": x, "keyType": "API_KEY" }),
        ),
        (
            "CreateModel",
            vec![x],
            json!({ "name": "M", "contentType": "application/json" }),
        ),
        ("CreateRequestValidator", vec![x], json!({ "name": "v" })),
        ("PutGatewayResponse", vec![x, "DEFAULT_4XX"], json!({})),
        (
            "CreateBasePathMapping",
            vec!["nowhere.example.com"],
            json!({ "restApiId": a }),
        ),
        (
            "CreateAuthorizer",
            vec![x],
            json!({ "name": "t", "type": "TOKEN",
            "authorizerUri": LAMBDA, "identitySource": "method.request.header.A" }),
        ),
        (
            "CreateDocumentationPart",
            vec![x],
            json!({ "location": { "type": "API" },
            "properties": "{}" }),
        ),
        (
            "CreateDocumentationVersion",
            vec![x],
            json!({ "documentationVersion": "1" }),
        ),
        (
            "ImportDocumentationParts",
            vec![x],
            json!({ "openapi": "3.0.1" }),
        ),
        (
            "PutRestApi",
            vec![x],
            json!({ "openapi": "3.0.1", "info": { "title": "t" }, "paths": {} }),
        ),
    ] {
        s.fail(name, &params, "", Some(body), nf);
    }

    // Bad input.
    for (name, body) in [
        ("CreateRestApi", json!({})),
        ("CreateApiKey", json!({ "name": "k", "value": "short" })),
        ("CreateUsagePlan", json!({})),
        ("CreateDomainName", json!({})),
        ("CreateVpcLink", json!({})),
        (
            "CreateDomainNameAccessAssociation",
            json!({ "domainNameArn": "arn:x",
            "accessAssociationSourceType": "VPCE", "accessAssociationSource": "vpce-1" }),
        ),
        (
            "GenerateClientCertificate",
            json!({ "tags": { "aws:x": "y" } }),
        ),
        ("ImportRestApi", json!({ "not": "openapi" })),
    ] {
        let q = if name == "ImportRestApi" {
            "mode=import"
        } else {
            ""
        };
        s.fail(name, &[], q, Some(body), br);
    }
    s.fail("UpdateAccount", &[], "", bad_patch(), br);
    s.fail("GetUsage", &[x], "", None, nf);
    s.fail("GetApiKeys", &[], "limit=0", None, br);
    s.fail("GetRestApis", &[], "limit=0", None, br);
    s.fail("GetUsagePlans", &[], "limit=0", None, br);
    s.fail("GetDomainNames", &[], "limit=0", None, br);
    s.fail("GetClientCertificates", &[], "limit=0", None, br);
    s.fail("GetVpcLinks", &[], "limit=0", None, br);
    s.fail("GetSdkTypes", &[], "limit=0", None, br);
    s.fail("GetDomainNameAccessAssociations", &[], "limit=0", None, br);
    s.fail("ImportApiKeys", &[], "mode=import", Some(json!({})), br);
    s.fail("GetSdk", &[&a, x, "java"], "", None, nf);
    if s.implemented("TestInvokeAuthorizer", &[&a, x]) {
        s.fail("TestInvokeAuthorizer", &[&a, x], "", Some(json!({})), nf);
    }

    // GetAccount has no failure to provoke.
    s.called.insert("GetAccount".into());
    s.coverage();
    s.verdict("error answers");
}
