//! VPC links of the management API (CreateVpcLink, GetVpcLink(s),
//! UpdateVpcLink, DeleteVpcLink, tags by ARN), kept across a restart, and
//! integrations with `connectionType: VPC_LINK` reaching their `uri`, on
//! the real binary.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "vpc-token-0123456789";
const REGION: &str = "eu-west-3";

fn config() -> Config {
    Config::new(&format!("[aws]\nregion = \"{REGION}\"\n")).admin("token", &toml_str(TOKEN))
}

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

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn link(srv: &mut Server, name: &str) -> Value {
    call(
        srv,
        "POST",
        "/vpclinks",
        Some(
            json!({ "name": name, "targetArns": [format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/net/{name}/1")] }),
        ),
        202,
    )
}

fn patch(path: &str, value: &str) -> Value {
    json!({ "patchOperations": [{ "op": "replace", "path": path, "value": value }] })
}

/// `/tags/{arn}` with the ARN percent-encoded as one path segment.
fn tags_path(arn: &str) -> String {
    let enc: String = arn
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/tags/{enc}")
}

#[test]
fn vpc_links_are_created_read_updated_listed_deleted_and_kept() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let arn = format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/net/a/1");
    let a = call(
        &mut srv,
        "POST",
        "/vpclinks",
        Some(json!({
            "name": "a", "description": "first", "targetArns": [arn],
            "tags": { "team": "edge" }
        })),
        202,
    );
    let want: BTreeSet<String> = [
        "id",
        "name",
        "description",
        "targetArns",
        "status",
        "statusMessage",
        "tags",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(&a), want, "{a}");
    assert_eq!(a["status"], "AVAILABLE");
    assert_eq!(a["targetArns"], json!([arn]));
    assert_eq!(a["tags"], json!({ "team": "edge" }));
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&mut srv, "GET", &format!("/vpclinks/{id}"), None, 200),
        a
    );

    // Required members, and the link that is not there.
    err(
        &mut srv,
        "POST",
        "/vpclinks",
        Some(json!({ "targetArns": [arn] })),
        BAD,
    );
    err(
        &mut srv,
        "POST",
        "/vpclinks",
        Some(json!({ "name": "x" })),
        BAD,
    );
    err(
        &mut srv,
        "POST",
        "/vpclinks",
        Some(json!({ "name": "x", "targetArns": [] })),
        BAD,
    );
    err(&mut srv, "GET", "/vpclinks/nope", None, GONE);
    err(
        &mut srv,
        "PATCH",
        "/vpclinks/nope",
        Some(patch("/name", "y")),
        GONE,
    );
    err(&mut srv, "DELETE", "/vpclinks/nope", None, GONE);

    // Update: name and description; another path is refused.
    let u = call(
        &mut srv,
        "PATCH",
        &format!("/vpclinks/{id}"),
        Some(patch("/name", "renamed")),
        200,
    );
    assert_eq!(u["name"], "renamed");
    let u = call(
        &mut srv,
        "PATCH",
        &format!("/vpclinks/{id}"),
        Some(patch("/description", "second")),
        200,
    );
    assert_eq!(u["description"], "second");
    err(
        &mut srv,
        "PATCH",
        &format!("/vpclinks/{id}"),
        Some(patch("/targetArns", "x")),
        BAD,
    );
    assert_eq!(
        call(&mut srv, "GET", &format!("/vpclinks/{id}"), None, 200),
        u
    );

    // Paged, in creation order.
    let b = link(&mut srv, "b");
    let c = link(&mut srv, "c");
    let p1 = call(&mut srv, "GET", "/vpclinks?limit=2", None, 200);
    assert_eq!(p1["item"], json!([u, b]));
    let pos = p1["position"].as_str().unwrap().to_string();
    let p2 = call(
        &mut srv,
        "GET",
        &format!("/vpclinks?limit=2&position={pos}"),
        None,
        200,
    );
    assert_eq!(p2, json!({ "item": [c] }));

    // Tags by the link's ARN.
    let tarn = format!("arn:aws:apigateway:{REGION}::/vpclinks/{id}");
    call(
        &mut srv,
        "PUT",
        &tags_path(&tarn),
        Some(json!({ "tags": { "env": "prod" } })),
        204,
    );
    let t = call(&mut srv, "GET", &tags_path(&tarn), None, 200);
    assert_eq!(t, json!({ "tags": { "team": "edge", "env": "prod" } }));
    err(
        &mut srv,
        "GET",
        &tags_path(&format!("arn:aws:apigateway:{REGION}::/vpclinks/nope")),
        None,
        GONE,
    );

    // Kept in control.db across a restart.
    let all = call(&mut srv, "GET", "/vpclinks", None, 200);
    srv.stop();
    let mut srv = Server::start(&cfg);
    assert_eq!(call(&mut srv, "GET", "/vpclinks", None, 200), all);

    // Delete answers 202 and the link is gone.
    let r = call(&mut srv, "DELETE", &format!("/vpclinks/{id}"), None, 202);
    assert!(r.is_null() || r == json!({}), "{r}");
    err(&mut srv, "GET", &format!("/vpclinks/{id}"), None, GONE);
    let left = call(&mut srv, "GET", "/vpclinks", None, 200);
    assert_eq!(left, json!({ "item": [b, c] }));
}

