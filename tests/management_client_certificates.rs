//! The management API's client certificates (GenerateClientCertificate,
//! GetClientCertificate, GetClientCertificates, UpdateClientCertificate,
//! DeleteClientCertificate), their tags, and a stage's
//! `clientCertificateId`, on the admin listener of the real binary.

mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "certs-token-0123456789";
const REGION: &str = "ap-south-1";
const DAY: i64 = 86_400;

fn config() -> Config {
    Config::new(&format!("[aws]\nregion = \"{REGION}\"\n")).admin("token", &toml_str(TOKEN))
}

fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// A call that must fail with `status` and `kind` (`__type`).
fn err(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16, kind: &str) {
    let v = call(srv, method, path, body, status);
    assert_eq!(v["__type"], kind, "{method} {path}: {v}");
}

fn generate(srv: &mut Server, body: Value) -> Value {
    call(srv, "POST", "/clientcertificates", Some(body), 201)
}

fn id(c: &Value) -> String {
    c["clientCertificateId"].as_str().unwrap().to_string()
}

/// A REST API `name` with an open `GET /` method: (its id, the method's path).
fn api_with_get(srv: &mut Server, name: &str) -> (String, String) {
    let api = call(srv, "POST", "/restapis", Some(json!({"name": name})), 201);
    let (api_id, root) = (
        api["id"].as_str().unwrap().to_string(),
        api["rootResourceId"].as_str().unwrap(),
    );
    let m = format!("/restapis/{api_id}/resources/{root}/methods/GET");
    call(
        srv,
        "PUT",
        &m,
        Some(json!({"authorizationType": "NONE"})),
        201,
    );
    (api_id, m)
}

fn patch(path: &str, value: &str) -> Option<Value> {
    Some(json!({"patchOperations": [{"op": "replace", "path": path, "value": value}]}))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn generate_makes_a_real_self_signed_certificate_for_365_days() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let before = now();
    let c = generate(
        &mut srv,
        json!({"description": "to the backend", "tags": {"team": "edge"}}),
    );
    let mut members: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "clientCertificateId",
            "createdDate",
            "description",
            "expirationDate",
            "pemEncodedCertificate",
            "tags"
        ],
        "{c}"
    );
    assert_eq!(c["description"], "to the backend");
    assert_eq!(c["tags"], json!({"team": "edge"}));
    let created = c["createdDate"].as_i64().unwrap();
    assert!((before..=now()).contains(&created), "{c}");

    let pem = c["pemEncodedCertificate"].as_str().unwrap();
    assert!(!pem.contains("PRIVATE KEY"), "{pem}");
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("a PEM certificate");
    let cert = pem.parse_x509().expect("an X.509 certificate");
    // Self-signed (its own issuer), with a public key of its own.
    assert_eq!(cert.issuer(), cert.subject());
    assert!(!cert.public_key().subject_public_key.data.is_empty());
    let v = cert.validity();
    let (from, to) = (v.not_before.timestamp(), v.not_after.timestamp());
    assert_eq!(to - from, 365 * DAY);
    assert!(from <= created && created < from + DAY, "{from} {created}");
    assert_eq!(c["expirationDate"].as_i64().unwrap(), to);

    // Each call makes a new key pair.
    let d = generate(&mut srv, json!({}));
    assert_ne!(id(&c), id(&d));
    assert_ne!(c["pemEncodedCertificate"], d["pemEncodedCertificate"]);
    assert!(
        d.get("description").is_none() && d.get("tags").is_none(),
        "{d}"
    );

    // Tags are checked as TagResource checks them.
    err(
        &mut srv,
        "POST",
        "/clientcertificates",
        Some(json!({"tags": {"aws:x": "y"}})),
        400,
        "BadRequestException",
    );
}

