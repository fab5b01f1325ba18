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

const BAD: (u16, &str) = (400, "BadRequestException");
const GONE: (u16, &str) = (404, "NotFoundException");

/// The server and the management calls these tests make.
struct Links(Server);

impl Links {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0
            .admin_call(TOKEN, method, path, body.as_ref(), status)
    }

    /// A call answered with `want`: (status, `__type`).
    fn fails(&mut self, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) {
        self.0.admin_fails(TOKEN, method, path, body.as_ref(), want)
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

impl Links {
    fn link(&mut self, name: &str) -> Value {
        let nlb =
            format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/net/{name}/1");
        let body = json!({ "name": name, "targetArns": [nlb] });
        self.ok("POST", "/vpclinks", Some(body), 202)
    }
}

fn patch(path: &str, value: &str) -> Value {
    json!({ "patchOperations": [{ "op": "replace", "path": path, "value": value }] })
}

/// `/tags/{arn}` with the ARN as one path segment (`:` and `/` encoded), as the SDKs send it.
fn tags_path(arn: &str) -> String {
    format!("/tags/{}", arn.replace(':', "%3A").replace('/', "%2F"))
}

#[test]
fn vpc_links_are_created_read_updated_listed_deleted_and_kept() {
    let cfg = config();
    let mut m = Links(Server::start(&cfg));
    let arn = format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/net/a/1");
    let create = json!({
        "name": "a", "description": "first", "targetArns": [arn],
        "tags": { "team": "edge" }
    });
    let a = m.ok("POST", "/vpclinks", Some(create), 202);
    let shape = [
        "id",
        "name",
        "description",
        "targetArns",
        "status",
        "statusMessage",
        "tags",
    ];
    assert_eq!(
        keys(&a),
        shape.iter().map(|s| s.to_string()).collect(),
        "{a}"
    );
    assert_eq!(a["status"], "AVAILABLE");
    assert_eq!(a["targetArns"], json!([arn]));
    assert_eq!(a["tags"], json!({ "team": "edge" }));
    let id = a["id"].as_str().unwrap().to_string();
    let one = format!("/vpclinks/{id}");
    assert_eq!(m.ok("GET", &one, None, 200), a);

    // Required members, and a link that is not there.
    for body in [
        json!({ "targetArns": [arn] }),
        json!({ "name": "x" }),
        json!({ "name": "x", "targetArns": [] }),
    ] {
        m.fails("POST", "/vpclinks", Some(body), BAD);
    }
    m.fails("GET", "/vpclinks/nope", None, GONE);
    m.fails("PATCH", "/vpclinks/nope", Some(patch("/name", "y")), GONE);
    m.fails("DELETE", "/vpclinks/nope", None, GONE);

    // Update: name and description; another path is refused.
    let mut u = a.clone();
    for (path, value) in [("/name", "renamed"), ("/description", "second")] {
        u = m.ok("PATCH", &one, Some(patch(path, value)), 200);
        assert_eq!(u[&path[1..]], value, "{u}");
    }
    m.fails("PATCH", &one, Some(patch("/targetArns", "x")), BAD);
    assert_eq!(m.ok("GET", &one, None, 200), u);

    // Paged, in creation order.
    let b = m.link("b");
    let c = m.link("c");
    let p1 = m.ok("GET", "/vpclinks?limit=2", None, 200);
    assert_eq!(p1["item"], json!([u, b]));
    let next = format!(
        "/vpclinks?limit=2&position={}",
        p1["position"].as_str().unwrap()
    );
    assert_eq!(m.ok("GET", &next, None, 200), json!({ "item": [c] }));

    // Tags by the link's ARN.
    let tags = tags_path(&format!("arn:aws:apigateway:{REGION}::/vpclinks/{id}"));
    m.ok(
        "PUT",
        &tags,
        Some(json!({ "tags": { "env": "prod" } })),
        204,
    );
    let t = m.ok("GET", &tags, None, 200);
    assert_eq!(t, json!({ "tags": { "team": "edge", "env": "prod" } }));
    let unknown = format!("arn:aws:apigateway:{REGION}::/vpclinks/nope");
    m.fails("GET", &tags_path(&unknown), None, GONE);

    // Kept in control.db across a restart.
    let all = m.ok("GET", "/vpclinks", None, 200);
    m.0.stop();
    let mut m = Links(Server::start(&cfg));
    assert_eq!(m.ok("GET", "/vpclinks", None, 200), all);

    // Delete answers 202 and the link is gone.
    m.ok("DELETE", &one, None, 202);
    m.fails("GET", &one, None, GONE);
    assert_eq!(
        m.ok("GET", "/vpclinks", None, 200),
        json!({ "item": [b, c] })
    );
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
    let mut m = Links(Server::start(&config()));
    let lid = m.link("backend")["id"].as_str().unwrap().to_string();
    let api = m.ok("POST", "/restapis", Some(json!({ "name": "v" })), 201);
    let (id, root) = (
        api["id"].as_str().unwrap(),
        api["rootResourceId"].as_str().unwrap(),
    );
    let get = format!("/restapis/{id}/resources/{root}/methods/GET");
    m.ok(
        "PUT",
        &get,
        Some(json!({ "authorizationType": "NONE" })),
        201,
    );
    let integration = format!("{get}/integration");
    let uri = format!("http://{}/", up.addr());
    let with = |cid: Option<&str>| {
        let mut v = json!({
            "type": "HTTP_PROXY", "httpMethod": "GET", "uri": uri, "connectionType": "VPC_LINK"
        });
        if let Some(cid) = cid {
            v["connectionId"] = json!(cid);
        }
        v
    };

    // An unknown link, or none, is refused.
    m.fails("PUT", &integration, Some(with(Some("nope"))), BAD);
    m.fails("PUT", &integration, Some(with(None)), BAD);
    // A connectionId is for VPC_LINK only; INTERNET and VPC_LINK are the types.
    let mut internet = with(Some(&lid));
    internet["connectionType"] = json!("INTERNET");
    m.fails("PUT", &integration, Some(internet), BAD);
    let mut other = with(Some(&lid));
    other["connectionType"] = json!("VPN");
    m.fails("PUT", &integration, Some(other), BAD);
    // A stage variable is taken as it is.
    let sv = m.ok(
        "PUT",
        &integration,
        Some(with(Some("${stageVariables.link}"))),
        201,
    );
    assert_eq!(sv["connectionId"], "${stageVariables.link}");

    let i = m.ok("PUT", &integration, Some(with(Some(&lid))), 201);
    assert_eq!(
        (&i["connectionType"], &i["connectionId"]),
        (&json!("VPC_LINK"), &json!(lid))
    );
    assert_eq!(m.ok("GET", &integration, None, 200), i);
    // UpdateIntegration checks the link it is moved to.
    m.fails(
        "PATCH",
        &integration,
        Some(patch("/connectionId", "nope")),
        BAD,
    );
    let moved = m.ok(
        "PATCH",
        &integration,
        Some(patch("/connectionId", "${stageVariables.l}")),
        200,
    );
    assert_eq!(moved["connectionId"], "${stageVariables.l}");
    let back = m.ok(
        "PATCH",
        &integration,
        Some(patch("/connectionId", &lid)),
        200,
    );
    assert_eq!(back, i);

    let stage = json!({ "stageName": "prod" });
    m.ok(
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(stage),
        201,
    );
    let invoke = format!("/restapis/{id}/prod/_user_request_/");
    let served = poll_until(
        POLL_FOR,
        || m.0.connect().get(&invoke),
        |r| r.status == 200,
        |r| format!("the VPC_LINK integration is not served at {invoke}: {r:?}"),
    );
    assert_eq!(served.body_str(), "via-vpc-link");

    // Exported with the link, and imported back as it was.
    let export = format!("/restapis/{id}/stages/prod/exports/oas30?extensions=apigateway");
    let doc = m.ok("GET", &export, None, 200);
    let x = &doc["paths"]["/"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(
        (&x["connectionType"], &x["connectionId"]),
        (&json!("VPC_LINK"), &json!(lid)),
        "{doc}"
    );
    let copy = m.ok("POST", "/restapis?mode=import", Some(doc), 201);
    let copy = copy["id"].as_str().unwrap();
    let resources = m.ok("GET", &format!("/restapis/{copy}/resources"), None, 200);
    let root = resources["item"][0]["id"].as_str().unwrap();
    let copied = format!("/restapis/{copy}/resources/{root}/methods/GET/integration");
    assert_eq!(m.ok("GET", &copied, None, 200)["connectionId"], json!(lid));

    // A link an integration names is not deleted; once none does, it is.
    let link = format!("/vpclinks/{lid}");
    m.fails("DELETE", &link, None, BAD);
    m.ok("GET", &link, None, 200);
    for api in [id, copy] {
        m.ok("DELETE", &format!("/restapis/{api}"), None, 202);
    }
    m.ok("DELETE", &link, None, 202);
}
