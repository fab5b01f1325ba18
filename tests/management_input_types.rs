//! Management calls whose JSON body holds a member of the wrong JSON type
//! are refused before dispatch, from the service model, as AWS does: 400
//! BadRequestException naming the member and the type it expects
//! (`src/control/api/input_check.rs`). Also the table that check reads,
//! `src/control/api/input_types.rs`, generated here from the vendored model
//! (`cargo test --test management_input_types -- --ignored` writes it) and
//! held to it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";
const TABLE: &str = "src/control/api/input_types.rs";

// ---------------------------------------------------------------------------
// The generated table
// ---------------------------------------------------------------------------

fn model() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/apigateway-2015-07-09.service.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read the service model {}: {e}", path.display()));
    serde_json::from_str(&text).expect("service model JSON")
}

/// The line of `input_types.rs` after which it is generated: what comes
/// before (the file's doc and `Ty`) is written by hand and kept.
const MARKER: &str = "pub const INPUTS: &[(&str, &[(&str, Ty)])] = &[\n";

/// `input_types.rs` as it is, split after `MARKER`.
fn table() -> (String, String) {
    let text = std::fs::read_to_string(table_path()).expect("read input_types.rs");
    let at = text
        .find(MARKER)
        .expect("the INPUTS line in input_types.rs")
        + MARKER.len();
    (text[..at].to_string(), text[at..].to_string())
}

/// The Rust expression of shape `name`'s type; each structure met goes into
/// `structs` (name to its member list).
fn ty(shapes: &Value, name: &str, structs: &mut BTreeMap<String, String>) -> String {
    let shape = &shapes[name];
    match shape["type"].as_str().expect("shape type") {
        "string" | "blob" => "Ty::Str".into(),
        "boolean" => "Ty::Bool".into(),
        "integer" | "long" => "Ty::Int".into(),
        "double" | "float" => "Ty::Num".into(),
        "timestamp" => "Ty::Time".into(),
        "list" => format!(
            "Ty::List(&{})",
            ty(shapes, shape["member"]["shape"].as_str().unwrap(), structs)
        ),
        "map" => format!(
            "Ty::Map(&{})",
            ty(shapes, shape["value"]["shape"].as_str().unwrap(), structs)
        ),
        "structure" => {
            if !structs.contains_key(name) {
                structs.insert(name.to_string(), String::new());
                let members = members(shapes, name, false, structs);
                structs.insert(name.to_string(), members);
            }
            format!("Ty::Struct({name})")
        }
        t => panic!("shape {name}: type {t} has no JSON rule"),
    }
}

/// Structure `name`'s members as a Rust slice: body members only when
/// `body_only` (an operation's input), each by its wire name.
fn members(
    shapes: &Value,
    name: &str,
    body_only: bool,
    structs: &mut BTreeMap<String, String>,
) -> String {
    let mut out = Vec::new();
    for (m, spec) in shapes[name]["members"].as_object().unwrap() {
        if body_only && spec.get("location").is_some() {
            continue;
        }
        let wire = spec["locationName"].as_str().unwrap_or(m);
        let t = ty(shapes, spec["shape"].as_str().unwrap(), structs);
        out.push(format!("(\"{wire}\", {t})"));
    }
    format!("&[{}]", out.join(", "))
}

/// The generated part of `input_types.rs` (after `MARKER`) for `model`.
fn generate(model: &Value) -> String {
    let shapes = &model["shapes"];
    let mut inputs = BTreeMap::new();
    let mut structs = BTreeMap::new();
    for (op, spec) in model["operations"].as_object().unwrap() {
        let Some(input) = spec["input"]["shape"].as_str() else {
            continue;
        };
        if shapes[input].get("payload").is_some() {
            continue;
        }
        let body = members(shapes, input, true, &mut structs);
        if body != "&[]" {
            assert!(!structs.contains_key(input), "{input} is also nested");
            inputs.insert(op.clone(), (input.to_string(), body));
        }
    }
    let mut text = String::new();
    for (op, (input, _)) in &inputs {
        text += &format!("    (\"{op}\", {input}),\n");
    }
    text += "];\n";
    let mut consts: BTreeMap<String, String> = structs;
    for (input, body) in inputs.into_values() {
        consts.insert(input, body);
    }
    for (name, members) in consts {
        text += &format!("\n#[rustfmt::skip]\nconst {name}: &[(&str, Ty)] = {members};\n");
    }
    text
}

