//! Custom domain names and base path mappings of the management API
//! (CreateDomainName …, CreateBasePathMapping …), served by the data plane
//! by `Host`, and an uploaded certificate served over HTTPS by SNI, on the
//! real binary.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "domain-token-0123456789";
const REGION: &str = "eu-west-3";

fn config() -> Config {
    Config::new(&format!("[aws]\nregion = \"{REGION}\"\n")).admin("token", &toml_str(TOKEN))
}

const BAD: (u16, &str) = (400, "BadRequestException");
const GONE: (u16, &str) = (404, "NotFoundException");
const TAKEN: (u16, &str) = (409, "ConflictException");

struct M(Server);

impl M {
    fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        self.0
            .admin_call(TOKEN, method, path, body.as_ref(), status)
    }

    /// A call refused with `want`: (status, `__type`) and a message.
    fn fails(&mut self, method: &str, path: &str, body: Option<Value>, want: (u16, &str)) {
        self.0.admin_fails(TOKEN, method, path, body.as_ref(), want)
    }

    /// A REST API with a mock GET at `/hello` answering `body`, deployed to `stage`.
    fn api(&mut self, name: &str, stage: &str, body: &str) -> String {
        let api = self.ok("POST", "/restapis", Some(json!({ "name": name })), 201);
        let (id, root) = (
            api["id"].as_str().unwrap().to_string(),
            api["rootResourceId"].as_str().unwrap().to_string(),
        );
        let r = self.ok(
            "POST",
            &format!("/restapis/{id}/resources/{root}"),
            Some(json!({ "pathPart": "hello" })),
            201,
        );
        let get = format!(
            "/restapis/{id}/resources/{}/methods/GET",
            r["id"].as_str().unwrap()
        );
        self.ok(
            "PUT",
            &get,
            Some(json!({ "authorizationType": "NONE" })),
            201,
        );
        self.ok(
            "PUT",
            &format!("{get}/integration"),
            Some(json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } })),
            201,
        );
        self.ok("PUT", &format!("{get}/responses/200"), Some(json!({})), 201);
        self.ok(
            "PUT",
            &format!("{get}/integration/responses/200"),
            Some(json!({ "responseTemplates": { "application/json": body } })),
            201,
        );
        self.ok(
            "POST",
            &format!("/restapis/{id}/deployments"),
            Some(json!({ "stageName": stage })),
            201,
        );
        id
    }

    /// What the data plane answers for `path` with `Host: host`, once it
    /// answers `want` (the management API's changes are published shortly after).
    fn served(&mut self, host: &str, path: &str, want: u16) -> Response {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let srv = &self.0;
        poll_until(
            POLL_FOR,
            || srv.connect().request(raw.as_bytes()),
            |r| r.status == want,
            |r| format!("{host}{path}: wanted {want}, got {r:?}"),
        )
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn patch(path: &str, value: &str) -> Value {
    json!({ "patchOperations": [{ "op": "replace", "path": path, "value": value }] })
}

#[test]
fn domain_names_are_created_read_updated_listed_tagged_and_deleted() {
    let mut m = M(Server::start(&config()));
    let edge = m.ok(
        "POST",
        "/domainnames",
        Some(
            json!({ "domainName": "API.Example.com", "certificateName": "c",
                     "certificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                     "tags": { "team": "edge" } }),
        ),
        201,
    );
    let want: BTreeSet<String> = [
        "domainName",
        "certificateName",
        "certificateArn",
        "distributionDomainName",
        "distributionHostedZoneId",
        "endpointConfiguration",
        "domainNameStatus",
        "securityPolicy",
        "tags",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(&edge), want, "{edge}");
    // Kept as given, found in any case.
    assert_eq!(edge["domainName"], "API.Example.com");
    assert_eq!(edge["endpointConfiguration"]["types"], json!(["EDGE"]));
    assert_eq!(edge["domainNameStatus"], "AVAILABLE");
    assert_eq!(edge["securityPolicy"], "TLS_1_2");
    assert_eq!(edge["tags"], json!({ "team": "edge" }));
    assert_eq!(m.ok("GET", "/domainnames/api.example.com", None, 200), edge);

    let regional = m.ok(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "r.example.com",
                     "endpointConfiguration": { "types": ["REGIONAL"] },
                     "regionalCertificateArn": "arn:aws:acm:eu-west-3:1:certificate/y" })),
        201,
    );
    assert_eq!(regional["regionalDomainName"], "r.example.com");
    assert_eq!(
        regional["regionalCertificateArn"],
        "arn:aws:acm:eu-west-3:1:certificate/y"
    );
    assert!(
        regional.get("distributionDomainName").is_none(),
        "{regional}"
    );

    // Errors: a duplicate, a bad name, a policy other than TLS_1_2, a
    // private endpoint, half a certificate, an unknown name.
    m.fails(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "api.example.com" })),
        TAKEN,
    );
    m.fails(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "no spaces.com" })),
        BAD,
    );
    m.fails("POST", "/domainnames", Some(json!({})), BAD);
    m.fails(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "old.example.com", "securityPolicy": "TLS_1_0" })),
        BAD,
    );
    m.fails(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "p.example.com", "endpointConfiguration": { "types": ["PRIVATE"] } })),
        BAD,
    );
    m.fails(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "h.example.com", "certificateBody": "x" })),
        BAD,
    );
    m.fails(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "h.example.com", "certificateBody": "x", "certificatePrivateKey": "y" })),
        BAD,
    );
    m.fails("GET", "/domainnames/nope.example.com", None, GONE);

    let listed = m.ok("GET", "/domainnames", None, 200);
    assert_eq!(listed["item"], json!([edge, regional]));
    let first = m.ok("GET", "/domainnames?limit=1", None, 200);
    assert_eq!(first["item"], json!([edge]));
    assert!(first["position"].is_string());

    let updated = m.ok(
        "PATCH",
        "/domainnames/api.example.com",
        Some(patch("/certificateName", "renamed")),
        200,
    );
    assert_eq!(updated["certificateName"], "renamed");
    m.fails(
        "PATCH",
        "/domainnames/api.example.com",
        Some(patch("/securityPolicy", "TLS_1_0")),
        BAD,
    );
    m.fails(
        "PATCH",
        "/domainnames/api.example.com",
        Some(patch("/domainName", "x.example.com")),
        BAD,
    );

    // Tags by the domain's ARN.
    let arn = format!("arn:aws:apigateway:{REGION}::/domainnames/api.example.com");
    let tags = format!("/tags/{}", arn.replace(':', "%3A").replace('/', "%2F"));
    m.ok(
        "PUT",
        &tags,
        Some(json!({ "tags": { "env": "prod" } })),
        204,
    );
    assert_eq!(
        m.ok("GET", &tags, None, 200)["tags"],
        json!({ "team": "edge", "env": "prod" })
    );
    assert_eq!(
        m.ok("GET", "/domainnames/api.example.com", None, 200)["tags"],
        json!({ "team": "edge", "env": "prod" })
    );

    m.ok("DELETE", "/domainnames/api.example.com", None, 202);
    m.fails("GET", "/domainnames/api.example.com", None, GONE);
    m.fails("DELETE", "/domainnames/api.example.com", None, GONE);
    m.fails("GET", &tags, None, GONE);
}

