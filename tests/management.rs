//! The management API (Amazon API Gateway REST v1 wire format) on the admin
//! listener of the real binary: auth, RestApis, Resources, Methods and
//! Integrations, Deployments and Stages, operations of the service model
//! portico does not implement, and persistence across restarts (clean stop
//! and `kill -9`).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";

/// The operations portico implements (`src/control/mod.rs` dispatch).
const IMPLEMENTED: &[&str] = &[
    "CreateRestApi",
    "TestInvokeMethod",
    "TestInvokeAuthorizer",
    "GetRestApis",
    "GetRestApi",
    "UpdateRestApi",
    "DeleteRestApi",
    "GetResources",
    "GetResource",
    "CreateResource",
    "UpdateResource",
    "DeleteResource",
    "PutMethod",
    "GetMethod",
    "UpdateMethod",
    "DeleteMethod",
    "PutMethodResponse",
    "GetMethodResponse",
    "UpdateMethodResponse",
    "DeleteMethodResponse",
    "PutIntegration",
    "GetIntegration",
    "UpdateIntegration",
    "DeleteIntegration",
    "PutIntegrationResponse",
    "GetIntegrationResponse",
    "UpdateIntegrationResponse",
    "DeleteIntegrationResponse",
    "CreateDeployment",
    "GetDeployments",
    "GetDeployment",
    "UpdateDeployment",
    "DeleteDeployment",
    "CreateStage",
    "GetStages",
    "GetStage",
    "UpdateStage",
    "DeleteStage",
    "ImportRestApi",
    "PutRestApi",
    "GetExport",
    "FlushStageCache",
    "CreateApiKey",
    "GetApiKeys",
    "GetApiKey",
    "UpdateApiKey",
    "DeleteApiKey",
    "ImportApiKeys",
    "CreateUsagePlan",
    "GetUsagePlans",
    "GetUsagePlan",
    "UpdateUsagePlan",
    "DeleteUsagePlan",
    "CreateUsagePlanKey",
    "GetUsagePlanKeys",
    "GetUsagePlanKey",
    "DeleteUsagePlanKey",
    "GetUsage",
    "UpdateUsage",
    "GetSdkTypes",
    "GetSdkType",
    "GetSdk",
    "GetAccount",
    "UpdateAccount",
    "TagResource",
    "UntagResource",
    "GetTags",
    "CreateModel",
    "GetModel",
    "GetModels",
    "UpdateModel",
    "DeleteModel",
    "GetModelTemplate",
    "CreateRequestValidator",
    "GetRequestValidator",
    "GetRequestValidators",
    "UpdateRequestValidator",
    "DeleteRequestValidator",
    "GenerateClientCertificate",
    "GetClientCertificate",
    "GetClientCertificates",
    "UpdateClientCertificate",
    "DeleteClientCertificate",
    "CreateVpcLink",
    "GetVpcLink",
    "GetVpcLinks",
    "UpdateVpcLink",
    "DeleteVpcLink",
    "PutGatewayResponse",
    "GetGatewayResponse",
    "GetGatewayResponses",
    "UpdateGatewayResponse",
    "DeleteGatewayResponse",
    "CreateDomainName",
    "GetDomainName",
    "GetDomainNames",
    "UpdateDomainName",
    "DeleteDomainName",
    "CreateBasePathMapping",
    "GetBasePathMapping",
    "GetBasePathMappings",
    "UpdateBasePathMapping",
    "DeleteBasePathMapping",
    "CreateAuthorizer",
    "GetAuthorizer",
    "GetAuthorizers",
    "UpdateAuthorizer",
    "DeleteAuthorizer",
    "FlushStageAuthorizersCache",
    "CreateDomainNameAccessAssociation",
    "GetDomainNameAccessAssociations",
    "DeleteDomainNameAccessAssociation",
    "RejectDomainNameAccessAssociation",
    "CreateDocumentationPart",
    "GetDocumentationPart",
    "GetDocumentationParts",
    "UpdateDocumentationPart",
    "DeleteDocumentationPart",
    "ImportDocumentationParts",
    "CreateDocumentationVersion",
    "GetDocumentationVersion",
    "GetDocumentationVersions",
    "UpdateDocumentationVersion",
    "DeleteDocumentationVersion",
];

/// A config with no gateway API and the admin token set.
fn mgmt_config() -> Config {
    Config::new("").admin("token", &toml_str(TOKEN))
}

/// A portico and calls to its management API with the right token.
struct Mgmt {
    srv: Server,
}

impl Mgmt {
    fn start(cfg: &Config) -> Mgmt {
        Mgmt {
            srv: Server::start(cfg),
        }
    }

    fn new() -> Mgmt {
        Mgmt::start(&mgmt_config())
    }

    /// `method path` with the bearer token and an optional JSON body.
    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> AdminJson {
        let auth = format!("Bearer {TOKEN}");
        self.srv
            .admin_json(method, path, &[("Authorization", &auth)], body.as_ref())
    }

    /// A call that must answer `status`; its JSON body.
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let r = self.call(method, path, body.clone());
        assert_eq!(
            r.status, status,
            "{method} {path} {body:?}: want {status}, got {} {}",
            r.status, r.text
        );
        if r.status < 300 {
            assert!(
                r.header("x-amzn-ErrorType").is_none(),
                "{method} {path}: success with x-amzn-ErrorType: {r:?}"
            );
        }
        r.json
    }

    fn get(&mut self, path: &str) -> Value {
        self.ok("GET", path, None, 200)
    }

    /// A call that must fail with `status` and error type `kind`; its message.
    fn err(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        kind: &str,
    ) -> String {
        let r = self.call(method, path, body.clone());
        assert_api_error(&r, status, kind, &format!("{method} {path} {body:?}"))
    }

    /// UpdateX: `PATCH path` with `ops` as (op, path, value).
    fn patch_req(&mut self, path: &str, ops: &[(&str, &str, Option<&str>)]) -> AdminJson {
        self.call("PATCH", path, Some(patch_body(ops)))
    }

    fn patch(&mut self, path: &str, ops: &[(&str, &str, Option<&str>)]) -> Value {
        self.ok("PATCH", path, Some(patch_body(ops)), 200)
    }

    fn patch_err(
        &mut self,
        path: &str,
        ops: &[(&str, &str, Option<&str>)],
        status: u16,
        kind: &str,
    ) -> String {
        let r = self.patch_req(path, ops);
        assert_api_error(&r, status, kind, &format!("PATCH {path} {ops:?}"))
    }

    /// CreateRestApi `name`; the API.
    fn create_api(&mut self, name: &str) -> Value {
        self.ok("POST", "/restapis", Some(json!({ "name": name })), 201)
    }

    /// CreateResource `part` under `parent`; the resource.
    fn create_resource(&mut self, api: &str, parent: &str, part: &str) -> Value {
        self.ok(
            "POST",
            &format!("/restapis/{api}/resources/{parent}"),
            Some(json!({ "pathPart": part })),
            201,
        )
    }

    /// PutMethod `verb` (authorizationType NONE) with `apiKeyRequired`.
    fn put_method(&mut self, api: &str, res: &str, verb: &str, key: bool) -> Value {
        self.ok(
            "PUT",
            &method_path(api, res, verb),
            Some(json!({ "authorizationType": "NONE", "apiKeyRequired": key })),
            201,
        )
    }

    /// PutIntegration MOCK on the method.
    fn put_mock(&mut self, api: &str, res: &str, verb: &str) -> Value {
        self.ok(
            "PUT",
            &format!("{}/integration", method_path(api, res, verb)),
            Some(json!({ "type": "MOCK" })),
            201,
        )
    }
}

fn method_path(api: &str, res: &str, verb: &str) -> String {
    format!("/restapis/{api}/resources/{res}/methods/{verb}")
}

fn patch_body(ops: &[(&str, &str, Option<&str>)]) -> Value {
    let ops: Vec<Value> = ops
        .iter()
        .map(|(op, path, value)| match value {
            Some(v) => json!({ "op": op, "path": path, "value": v }),
            None => json!({ "op": op, "path": path }),
        })
        .collect();
    json!({ "patchOperations": ops })
}

/// API Gateway's error: `status`, `x-amzn-ErrorType: kind`, JSON body with
/// `__type: kind` and a non-empty `message`, which is returned.
fn assert_api_error(r: &AdminJson, status: u16, kind: &str, ctx: &str) -> String {
    assert_eq!(
        r.status, status,
        "{ctx}: want {status} {kind}, got {} {}",
        r.status, r.text
    );
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some(kind),
        "{ctx}: x-amzn-ErrorType: {r:?}"
    );
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "{ctx}: content-type {ct:?}"
    );
    assert_eq!(r.json["__type"], kind, "{ctx}: __type in {}", r.text);
    let msg = r.json["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: no string message in {}", r.text));
    assert!(!msg.is_empty(), "{ctx}: empty message");
    msg.to_string()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {v}"))
}

/// The `item` list of a page.
fn items(v: &Value) -> &Vec<Value> {
    v["item"]
        .as_array()
        .unwrap_or_else(|| panic!("no `item` array in {v}"))
}

fn ids(v: &Value) -> BTreeSet<String> {
    items(v).iter().map(|i| s(i, "id").to_string()).collect()
}

/// The item of a resource list with this path.
fn by_path<'a>(list: &'a Value, path: &str) -> &'a Value {
    items(list)
        .iter()
        .find(|r| r["path"] == path)
        .unwrap_or_else(|| panic!("no resource {path} in {list}"))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------
// 1. Auth
// ---------------------------------------------------------------------------

/// Refusals of the management API's authentication (AWS's): 403 with
/// `MissingAuthenticationTokenException` without an `authorization`
/// header, `UnrecognizedClientException` for a token that is not the
/// admin token (or a signature when no access key is configured).
const MISSING: &str = "MissingAuthenticationTokenException";
const UNRECOGNIZED: &str = "UnrecognizedClientException";

