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

/// The error answers: (status, `__type`).
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
    for (verb, path, body) in [
        ("PUT", m.clone(), json!({"authorizationType": "NONE"})),
        ("PUT", format!("{m}/integration"), json!({"type": "MOCK"})),
        (
            "POST",
            format!("/restapis/{id}/deployments"),
            json!({"stageName": "prod"}),
        ),
    ] {
        call(srv, verb, &path, Some(body), 201);
    }
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
            {"op": "add", "path": "/features", "value": "Gone"},
            {"op": "remove", "path": "/features", "value": "Gone"},
        ]})),
        200,
    );
    assert_eq!(a["cloudwatchRoleArn"], role);
    assert_eq!(a["features"], json!(["UsagePlans", "ThrottleTest"]));
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
            BAD,
        );
        assert!(msg.contains(path), "{msg}");
    }
    // AWS: the UsagePlans feature is not removed; a replace of /features is not taken.
    for op in [
        json!({"op": "remove", "path": "/features", "value": "UsagePlans"}),
        json!({"op": "replace", "path": "/features", "value": "X"}),
        json!({"op": "add", "path": "/cloudwatchRoleArn", "value": "X"}),
    ] {
        err(
            &mut srv,
            "PATCH",
            "/account",
            Some(json!({"patchOperations": [op]})),
            BAD,
        );
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
    let made = |srv: &mut Server, path: &str| {
        let v = call(srv, "POST", path, Some(json!({"name": "n"})), 201);
        format!("{path}/{}", v["id"].as_str().unwrap())
    };
    let key = made(&mut srv, "/apikeys");
    let plan = made(&mut srv, "/usageplans");
    let paths = [
        format!("/restapis/{api}"),
        format!("/restapis/{api}/stages/prod"),
        key,
        plan,
    ];
    for res in &paths {
        let read = res;
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

        err(&mut srv, "DELETE", &t, None, BAD);
        err(&mut srv, "PUT", &t, Some(json!({})), BAD);
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"aws:reserved": "x"}})),
            BAD,
        );
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"k".repeat(129): "x"}})),
            BAD,
        );
        err(
            &mut srv,
            "PUT",
            &t,
            Some(json!({"tags": {"k": "v".repeat(257)}})),
            BAD,
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
        err(&mut srv, "GET", &t, None, GONE);
        err(&mut srv, "PUT", &t, Some(json!({"tags": {"a": "b"}})), GONE);
        err(&mut srv, "DELETE", &format!("{t}?tagKeys=a"), None, GONE);
    }
    for bad in ["not-an-arn", "arn:aws:s3:::bucket", &arn("/restapis")] {
        err(&mut srv, "GET", &tags_path(bad), None, BAD);
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

    let key = create_tagged(&mut srv, "/apikeys", json!({"who": "alice"}));
    let plan = create_tagged(&mut srv, "/usageplans", json!({"plan": "gold"}));

    // A create refuses the tags TagResource refuses.
    err(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "x", "tags": {"aws:x": "1"}})),
        BAD,
    );
    err(
        &mut srv,
        "POST",
        "/usageplans",
        Some(json!({"name": "x", "tags": {"aws:x": "1"}})),
        BAD,
    );
    err(
        &mut srv,
        "POST",
        "/restapis",
        Some(json!({"name": "x", "tags": {"aws:x": "1"}})),
        BAD,
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
        GONE,
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
    for gone in [
        format!("/apikeys/{key}"),
        format!("/usageplans/{plan}"),
        format!("/restapis/{api}"),
    ] {
        call(&mut srv, "DELETE", &gone, None, 202);
        err(&mut srv, "GET", &tags_path(&arn(&gone)), None, GONE);
    }
}

/// CreateApiKey or CreateUsagePlan (`POST path`) with `tags`: they are in
/// its answer and in the list; its id.
fn create_tagged(srv: &mut Server, path: &str, tags: Value) -> String {
    let made = call(
        srv,
        "POST",
        path,
        Some(json!({"name": "n", "tags": tags})),
        201,
    );
    assert_eq!(made["tags"], tags, "{path}");
    assert_eq!(
        call(srv, "GET", path, None, 200)["item"][0]["tags"],
        tags,
        "{path}"
    );
    made["id"].as_str().unwrap().to_string()
}

/// The config file's APIs and keys are shown with no tags, and tagging
/// them is refused: the file is their source of truth.
#[test]
fn config_file_resources_are_not_tagged_here() {
    let text = format!(
        "[aws]\nregion = \"{REGION}\"\n{}{}",
        demo_api("127.0.0.1:9"),
        alice_key_toml(&[])
    );
    let cfg = Config::new(&text).admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);
    let apis = call(&mut srv, "GET", "/restapis", None, 200);
    let api = apis["item"][0]["id"].as_str().unwrap().to_string();
    for res in [format!("/restapis/{api}"), "/apikeys/alice-id".to_string()] {
        assert_eq!(tags_of(&mut srv, &res), json!({}), "{res}");
        let t = tags_path(&arn(&res));
        let msg = err(&mut srv, "PUT", &t, Some(json!({"tags": {"a": "b"}})), BAD);
        assert!(msg.contains("config file"), "{res}: {msg}");
    }
}