#[test]
fn base_path_mappings_are_served_by_host_and_follow_changes() {
    let mut m = M(Server::start(&config()));
    let a = m.api("a", "prod", "from-a");
    let b = m.api("b", "live", "from-b");
    m.ok(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "api.example.com" })),
        201,
    );
    m.ok(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "r.example.com", "endpointConfiguration": { "types": ["REGIONAL"] } })),
        201,
    );
    let maps = "/domainnames/api.example.com/basepathmappings";
    let v1 = m.ok(
        "POST",
        maps,
        Some(json!({ "basePath": "v1", "restApiId": a, "stage": "prod" })),
        201,
    );
    assert_eq!(
        v1,
        json!({ "basePath": "v1", "restApiId": a, "stage": "prod" })
    );
    let root = m.ok(
        "POST",
        maps,
        Some(json!({ "restApiId": b, "stage": "live" })),
        201,
    );
    assert_eq!(root["basePath"], "(none)");

    // Errors.
    m.fails(
        "POST",
        maps,
        Some(json!({ "basePath": "v1", "restApiId": b, "stage": "live" })),
        TAKEN,
    );
    m.fails(
        "POST",
        maps,
        Some(json!({ "basePath": "v2", "restApiId": "nope", "stage": "prod" })),
        BAD,
    );
    m.fails(
        "POST",
        maps,
        Some(json!({ "basePath": "v2", "restApiId": a, "stage": "nope" })),
        BAD,
    );
    m.fails(
        "POST",
        maps,
        Some(json!({ "basePath": "a b", "restApiId": a, "stage": "prod" })),
        BAD,
    );
    // Multi-level base paths are for REGIONAL domain names.
    m.fails(
        "POST",
        maps,
        Some(json!({ "basePath": "v2/admin", "restApiId": a, "stage": "prod" })),
        BAD,
    );
    m.fails(
        "POST",
        "/domainnames/nope.example.com/basepathmappings",
        Some(json!({ "restApiId": a, "stage": "prod" })),
        GONE,
    );
    m.fails("GET", &format!("{maps}/nope"), None, GONE);

    assert_eq!(m.ok("GET", &format!("{maps}/v1"), None, 200), v1);
    assert_eq!(m.ok("GET", &format!("{maps}/%28none%29"), None, 200), root);
    assert_eq!(m.ok("GET", maps, None, 200)["item"], json!([v1, root]));

    // Served by Host: `/v1/...` reaches a's prod, the root reaches b's live.
    let r = m.served("api.example.com", "/v1/hello", 200);
    assert_eq!(r.body_str(), "from-a");
    let r = m.served("API.EXAMPLE.COM:8080", "/hello", 200);
    assert_eq!(r.body_str(), "from-b");

    // A multi-level base path on a REGIONAL domain.
    let rmaps = "/domainnames/r.example.com/basepathmappings";
    let deep = m.ok(
        "POST",
        rmaps,
        Some(json!({ "basePath": "v2/admin", "restApiId": a, "stage": "prod" })),
        201,
    );
    assert_eq!(deep["basePath"], "v2/admin");
    assert_eq!(m.ok("GET", &format!("{rmaps}/v2%2Fadmin"), None, 200), deep);
    let r = m.served("r.example.com", "/v2/admin/hello", 200);
    assert_eq!(r.body_str(), "from-a");

    // Moving the mapping to b changes what is served; deleting it stops it.
    let moved = m.ok(
        "PATCH",
        &format!("{maps}/v1"),
        Some(json!({ "patchOperations": [
            { "op": "replace", "path": "/restapiId", "value": b },
            { "op": "replace", "path": "/stage", "value": "live" },
            { "op": "replace", "path": "/basePath", "value": "v9" }
        ] })),
        200,
    );
    assert_eq!(
        moved,
        json!({ "basePath": "v9", "restApiId": b, "stage": "live" })
    );
    m.fails("GET", &format!("{maps}/v1"), None, GONE);
    let r = m.served("api.example.com", "/v9/hello", 200);
    assert_eq!(r.body_str(), "from-b");
    m.fails(
        "PATCH",
        &format!("{maps}/v9"),
        Some(patch("/basePath", "(none)")),
        TAKEN,
    );
    m.fails(
        "PATCH",
        &format!("{maps}/v9"),
        Some(patch("/stage", "nope")),
        BAD,
    );
    m.ok("DELETE", &format!("{maps}/v9"), None, 202);
    m.fails("DELETE", &format!("{maps}/v9"), None, GONE);
    // `/v9/hello` now falls to the root mapping (b has no `/v9/hello`).
    m.served("api.example.com", "/v9/hello", 403);
    m.ok("DELETE", &format!("{maps}/%28none%29"), None, 202);
    m.served("api.example.com", "/hello", 403);

    // Deleting the domain stops it being served.
    m.served("r.example.com", "/v2/admin/hello", 200);
    m.ok("DELETE", "/domainnames/r.example.com", None, 202);
    m.served("r.example.com", "/v2/admin/hello", 403);
}

