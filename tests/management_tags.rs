//! The management API's account (GetAccount, UpdateAccount) and tags
//! (TagResource, UntagResource, GetTags, and `tags` on the create calls)
//! on the admin listener of the real binary, and both kept across a restart.
//! Every create the service model (specs/apigateway-2015-07-09.service.json)
//! gives `tags` is checked: create answer, read, GetTags by ARN,
//! TagResource and UntagResource; and AWS's tag limits.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

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

/// The service model vendored in the repository.
fn model() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/apigateway-2015-07-09.service.json");
    let text = std::fs::read_to_string(&path).expect("read the service model");
    serde_json::from_str(&text).expect("service model JSON")
}

/// The operations whose input shape has a `tags` member, TagResource aside.
fn tagging_creates(m: &Value) -> BTreeSet<String> {
    m["operations"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, op)| {
            let input = op["input"]["shape"].as_str().unwrap_or_default();
            *name != "TagResource" && m["shapes"][input]["members"]["tags"].is_object()
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The id of API `api`'s (only) deployment.
fn deployment(srv: &mut Server, api: &str) -> String {
    let path = format!("/restapis/{api}/deployments");
    call(srv, "GET", &path, None, 200)["item"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// How a resource made with tags is read back.
enum Read {
    /// Its Get call.
    One(String),
    /// Its list call: the item whose `key` is `value` (no Get exists).
    InList(String, &'static str, String),
}

/// What a create answer names: how to read it back, and its ARN.
type Named = dyn Fn(&Value) -> (Read, String);

/// How operation `op` makes its resource: the call, with `tags` still to
/// add to its body, and how its answer names what it made.
struct Recipe {
    path: String,
    body: Value,
    status: u16,
    made: Box<Named>,
}

impl Recipe {
    fn new(
        path: &str,
        body: Value,
        status: u16,
        made: impl Fn(&Value) -> (Read, String) + 'static,
    ) -> Self {
        Recipe {
            path: path.to_string(),
            body,
            status,
            made: Box::new(made),
        }
    }

    /// The call with `tags`: its answer.
    fn call(&self, m: &mut Server, tags: &Value) -> Value {
        let mut body = self.body.clone();
        body["tags"] = tags.clone();
        call(m, "POST", &self.path, Some(body), self.status)
    }

    fn refused(&self, m: &mut Server, tags: &Value) {
        let mut body = self.body.clone();
        body["tags"] = tags.clone();
        fails(m, "POST", &self.path, Some(body), BAD)
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

/// A Get path read back and its ARN.
fn one(p: String) -> (Read, String) {
    (Read::One(p.clone()), arn(&p))
}

/// Operation `op`'s recipe (what it needs made first, made); None when
/// the test has none.
fn recipe(m: &mut Server, op: &str) -> Option<Recipe> {
    Some(match op {
        "CreateRestApi" => Recipe::new("/restapis", json!({"name": "a"}), 201, |v| {
            one(format!("/restapis/{}", s(v, "id")))
        }),
        "CreateStage" => {
            let api = deployed_api(m, json!({}));
            let dep = deployment(m, &api);
            let body = json!({"stageName": "tagged", "deploymentId": dep});
            let path = format!("/restapis/{api}/stages");
            Recipe::new(&path, body, 201, move |v| {
                one(format!("/restapis/{api}/stages/{}", s(v, "stageName")))
            })
        }
        "CreateApiKey" => Recipe::new("/apikeys", json!({"name": "k"}), 201, |v| {
            one(format!("/apikeys/{}", s(v, "id")))
        }),
        "CreateUsagePlan" => Recipe::new("/usageplans", json!({"name": "p"}), 201, |v| {
            one(format!("/usageplans/{}", s(v, "id")))
        }),
        "CreateDomainName" => Recipe::new(
            "/domainnames",
            json!({"domainName": "tagged.example.com"}),
            201,
            |v| one(format!("/domainnames/{}", s(v, "domainName"))),
        ),
        "CreateDomainNameAccessAssociation" => {
            let body = json!({"domainName": "private.example.com"});
            call(m, "POST", "/domainnames", Some(body), 201);
            let body = json!({
                "domainNameArn": arn("/domainnames/private.example.com"),
                "accessAssociationSourceType": "VPCE",
                "accessAssociationSource": "vpce-0123",
            });
            Recipe::new("/domainnameaccessassociations", body, 201, |v| {
                let a = s(v, "domainNameAccessAssociationArn");
                let list = "/domainnameaccessassociations".to_string();
                (
                    Read::InList(list, "domainNameAccessAssociationArn", a.clone()),
                    a,
                )
            })
        }
        "GenerateClientCertificate" => Recipe::new("/clientcertificates", json!({}), 201, |v| {
            one(format!(
                "/clientcertificates/{}",
                s(v, "clientCertificateId")
            ))
        }),
        "CreateVpcLink" => {
            let nlb =
                format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/net/a/1");
            let body = json!({"name": "l", "targetArns": [nlb]});
            Recipe::new("/vpclinks", body, 202, |v| {
                one(format!("/vpclinks/{}", s(v, "id")))
            })
        }
        _ => return None,
    })
}

/// The resource's tags as its read shows them (none: `{}`).
fn read_tags(m: &mut Server, r: &Read) -> Value {
    let v = match r {
        Read::One(p) => call(m, "GET", p, None, 200),
        Read::InList(p, key, value) => {
            let all = call(m, "GET", p, None, 200);
            all["item"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i[*key] == value.as_str())
                .unwrap_or_else(|| panic!("{value} not in {p}: {all}"))
                .clone()
        }
    };
    v.get("tags").cloned().unwrap_or(json!({}))
}

fn tags_by_arn(m: &mut Server, arn: &str) -> Value {
    call(m, "GET", &tags_path(arn), None, 200)["tags"].clone()
}

/// The spec's tagging creates are the ones this test knows, and each
/// output shape (what Get answers) has `tags`.
#[test]
fn the_service_models_tagging_creates_are_all_covered() {
    let m = model();
    let ops = tagging_creates(&m);
    let known: BTreeSet<String> = [
        "CreateApiKey",
        "CreateDomainName",
        "CreateDomainNameAccessAssociation",
        "CreateRestApi",
        "CreateStage",
        "CreateUsagePlan",
        "CreateVpcLink",
        "GenerateClientCertificate",
    ]
    .map(String::from)
    .into();
    assert_eq!(ops, known, "tagging creates in the service model");
    for op in &ops {
        let out = m["operations"][op]["output"]["shape"].as_str().unwrap();
        assert!(
            m["shapes"][out]["members"]["tags"].is_object(),
            "{op}: {out} has no tags"
        );
    }
    // CreateDeployment makes a stage but takes no tags; imports take none.
    for op in [
        "CreateDeployment",
        "ImportRestApi",
        "PutRestApi",
        "ImportApiKeys",
    ] {
        assert!(!ops.contains(op), "{op} takes tags");
    }
}

#[test]
fn every_tagging_create_keeps_tags_and_tag_untag_follow() {
    let mut srv = Server::start(&config());
    let m = &mut srv;
    let ops = tagging_creates(&model());
    let tags = json!({"team": "a", "cost": "b"});
    for op in &ops {
        let r = recipe(m, op).unwrap_or_else(|| panic!("no recipe for {op}"));
        // A create refuses the tags TagResource refuses.
        r.refused(m, &json!({"aws:x": "1"}));
        let created = r.call(m, &tags);
        let (read, arn) = (r.made)(&created);
        assert_eq!(created["tags"], tags, "{op}: create answer");
        assert_eq!(read_tags(m, &read), tags, "{op}: read");
        assert_eq!(tags_by_arn(m, &arn), tags, "{op}: GetTags");

        let t = tags_path(&arn);
        call(m, "PUT", &t, Some(json!({"tags": {"env": "dev"}})), 204);
        call(m, "DELETE", &format!("{t}?tagKeys=cost"), None, 204);
        let want = json!({"team": "a", "env": "dev"});
        assert_eq!(read_tags(m, &read), want, "{op}: read after");
        assert_eq!(tags_by_arn(m, &arn), want, "{op}: GetTags after");
    }
    // ARNs of each kind that name nothing.
    for missing in [
        arn("/restapis/nosuch"),
        arn("/restapis/nosuch/stages/prod"),
        arn("/apikeys/nosuch"),
        arn("/usageplans/nosuch"),
        arn("/domainnames/nosuch.example.com"),
        arn("/domainnameaccessassociations/domainname/nosuch.example.com/vpcesource/vpce-1"),
        arn("/clientcertificates/nosuch"),
        arn("/vpclinks/nosuch"),
    ] {
        let t = tags_path(&missing);
        fails(m, "GET", &t, None, GONE);
        fails(m, "PUT", &t, Some(json!({"tags": {"a": "b"}})), GONE);
        fails(m, "DELETE", &format!("{t}?tagKeys=a"), None, GONE);
    }
}

/// CreateDeployment with `stageName` makes a stage without tags (its input
/// has none); the stage is tagged afterwards by its ARN.
#[test]
fn a_stage_made_by_create_deployment_is_tagged_by_its_arn() {
    let mut srv = Server::start(&config());
    let m = &mut srv;
    let api = deployed_api(m, json!({}));
    let p = format!("/restapis/{api}/stages/prod");
    assert!(call(m, "GET", &p, None, 200).get("tags").is_none());
    let a = arn(&p);
    assert_eq!(tags_by_arn(m, &a), json!({}));
    call(
        m,
        "PUT",
        &tags_path(&a),
        Some(json!({"tags": {"x": "y"}})),
        204,
    );
    assert_eq!(call(m, "GET", &p, None, 200)["tags"], json!({"x": "y"}));
}

/// AWS's limits: 50 tags a resource, key 1..128 characters, value up to
/// 256, no `aws:` prefix, letters, digits, spaces and `_ . : / = + - @`.
#[test]
fn tag_limits_are_enforced_on_creates_and_tag_resource() {
    let mut srv = Server::start(&config());
    let m = &mut srv;
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    let mut fifty_one = fifty.clone();
    fifty_one.insert("k50".into(), json!("v"));
    let key = |k: String| json!({ k: "v" });
    let refused = [
        Value::Object(fifty_one),
        key("k".repeat(129)),
        key(String::new()),
        json!({"k": "v".repeat(257)}),
        json!({"aws:x": "v"}),
        json!({"AWS:x": "v"}),
        json!({"a#b": "v"}),
        json!({"k": "v;"}),
    ];
    let allowed = json!({
        "k".repeat(128): "v".repeat(256),
        "with space_.:/=+-@": "é ü 1",
    });

    for t in &refused {
        fails(
            m,
            "POST",
            "/restapis",
            Some(json!({"name": "x", "tags": t})),
            BAD,
        );
        fails(
            m,
            "POST",
            "/apikeys",
            Some(json!({"name": "x", "tags": t})),
            BAD,
        );
    }
    assert_eq!(call(m, "GET", "/restapis", None, 200)["item"], json!([]));
    let v = call(
        m,
        "POST",
        "/restapis",
        Some(json!({"name": "x", "tags": allowed})),
        201,
    );
    assert_eq!(v["tags"], allowed);
    let v = call(
        m,
        "POST",
        "/usageplans",
        Some(json!({"name": "x", "tags": fifty})),
        201,
    );
    assert_eq!(v["tags"].as_object().unwrap().len(), 50);

    // TagResource: the same limits, and 50 counts the tags already there.
    let plan = arn(&format!("/usageplans/{}", v["id"].as_str().unwrap()));
    let t = tags_path(&plan);
    fails(m, "PUT", &t, Some(json!({"tags": {"new": "1"}})), BAD);
    call(m, "PUT", &t, Some(json!({"tags": {"k0": "changed"}})), 204);
    call(m, "DELETE", &format!("{t}?tagKeys=k1"), None, 204);
    call(m, "PUT", &t, Some(json!({"tags": {"new": "1"}})), 204);
    let now = tags_by_arn(m, &plan);
    assert_eq!(now.as_object().unwrap().len(), 50);
    assert_eq!(now["k0"], "changed");
    for bad in &refused[1..] {
        fails(m, "PUT", &t, Some(json!({ "tags": bad })), BAD);
    }
    assert_eq!(
        tags_by_arn(m, &plan),
        now,
        "a refused TagResource changed them"
    );
}

/// A call refused with `want`.
fn fails(srv: &mut Server, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) {
    err(srv, method, path, body, want);
}
