//! The management API's account (GetAccount, UpdateAccount) and tags
//! (TagResource, UntagResource, GetTags, and `tags` on the create calls)
//! on the admin listener of the real binary, and both kept across a restart.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "tags-token-0123456789";
const REGION: &str = "eu-west-3";

/// No gateway API, the admin token, `[aws] region`, and an account limit.
fn config() -> Config {
    Config::new(&format!("[aws]\nregion = \"{REGION}\"\n"))
        .admin("token", &toml_str(TOKEN))
        .throttle("rate", "250.5")
        .throttle("burst", "120")
}

fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// A call that must fail with `status` and error type `kind`; its message.
fn err(
    srv: &mut Server,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    kind: &str,
) -> String {
    let v = call(srv, method, path, body, status);
    assert_eq!(v["__type"], kind, "{method} {path}: {v}");
    v["message"].as_str().unwrap_or_default().to_string()
}

/// `/tags/{arn}` with the ARN percent-encoded as one path segment, as the SDKs send it.
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

fn arn(path: &str) -> String {
    format!("arn:aws:apigateway:{REGION}::{path}")
}

fn tags_of(srv: &mut Server, path: &str) -> Value {
    call(srv, "GET", &tags_path(&arn(path)), None, 200)["tags"].clone()
}

/// An API with a mock GET / deployed to stage `prod`; the API's id.
fn deployed_api(srv: &mut Server, tags: Value) -> String {
    let api = call(
        srv,
        "POST",
        "/restapis",
        Some(json!({"name": "t", "tags": tags})),
        201,
    );
    let id = api["id"].as_str().unwrap().to_string();
    let root = api["rootResourceId"].as_str().unwrap().to_string();
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
    call(
        srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({"stageName": "prod"})),
        201,
    );
    id
}

#[test]
fn account_reflects_the_enforced_limit_and_keeps_its_settings() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let a = call(&mut srv, "GET", "/account", None, 200);
    assert_eq!(
        a,
        json!({
            "throttleSettings": {"burstLimit": 120, "rateLimit": 250.5},
            "features": ["UsagePlans"],
            "apiKeyVersion": "4",
        })
    );

    let role = "arn:aws:iam::123456789012:role/apigw-logs";
    let a = call(
        &mut srv,
        "PATCH",
        "/account",
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": role},
            {"op": "add", "path": "/features", "value": "ThrottleTest"},
            {"op": "remove", "path": "/features", "value": "UsagePlans"},
        ]})),
        200,
    );
    assert_eq!(a["cloudwatchRoleArn"], role);
    assert_eq!(a["features"], json!(["ThrottleTest"]));
    assert_eq!(
        a["throttleSettings"],
        json!({"burstLimit": 120, "rateLimit": 250.5})
    );

    // The account limit is the config's, not the API's to change.
    for path in [
        "/throttleSettings/rateLimit",
        "/throttleSettings/burstLimit",
        "/throttleSettings",
    ] {
        let msg = err(
            &mut srv,
            "PATCH",
            "/account",
            Some(json!({"patchOperations": [{"op": "replace", "path": path, "value": "5"}]})),
            400,
            "BadRequestException",
        );
        assert!(msg.contains(path), "{msg}");
    }
    // A refused patch changed nothing.
    assert_eq!(call(&mut srv, "GET", "/account", None, 200), a);

    // Kept in control.db: a restart on the same state answers the same.
    srv.stop();
    let mut srv = Server::start(&cfg);
    assert_eq!(call(&mut srv, "GET", "/account", None, 200), a);

    // Replacing with an empty value clears the role.
    let a = call(
        &mut srv,
        "PATCH",
        "/account",
        Some(
            json!({"patchOperations": [{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}]}),
        ),
        200,
    );
    assert!(a.get("cloudwatchRoleArn").is_none(), "{a}");
}