fn table_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLE)
}

/// The table compiled into portico is the model's, member for member: a
/// model update not carried over (or a hand edit) fails here.
#[test]
fn input_types_table_is_the_service_model() {
    let want = generate(&model());
    let (_, got) = table();
    assert!(
        got == want,
        "{TABLE} differs from the service model: regenerate it with \
         `cargo test --test management_input_types -- --ignored`"
    );
}

/// Writes `input_types.rs` from the model (keeping its part before `MARKER`).
#[test]
#[ignore]
fn generate_input_types() {
    let (head, _) = table();
    std::fs::write(table_path(), head + &generate(&model())).expect("write input_types.rs");
}

// ---------------------------------------------------------------------------
// Calls against a running portico
// ---------------------------------------------------------------------------

fn server() -> Server {
    Server::start(&Config::new("").admin("token", &toml_str(TOKEN)))
}

/// `method path body` answers 400 BadRequestException with `message`.
fn refused(srv: &mut Server, method: &str, path: &str, body: Value, message: &str) {
    let v = srv.admin_call(TOKEN, method, path, Some(&body), 400);
    assert_eq!(v["__type"], "BadRequestException", "{method} {path}: {v}");
    assert_eq!(v["message"], message, "{method} {path} {body}");
}

/// A new REST API's id and its root resource's id.
fn api(srv: &mut Server) -> (String, String) {
    let a = srv.admin_call(TOKEN, "POST", "/restapis", Some(&json!({"name": "t"})), 201);
    let id = a["id"].as_str().unwrap().to_string();
    let r = srv.admin_call(
        TOKEN,
        "GET",
        &format!("/restapis/{id}/resources"),
        None,
        200,
    );
    (id, r["item"][0]["id"].as_str().unwrap().to_string())
}

#[test]
fn a_string_member_given_a_number_is_refused() {
    let mut srv = server();
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": 123}),
        "Invalid value for 'name': expected a string",
    );
    // Nothing was created.
    let list = srv.admin_call(TOKEN, "GET", "/restapis", None, 200);
    assert_eq!(list["item"], json!([]), "{list}");
}

#[test]
fn a_boolean_member_given_a_string_is_refused() {
    let mut srv = server();
    let (id, root) = api(&mut srv);
    let path = format!("/restapis/{id}/resources/{root}/methods/GET");
    refused(
        &mut srv,
        "PUT",
        &path,
        json!({"authorizationType": "NONE", "apiKeyRequired": "yes"}),
        "Invalid value for 'apiKeyRequired': expected a boolean",
    );
    srv.admin_call(TOKEN, "GET", &path, None, 404);
    let m = srv.admin_call(
        TOKEN,
        "PUT",
        &path,
        Some(&json!({"authorizationType": "NONE", "apiKeyRequired": true})),
        201,
    );
    assert_eq!(m["apiKeyRequired"], true, "{m}");
}

#[test]
fn an_integer_member_given_a_string_or_a_fraction_is_refused() {
    let mut srv = server();
    for burst in [json!("5"), json!(2.5)] {
        refused(
            &mut srv,
            "POST",
            "/usageplans",
            json!({"name": "p", "throttle": {"burstLimit": burst, "rateLimit": 1.5}}),
            "Invalid value for 'throttle.burstLimit': expected an integer",
        );
    }
    // A double takes any number, an integer one without a fraction.
    let p = srv.admin_call(
        TOKEN,
        "POST",
        "/usageplans",
        Some(&json!({"name": "p", "throttle": {"burstLimit": 5, "rateLimit": 2}})),
        201,
    );
    assert_eq!(p["throttle"]["burstLimit"], 5, "{p}");
}