/// What a case is, its header lines, the error type it must get.
type AuthCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn auth_needs_the_admin_bearer_token() {
    let mut m = Mgmt::new();
    let create = json!({ "name": "sneaky" });
    let sig =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/apigateway/aws4_request, \
               SignedHeaders=host;x-amz-date, Signature=0123456789abcdef";
    let cases: &[AuthCase] = &[
        ("no authorization", vec![], MISSING),
        (
            "wrong token",
            vec![("Authorization", "Bearer not-the-token-0123")],
            UNRECOGNIZED,
        ),
        (
            "token without Bearer",
            vec![("Authorization", TOKEN)],
            UNRECOGNIZED,
        ),
        (
            "Basic scheme",
            vec![("Authorization", "Basic bWdtdDp0b2tlbg==")],
            UNRECOGNIZED,
        ),
        (
            "token prefix",
            vec![("Authorization", "Bearer mgmt-token-01234")],
            UNRECOGNIZED,
        ),
        (
            "token with a suffix",
            vec![("Authorization", "Bearer mgmt-token-0123456789x")],
            UNRECOGNIZED,
        ),
        (
            "SigV4 with no access key configured",
            vec![("Authorization", sig), ("X-Amz-Date", "20260101T000000Z")],
            UNRECOGNIZED,
        ),
    ];
    for (what, headers, kind) in cases {
        for (method, path, body) in [
            ("GET", "/restapis", None),
            ("POST", "/restapis", Some(&create)),
            ("GET", "/restapis/abc/authorizers", None),
        ] {
            let r = m.srv.admin_json(method, path, headers, body);
            assert_api_error(&r, 403, kind, &format!("{what}: {method} {path}"));
        }
    }
    // None of the refused calls changed anything; the right token works
    // (header name in any case).
    let list = m.get("/restapis");
    assert!(items(&list).is_empty(), "refused create stored: {list}");
    let auth = format!("Bearer {TOKEN}");
    let r = m.srv.admin_json(
        "POST",
        "/restapis",
        &[("authorization", &auth)],
        Some(&create),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(items(&m.get("/restapis")).len(), 1);
}

#[test]
fn auth_refused_when_no_token_is_configured() {
    let mut srv = Server::start(&Config::new(""));
    for token in [TOKEN, "", "anything"] {
        let auth = format!("Bearer {token}");
        let r = srv.admin_json(
            "POST",
            "/restapis",
            &[("Authorization", &auth)],
            Some(&json!({ "name": "x" })),
        );
        assert_api_error(&r, 403, UNRECOGNIZED, &format!("token {token:?}"));
    }
    let r = srv.admin_json("GET", "/restapis", &[], None);
    assert_api_error(&r, 403, MISSING, "no authorization");
}

#[test]
fn auth_token_from_the_environment() {
    let cfg = Config::new("").admin("token_env", "\"PORTICO_TEST_MGMT_TOKEN\"");
    let mut srv = Server::start_with_env(&cfg, &[("PORTICO_TEST_MGMT_TOKEN", "env-token-abcdef")]);
    let r = srv.admin_json(
        "GET",
        "/restapis",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        None,
    );
    assert_api_error(&r, 403, UNRECOGNIZED, "not the token_env token");
    let r = srv.admin_json(
        "GET",
        "/restapis",
        &[("Authorization", "Bearer env-token-abcdef")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json, json!({ "item": [] }));
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let mut m = Mgmt::new();
    let port = m.srv.admin_port();
    let auth = format!("Bearer {TOKEN}");
    for body in [&b"{not json"[..], b"[1,", b"\"unterminated"] {
        let raw = request(
            "POST",
            "/restapis",
            "localhost",
            &[("Connection", "close"), ("Authorization", &auth)],
            body,
        );
        let r = AdminJson::of(Client::connect(port).request(raw), "POST /restapis");
        assert_api_error(&r, 400, "BadRequestException", &format!("body {body:?}"));
    }
    for (what, body) in [
        ("no name", json!({})),
        ("empty name", json!({ "name": "" })),
        (
            "bad apiKeySource",
            json!({ "name": "x", "apiKeySource": "QUERY" }),
        ),
    ] {
        let r = m.call("POST", "/restapis", Some(body));
        assert_api_error(&r, 400, "BadRequestException", what);
    }
    let api = m.create_api("ok");
    let r = m.call(
        "PATCH",
        &format!("/restapis/{}", s(&api, "id")),
        Some(json!({ "patchOperations": "replace everything" })),
    );
    assert_api_error(&r, 400, "BadRequestException", "patchOperations not a list");
    assert_eq!(ids(&m.get("/restapis")).len(), 1, "a refused create stored");
}

/// Several calls on one keep-alive connection (as SDKs make them): every
/// answer, bodiless ones included, is framed so the next one reads right.
#[test]
fn calls_share_a_keep_alive_connection() {
    let mut m = Mgmt::new();
    let port = m.srv.admin_port();
    let auth = format!("Bearer {TOKEN}");
    let hdrs = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mut c = Client::connect(port);
    let mut call = |method: &str, path: &str, body: &str| -> AdminJson {
        let raw = request(method, path, "localhost", &hdrs, body.as_bytes());
        let r = AdminJson::of(c.request(raw), &format!("{method} {path}"));
        eprintln!("{method} {path} -> {} {}", r.status, r.text);
        r
    };
    let api = call("POST", "/restapis", r#"{"name":"ka"}"#);
    assert_eq!(api.status, 201, "{}", api.text);
    let id = s(&api.json, "id").to_string();
    let root = s(&api.json, "rootResourceId").to_string();
    let get = method_path(&id, &root, "GET");
    assert_eq!(
        call("PUT", &get, r#"{"authorizationType":"NONE"}"#).status,
        201
    );
    let r = call("DELETE", &get, "");
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    assert_eq!(call("GET", &get, "").status, 404);
    assert_eq!(call("GET", "/restapis/x/authorizers", "").status, 404);
    let r = call("DELETE", &format!("/restapis/{id}"), "");
    assert_eq!((r.status, r.text.as_str()), (202, ""));
    let r = call("GET", "/restapis", "");
    assert_eq!((r.status, r.json.clone()), (200, json!({ "item": [] })));
}

// ---------------------------------------------------------------------------
// 2. RestApis
// ---------------------------------------------------------------------------

#[test]
fn rest_api_create_get_list_update_delete() {
    let mut m = Mgmt::new();
    let before = unix_now();
    let api = m.ok(
        "POST",
        "/restapis",
        Some(json!({ "name": "pets", "description": "the pet store" })),
        201,
    );
    let after = unix_now();
    let id = s(&api, "id").to_string();
    assert_eq!(id.len(), 10, "id {id:?}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "id {id:?} is not lower-case alphanumeric"
    );
    assert_eq!(api["name"], "pets");
    assert_eq!(api["description"], "the pet store");
    assert!(!s(&api, "rootResourceId").is_empty(), "{api}");
    assert_eq!(api["apiKeySource"], "HEADER", "{api}");
    assert_eq!(
        api["endpointConfiguration"]["types"],
        json!(["EDGE"]),
        "{api}"
    );
    let created = api["createdDate"]
        .as_i64()
        .unwrap_or_else(|| panic!("createdDate is not an integer: {api}"));
    assert!(
        (before - 1..=after + 1).contains(&created),
        "createdDate {created} not within [{before}, {after}] (epoch seconds)"
    );

    // GetRestApi answers the same document.
    assert_eq!(m.get(&format!("/restapis/{id}")), api);

    // Pagination over three APIs.
    let b = m.create_api("second");
    let c = m.create_api("third");
    let all: BTreeSet<String> = [&api, &b, &c]
        .iter()
        .map(|a| s(a, "id").to_string())
        .collect();
    assert_eq!(all.len(), 3, "ids not unique: {all:?}");
    let full = m.get("/restapis");
    assert_eq!(ids(&full), all, "{full}");
    assert!(
        full.get("position").is_none(),
        "single page has a position: {full}"
    );
    let p1 = m.get("/restapis?limit=2");
    assert_eq!(items(&p1).len(), 2, "{p1}");
    let pos = s(&p1, "position").to_string();
    let p2 = m.get(&format!("/restapis?limit=2&position={pos}"));
    assert_eq!(items(&p2).len(), 1, "{p2}");
    assert!(
        p2.get("position").is_none(),
        "last page has a position: {p2}"
    );
    let walked: BTreeSet<String> = ids(&p1).union(&ids(&p2)).cloned().collect();
    assert_eq!(walked, all, "pages {p1} {p2}");
    m.err("GET", "/restapis?limit=0", None, 400, "BadRequestException");

    // UpdateRestApi.
    let path = format!("/restapis/{id}");
    let u = m.patch(
        &path,
        &[
            ("replace", "/name", Some("pets-v2")),
            ("replace", "/description", Some("new description")),
            ("add", "/binaryMediaTypes/image~1png", None),
        ],
    );
    assert_eq!(u["name"], "pets-v2", "{u}");
    assert_eq!(u["description"], "new description", "{u}");
    assert_eq!(u["binaryMediaTypes"], json!(["image/png"]), "{u}");
    assert_eq!(m.get(&path), u, "GetRestApi after the update");
    let u = m.patch(&path, &[("remove", "/binaryMediaTypes/image~1png", None)]);
    let types = u
        .get("binaryMediaTypes")
        .cloned()
        .unwrap_or_else(|| json!([]));
    assert_eq!(types, json!([]), "after remove: {u}");

    // A bad path is refused, naming it, and nothing of the call applies.
    let msg = m.patch_err(
        &path,
        &[
            ("replace", "/name", Some("must-not-stick")),
            ("replace", "/noSuchField", Some("x")),
        ],
        400,
        "BadRequestException",
    );
    assert!(msg.contains("/noSuchField"), "message {msg:?}");
    assert_eq!(m.get(&path)["name"], "pets-v2", "half-applied patch");
    m.patch_err(
        "/restapis/nosuchapi0",
        &[("replace", "/name", Some("x"))],
        404,
        "NotFoundException",
    );

    // DeleteRestApi.
    let r = m.call("DELETE", &path, None);
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.text.is_empty(), "DeleteRestApi body {:?}", r.text);
    m.err("GET", &path, None, 404, "NotFoundException");
    m.err("DELETE", &path, None, 404, "NotFoundException");
    let left = m.get("/restapis");
    assert_eq!(
        ids(&left),
        [s(&b, "id").to_string(), s(&c, "id").to_string()].into(),
        "{left}"
    );
}

// ---------------------------------------------------------------------------
// 3. Resources
// ---------------------------------------------------------------------------

#[test]
fn resources_tree() {
    let mut m = Mgmt::new();
    let api = m.create_api("tree");
    let id = s(&api, "id").to_string();
    let root_id = s(&api, "rootResourceId").to_string();
    let list_path = format!("/restapis/{id}/resources");

    let list = m.get(&list_path);
    assert_eq!(items(&list).len(), 1, "{list}");
    let root = by_path(&list, "/");
    assert_eq!(root["id"], root_id.as_str(), "{list}");
    assert!(root.get("parentId").is_none(), "root has a parent: {root}");

    let pets = m.create_resource(&id, &root_id, "pets");
    let pets_id = s(&pets, "id").to_string();
    assert_eq!(pets["path"], "/pets", "{pets}");
    assert_eq!(pets["pathPart"], "pets", "{pets}");
    assert_eq!(pets["parentId"], root_id.as_str(), "{pets}");
    let pet = m.create_resource(&id, &pets_id, "{petId}");
    let pet_id = s(&pet, "id").to_string();
    assert_eq!(pet["path"], "/pets/{petId}", "{pet}");
    assert_eq!(pet["parentId"], pets_id.as_str(), "{pet}");
    let toys = m.create_resource(&id, &pet_id, "toys");
    assert_eq!(toys["path"], "/pets/{petId}/toys", "{toys}");
    // The same name under another parent is fine.
    let other = m.create_resource(&id, &root_id, "toys");
    assert_eq!(other["path"], "/toys", "{other}");

    // Duplicates and bad path parts.
    let create = format!("/restapis/{id}/resources/{root_id}");
    m.err(
        "POST",
        &create,
        Some(json!({ "pathPart": "pets" })),
        409,
        "ConflictException",
    );
    for bad in ["a/b", "", "{}", "sp ace"] {
        m.err(
            "POST",
            &create,
            Some(json!({ "pathPart": bad })),
            400,
            "BadRequestException",
        );
    }
    m.err(
        "POST",
        &format!("/restapis/{id}/resources/nosuch"),
        Some(json!({ "pathPart": "x" })),
        404,
        "NotFoundException",
    );
    assert_eq!(items(&m.get(&list_path)).len(), 5, "refused creates stored");

    // resourceMethods: names only, or whole with embed=methods.
    m.put_method(&id, &pet_id, "GET", true);
    let list = m.get(&list_path);
    assert_eq!(
        by_path(&list, "/pets/{petId}")["resourceMethods"],
        json!({ "GET": {} }),
        "{list}"
    );
    let list = m.get(&format!("{list_path}?embed=methods"));
    let get = &by_path(&list, "/pets/{petId}")["resourceMethods"]["GET"];
    assert_eq!(get["httpMethod"], "GET", "{list}");
    assert_eq!(get["authorizationType"], "NONE", "{list}");
    assert_eq!(get["apiKeyRequired"], true, "{list}");
    let one = m.get(&format!("{list_path}/{pet_id}"));
    assert_eq!(one["path"], "/pets/{petId}", "{one}");
    assert_eq!(one["resourceMethods"], json!({ "GET": {} }), "{one}");

    // Rename: the child paths follow.
    let renamed = m.patch(
        &format!("{list_path}/{pets_id}"),
        &[("replace", "/pathPart", Some("animals"))],
    );
    assert_eq!(renamed["path"], "/animals", "{renamed}");
    assert_eq!(renamed["pathPart"], "animals", "{renamed}");
    let list = m.get(&list_path);
    let paths: BTreeSet<&str> = items(&list)
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/",
            "/animals",
            "/animals/{petId}",
            "/animals/{petId}/toys",
            "/toys"
        ]
        .into(),
        "{list}"
    );
    // Renaming onto a sibling's name conflicts; a bad name is refused.
    m.patch_err(
        &format!("{list_path}/{pets_id}"),
        &[("replace", "/pathPart", Some("toys"))],
        409,
        "ConflictException",
    );
    m.patch_err(
        &format!("{list_path}/{pets_id}"),
        &[("replace", "/pathPart", Some("a/b"))],
        400,
        "BadRequestException",
    );
    assert_eq!(m.get(&format!("{list_path}/{pets_id}"))["path"], "/animals");

    // Move: /toys under /animals/{petId}/toys is a conflict-free move
    // of the whole subtree; a move under itself and a patch of the root
    // are refused.
    let top_toys = s(&other, "id").to_string();
    let moved = m.patch(
        &format!("{list_path}/{top_toys}"),
        &[("replace", "/parentId", Some(&pets_id))],
    );
    assert_eq!(moved["path"], "/animals/toys", "{moved}");
    assert_eq!(moved["parentId"], pets_id.as_str(), "{moved}");
    m.patch_err(
        &format!("{list_path}/{pets_id}"),
        &[("replace", "/parentId", Some(&pet_id))],
        400,
        "BadRequestException",
    );
    m.patch_err(
        &format!("{list_path}/{pets_id}"),
        &[("replace", "/parentId", Some("nosuch"))],
        404,
        "NotFoundException",
    );
    m.patch_err(
        &format!("{list_path}/{root_id}"),
        &[("replace", "/pathPart", Some("x"))],
        400,
        "BadRequestException",
    );
    let moved = m.patch(
        &format!("{list_path}/{top_toys}"),
        &[("replace", "/parentId", Some(&root_id))],
    );
    assert_eq!(moved["path"], "/toys", "{moved}");

    // Pagination over resources.
    let p1 = m.get(&format!("{list_path}?limit=3"));
    assert_eq!(items(&p1).len(), 3, "{p1}");
    let pos = s(&p1, "position").to_string();
    let p2 = m.get(&format!("{list_path}?limit=3&position={pos}"));
    assert_eq!(items(&p2).len(), 2, "{p2}");
    assert!(p2.get("position").is_none(), "{p2}");
    let walked: BTreeSet<String> = ids(&p1).union(&ids(&p2)).cloned().collect();
    assert_eq!(walked, ids(&m.get(&list_path)), "{p1} {p2}");

    // DeleteResource takes the subtree with it.
    let r = m.call("DELETE", &format!("{list_path}/{pets_id}"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let list = m.get(&list_path);
    let left: BTreeSet<&str> = items(&list)
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["/", "/toys"].into(), "{list}");
    for gone in [&pets_id, &pet_id, &s(&toys, "id").to_string()] {
        m.err(
            "GET",
            &format!("{list_path}/{gone}"),
            None,
            404,
            "NotFoundException",
        );
    }

    // The root stays; unknown ids are 404.
    m.err(
        "DELETE",
        &format!("{list_path}/{root_id}"),
        None,
        400,
        "BadRequestException",
    );
    assert_eq!(m.get(&format!("{list_path}/{root_id}"))["path"], "/");
    m.err(
        "DELETE",
        &format!("{list_path}/nosuch"),
        None,
        404,
        "NotFoundException",
    );
    m.err(
        "GET",
        "/restapis/nosuchapi0/resources",
        None,
        404,
        "NotFoundException",
    );
}

// ---------------------------------------------------------------------------
// 4. Methods and integrations
// ---------------------------------------------------------------------------

#[test]
fn methods_and_integrations() {
    let mut m = Mgmt::new();
    let api = m.create_api("methods");
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    let res = s(&m.create_resource(&id, &root, "pets"), "id").to_string();
    let get = method_path(&id, &res, "GET");
    let integ = format!("{get}/integration");

    let meth = m.put_method(&id, &res, "GET", true);
    assert_eq!(meth["httpMethod"], "GET", "{meth}");
    assert_eq!(meth["authorizationType"], "NONE", "{meth}");
    assert_eq!(meth["apiKeyRequired"], true, "{meth}");
    m.err(
        "PUT",
        &get,
        Some(json!({ "authorizationType": "NONE" })),
        409,
        "ConflictException",
    );
    m.err(
        "PUT",
        &method_path(&id, &res, "FETCH"),
        Some(json!({ "authorizationType": "NONE" })),
        400,
        "BadRequestException",
    );
    m.err(
        "PUT",
        &method_path(&id, &res, "POST"),
        Some(json!({})),
        400,
        "BadRequestException",
    );
    m.err(
        "PUT",
        &method_path(&id, "nosuch", "GET"),
        Some(json!({ "authorizationType": "NONE" })),
        404,
        "NotFoundException",
    );
    m.err(
        "GET",
        &method_path(&id, &res, "POST"),
        None,
        404,
        "NotFoundException",
    );

    let got = m.get(&get);
    assert_eq!(got, meth, "GetMethod");

    let u = m.patch(
        &get,
        &[
            ("replace", "/apiKeyRequired", Some("false")),
            (
                "add",
                "/requestParameters/method.request.querystring.q",
                Some("true"),
            ),
        ],
    );
    assert_eq!(u["apiKeyRequired"], false, "{u}");
    assert_eq!(
        u["requestParameters"],
        json!({ "method.request.querystring.q": true }),
        "{u}"
    );
    assert_eq!(m.get(&get), u, "GetMethod after UpdateMethod");
    let msg = m.patch_err(
        &get,
        &[("replace", "/bogus", Some("1"))],
        400,
        "BadRequestException",
    );
    assert!(msg.contains("/bogus"), "{msg}");

    // Method response.
    let mr = m.ok("PUT", &format!("{get}/responses/200"), Some(json!({})), 201);
    assert_eq!(mr["statusCode"], "200", "{mr}");
    assert_eq!(m.get(&format!("{get}/responses/200"))["statusCode"], "200");
    assert_eq!(m.get(&get)["methodResponses"]["200"]["statusCode"], "200");
    m.err(
        "PUT",
        &format!("{get}/responses/abc"),
        Some(json!({})),
        400,
        "BadRequestException",
    );

    // GetIntegration before any is 404.
    m.err("GET", &integ, None, 404, "NotFoundException");

    // HTTP_PROXY needs an httpMethod and an http(s) uri.
    for (what, body) in [
        (
            "no httpMethod",
            json!({ "type": "HTTP_PROXY", "uri": "http://example.com/pets" }),
        ),
        (
            "no uri",
            json!({ "type": "HTTP_PROXY", "httpMethod": "GET" }),
        ),
        (
            "ftp uri",
            json!({ "type": "HTTP_PROXY", "httpMethod": "GET", "uri": "ftp://example.com/" }),
        ),
        (
            "bad type",
            json!({ "type": "CARRIER_PIGEON", "httpMethod": "GET", "uri": "http://x/" }),
        ),
        (
            "timeout too high",
            json!({ "type": "HTTP_PROXY", "httpMethod": "GET", "uri": "http://x/", "timeoutInMillis": 29001 }),
        ),
    ] {
        let r = m.call("PUT", &integ, Some(body));
        assert_api_error(&r, 400, "BadRequestException", what);
    }
    m.err("GET", &integ, None, 404, "NotFoundException");

    let i = m.ok(
        "PUT",
        &integ,
        Some(
            json!({ "type": "HTTP_PROXY", "httpMethod": "GET", "uri": "http://example.com/pets" }),
        ),
        201,
    );
    assert_eq!(i["type"], "HTTP_PROXY", "{i}");
    let gi = m.get(&integ);
    assert_eq!(gi["type"], "HTTP_PROXY", "{gi}");
    assert_eq!(gi["httpMethod"], "GET", "{gi}");
    assert_eq!(gi["uri"], "http://example.com/pets", "{gi}");
    assert_eq!(gi["timeoutInMillis"], 29000, "{gi}");
    assert_eq!(
        m.get(&get)["methodIntegration"]["uri"],
        "http://example.com/pets"
    );

    let u = m.patch(
        &integ,
        &[
            ("replace", "/uri", Some("https://example.org/v2/pets")),
            ("replace", "/timeoutInMillis", Some("5000")),
        ],
    );
    assert_eq!(u["uri"], "https://example.org/v2/pets", "{u}");
    assert_eq!(u["timeoutInMillis"], 5000, "{u}");
    for bad in ["49", "29001", "0", "abc"] {
        m.patch_err(
            &integ,
            &[("replace", "/timeoutInMillis", Some(bad))],
            400,
            "BadRequestException",
        );
    }
    m.patch_err(
        &integ,
        &[("replace", "/uri", Some("ftp://example.org/"))],
        400,
        "BadRequestException",
    );
    let gi = m.get(&integ);
    assert_eq!(gi["timeoutInMillis"], 5000, "refused update stored: {gi}");
    assert_eq!(gi["uri"], "https://example.org/v2/pets", "{gi}");
    // The bounds themselves are allowed.
    for ok in ["50", "29000"] {
        let u = m.patch(&integ, &[("replace", "/timeoutInMillis", Some(ok))]);
        assert_eq!(u["timeoutInMillis"], ok.parse::<i64>().unwrap(), "{u}");
    }

    // Integration response.
    let ir = m.ok(
        "PUT",
        &format!("{integ}/responses/200"),
        Some(json!({ "selectionPattern": "2\\d{2}" })),
        201,
    );
    assert_eq!(ir["statusCode"], "200", "{ir}");
    assert_eq!(ir["selectionPattern"], "2\\d{2}", "{ir}");
    let gi = m.get(&integ);
    assert_eq!(
        gi["integrationResponses"]["200"]["selectionPattern"], "2\\d{2}",
        "{gi}"
    );
    assert_eq!(
        m.get(&format!("{integ}/responses/200"))["statusCode"],
        "200"
    );

    // MOCK on another method needs no uri.
    m.put_method(&id, &res, "POST", false);
    let mock = m.put_mock(&id, &res, "POST");
    assert_eq!(mock["type"], "MOCK", "{mock}");
    assert_eq!(
        m.get(&format!("{}/integration", method_path(&id, &res, "POST")))["type"],
        "MOCK"
    );

    // DeleteIntegration, then DeleteMethod.
    let r = m.call("DELETE", &integ, None);
    assert_eq!(r.status, 204, "{}", r.text);
    m.err("GET", &integ, None, 404, "NotFoundException");
    m.err("DELETE", &integ, None, 404, "NotFoundException");
    assert!(
        m.get(&get).get("methodIntegration").is_none(),
        "method keeps a deleted integration"
    );
    let r = m.call("DELETE", &get, None);
    assert_eq!(r.status, 204, "{}", r.text);
    m.err("GET", &get, None, 404, "NotFoundException");
    m.err("DELETE", &get, None, 404, "NotFoundException");
    let list = m.get(&format!("/restapis/{id}/resources"));
    assert_eq!(
        by_path(&list, "/pets")["resourceMethods"],
        json!({ "POST": {} }),
        "{list}"
    );
}

// ---------------------------------------------------------------------------
// 5. Deployments and stages
// ---------------------------------------------------------------------------

#[test]
fn deployments_and_stages() {
    let mut m = Mgmt::new();
    let api = m.create_api("deploy");
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    let deployments = format!("/restapis/{id}/deployments");
    let stages = format!("/restapis/{id}/stages");

    let msg = m.err(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod" })),
        400,
        "BadRequestException",
    );
    assert_eq!(msg, "The REST API doesn't contain any methods");
    assert!(items(&m.get(&deployments)).is_empty());
    assert!(
        items(&m.get(&stages)).is_empty(),
        "stage made without a deployment"
    );

    let pets = s(&m.create_resource(&id, &root, "pets"), "id").to_string();
    m.put_method(&id, &pets, "GET", true);
    m.put_mock(&id, &pets, "GET");
    m.put_method(&id, &root, "ANY", false);
    m.put_mock(&id, &root, "ANY");

    let d1 = m.ok(
        "POST",
        &deployments,
        Some(json!({
            "stageName": "prod",
            "description": "first",
            "variables": { "backend": "b1" }
        })),
        201,
    );
    let d1_id = s(&d1, "id").to_string();
    assert_eq!(d1["description"], "first", "{d1}");
    assert_eq!(
        d1["apiSummary"],
        json!({
            "/": { "ANY": { "authorizationType": "NONE", "apiKeyRequired": false } },
            "/pets": { "GET": { "authorizationType": "NONE", "apiKeyRequired": true } }
        }),
        "{d1}"
    );
    assert!(d1["createdDate"].is_i64(), "{d1}");
    let prod_path = format!("{stages}/prod");
    let prod = m.get(&prod_path);
    assert_eq!(prod["stageName"], "prod", "{prod}");
    assert_eq!(prod["deploymentId"], d1_id.as_str(), "{prod}");
    assert_eq!(prod["variables"], json!({ "backend": "b1" }), "{prod}");
    assert_eq!(
        m.get(&format!("{deployments}/{d1_id}?embed=apisummary")),
        d1,
        "GetDeployment"
    );

    let d2 = m.ok(
        "POST",
        &deployments,
        Some(json!({ "description": "second" })),
        201,
    );
    let d2_id = s(&d2, "id").to_string();
    assert_ne!(d1_id, d2_id);
    let list = m.get(&deployments);
    assert_eq!(ids(&list), [d1_id.clone(), d2_id.clone()].into(), "{list}");
    assert_eq!(
        m.get(&prod_path)["deploymentId"],
        d1_id.as_str(),
        "a deployment without stageName moved the stage"
    );
    m.err(
        "GET",
        &format!("{deployments}/nosuch"),
        None,
        404,
        "NotFoundException",
    );

    // CreateStage.
    m.err(
        "POST",
        &stages,
        Some(json!({ "stageName": "prod", "deploymentId": d2_id })),
        409,
        "ConflictException",
    );
    m.err(
        "POST",
        &stages,
        Some(json!({ "stageName": "beta", "deploymentId": "nosuch" })),
        404,
        "NotFoundException",
    );
    let beta = m.ok(
        "POST",
        &stages,
        Some(json!({ "stageName": "beta", "deploymentId": d2_id, "variables": { "v": "1" } })),
        201,
    );
    assert_eq!(beta["deploymentId"], d2_id.as_str(), "{beta}");
    assert_eq!(beta["variables"], json!({ "v": "1" }), "{beta}");
    assert_eq!(m.get(&format!("{stages}/beta")), beta, "GetStage beta");

    // UpdateStage: variables.
    let u = m.patch(&prod_path, &[("add", "/variables/x", Some("1"))]);
    assert_eq!(u["variables"], json!({ "backend": "b1", "x": "1" }), "{u}");
    let u = m.patch(&prod_path, &[("remove", "/variables/x", None)]);
    assert_eq!(u["variables"], json!({ "backend": "b1" }), "{u}");

    // Throttling for every method.
    let u = m.patch(
        &prod_path,
        &[
            ("replace", "/*/*/throttling/rateLimit", Some("100")),
            ("replace", "/*/*/throttling/burstLimit", Some("50")),
        ],
    );
    let all = &u["methodSettings"]["*/*"];
    assert_eq!(all["throttlingRateLimit"].as_f64(), Some(100.0), "{u}");
    assert_eq!(all["throttlingBurstLimit"], 50, "{u}");

    // Caching for GET /pets.
    let u = m.patch(
        &prod_path,
        &[
            ("replace", "/~1pets/GET/caching/enabled", Some("true")),
            ("replace", "/~1pets/GET/caching/ttlInSeconds", Some("60")),
        ],
    );
    let pets_get = &u["methodSettings"]["~1pets/GET"];
    assert_eq!(pets_get["cachingEnabled"], true, "{u}");
    assert_eq!(pets_get["cacheTtlInSeconds"], 60, "{u}");
    assert_eq!(
        u["methodSettings"]["*/*"]["throttlingBurstLimit"], 50,
        "another key's settings lost: {u}"
    );
    m.patch_err(
        &prod_path,
        &[("replace", "/~1pets/GET/caching/ttlInSeconds", Some("4000"))],
        400,
        "BadRequestException",
    );
    m.patch_err(
        &prod_path,
        &[("replace", "/~1other/GET/caching/ttlInSeconds", Some("4000"))],
        400,
        "BadRequestException",
    );
    let st = m.get(&prod_path);
    assert_eq!(
        st["methodSettings"]["~1pets/GET"]["cacheTtlInSeconds"], 60,
        "refused ttl stored: {st}"
    );
    assert!(
        st["methodSettings"].get("~1other/GET").is_none(),
        "refused update left a method setting: {st}"
    );

    // Cache cluster.
    let u = m.patch(
        &prod_path,
        &[("replace", "/cacheClusterEnabled", Some("true"))],
    );
    assert_eq!(u["cacheClusterEnabled"], true, "{u}");
    assert_eq!(u["cacheClusterSize"], "0.5", "{u}");
    assert_eq!(u["cacheClusterStatus"], "AVAILABLE", "{u}");
    let u = m.patch(&prod_path, &[("replace", "/cacheClusterSize", Some("6.1"))]);
    assert_eq!(u["cacheClusterSize"], "6.1", "{u}");
    m.patch_err(
        &prod_path,
        &[("replace", "/cacheClusterSize", Some("7"))],
        400,
        "BadRequestException",
    );
    assert_eq!(m.get(&prod_path)["cacheClusterSize"], "6.1");

    // Canary, then move the stage to the second deployment.
    let u = m.patch(
        &prod_path,
        &[("replace", "/canarySettings/percentTraffic", Some("10"))],
    );
    assert_eq!(
        u["canarySettings"]["percentTraffic"].as_f64(),
        Some(10.0),
        "{u}"
    );
    m.patch_err(
        &prod_path,
        &[("replace", "/canarySettings/percentTraffic", Some("101"))],
        400,
        "BadRequestException",
    );
    let u = m.patch(&prod_path, &[("replace", "/deploymentId", Some(&d2_id))]);
    assert_eq!(u["deploymentId"], d2_id.as_str(), "{u}");
    m.patch_err(
        &prod_path,
        &[("replace", "/deploymentId", Some("nosuch"))],
        404,
        "NotFoundException",
    );
    let msg = m.patch_err(
        &prod_path,
        &[("replace", "/nope", Some("1"))],
        400,
        "BadRequestException",
    );
    assert!(msg.contains("/nope"), "{msg}");

    // Everything is in GetStage.
    let st = m.get(&prod_path);
    assert_eq!(st["deploymentId"], d2_id.as_str(), "{st}");
    assert_eq!(st["variables"], json!({ "backend": "b1" }), "{st}");
    assert_eq!(
        st["methodSettings"]["*/*"]["throttlingRateLimit"].as_f64(),
        Some(100.0),
        "{st}"
    );
    assert_eq!(st["methodSettings"]["~1pets/GET"]["cachingEnabled"], true);
    assert_eq!(st["cacheClusterEnabled"], true, "{st}");
    assert_eq!(st["cacheClusterSize"], "6.1", "{st}");
    assert_eq!(st["canarySettings"]["percentTraffic"].as_f64(), Some(10.0));

    // A deployment a stage points at stays; d1 (no stage left) goes.
    m.err(
        "DELETE",
        &format!("{deployments}/{d2_id}"),
        None,
        400,
        "BadRequestException",
    );
    assert_eq!(
        m.get(&format!("{deployments}/{d2_id}"))["id"],
        d2_id.as_str()
    );
    let r = m.call("DELETE", &format!("{deployments}/{d1_id}"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    m.err(
        "GET",
        &format!("{deployments}/{d1_id}"),
        None,
        404,
        "NotFoundException",
    );
    assert_eq!(ids(&m.get(&deployments)), [d2_id.clone()].into());

    // GetStages, with and without the deploymentId filter.
    let d3 = m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "gamma" })),
        201,
    );
    let d3_id = s(&d3, "id").to_string();
    let names = |v: &Value| -> BTreeSet<String> {
        items(v)
            .iter()
            .map(|st| s(st, "stageName").to_string())
            .collect()
    };
    let all = m.get(&stages);
    assert_eq!(
        names(&all),
        ["beta".to_string(), "gamma".into(), "prod".into()].into(),
        "{all}"
    );
    let on_d2 = m.get(&format!("{stages}?deploymentId={d2_id}"));
    assert_eq!(
        names(&on_d2),
        ["beta".to_string(), "prod".into()].into(),
        "{on_d2}"
    );
    let on_d3 = m.get(&format!("{stages}?deploymentId={d3_id}"));
    assert_eq!(names(&on_d3), ["gamma".to_string()].into(), "{on_d3}");

    // DeleteStage.
    let r = m.call("DELETE", &format!("{stages}/beta"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    m.err(
        "GET",
        &format!("{stages}/beta"),
        None,
        404,
        "NotFoundException",
    );
    m.err(
        "DELETE",
        &format!("{stages}/beta"),
        None,
        404,
        "NotFoundException",
    );
    assert_eq!(
        names(&m.get(&stages)),
        ["gamma".to_string(), "prod".into()].into()
    );
}

/// CreateDeployment with the name of an existing stage moves that stage and
/// merges its variables.
#[test]
fn create_deployment_moves_an_existing_stage() {
    let mut m = Mgmt::new();
    let api = m.create_api("move");
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    m.put_method(&id, &root, "GET", false);
    m.put_mock(&id, &root, "GET");
    let deployments = format!("/restapis/{id}/deployments");
    let d1 = m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod", "variables": { "a": "1" } })),
        201,
    );
    let d2 = m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod", "variables": { "b": "2" } })),
        201,
    );
    let st = m.get(&format!("/restapis/{id}/stages/prod"));
    assert_eq!(st["deploymentId"], d2["id"], "{st}");
    assert_eq!(st["variables"]["b"], "2", "{st}");
    assert_eq!(items(&m.get(&format!("/restapis/{id}/stages"))).len(), 1);
    // d1 is no longer in use.
    let r = m.call("DELETE", &format!("{deployments}/{}", s(&d1, "id")), None);
    assert_eq!(r.status, 202, "{}", r.text);
}