#[test]
fn tag_untag_and_get_tags_on_each_resource_kind() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let api = deployed_api(&mut srv, json!({}));
    let key = call(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "k"})),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = call(
        &mut srv,
        "POST",
        "/usageplans",
        Some(json!({"name": "p"})),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let paths = [
        (format!("/restapis/{api}"), format!("/restapis/{api}")),
        (
            format!("/restapis/{api}/stages/prod"),
            format!("/restapis/{api}/stages/prod"),
        ),
        (format!("/apikeys/{key}"), format!("/apikeys/{key}")),
        (format!("/usageplans/{plan}"), format!("/usageplans/{plan}")),
    ];
    for (res, read) in &paths {
        assert_eq!(tags_of(&mut srv, res), json!({}), "{res}");
        assert!(
            call(&mut srv, "GET", read, None, 200).get("tags").is_none(),
            "{read}: empty tags shown"
        );

        let t = tags_path(&arn(res));
        let none = call(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"team": "a", "env": "dev"}})),
            204,
        );
        assert_eq!(none, Value::Null);
        call(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"env": "prod", "cost": "42"}})),
            204,
        );
        assert_eq!(
            tags_of(&mut srv, res),
            json!({"team": "a", "env": "prod", "cost": "42"}),
            "{res}"
        );
        // The resource's own read shows them.
        assert_eq!(
            call(&mut srv, "GET", read, None, 200)["tags"],
            json!({"team": "a", "env": "prod", "cost": "42"}),
            "{read}"
        );

        call(
            &mut srv,
            "DELETE",
            &format!("{t}?tagKeys=team&tagKeys=absent&tagKeys=cost"),
            None,
            204,
        );
        assert_eq!(tags_of(&mut srv, res), json!({"env": "prod"}), "{res}");

        err(&mut srv, "DELETE", &t, None, 400, "BadRequestException");
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({})),
            400,
            "BadRequestException",
        );
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"aws:reserved": "x"}})),
            400,
            "BadRequestException",
        );
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"k".repeat(129): "x"}})),
            400,
            "BadRequestException",
        );
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"k": "v".repeat(257)}})),
            400,
            "BadRequestException",
        );
        assert_eq!(
            tags_of(&mut srv, res),
            json!({"env": "prod"}),
            "{res}: a refused tag changed them"
        );
    }

    // ARNs of nothing, another region, or not an API Gateway ARN.
    for missing in [
        arn("/restapis/nosuchapi"),
        arn(&format!("/restapis/{api}/stages/nosuch")),
        arn("/apikeys/nosuchkey"),
        arn("/usageplans/nosuch"),
        format!("arn:aws:apigateway:us-west-1::/restapis/{api}"),
    ] {
        let t = tags_path(&missing);
        err(&mut srv, "GET", &t, None, 404, "NotFoundException");
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"a": "b"}})),
            404,
            "NotFoundException",
        );
        err(
            &mut srv,
            "DELETE",
            &format!("{t}?tagKeys=a"),
            None,
            404,
            "NotFoundException",
        );
    }
    for bad in ["not-an-arn", "arn:aws:s3:::bucket", &arn("/restapis")] {
        err(
            &mut srv,
            "GET",
            &tags_path(bad),
            None,
            400,
            "BadRequestException",
        );
    }
}

