//! Tags on every taggable resource, driven by the service model
//! (specs/apigateway-2015-07-09.service.json): each operation whose input
//! takes `tags` creates its resource with tags, the create answer, the
//! resource's read and GetTags on its ARN show them, TagResource adds and
//! UntagResource removes one, and the read follows. AWS's tag limits
//! (50 tags, key 128, value 256, the `aws:` prefix, the character set) on
//! creates and TagResource alike, and GetTags of an ARN of nothing.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "tags-spec-token-0123456789";
const REGION: &str = "eu-west-3";
const BAD: (u16, &str) = (400, "BadRequestException");
const GONE: (u16, &str) = (404, "NotFoundException");

fn config() -> Config {
    Config::new(&format!("[aws]\nregion = \"{REGION}\"\n")).admin("token", &toml_str(TOKEN))
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

struct M(Server);

impl M {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0
            .admin_call(TOKEN, method, path, body.as_ref(), status)
    }

    fn fails(&mut self, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) {
        self.0.admin_fails(TOKEN, method, path, body.as_ref(), want)
    }

    /// An API with a mock GET / deployed to stage `prod`: (id, deployment id).
    fn deployed_api(&mut self) -> (String, String) {
        let api = self.ok("POST", "/restapis", Some(json!({"name": "t"})), 201);
        let id = api["id"].as_str().unwrap().to_string();
        let root = api["rootResourceId"].as_str().unwrap();
        let m = format!("/restapis/{id}/resources/{root}/methods/GET");
        self.ok("PUT", &m, Some(json!({"authorizationType": "NONE"})), 201);
        let i = format!("{m}/integration");
        self.ok("PUT", &i, Some(json!({"type": "MOCK"})), 201);
        let d = self.ok(
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(json!({"stageName": "prod"})),
            201,
        );
        (id, d["id"].as_str().unwrap().to_string())
    }
}

/// `/tags/{arn}`, the ARN percent-encoded as one path segment as the SDKs send it.
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
    fn call(&self, m: &mut M, tags: &Value) -> Value {
        let mut body = self.body.clone();
        body["tags"] = tags.clone();
        m.ok("POST", &self.path, Some(body), self.status)
    }

    fn refused(&self, m: &mut M, tags: &Value) {
        let mut body = self.body.clone();
        body["tags"] = tags.clone();
        m.fails("POST", &self.path, Some(body), BAD)
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
fn recipe(m: &mut M, op: &str) -> Option<Recipe> {
    Some(match op {
        "CreateRestApi" => Recipe::new("/restapis", json!({"name": "a"}), 201, |v| {
            one(format!("/restapis/{}", s(v, "id")))
        }),
        "CreateStage" => {
            let (api, dep) = m.deployed_api();
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
            m.ok("POST", "/domainnames", Some(body), 201);
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
fn read_tags(m: &mut M, r: &Read) -> Value {
    let v = match r {
        Read::One(p) => m.ok("GET", p, None, 200),
        Read::InList(p, key, value) => {
            let all = m.ok("GET", p, None, 200);
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

fn get_tags(m: &mut M, arn: &str) -> Value {
    m.ok("GET", &tags_path(arn), None, 200)["tags"].clone()
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
    let mut m = M(Server::start(&config()));
    let ops = tagging_creates(&model());
    let tags = json!({"team": "a", "cost": "b"});
    for op in &ops {
        let r = recipe(&mut m, op).unwrap_or_else(|| panic!("no recipe for {op}"));
        // A create refuses the tags TagResource refuses.
        r.refused(&mut m, &json!({"aws:x": "1"}));
        let created = r.call(&mut m, &tags);
        let (read, arn) = (r.made)(&created);
        assert_eq!(created["tags"], tags, "{op}: create answer");
        assert_eq!(read_tags(&mut m, &read), tags, "{op}: read");
        assert_eq!(get_tags(&mut m, &arn), tags, "{op}: GetTags");

        let t = tags_path(&arn);
        m.ok("PUT", &t, Some(json!({"tags": {"env": "dev"}})), 204);
        m.ok("DELETE", &format!("{t}?tagKeys=cost"), None, 204);
        let want = json!({"team": "a", "env": "dev"});
        assert_eq!(read_tags(&mut m, &read), want, "{op}: read after");
        assert_eq!(get_tags(&mut m, &arn), want, "{op}: GetTags after");
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
        m.fails("GET", &t, None, GONE);
        m.fails("PUT", &t, Some(json!({"tags": {"a": "b"}})), GONE);
        m.fails("DELETE", &format!("{t}?tagKeys=a"), None, GONE);
    }
}

/// CreateDeployment with `stageName` makes a stage without tags (its input
/// has none); the stage is tagged afterwards by its ARN.
#[test]
fn a_stage_made_by_create_deployment_is_tagged_by_its_arn() {
    let mut m = M(Server::start(&config()));
    let (api, _) = m.deployed_api();
    let p = format!("/restapis/{api}/stages/prod");
    assert!(m.ok("GET", &p, None, 200).get("tags").is_none());
    let a = arn(&p);
    assert_eq!(get_tags(&mut m, &a), json!({}));
    m.ok(
        "PUT",
        &tags_path(&a),
        Some(json!({"tags": {"x": "y"}})),
        204,
    );
    assert_eq!(m.ok("GET", &p, None, 200)["tags"], json!({"x": "y"}));
}

/// AWS's limits: 50 tags a resource, key 1..128 characters, value up to
/// 256, no `aws:` prefix, letters, digits, spaces and `_ . : / = + - @`.
#[test]
fn tag_limits_are_enforced_on_creates_and_tag_resource() {
    let mut m = M(Server::start(&config()));
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
        m.fails(
            "POST",
            "/restapis",
            Some(json!({"name": "x", "tags": t})),
            BAD,
        );
        m.fails(
            "POST",
            "/apikeys",
            Some(json!({"name": "x", "tags": t})),
            BAD,
        );
    }
    assert_eq!(m.ok("GET", "/restapis", None, 200)["item"], json!([]));
    let v = m.ok(
        "POST",
        "/restapis",
        Some(json!({"name": "x", "tags": allowed})),
        201,
    );
    assert_eq!(v["tags"], allowed);
    let v = m.ok(
        "POST",
        "/usageplans",
        Some(json!({"name": "x", "tags": fifty})),
        201,
    );
    assert_eq!(v["tags"].as_object().unwrap().len(), 50);

    // TagResource: the same limits, and 50 counts the tags already there.
    let plan = arn(&format!("/usageplans/{}", v["id"].as_str().unwrap()));
    let t = tags_path(&plan);
    m.fails("PUT", &t, Some(json!({"tags": {"new": "1"}})), BAD);
    m.ok("PUT", &t, Some(json!({"tags": {"k0": "changed"}})), 204);
    m.ok("DELETE", &format!("{t}?tagKeys=k1"), None, 204);
    m.ok("PUT", &t, Some(json!({"tags": {"new": "1"}})), 204);
    let now = get_tags(&mut m, &plan);
    assert_eq!(now.as_object().unwrap().len(), 50);
    assert_eq!(now["k0"], "changed");
    for bad in &refused[1..] {
        m.fails("PUT", &t, Some(json!({ "tags": bad })), BAD);
    }
    assert_eq!(
        get_tags(&mut m, &plan),
        now,
        "a refused TagResource changed them"
    );
}