/// A deployment made for a stage is a snapshot: later changes to the API
/// do not show in it; a refused stage creation stores no deployment.
#[test]
fn deployments_are_snapshots_and_atomic() {
    let mut m = Mgmt::new();
    let api = m.create_api("snap");
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    m.put_method(&id, &root, "GET", false);
    m.put_mock(&id, &root, "GET");
    let deployments = format!("/restapis/{id}/deployments");
    let d1 = m.ok("POST", &deployments, Some(json!({})), 201);
    let d1_path = format!("{deployments}/{}", s(&d1, "id"));
    m.patch(
        &method_path(&id, &root, "GET"),
        &[("replace", "/apiKeyRequired", Some("true"))],
    );
    m.put_method(&id, &root, "POST", false);
    m.put_mock(&id, &root, "POST");
    assert_eq!(
        m.get(&format!("{d1_path}?embed=apisummary")),
        d1,
        "a deployment changed with the API"
    );
    assert_eq!(
        d1["apiSummary"],
        json!({ "/": { "GET": { "authorizationType": "NONE", "apiKeyRequired": false } } })
    );

    for (what, body) in [
        ("bad stage name", json!({ "stageName": "bad/name" })),
        (
            "bad cache size",
            json!({ "stageName": "prod", "cacheClusterSize": "7" }),
        ),
        (
            "bad variables",
            json!({ "stageName": "prod", "variables": { "a": 1 } }),
        ),
    ] {
        let r = m.call("POST", &deployments, Some(body));
        assert_api_error(&r, 400, "BadRequestException", what);
    }
    assert_eq!(
        ids(&m.get(&deployments)),
        [s(&d1, "id").to_string()].into(),
        "a refused CreateDeployment stored a deployment"
    );
    assert!(items(&m.get(&format!("/restapis/{id}/stages"))).is_empty());

    // A canary pointing at a deployment keeps it; the stage gone, it goes.
    let d2 = m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod" })),
        201,
    );
    let prod = format!("/restapis/{id}/stages/prod");
    let u = m.patch(
        &prod,
        &[
            (
                "replace",
                "/canarySettings/deploymentId",
                Some(s(&d1, "id")),
            ),
            ("replace", "/canarySettings/percentTraffic", Some("5")),
        ],
    );
    assert_eq!(u["canarySettings"]["deploymentId"], d1["id"], "{u}");
    m.err("DELETE", &d1_path, None, 400, "BadRequestException");
    m.patch(&prod, &[("remove", "/canarySettings", None)]);
    assert_eq!(m.call("DELETE", &d1_path, None).status, 202);
    let d2_path = format!("{deployments}/{}", s(&d2, "id"));
    m.err("DELETE", &d2_path, None, 400, "BadRequestException");
    assert_eq!(m.call("DELETE", &prod, None).status, 202);
    assert_eq!(m.call("DELETE", &d2_path, None).status, 202);
    assert!(items(&m.get(&deployments)).is_empty());
}