#[test]
fn create_calls_keep_tags_and_deleting_drops_them() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let tags = json!({"owner": "ops"});
    let api = deployed_api(&mut srv, tags.clone());
    assert_eq!(
        call(&mut srv, "GET", &format!("/restapis/{api}"), None, 200)["tags"],
        tags
    );
    assert_eq!(tags_of(&mut srv, &format!("/restapis/{api}")), tags);

    let dep = call(
        &mut srv,
        "GET",
        &format!("/restapis/{api}/deployments"),
        None,
        200,
    )["item"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stage = call(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/stages"),
        Some(json!({"stageName": "beta", "deploymentId": dep, "tags": {"tier": "2"}})),
        201,
    );
    assert_eq!(stage["tags"], json!({"tier": "2"}));
    let stages = call(
        &mut srv,
        "GET",
        &format!("/restapis/{api}/stages"),
        None,
        200,
    );
    let beta = stages["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stageName"] == "beta")
        .unwrap()
        .clone();
    assert_eq!(beta["tags"], json!({"tier": "2"}));

    let key = call(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "k", "tags": {"who": "alice"}})),
        201,
    );
    assert_eq!(key["tags"], json!({"who": "alice"}));
    let key = key["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&mut srv, "GET", "/apikeys", None, 200)["item"][0]["tags"],
        json!({"who": "alice"})
    );

    let plan = call(
        &mut srv,
        "POST",
        "/usageplans",
        Some(json!({"name": "p", "tags": {"plan": "gold"}})),
        201,
    );
    assert_eq!(plan["tags"], json!({"plan": "gold"}));
    let plan = plan["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&mut srv, "GET", "/usageplans", None, 200)["item"][0]["tags"],
        json!({"plan": "gold"})
    );

    // A create refuses the tags TagResource refuses.
    err(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "x", "tags": {"aws:x": "1"}})),
        400,
        "BadRequestException",
    );
    err(
        &mut srv,
        "POST",
        "/usageplans",
        Some(json!({"name": "x", "tags": {"aws:x": "1"}})),
        400,
        "BadRequestException",
    );
    err(
        &mut srv,
        "POST",
        "/restapis",
        Some(json!({"name": "x", "tags": {"aws:x": "1"}})),
        400,
        "BadRequestException",
    );

    // Kept across a restart, tags set by TagResource as well.
    call(
        &mut srv,
        "PUT",
        &tags_path(&arn(&format!("/apikeys/{key}"))),
        Some(json!({"tags": {"more": "yes"}})),
        204,
    );
    srv.stop();
    let mut srv = Server::start(&cfg);
    assert_eq!(tags_of(&mut srv, &format!("/restapis/{api}")), tags);
    assert_eq!(
        tags_of(&mut srv, &format!("/restapis/{api}/stages/beta")),
        json!({"tier": "2"})
    );
    assert_eq!(
        tags_of(&mut srv, &format!("/apikeys/{key}")),
        json!({"who": "alice", "more": "yes"})
    );
    assert_eq!(
        tags_of(&mut srv, &format!("/usageplans/{plan}")),
        json!({"plan": "gold"})
    );

    // Deleting a resource drops its tags: a new one at the same name has none.
    call(
        &mut srv,
        "DELETE",
        &format!("/restapis/{api}/stages/beta"),
        None,
        202,
    );
    err(
        &mut srv,
        "GET",
        &tags_path(&arn(&format!("/restapis/{api}/stages/beta"))),
        None,
        404,
        "NotFoundException",
    );
    call(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/stages"),
        Some(json!({"stageName": "beta", "deploymentId": dep})),
        201,
    );
    assert_eq!(
        tags_of(&mut srv, &format!("/restapis/{api}/stages/beta")),
        json!({})
    );
    call(&mut srv, "DELETE", &format!("/apikeys/{key}"), None, 202);
    err(
        &mut srv,
        "GET",
        &tags_path(&arn(&format!("/apikeys/{key}"))),
        None,
        404,
        "NotFoundException",
    );
    call(
        &mut srv,
        "DELETE",
        &format!("/usageplans/{plan}"),
        None,
        202,
    );
    err(
        &mut srv,
        "GET",
        &tags_path(&arn(&format!("/usageplans/{plan}"))),
        None,
        404,
        "NotFoundException",
    );
    call(&mut srv, "DELETE", &format!("/restapis/{api}"), None, 202);
    err(
        &mut srv,
        "GET",
        &tags_path(&arn(&format!("/restapis/{api}"))),
        None,
        404,
        "NotFoundException",
    );
}