#[test]
fn get_list_update_delete_and_kept_across_a_restart_with_the_key_sealed() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let certs: Vec<Value> = (0..3)
        .map(|i| generate(&mut srv, json!({"description": format!("c{i}")})))
        .collect();
    let c = &certs[0];
    let path = format!("/clientcertificates/{}", id(c));
    assert_eq!(&call(&mut srv, "GET", &path, None, 200), c);

    // Paged by position and limit, every certificate once.
    let first = call(&mut srv, "GET", "/clientcertificates?limit=2", None, 200);
    assert_eq!(first["item"].as_array().unwrap().len(), 2);
    let pos = first["position"].as_str().expect("a next page").to_string();
    let rest = call(
        &mut srv,
        "GET",
        &format!("/clientcertificates?limit=2&position={pos}"),
        None,
        200,
    );
    assert!(rest.get("position").is_none(), "{rest}");
    let mut seen: Vec<String> = first["item"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["item"].as_array().unwrap())
        .map(id)
        .collect();
    seen.sort();
    let mut want: Vec<String> = certs.iter().map(id).collect();
    want.sort();
    assert_eq!(seen, want);

    // UpdateClientCertificate: /description only.
    let u = call(&mut srv, "PATCH", &path, patch("/description", "new"), 200);
    assert_eq!(u["description"], "new");
    assert_eq!(u["pemEncodedCertificate"], c["pemEncodedCertificate"]);
    err(
        &mut srv,
        "PATCH",
        &path,
        patch("/pemEncodedCertificate", "x"),
        400,
        "BadRequestException",
    );
    assert_eq!(call(&mut srv, "GET", &path, None, 200), u);

    // Unknown ids.
    for (method, body) in [
        ("GET", None),
        ("PATCH", patch("/description", "x")),
        ("DELETE", None),
    ] {
        err(
            &mut srv,
            method,
            "/clientcertificates/nosuch",
            body,
            404,
            "NotFoundException",
        );
    }

    // Kept in control.db across a restart; the private keys are not in it in plain text.
    srv.stop();
    for name in ["control.db", "control.db-wal"] {
        if let Ok(bytes) = std::fs::read(cfg.state_dir().join(name)) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("PRIVATE KEY"), "{name} holds a plain key");
            assert!(
                text.contains("BEGIN CERTIFICATE") || name.ends_with("-wal"),
                "{name}"
            );
        }
    }
    // Each certificate's key is stored, sealed.
    let db = rusqlite::Connection::open(cfg.state_dir().join("control.db")).unwrap();
    let mut q = db
        .prepare("SELECT sealed FROM client_certificates")
        .unwrap();
    let sealed: Vec<String> = q
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sealed.len(), 3);
    for s in &sealed {
        assert!(s.len() > 100 && !s.contains("PRIVATE KEY"), "{s}");
    }
    drop(q);
    drop(db);
    let mut srv = Server::start(&cfg);
    assert_eq!(call(&mut srv, "GET", &path, None, 200), u);

    // DeleteClientCertificate: 202, then gone.
    assert_eq!(call(&mut srv, "DELETE", &path, None, 202), Value::Null);
    err(&mut srv, "GET", &path, None, 404, "NotFoundException");
    let left = call(&mut srv, "GET", "/clientcertificates", None, 200);
    assert_eq!(left["item"].as_array().unwrap().len(), 2);
}

#[test]
fn tagged_by_arn() {
    let mut srv = Server::start(&config());
    let c = generate(&mut srv, json!({"tags": {"a": "1"}}));
    let arn = format!(
        "arn:aws:apigateway:{REGION}::/clientcertificates/{}",
        id(&c)
    );
    let tags = format!("/tags/{}", arn.replace(':', "%3A").replace('/', "%2F"));
    call(
        &mut srv,
        "PUT",
        &tags,
        Some(json!({"tags": {"b": "2"}})),
        204,
    );
    assert_eq!(
        call(&mut srv, "GET", &tags, None, 200)["tags"],
        json!({"a": "1", "b": "2"})
    );
    call(&mut srv, "DELETE", &format!("{tags}?tagKeys=a"), None, 204);
    let path = format!("/clientcertificates/{}", id(&c));
    assert_eq!(
        call(&mut srv, "GET", &path, None, 200)["tags"],
        json!({"b": "2"})
    );
    call(&mut srv, "DELETE", &path, None, 202);
    err(&mut srv, "GET", &tags, None, 404, "NotFoundException");
}