/// CreateDeployment's `description` is the deployment's; the stage it
/// creates takes `stageDescription` (and nothing else).
#[test]
fn create_deployment_stage_description_is_not_the_deployment_description() {
    let mut m = Mgmt::new();
    let api = m.create_api("descriptions");
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    m.put_method(&id, &root, "GET", false);
    m.put_mock(&id, &root, "GET");
    let d = m.ok(
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod", "description": "deployment one" })),
        201,
    );
    assert_eq!(d["description"], "deployment one", "{d}");
    let st = m.get(&format!("/restapis/{id}/stages/prod"));
    assert!(
        st.get("description").is_none(),
        "the new stage took the deployment's description: {st}"
    );
    m.ok(
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({
            "stageName": "beta",
            "description": "deployment two",
            "stageDescription": "the beta stage"
        })),
        201,
    );
    let st = m.get(&format!("/restapis/{id}/stages/beta"));
    assert_eq!(st["description"], "the beta stage", "{st}");
}

/// An API with `GET /` (MOCK) deployed to stage prod; (api id, the
/// deployments path, that first deployment).
fn deployed_api(m: &mut Mgmt, name: &str) -> (String, String, Value) {
    let api = m.create_api(name);
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    m.put_method(&id, &root, "GET", false);
    m.put_mock(&id, &root, "GET");
    let deployments = format!("/restapis/{id}/deployments");
    let base = m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod" })),
        201,
    );
    (id, deployments, base)
}