#[test]
fn an_uploaded_certificate_is_served_for_its_domain_by_sni() {
    let dir = TempDir::new("domain-tls");
    let (file_crt, file_key) = make_cert(&dir.path, "file", &["file.test"], false);
    let (up_crt, up_key) = make_cert(&dir.path, "up", &["secure.example.com"], false);
    let cfg = config().append(&format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\n",
        file_crt.display(),
        file_key.display()
    ));
    let mut m = M(Server::start(&cfg));
    let port = m.0.https_port();
    let a = m.api("a", "prod", "from-a");
    let pem = std::fs::read_to_string(&up_crt).unwrap();
    let key = std::fs::read_to_string(&up_key).unwrap();
    // A key that is not the certificate's is refused.
    m.fails(
        "POST",
        "/domainnames",
        Some(
            json!({ "domainName": "secure.example.com", "certificateBody": pem,
                     "certificatePrivateKey": std::fs::read_to_string(&file_key).unwrap() }),
        ),
        BAD,
    );
    let d = m.ok(
        "POST",
        "/domainnames",
        Some(
            json!({ "domainName": "secure.example.com", "certificateName": "mine",
                     "certificateBody": pem, "certificatePrivateKey": key }),
        ),
        201,
    );
    assert_eq!(
        d["certificateArn"],
        format!("arn:aws:apigateway:{REGION}::/domainnames/secure.example.com/certificate")
    );
    assert!(d["certificateUploadDate"].is_number(), "{d}");
    assert!(!d.to_string().contains("PRIVATE KEY"), "{d}");
    m.ok(
        "POST",
        "/domainnames/secure.example.com/basepathmappings",
        Some(json!({ "restApiId": a, "stage": "prod" })),
        201,
    );
    let want = cert_der(&up_crt);
    // A fresh client each time: a resumed session shows the old certificate.
    let fresh = || {
        tls_get(
            &client_config(&[], &[]),
            port,
            "secure.example.com",
            "/hello",
        )
        .unwrap()
    };
    let seen = poll_until(
        POLL_FOR,
        &fresh,
        |s| s.cert == want && s.answer.starts_with("HTTP/1.1 200"),
        |s| format!("the uploaded certificate is not served: {}", s.answer),
    );
    assert!(seen.answer.ends_with("from-a"), "{}", seen.answer);
    // Other names keep the file's certificate.
    assert!(
        tls_get(&client_config(&[], &[]), port, "file.test", "/prod/hello")
            .unwrap()
            .cert
            == cert_der(&file_crt)
    );
    // The private key is not in control.db in plain text.
    let db = std::fs::read(cfg.state_dir().join("control.db")).unwrap_or_default();
    let marker = key.lines().nth(1).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(marker),
        "the private key is sealed"
    );
    // Deleted: the name gets the default certificate again.
    m.ok("DELETE", "/domainnames/secure.example.com", None, 202);
    poll_until(
        POLL_FOR,
        &fresh,
        |s| s.cert != want,
        |_| "the deleted domain's certificate is still served".into(),
    );
}