#[test]
fn a_stage_names_only_an_existing_certificate() {
    let mut srv = Server::start(&config());
    let (api_id, m) = api_with_get(&mut srv, "c");
    call(
        &mut srv,
        "PUT",
        &format!("{m}/integration"),
        Some(json!({"type": "MOCK"})),
        201,
    );
    call(
        &mut srv,
        "POST",
        &format!("/restapis/{api_id}/deployments"),
        Some(json!({"stageName": "prod"})),
        201,
    );
    let stage = format!("/restapis/{api_id}/stages/prod");
    assert!(call(&mut srv, "GET", &stage, None, 200)
        .get("clientCertificateId")
        .is_none());

    let c = id(&generate(&mut srv, json!({})));
    let s = call(
        &mut srv,
        "PATCH",
        &stage,
        patch("/clientCertificateId", &c),
        200,
    );
    assert_eq!(s["clientCertificateId"], c.as_str());
    assert_eq!(call(&mut srv, "GET", &stage, None, 200), s);

    err(
        &mut srv,
        "PATCH",
        &stage,
        patch("/clientCertificateId", "nosuch"),
        400,
        "BadRequestException",
    );
    assert_eq!(call(&mut srv, "GET", &stage, None, 200), s);

    // An empty value detaches it.
    let s = call(
        &mut srv,
        "PATCH",
        &stage,
        patch("/clientCertificateId", ""),
        200,
    );
    assert!(s.get("clientCertificateId").is_none(), "{s}");
}

/// A stage's `clientCertificateId` is presented to an `https://` HTTP
/// backend that asks for one (it trusts the certificate's PEM, as AWS's
/// guide has backends do); another stage of the same API, without one, is
/// refused by that backend even after the first stage's connection is
/// pooled, and the certificate stops being presented once unset.
#[test]
fn a_stages_client_certificate_is_presented_to_its_https_backend() {
    let dir = TempDir::new("stagecert");
    let (crt, key) = make_cert(&dir.path, "up", &["localhost"], false);
    let mut srv = Server::start(&config().upstream("ca_file", &toml_str(&crt.to_string_lossy())));
    let cert = generate(&mut srv, json!({}));
    let pem = dir.path.join("trusted.pem");
    std::fs::write(&pem, cert["pemEncodedCertificate"].as_str().unwrap()).unwrap();
    let up = TlsUpstream::start_with(&crt, &key, Some(&pem));

    let (api_id, m) = api_with_get(&mut srv, "m");
    let integration = json!({
        "type": "HTTP_PROXY",
        "httpMethod": "GET",
        "uri": format!("https://localhost:{}/x", up.port)
    });
    call(
        &mut srv,
        "PUT",
        &format!("{m}/integration"),
        Some(integration),
        201,
    );
    for stage in ["with", "without"] {
        call(
            &mut srv,
            "POST",
            &format!("/restapis/{api_id}/deployments"),
            Some(json!({"stageName": stage})),
            201,
        );
    }
    let with = format!("/restapis/{api_id}/stages/with");
    call(
        &mut srv,
        "PATCH",
        &with,
        patch("/clientCertificateId", &id(&cert)),
        200,
    );

    let get = |srv: &Server, stage: &str| {
        srv.connect()
            .get(&format!("/restapis/{api_id}/{stage}/_user_request_/"))
    };
    let served = poll_until(
        POLL_FOR,
        || get(&srv, "with"),
        |r| r.status == 200,
        |r| format!("the stage's certificate is not presented: {r:?}"),
    );
    assert_eq!(served.body_str(), "ok");
    let (_, head) = up.rx.recv_timeout(POLL_FOR).unwrap();
    assert!(head.starts_with("GET /x HTTP/1.1"), "{head}");
    // The pooled connection carries the stage's certificate: never another stage's call.
    for _ in 0..3 {
        assert_error(&get(&srv, "without"), 502, Some("Internal server error"));
        assert_eq!(get(&srv, "with").status, 200);
    }
    call(
        &mut srv,
        "PATCH",
        &with,
        Some(
            json!({"patchOperations": [{"op": "replace", "path": "/clientCertificateId", "value": ""}]}),
        ),
        200,
    );
    poll_until(
        POLL_FOR,
        || get(&srv, "with"),
        |r| r.status == 502,
        |r| format!("the certificate is still presented after it was unset: {r:?}"),
    );
}