/// CreateDeployment with `canarySettings` is a canary release: the stage
/// stays on its deployment and its canary points at the new one.
#[test]
fn create_deployment_with_canary_settings_keeps_the_stage_on_its_deployment() {
    let mut m = Mgmt::new();
    let (id, deployments, base) = deployed_api(&mut m, "canary");
    let canary = m.ok(
        "POST",
        &deployments,
        Some(json!({
            "stageName": "prod",
            "canarySettings": {
                "percentTraffic": 10,
                "stageVariableOverrides": { "v": "canary" }
            }
        })),
        201,
    );
    let st = m.get(&format!("/restapis/{id}/stages/prod"));
    assert_eq!(
        st["deploymentId"], base["id"],
        "a canary release moved the whole stage: {st}"
    );
    assert_eq!(st["canarySettings"]["deploymentId"], canary["id"], "{st}");
    assert_eq!(
        st["canarySettings"]["percentTraffic"].as_f64(),
        Some(10.0),
        "{st}"
    );
    assert_eq!(
        st["canarySettings"]["stageVariableOverrides"],
        json!({ "v": "canary" }),
        "{st}"
    );
}

/// A canary release deployment cannot name a stage that does not exist
/// (API Gateway: error, nothing created).
#[test]
fn create_deployment_with_canary_settings_needs_an_existing_stage() {
    let mut m = Mgmt::new();
    let (id, deployments, base) = deployed_api(&mut m, "canary-missing");
    let r = m.call(
        "POST",
        &deployments,
        Some(json!({ "stageName": "nostage", "canarySettings": { "percentTraffic": 10 } })),
    );
    assert_api_error(&r, 400, "BadRequestException", "canary on a missing stage");
    m.err(
        "GET",
        &format!("/restapis/{id}/stages/nostage"),
        None,
        404,
        "NotFoundException",
    );
    assert_eq!(
        ids(&m.get(&deployments)),
        [s(&base, "id").to_string()].into(),
        "a refused canary release stored a deployment"
    );
}