/// Access associations are stored, listed and removed; they name one of
/// portico's domains and a VPC endpoint.
#[test]
fn domain_name_access_associations_are_stored_listed_and_removed() {
    let mut m = M(Server::start(&config()));
    m.ok(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "private.example.com" })),
        201,
    );
    let domain_arn = format!("arn:aws:apigateway:{REGION}::/domainnames/private.example.com");
    let body = |arn: &str, source: &str| {
        json!({
            "domainNameArn": arn,
            "accessAssociationSourceType": "VPCE",
            "accessAssociationSource": source,
            "tags": { "team": "net" }
        })
    };
    let a = m.ok(
        "POST",
        "/domainnameaccessassociations",
        Some(body(&domain_arn, "vpce-0123")),
        201,
    );
    let arn = a["domainNameAccessAssociationArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        arn,
        format!("arn:aws:apigateway:{REGION}::/domainnameaccessassociations/domainname/private.example.com/vpcesource/vpce-0123")
    );
    assert_eq!(a["domainNameArn"], domain_arn.as_str());
    assert_eq!(a["tags"]["team"], "net");
    m.fails(
        "POST",
        "/domainnameaccessassociations",
        Some(body(&domain_arn, "vpce-0123")),
        TAKEN,
    );
    let other = format!("arn:aws:apigateway:{REGION}::/domainnames/nowhere.example.com");
    m.fails(
        "POST",
        "/domainnameaccessassociations",
        Some(body(&other, "vpce-1")),
        GONE,
    );
    m.fails(
        "POST",
        "/domainnameaccessassociations",
        Some(body("arn:x", "vpce-1")),
        BAD,
    );
    m.fails(
        "POST",
        "/domainnameaccessassociations",
        Some(body(&domain_arn, "sg-1")),
        BAD,
    );
    m.ok(
        "POST",
        "/domainnameaccessassociations",
        Some(body(&domain_arn, "vpce-0456")),
        201,
    );
    let all = m.ok("GET", "/domainnameaccessassociations", None, 200);
    assert_eq!(all["item"].as_array().unwrap().len(), 2, "{all}");
    let mine = m.ok(
        "GET",
        "/domainnameaccessassociations?resourceOwner=SELF",
        None,
        200,
    );
    assert_eq!(mine, all);
    let others = m.ok(
        "GET",
        "/domainnameaccessassociations?resourceOwner=OTHER_ACCOUNTS",
        None,
        200,
    );
    assert_eq!(others["item"], json!([]));

    let path = format!(
        "/domainnameaccessassociations/{}",
        arn.replace(':', "%3A").replace('/', "%2F")
    );
    m.ok("DELETE", &path, None, 202);
    m.fails("DELETE", &path, None, GONE);
    // Rejecting needs the association and its domain.
    let left = m.ok("GET", "/domainnameaccessassociations", None, 200);
    let left_arn = left["item"][0]["domainNameAccessAssociationArn"]
        .as_str()
        .unwrap()
        .to_string();
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let reject = |a: &str, d: &str| {
        format!(
            "/rejectdomainnameaccessassociations?domainNameAccessAssociationArn={}&domainNameArn={}",
            enc(a),
            enc(d)
        )
    };
    m.fails("POST", &reject(&left_arn, &other), None, GONE);
    m.ok("POST", &reject(&left_arn, &domain_arn), None, 202);
    let none = m.ok("GET", "/domainnameaccessassociations", None, 200);
    assert_eq!(none["item"], json!([]));
}