#[test]
fn a_vpc_link_integration_reaches_its_uri_and_needs_a_known_link() {
    let up = Upstream::start(|_| {
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            b"via-vpc-link",
        ))
    });
    let mut srv = Server::start(&config());
    let l = link(&mut srv, "backend");
    let lid = l["id"].as_str().unwrap().to_string();
    let api = call(
        &mut srv,
        "POST",
        "/restapis",
        Some(json!({ "name": "v" })),
        201,
    );
    let id = api["id"].as_str().unwrap().to_string();
    let root = api["rootResourceId"].as_str().unwrap().to_string();
    let get = format!("/restapis/{id}/resources/{root}/methods/GET");
    call(
        &mut srv,
        "PUT",
        &get,
        Some(json!({ "authorizationType": "NONE" })),
        201,
    );
    let uri = format!("http://{}/", up.addr());
    let integ = |cid: &str| {
        json!({
            "type": "HTTP_PROXY", "httpMethod": "GET", "uri": uri,
            "connectionType": "VPC_LINK", "connectionId": cid
        })
    };

    // An unknown link, or none, is refused.
    err(
        &mut srv,
        "PUT",
        &format!("{get}/integration"),
        Some(integ("nope")),
        BAD,
    );
    let mut none = integ("x");
    none.as_object_mut().unwrap().remove("connectionId");
    err(
        &mut srv,
        "PUT",
        &format!("{get}/integration"),
        Some(none),
        BAD,
    );
    // A stage variable is taken as it is.
    let sv = call(
        &mut srv,
        "PUT",
        &format!("{get}/integration"),
        Some(integ("${stageVariables.link}")),
        201,
    );
    assert_eq!(sv["connectionId"], "${stageVariables.link}");

    let i = call(
        &mut srv,
        "PUT",
        &format!("{get}/integration"),
        Some(integ(&lid)),
        201,
    );
    assert_eq!(i["connectionType"], "VPC_LINK");
    assert_eq!(i["connectionId"], lid.as_str());
    assert_eq!(
        call(&mut srv, "GET", &format!("{get}/integration"), None, 200),
        i
    );

    call(
        &mut srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    let invoke = format!("/restapis/{id}/prod/_user_request_/");
    poll_until(
        POLL_FOR,
        || srv.connect().get(&invoke),
        |r| r.status == 200,
        |r| format!("the VPC_LINK integration is not served at {invoke}: {r:?}"),
    );
    assert_eq!(srv.connect().get(&invoke).body_str(), "via-vpc-link");
}