// ---------------------------------------------------------------------------
// 6. Operations not implemented, and paths that are no operation
// ---------------------------------------------------------------------------

/// Every operation: (name, method, URI), from the service model vendored in
/// the repository (specs/README.md), so the sweep below checks portico
/// against AWS's wire contract, never against portico's own table.
fn operations() -> Vec<(String, String, String)> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/apigateway-2015-07-09.service.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read the service model {}: {e}", path.display()));
    let model: Value = serde_json::from_str(&text).expect("service model JSON");
    model["operations"]
        .as_object()
        .expect("operations in the service model")
        .iter()
        .map(|(name, op)| {
            (
                name.clone(),
                s(&op["http"], "method").to_string(),
                s(&op["http"], "requestUri").to_string(),
            )
        })
        .collect()
}

/// The router's table is the model's, operation for operation: a route
/// typed by hand (or a model update not carried over) shows up here by name.
#[test]
fn router_table_is_the_service_model() {
    let model: BTreeSet<(String, String, String)> = operations().into_iter().collect();
    let table: BTreeSet<(String, String, String)> = portico::control::api::OPERATIONS
        .iter()
        .map(|(n, m, u)| (n.to_string(), m.to_string(), u.to_string()))
        .collect();
    assert_eq!(
        table.len(),
        portico::control::api::OPERATIONS.len(),
        "duplicate rows"
    );
    assert_same(&model, &table, "not in the router", "not in the model");
}

/// `want` and `got` hold the same names; else what each lacks, labelled.
fn assert_same<T: Ord + std::fmt::Debug>(
    want: &BTreeSet<T>,
    got: &BTreeSet<T>,
    missing: &str,
    extra: &str,
) {
    let lacks: Vec<_> = want.difference(got).collect();
    let more: Vec<_> = got.difference(want).collect();
    assert!(
        lacks.is_empty() && more.is_empty(),
        "{missing}: {lacks:?}; {extra}: {more:?}"
    );
}

/// Every operation of the service model is implemented: listed above, and
/// none answers 501 (NotImplementedException), whatever it is asked.
#[test]
fn every_operation_of_the_service_model_is_implemented() {
    let ops = operations();
    assert!(ops.len() > 100, "only {} operations", ops.len());
    let model: BTreeSet<&str> = ops.iter().map(|(n, _, _)| n.as_str()).collect();
    let listed: BTreeSet<&str> = IMPLEMENTED.iter().copied().collect();
    assert_eq!(
        listed.len(),
        IMPLEMENTED.len(),
        "IMPLEMENTED repeats a name"
    );
    assert_same(
        &model,
        &listed,
        "not implemented",
        "not in the service model",
    );
    let mut m = Mgmt::new();
    let api = m.create_api("sweep");
    let id = s(&api, "id").to_string();
    for (name, method, uri) in &ops {
        let (method, uri) = (method.as_str(), uri.as_str());
        // Every `{param}` (also `{param+}`) becomes a concrete segment.
        let mut path = String::new();
        let mut rest = uri;
        while let Some(i) = rest.find('{') {
            let j = rest[i..].find('}').expect("closing brace") + i;
            let param = &rest[i + 1..j];
            path.push_str(&rest[..i]);
            path.push_str(if param == "restapi_id" { &id } else { "x1" });
            rest = &rest[j + 1..];
        }
        path.push_str(rest);
        let r = m.call(method, &path, Some(json!({})));
        assert_ne!(r.status, 501, "{name}: {method} {path}: {}", r.text);
    }
}

#[test]
fn paths_that_are_no_operation_are_404() {
    let mut m = Mgmt::new();
    for (method, path) in [
        ("GET", "/no/such/thing"),
        (
            "GET",
            "/restapis/abc/resources/r/methods/GET/extra/segments/here",
        ),
        ("GET", "/restapisx"),
    ] {
        // With the token or without: no operation there, nothing to refuse.
        for r in [
            m.call(method, path, None),
            m.srv.admin_json(method, path, &[], None),
        ] {
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
            assert!(
                r.json.get("message").is_some(),
                "{method} {path}: {}",
                r.text
            );
        }
    }
    // A management path with a method no operation has.
    let msg = m.err("PATCH", "/restapis", None, 404, "NotFoundException");
    assert!(!msg.is_empty());
    // The listener's own endpoints still answer.
    let r = m.srv.admin_request("GET", "/healthz", None);
    assert_eq!(r.status, 200, "{r:?}");
}

// ---------------------------------------------------------------------------
// 7. Persistence
// ---------------------------------------------------------------------------

/// Everything the management API shows about every API: the API, its
/// resources with methods and integrations, deployments (with apiSummary)
/// and stages.
fn dump(m: &mut Mgmt) -> Value {
    let apis = m.get("/restapis?limit=500");
    let mut out = serde_json::Map::new();
    for api in items(&apis) {
        let id = s(api, "id").to_string();
        let deployments = m.get(&format!("/restapis/{id}/deployments?limit=500"));
        let mut full = Vec::new();
        for d in items(&deployments) {
            full.push(m.get(&format!("/restapis/{id}/deployments/{}", s(d, "id"))));
        }
        out.insert(
            id.clone(),
            json!({
                "api": m.get(&format!("/restapis/{id}")),
                "resources": m.get(&format!("/restapis/{id}/resources?embed=methods&limit=500")),
                "deployments": deployments,
                "deployment_details": full,
                "stages": m.get(&format!("/restapis/{id}/stages")),
            }),
        );
    }
    Value::Object(out)
}

/// An API with /pets GET (key required, HTTP_PROXY) and a method response,
/// deployed to stage prod with settings; returns (api id, pets id,
/// deployment id).
fn build_state(m: &mut Mgmt) -> (String, String, String) {
    let api = m.ok(
        "POST",
        "/restapis",
        Some(json!({ "name": "durable", "description": "kept" })),
        201,
    );
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    m.patch(
        &format!("/restapis/{id}"),
        &[("add", "/binaryMediaTypes/image~1png", None)],
    );
    let pets = s(&m.create_resource(&id, &root, "pets"), "id").to_string();
    m.create_resource(&id, &pets, "{petId}");
    let get = method_path(&id, &pets, "GET");
    m.put_method(&id, &pets, "GET", true);
    m.ok("PUT", &format!("{get}/responses/200"), Some(json!({})), 201);
    m.ok(
        "PUT",
        &format!("{get}/integration"),
        Some(json!({
            "type": "HTTP_PROXY",
            "httpMethod": "GET",
            "uri": "http://example.com/pets",
            "timeoutInMillis": 1234
        })),
        201,
    );
    let d = m.ok(
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod", "variables": { "backend": "b1" } })),
        201,
    );
    let d_id = s(&d, "id").to_string();
    m.patch(
        &format!("/restapis/{id}/stages/prod"),
        &[
            ("replace", "/*/*/throttling/rateLimit", Some("42")),
            ("replace", "/~1pets/GET/caching/enabled", Some("true")),
            ("replace", "/cacheClusterEnabled", Some("true")),
        ],
    );
    (id, pets, d_id)
}

/// The changes of [`build_state`] are all there.
fn check_state(m: &mut Mgmt, id: &str, pets: &str, d_id: &str) {
    let api = m.get(&format!("/restapis/{id}"));
    assert_eq!(api["name"], "durable", "{api}");
    assert_eq!(api["binaryMediaTypes"], json!(["image/png"]), "{api}");
    let list = m.get(&format!("/restapis/{id}/resources?embed=methods"));
    assert_eq!(by_path(&list, "/pets")["id"], pets, "{list}");
    by_path(&list, "/pets/{petId}");
    let get = method_path(id, pets, "GET");
    let meth = m.get(&get);
    assert_eq!(meth["apiKeyRequired"], true, "{meth}");
    assert_eq!(
        meth["methodResponses"]["200"]["statusCode"], "200",
        "{meth}"
    );
    let integ = m.get(&format!("{get}/integration"));
    assert_eq!(integ["uri"], "http://example.com/pets", "{integ}");
    assert_eq!(integ["timeoutInMillis"], 1234, "{integ}");
    let d = m.get(&format!(
        "/restapis/{id}/deployments/{d_id}?embed=apisummary"
    ));
    assert_eq!(
        d["apiSummary"]["/pets"]["GET"]["apiKeyRequired"], true,
        "{d}"
    );
    let st = m.get(&format!("/restapis/{id}/stages/prod"));
    assert_eq!(st["deploymentId"], d_id, "{st}");
    assert_eq!(st["variables"]["backend"], "b1", "{st}");
    assert_eq!(
        st["methodSettings"]["*/*"]["throttlingRateLimit"].as_f64(),
        Some(42.0),
        "{st}"
    );
    assert_eq!(
        st["methodSettings"]["~1pets/GET"]["cachingEnabled"], true,
        "{st}"
    );
    assert_eq!(st["cacheClusterEnabled"], true, "{st}");
}