/// A mapping without a stage, as AWS allows it: the path names the stage
/// after the base path, for every stage the API has deployed.
#[test]
fn a_mapping_without_a_stage_takes_the_stage_from_the_path() {
    let mut m = M(Server::start(&config()));
    m.ok(
        "POST",
        "/domainnames",
        Some(json!({ "domainName": "any.example.com" })),
        201,
    );
    let a = m.api("a", "prod", "from-prod");
    m.ok(
        "POST",
        &format!("/restapis/{a}/deployments"),
        Some(json!({ "stageName": "beta" })),
        201,
    );
    let maps = "/domainnames/any.example.com/basepathmappings";
    let v1 = m.ok(
        "POST",
        maps,
        Some(json!({ "basePath": "v1", "restApiId": a })),
        201,
    );
    assert_eq!(v1, json!({ "basePath": "v1", "restApiId": a }));
    assert_eq!(m.ok("GET", &format!("{maps}/v1"), None, 200), v1);
    let r = m.served("any.example.com", "/v1/prod/hello", 200);
    assert_eq!(r.body_str(), "from-prod");
    m.served("any.example.com", "/v1/beta/hello", 200);
    m.served("any.example.com", "/v1/nostage/hello", 403);
    m.served("any.example.com", "/v1/hello", 403);
    // At the root: `/{stage}/...`.
    m.ok("DELETE", &format!("{maps}/v1"), None, 202);
    m.ok("POST", maps, Some(json!({ "restApiId": a })), 201);
    m.served("any.example.com", "/prod/hello", 200);
    // Naming a stage again serves that stage alone, at the base path.
    m.ok(
        "PATCH",
        &format!("{maps}/%28none%29"),
        Some(patch("/stage", "beta")),
        200,
    );
    m.served("any.example.com", "/hello", 200);
}