#[test]
fn a_list_element_of_the_wrong_type_is_refused() {
    let mut srv = server();
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": "a", "binaryMediaTypes": ["image/png", 7]}),
        "Invalid value for 'binaryMediaTypes[1]': expected a string",
    );
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": "a", "binaryMediaTypes": "image/png"}),
        "Invalid value for 'binaryMediaTypes': expected a list",
    );
    // A list of structures: each element's members.
    let (id, _) = api(&mut srv);
    refused(
        &mut srv,
        "PATCH",
        &format!("/restapis/{id}"),
        json!({"patchOperations": [{"op": "replace", "path": "/name", "value": 5}]}),
        "Invalid value for 'patchOperations[0].value': expected a string",
    );
}

#[test]
fn a_map_value_of_the_wrong_type_is_refused() {
    let mut srv = server();
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": "a", "tags": {"env": "prod", "n": 1}}),
        "Invalid value for 'tags.n': expected a string",
    );
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": "a", "tags": ["env"]}),
        "Invalid value for 'tags': expected a map (a JSON object)",
    );
}

#[test]
fn a_nested_structure_member_of_the_wrong_type_is_refused() {
    let mut srv = server();
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": "a", "endpointConfiguration": {"types": "REGIONAL"}}),
        "Invalid value for 'endpointConfiguration.types': expected a list",
    );
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!({"name": "a", "endpointConfiguration": "REGIONAL"}),
        "Invalid value for 'endpointConfiguration': expected a structure (a JSON object)",
    );
}

/// A member is checked under its wire name (`locationName`): PutIntegration's
/// `integrationHttpMethod` is `httpMethod` in the body.
#[test]
fn members_are_checked_under_their_wire_names() {
    let mut srv = server();
    let (id, root) = api(&mut srv);
    let method = format!("/restapis/{id}/resources/{root}/methods/GET");
    srv.admin_call(
        TOKEN,
        "PUT",
        &method,
        Some(&json!({"authorizationType": "NONE"})),
        201,
    );
    refused(
        &mut srv,
        "PUT",
        &format!("{method}/integration"),
        json!({"type": "HTTP", "httpMethod": 1, "uri": "http://example.com"}),
        "Invalid value for 'httpMethod': expected a string",
    );
}

#[test]
fn a_body_that_is_not_an_object_is_refused() {
    let mut srv = server();
    refused(
        &mut srv,
        "POST",
        "/restapis",
        json!(["name"]),
        "Invalid request body: expected a JSON object",
    );
    refused(
        &mut srv,
        "POST",
        "/apikeys",
        json!("k"),
        "Invalid request body: expected a JSON object",
    );
}

#[test]
fn a_correct_body_succeeds_and_null_is_absent() {
    let mut srv = server();
    let a = srv.admin_call(
        TOKEN,
        "POST",
        "/restapis",
        Some(&json!({
            "name": "ok",
            "description": null,
            "binaryMediaTypes": ["image/png"],
            "minimumCompressionSize": 1024,
            "endpointConfiguration": {"types": ["REGIONAL"], "vpcEndpointIds": null},
            "tags": {"env": "prod"},
            "disableExecuteApiEndpoint": false,
            "someUnknownMember": [1, 2]
        })),
        201,
    );
    assert_eq!(a["name"], "ok", "{a}");
    assert!(a.get("description").is_none(), "{a}");
    assert_eq!(a["minimumCompressionSize"], 1024, "{a}");
    assert_eq!(a["tags"]["env"], "prod", "{a}");
    // A null body is no body.
    let k = srv.admin_call(TOKEN, "POST", "/apikeys", Some(&Value::Null), 201);
    assert!(k["id"].is_string(), "{k}");
}