#[test]
fn state_survives_a_clean_restart() {
    let cfg = mgmt_config();
    let mut m = Mgmt::start(&cfg);
    let (id, pets, d_id) = build_state(&mut m);
    // A deleted API stays deleted.
    let gone = s(&m.create_api("gone"), "id").to_string();
    let r = m.call("DELETE", &format!("/restapis/{gone}"), None);
    assert_eq!(r.status, 202, "{}", r.text);
    let before = dump(&mut m);
    m.srv.stop();

    let mut m = Mgmt::start(&cfg);
    check_state(&mut m, &id, &pets, &d_id);
    m.err(
        "GET",
        &format!("/restapis/{gone}"),
        None,
        404,
        "NotFoundException",
    );
    assert_eq!(dump(&mut m), before, "state changed across a clean restart");
}

#[test]
fn acknowledged_changes_survive_kill_9() {
    let cfg = mgmt_config();
    let mut m = Mgmt::start(&cfg);
    let (id, pets, d_id) = build_state(&mut m);
    let before = dump(&mut m);
    // The last acknowledged call, then SIGKILL at once.
    let last = m.patch(
        &format!("/restapis/{id}/stages/prod"),
        &[("add", "/variables/last", Some("yes"))],
    );
    assert_eq!(last["variables"]["last"], "yes", "{last}");
    m.srv.kill9();

    let mut m = Mgmt::start(&cfg);
    check_state(&mut m, &id, &pets, &d_id);
    let st = m.get(&format!("/restapis/{id}/stages/prod"));
    assert_eq!(
        st["variables"],
        json!({ "backend": "b1", "last": "yes" }),
        "last acknowledged change lost by kill -9: {st}"
    );
    // Everything else is as it was before that call.
    let mut after = dump(&mut m);
    let stage = &mut after[&id]["stages"]["item"][0];
    stage["variables"]
        .as_object_mut()
        .expect("variables")
        .remove("last");
    stage["lastUpdatedDate"] = before[&id]["stages"]["item"][0]["lastUpdatedDate"].clone();
    assert_eq!(after, before, "state changed across kill -9");

    // A create acknowledged right before another kill -9 is there too.
    let api = m.create_api("just-made");
    let new_id = s(&api, "id").to_string();
    m.srv.kill9();
    let mut m = Mgmt::start(&cfg);
    assert_eq!(m.get(&format!("/restapis/{new_id}")), api);
    // The restarted server keeps working on the same store.
    m.create_resource(&new_id, s(&api, "rootResourceId"), "after");
}

