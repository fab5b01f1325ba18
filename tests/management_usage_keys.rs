//! ImportApiKeys (`POST /apikeys?mode=import&format=csv`): AWS's CSV API
//! key file, warnings and `failonwarnings`, and imported keys admitted by
//! the data plane once in a usage plan, against the real binary.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";

fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// ImportApiKeys with `csv` as the body; the status and JSON answer.
fn import(srv: &mut Server, query: &str, csv: &str) -> (u16, Value) {
    let port = srv.admin_port();
    let auth = format!("Bearer {TOKEN}");
    let path = format!("/apikeys?mode=import&format=csv{query}");
    let extra = [
        ("Connection", "close"),
        ("Authorization", auth.as_str()),
        ("Content-Type", "text/csv"),
    ];
    let r =
        Client::connect(port).request(request("POST", &path, "localhost", &extra, csv.as_bytes()));
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// An imported API whose `GET /v` needs a key, deployed as `v1`, and a
/// usage plan covering it: (plan id, data-plane path of `/v`).
fn keyed_api(srv: &mut Server) -> (String, String) {
    let api = call(
        srv,
        "POST",
        "/restapis?mode=import",
        Some(keyed_mock_openapi("keyed")),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stage = json!({"stageName": "v1"});
    call(
        srv,
        "POST",
        &format!("/restapis/{api}/deployments"),
        Some(stage),
        201,
    );
    let stages = json!([{"apiId": api, "stage": "v1"}]);
    let body = json!({"name": "imported", "apiStages": stages});
    let plan = call(srv, "POST", "/usageplans", Some(body), 201);
    (
        plan["id"].as_str().unwrap().to_string(),
        format!("/restapis/{api}/v1/_user_request_/v"),
    )
}

/// GetApiKey `id` with its value.
fn get_key(srv: &mut Server, id: &Value) -> Value {
    let path = format!("/apikeys/{}?includeValue=true", id.as_str().unwrap());
    call(srv, "GET", &path, None, 200)
}

fn server() -> Server {
    Server::start(&Config::new("").admin("token", &toml_str(TOKEN)))
}

#[test]
fn import_api_keys_reads_aws_csv_and_the_data_plane_admits_them() {
    let mut srv = server();
    let (plan, path) = keyed_api(&mut srv);
    let good = "importedkey0123456789abcd";
    let other = "otherimportedkey0123456789";
    // Case-insensitive headers in any order, quotes of both kinds, an
    // ignored column.
    let csv = format!(
        "key,NAME,Description,enabled,UsagePlanIds,Extra\n\
         {good},first,\"a, quoted description\",TRUE,'{plan}',x\n\
         '{other}',second,,false,,y\n"
    );
    let (status, out) = import(&mut srv, "", &csv);
    assert_eq!(status, 201, "{out}");
    let ids = out["ids"].as_array().expect("ids").clone();
    assert_eq!(ids.len(), 2, "{out}");
    assert!(out.get("warnings").is_none(), "{out}");
    let first = get_key(&mut srv, &ids[0]);
    assert_eq!(
        (
            &first["name"],
            &first["value"],
            &first["description"],
            &first["enabled"]
        ),
        (
            &json!("first"),
            &json!(good),
            &json!("a, quoted description"),
            &json!(true)
        ),
        "{first}"
    );
    let second = get_key(&mut srv, &ids[1]);
    assert_eq!(second["enabled"], false, "{second}");
    let members = call(
        &mut srv,
        "GET",
        &format!("/usageplans/{plan}/keys"),
        None,
        200,
    );
    assert_eq!(members["item"][0]["id"], ids[0], "{members}");

    // The imported key in the plan is admitted; the one outside is not.
    let served = poll_until(
        POLL_FOR,
        || srv.connect().request(get_with_key(&path, good)),
        |r| r.status == 200,
        |r| format!("the imported key is not admitted at {path}: {r:?}"),
    );
    assert_eq!(served.status, 200);
    assert_eq!(
        srv.connect().request(get_with_key(&path, other)).status,
        403
    );

    // Importing the same value again updates that key.
    let (status, again) = import(&mut srv, "", &format!("Name,Key\nrenamed,{good}\n"));
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["ids"], json!([ids[0]]), "{again}");
    let renamed = get_key(&mut srv, &ids[0]);
    assert_eq!(renamed["name"], "renamed", "{renamed}");
}

#[test]
fn import_api_keys_warns_on_bad_rows_and_fails_on_warnings_when_asked() {
    let mut srv = server();
    let csv = "Name,Key\nok,validimportedkey0123456789\nshort,tooshort\n";
    // failonwarnings: nothing is imported.
    let (status, out) = import(&mut srv, "&failonwarnings=true", csv);
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["__type"], "BadRequestException", "{out}");
    let keys = call(&mut srv, "GET", "/apikeys", None, 200);
    assert_eq!(keys["item"], json!([]), "nothing imported: {keys}");

    // Without: the good row is imported, the bad one is a warning.
    let (status, out) = import(&mut srv, "", csv);
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["ids"].as_array().unwrap().len(), 1, "{out}");
    let warnings = out["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(warnings[0].as_str().unwrap().contains("Line 3"), "{out}");

    // An unknown plan is a warning too.
    let (status, out) = import(
        &mut srv,
        "",
        "Name,Key,UsagePlanIds\nx,anotherimportedkey0123456,nosuchplan\n",
    );
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["ids"], json!([]), "{out}");
    assert_eq!(out["warnings"].as_array().unwrap().len(), 1, "{out}");

    // A file without the Key column, or not csv, is refused.
    let (status, out) = import(&mut srv, "", "Name,Value\nx,y\n");
    assert_eq!(
        (status, &out["__type"]),
        (400, &json!("BadRequestException")),
        "{out}"
    );
    let r = srv.admin_json(
        "POST",
        "/apikeys?mode=import&format=json",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        Some(&json!({})),
    );
    assert_eq!(r.status, 400, "{}", r.text);
}