/// The config file's APIs appear read-only: listed, with resources, methods,
/// integrations, stages, a `config` deployment and an export; every change
/// is refused, naming the file as the source of truth.
#[test]
fn config_file_apis_are_shown_and_refuse_changes() {
    let cfg = Config::demo(NO_BACKEND).admin("token", &toml_str(TOKEN));
    let mut m = Mgmt::start(&cfg);
    let apis = m.get("/restapis");
    let demo = apis["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "demo")
        .unwrap_or_else(|| panic!("demo not listed: {apis}"))
        .clone();
    assert_eq!(demo["name"], "demo");
    let resources = m.get("/restapis/demo/resources?embed=methods");
    let by_path: HashMap<String, Value> = resources["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(r, "path").to_string(), r.clone()))
        .collect();
    for p in ["/", "/hello", "/items", "/items/{id}", "/proxy/{proxy+}"] {
        assert!(by_path.contains_key(p), "{p} missing: {resources}");
    }
    let hello = &by_path["/hello"]["resourceMethods"]["GET"]["methodIntegration"];
    assert_eq!(hello["type"], "MOCK", "{hello}");
    let item = &by_path["/items/{id}"]["resourceMethods"]["ANY"]["methodIntegration"];
    assert_eq!(item["type"], "HTTP_PROXY", "{item}");
    assert_eq!(item["uri"], "http://${stageVariables.backend}/things/{id}");
    let stage = m.get("/restapis/demo/stages/prod");
    assert_eq!(stage["deploymentId"], "config");
    assert_eq!(stage["variables"]["backend"], NO_BACKEND);
    let d = m.get("/restapis/demo/deployments/config?embed=apisummary");
    assert!(d["apiSummary"]["/hello"]["GET"].is_object(), "{d}");
    let export = m.get("/restapis/demo/stages/prod/exports/oas30");
    assert!(export["paths"]["/hello"]["get"].is_object(), "{export}");

    let root = s(&demo, "rootResourceId").to_string();
    for (method, path, body) in [
        (
            "PATCH",
            "/restapis/demo".to_string(),
            json!({"patchOperations": [{"op": "replace", "path": "/name", "value": "x"}]}),
        ),
        ("DELETE", "/restapis/demo".to_string(), json!({})),
        (
            "POST",
            format!("/restapis/demo/resources/{root}"),
            json!({"pathPart": "new"}),
        ),
        (
            "POST",
            "/restapis/demo/deployments".to_string(),
            json!({"stageName": "prod"}),
        ),
        (
            "DELETE",
            "/restapis/demo/stages/prod".to_string(),
            json!({}),
        ),
    ] {
        let msg = m.err(method, &path, Some(body), 400, "BadRequestException");
        assert!(msg.contains("config file"), "{method} {path}: {msg}");
    }
    // Nothing changed, and the data plane still serves the file's API.
    assert_eq!(m.get("/restapis/demo")["name"], "demo");
    let r = m.srv.connect().get("/prod/hello");
    assert_eq!(r.status, 200, "{r:?}");
}

/// The config file's usage plans and keys are listed read-only too; a
/// change to one is refused; GetUsage reads the file plan's usage records.
#[test]
fn config_file_plans_and_keys_are_shown_and_refuse_changes() {
    let text = demo_api(NO_BACKEND)
        + &gold_plan_alice_bob("demo", "quota = { limit = 100, period = \"DAY\" }", "");
    let cfg = Config::new(&text).admin("token", &toml_str(TOKEN));
    let mut m = Mgmt::start(&cfg);
    let keys = m.get("/apikeys?includeValues=true");
    let alice = keys["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == "alice-id")
        .unwrap_or_else(|| panic!("alice not listed: {keys}"))
        .clone();
    assert_eq!(alice["value"], ALICE);
    assert!(
        m.get("/apikeys/alice-id").get("value").is_none(),
        "values only when asked"
    );
    let plan = m.get("/usageplans/gold");
    assert_eq!(plan["apiStages"][0]["apiId"], "demo", "{plan}");
    assert_eq!(plan["quota"]["limit"], 100, "{plan}");
    let members: BTreeSet<String> = m.get("/usageplans/gold/keys")["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| s(k, "id").to_string())
        .collect();
    assert_eq!(
        members,
        ["alice-id".to_string(), "bob-id".to_string()].into()
    );
    let alice_in_gold = m.get("/usageplans/gold/keys/alice-id");
    assert_eq!(
        (s(&alice_in_gold, "type"), s(&alice_in_gold, "value")),
        ("API_KEY", ALICE),
        "{alice_in_gold}"
    );
    let with_alice = m.get("/usageplans?keyId=alice-id");
    assert_eq!(
        ids(&with_alice),
        ["gold".to_string()].into(),
        "{with_alice}"
    );
    for (method, path, body) in [
        ("DELETE", "/apikeys/alice-id", json!({})),
        (
            "PATCH",
            "/apikeys/alice-id",
            json!({"patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]}),
        ),
        ("DELETE", "/usageplans/gold", json!({})),
        ("DELETE", "/usageplans/gold/keys/bob-id", json!({})),
    ] {
        let msg = m.err(method, path, Some(body), 400, "BadRequestException");
        assert!(msg.contains("config file"), "{method} {path}: {msg}");
    }
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let usage = m.get(&format!(
        "/usageplans/gold/usage?startDate={today}&endDate={today}"
    ));
    assert_eq!(usage["values"]["alice-id"], json!([[0, 100]]), "{usage}");
}

/// GetUsagePlanKey answers for a key in the plan and 404 for one that is
/// not; GetUsagePlans with `keyId` lists only the plans the key is in.
#[test]
fn usage_plan_key_and_plans_of_a_key() {
    let mut m = Mgmt::new();
    let (api, _, _) = deployed_api(&mut m, "plans");
    let stages = json!([{ "apiId": api, "stage": "prod" }]);
    let gold = m.ok(
        "POST",
        "/usageplans",
        Some(json!({ "name": "gold", "apiStages": stages })),
        201,
    );
    let silver = m.ok(
        "POST",
        "/usageplans",
        Some(json!({ "name": "silver" })),
        201,
    );
    let (gold, silver) = (s(&gold, "id").to_string(), s(&silver, "id").to_string());
    let key = m.ok(
        "POST",
        "/apikeys",
        Some(json!({ "name": "k1", "enabled": true, "value": "k1-value-0123456789ab" })),
        201,
    );
    let key = s(&key, "id").to_string();
    m.ok(
        "POST",
        &format!("/usageplans/{gold}/keys"),
        Some(json!({ "keyId": key, "keyType": "API_KEY" })),
        201,
    );
    let member = m.get(&format!("/usageplans/{gold}/keys/{key}"));
    assert_eq!(
        member,
        json!({ "id": key, "type": "API_KEY", "value": "k1-value-0123456789ab", "name": "k1" })
    );
    let msg = m.err(
        "GET",
        &format!("/usageplans/{silver}/keys/{key}"),
        None,
        404,
        "NotFoundException",
    );
    // AWS's message names no identifier.
    assert_eq!(msg, "Invalid API Key identifier specified");
    assert_eq!(
        ids(&m.get(&format!("/usageplans?keyId={key}"))),
        [gold.clone()].into()
    );
    assert_eq!(
        ids(&m.get("/usageplans")),
        [gold, silver].into(),
        "without keyId every plan"
    );
}

/// UpdateDeployment changes the description only, and it stays changed.
#[test]
fn update_deployment_changes_its_description() {
    let mut m = Mgmt::new();
    let (api, deployments, base) = deployed_api(&mut m, "upd");
    let path = format!("{deployments}/{}", s(&base, "id"));
    let body = patch_body(&[("replace", "/description", Some("first release"))]);
    let d = m.ok("PATCH", &path, Some(body), 200);
    assert_eq!(d["description"], "first release", "{d}");
    assert_eq!(m.get(&path)["description"], "first release");
    let bad = patch_body(&[("replace", "/createdDate", Some("0"))]);
    let msg = m.err("PATCH", &path, Some(bad), 400, "BadRequestException");
    assert!(msg.contains("/description"), "{msg}");
    let missing = format!("/restapis/{api}/deployments/nope00");
    m.err("PATCH", &missing, Some(json!({})), 404, "NotFoundException");
}

/// No SDKs: an empty list of types, and GetSdk refused with a reason once
/// the API and stage exist.
#[test]
fn sdk_generation_is_not_offered() {
    let mut m = Mgmt::new();
    let (api, _, _) = deployed_api(&mut m, "sdk");
    assert_eq!(m.get("/sdktypes")["item"], json!([]));
    m.err("GET", "/sdktypes/ios", None, 404, "NotFoundException");
    let msg = m.err(
        "GET",
        &format!("/restapis/{api}/stages/prod/sdks/javascript"),
        None,
        400,
        "BadRequestException",
    );
    assert!(msg.contains("does not generate SDKs"), "{msg}");
    m.err(
        "GET",
        &format!("/restapis/{api}/stages/nope/sdks/javascript"),
        None,
        404,
        "NotFoundException",
    );
}

/// UpdateMethodResponse and UpdateIntegrationResponse patch one entry of
/// their maps at a time (`~1` is `/` in a content type), and the selection
/// pattern; other paths and unknown status codes are refused.
#[test]
fn method_and_integration_responses_are_patched() {
    let mut m = Mgmt::new();
    let api = m.create_api("responses");
    let (id, root) = (
        s(&api, "id").to_string(),
        s(&api, "rootResourceId").to_string(),
    );
    m.put_method(&id, &root, "GET", false);
    m.put_mock(&id, &root, "GET");
    let method = method_path(&id, &root, "GET");
    let mr_path = format!("{method}/responses/200");
    let a = "method.response.header.X-A";
    let b = "method.response.header.X-B";
    m.ok(
        "PUT",
        &mr_path,
        Some(json!({ "responseParameters": { a: false } })),
        201,
    );
    let ops = patch_body(&[
        ("add", &format!("/responseParameters/{b}"), Some("true")),
        ("remove", &format!("/responseParameters/{a}"), None),
        ("add", "/responseModels/application~1json", Some("Empty")),
    ]);
    let mr = m.ok("PATCH", &mr_path, Some(ops), 201);
    assert_eq!(mr["responseParameters"], json!({ b: true }), "{mr}");
    assert_eq!(
        mr["responseModels"],
        json!({ "application/json": "Empty" }),
        "{mr}"
    );
    assert_eq!(m.get(&mr_path), mr, "stored");
    let bad = patch_body(&[("replace", "/statusCode", Some("201"))]);
    m.err("PATCH", &mr_path, Some(bad), 400, "BadRequestException");
    m.err(
        "PATCH",
        &format!("{method}/responses/404"),
        Some(json!({})),
        404,
        "NotFoundException",
    );

    let ir_path = format!("{method}/integration/responses/200");
    let put = json!({ "selectionPattern": "", "responseTemplates": { "application/json": "{}" } });
    m.ok("PUT", &ir_path, Some(put), 201);
    let ops = patch_body(&[
        ("replace", "/selectionPattern", Some("2\\d{2}")),
        ("add", &format!("/responseParameters/{b}"), Some("'v'")),
        ("remove", "/responseTemplates/application~1json", None),
    ]);
    let ir = m.ok("PATCH", &ir_path, Some(ops), 200);
    assert_eq!(ir["selectionPattern"], "2\\d{2}", "{ir}");
    assert_eq!(ir["responseParameters"], json!({ b: "'v'" }), "{ir}");
    assert!(
        ir.get("responseTemplates").is_none_or(|t| t == &json!({})),
        "{ir}"
    );
    assert_eq!(m.get(&ir_path), ir, "stored");
    // contentHandling is the integration response's too (executed since
    // issue 17); a path that is none of AWS's is refused.
    let ch = patch_body(&[("replace", "/contentHandling", Some("CONVERT_TO_TEXT"))]);
    let ir = m.ok("PATCH", &ir_path, Some(ch), 200);
    assert_eq!(ir["contentHandling"], "CONVERT_TO_TEXT", "{ir}");
    let bad = patch_body(&[("replace", "/statusCode", Some("201"))]);
    m.err("PATCH", &ir_path, Some(bad), 400, "BadRequestException");
}

/// Shapes and checks as AWS answers them (moto's suite found these):
/// GetDeployments lists no apiSummary and GetDeployment shows it only with
/// embed=apisummary; a method without an integration cannot be deployed;
/// an integration keeps credentials, contentHandling and tlsConfig and shows
/// `cacheKeyParameters: []`; HTTP and AWS integrations need an
/// integrationHttpMethod; the API's policy is kept; endpointConfiguration
/// types are checked; a patch boolean is read in any case.
#[test]
fn aws_shapes_found_by_moto() {
    let mut m = Mgmt::new();
    let api = m.ok(
        "POST",
        "/restapis",
        Some(json!({ "name": "shapes", "policy": "{\"Version\": \"2012-10-17\",\"Statement\": []}" })),
        201,
    );
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    assert_eq!(
        m.get(&format!("/restapis/{id}"))["policy"],
        "{\"Version\": \"2012-10-17\",\"Statement\": []}"
    );
    let p = m.patch(
        &format!("/restapis/{id}"),
        &[("replace", "/policy", Some("{}"))],
    );
    assert_eq!(p["policy"], "{}", "{p}");
    for types in [json!(["INVALID"]), json!([]), json!(["EDGE", "REGIONAL"])] {
        m.err(
            "POST",
            "/restapis",
            Some(json!({ "name": "x", "endpointConfiguration": { "types": types } })),
            400,
            "BadRequestException",
        );
    }
    let private = m.ok(
        "POST",
        "/restapis",
        Some(json!({ "name": "p", "endpointConfiguration": { "types": ["PRIVATE"] } })),
        201,
    );
    assert_eq!(
        private["endpointConfiguration"]["types"],
        json!(["PRIVATE"])
    );

    m.put_method(&id, &root, "GET", false);
    let deployments = format!("/restapis/{id}/deployments");
    let r = m.call("POST", &deployments, Some(json!({ "stageName": "prod" })));
    let msg = assert_api_error(
        &r,
        400,
        "BadRequestException",
        "a method without integration",
    );
    assert_eq!(msg, "No integration defined for method");

    let integ = format!("{}/integration", method_path(&id, &root, "GET"));
    for kind in ["HTTP", "HTTP_PROXY", "AWS", "AWS_PROXY"] {
        let msg = m.err(
            "PUT",
            &integ,
            Some(json!({ "type": kind, "uri": "http://example.com/" })),
            400,
            "BadRequestException",
        );
        assert_eq!(
            msg, "Enumeration value for HttpMethod must be non-empty",
            "{kind}"
        );
    }
    let i = m.ok(
        "PUT",
        &integ,
        Some(json!({
            "type": "HTTP",
            "httpMethod": "POST",
            "uri": "http://example.com/",
            "credentials": "arn:aws:iam::123456789012:role/r",
            "contentHandling": "CONVERT_TO_TEXT",
            "tlsConfig": { "insecureSkipVerification": true }
        })),
        201,
    );
    assert_eq!(i["credentials"], "arn:aws:iam::123456789012:role/r", "{i}");
    assert_eq!(i["contentHandling"], "CONVERT_TO_TEXT", "{i}");
    assert_eq!(
        i["tlsConfig"],
        json!({ "insecureSkipVerification": true }),
        "{i}"
    );
    assert_eq!(i["cacheKeyParameters"], json!([]), "{i}");
    assert_eq!(m.get(&integ), i);
    let i = m.patch(
        &integ,
        &[
            ("replace", "/contentHandling", Some("CONVERT_TO_BINARY")),
            (
                "replace",
                "/credentials",
                Some("arn:aws:iam::123456789012:role/s"),
            ),
        ],
    );
    assert_eq!(i["contentHandling"], "CONVERT_TO_BINARY", "{i}");
    assert_eq!(i["credentials"], "arn:aws:iam::123456789012:role/s", "{i}");

    let d = m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod" })),
        201,
    );
    let list = m.get(&deployments);
    assert_eq!(items(&list).len(), 1, "{list}");
    assert!(items(&list)[0].get("apiSummary").is_none(), "{list}");
    let one = format!("{deployments}/{}", s(&d, "id"));
    assert!(m.get(&one).get("apiSummary").is_none());
    let embedded = m.get(&format!("{one}?embed=apisummary"));
    assert!(embedded["apiSummary"]["/"]["GET"].is_object(), "{embedded}");

    let v = m.ok(
        "POST",
        &format!("/restapis/{id}/requestvalidators"),
        Some(json!({ "name": "v", "validateRequestBody": true })),
        201,
    );
    let v = m.patch(
        &format!("/restapis/{id}/requestvalidators/{}", s(&v, "id")),
        &[("replace", "/validateRequestBody", Some("False"))],
    );
    assert_eq!(v["validateRequestBody"], false, "{v}");
}
