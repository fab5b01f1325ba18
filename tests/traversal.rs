//! Path traversal and path spellings (issue 13, items 6 and 15), against
//! the real binary and two backends that normalise paths themselves: nginx
//! (tests/common/nginx.rs) serving a docroot with `public/ok.txt` and a
//! `secret.txt` beside `public/`, and tests/traversal/path_echo.py, which
//! decodes until nothing changes, reads `\` as `/` and resolves `..`.
//! Routes `ANY /files/{proxy+}` and `GET /one/{id}` map to `/public/...`:
//! whatever the client sends, no backend may resolve a path outside
//! `/public/`, and a path that climbs above its root is 400.
//! Then the same spellings against a Lambda authorizer's Deny and an API
//! key route behind an open `ANY /{proxy+}`, and as a body value mapped
//! into the URI's `{id}`.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::Value;

const SECRET: &str = "TOP SECRET";
const PUBLIC: &str = "public ok";

/// What portico must do with a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 400 `{"message": ...}`: refused before routing.
    Refused,
    /// Normalised to a path no route serves: 403 Missing Authentication Token.
    NoRoute,
    /// Forwarded, under `/public/`.
    Forwarded,
}
use Expect::*;

/// Spellings every encoded-slash setting treats alike.
const ATTACKS: &[(&str, Expect)] = &[
    // Literal and encoded dot segments resolve before routing.
    ("/p/files/a/../../secret.txt", NoRoute),
    ("/p/files/%2e%2e/%2e%2e/secret.txt", NoRoute),
    ("/p/files/.%2E/%2E./secret.txt", NoRoute),
    ("/p/files//..//..//secret.txt", NoRoute),
    ("/p/one/%2e%2e", NoRoute),
    // Climbing above the root.
    ("/p/files/../../../secret.txt", Refused),
    ("/p/files/%2e%2e/%2e%2e/%2e%2e/secret.txt", Refused),
    ("/../secret.txt", Refused),
    // Double encoding: a backend that decodes twice would see `..`.
    ("/p/files/%252e%252e/%252e%252e/secret.txt", Refused),
    ("/p/one/%252e%252e%252fsecret.txt", Refused),
    ("/p/files/%25%32%65%25%32%65/secret.txt", Refused),
    // Servlet containers drop `;x` from `..;x`, then climb.
    ("/p/files/..;/..;/secret.txt", Refused),
    // Overlong UTF-8 for `.` and `/`.
    ("/p/files/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt", Refused),
    ("/p/files/%e0%80%ae%e0%80%ae/secret.txt", Refused),
    ("/p/one/..%c0%af..%c0%afsecret.txt", Refused),
    // Other spellings that stay inside reach the backend canonical.
    ("/p/files/a/b/../../ok.txt", Forwarded),
    ("/p/files/./%6Fk.txt", Forwarded),
    ("/p/one/ok.txt", Forwarded),
    ("/p/files/ok.txt", Forwarded),
];

/// `%2F`, `%5C` and `\` with the default `encoded_slashes = "decode"`:
/// separators, so their dot segments resolve before routing.
const DECODED_SLASHES: &[(&str, Expect)] = &[
    ("/p/files/..%2F..%2Fsecret.txt", NoRoute),
    ("/p/one/..%2F..%2Fsecret.txt", NoRoute),
    ("/p/one/..%2f..%2f..%2fsecret.txt", Refused),
    ("/p/files/..%5C..%5Csecret.txt", NoRoute),
    ("/p/files/..\\..\\secret.txt", NoRoute),
    ("/p/files/sub/..%2Fok.txt", Forwarded),
    // A single-segment parameter never holds a slash.
    ("/p/one/a%2Fok.txt", NoRoute),
];

/// `encoded_slashes = "keep"`: kept inside the parameter, never beside a dot segment.
const KEPT_SLASHES: &[(&str, Expect)] = &[
    ("/p/files/..%2F..%2Fsecret.txt", Refused),
    ("/p/one/..%2F..%2Fsecret.txt", Refused),
    ("/p/one/..%5c..%5csecret.txt", Refused),
    ("/p/one/..\\..\\secret.txt", Refused),
    ("/p/one/a%2F%2e%2e", Refused),
    ("/p/one/sub%2Fok.txt", Forwarded),
    ("/p/files/x%5Cy", Forwarded),
];

/// `encoded_slashes = "reject"`.
const REJECTED_SLASHES: &[(&str, Expect)] = &[
    ("/p/files/..%2F..%2Fsecret.txt", Refused),
    ("/p/one/sub%2fok.txt", Refused),
    ("/p/one/..%5C..%5Csecret.txt", Refused),
    ("/p/files/..\\..\\secret.txt", Refused),
];

fn files_api(backend: &str, encoded_slashes: &str) -> Config {
    Config::new(&format!(
        r#"[[api]]
name = "files"

[api.stages.p]

[[api.routes]]
method = "ANY"
path = "/files/{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://{backend}/public/{{proxy}}" }}

[[api.routes]]
method = "GET"
path = "/one/{{id}}"
integration = {{ type = "http_proxy", uri = "http://{backend}/public/{{id}}" }}
"#
    ))
    .server("encoded_slashes", &toml_str(encoded_slashes))
}

/// Sends every path in `cases` and checks portico's part of the answer.
fn attack(srv: &Server, cases: &[(&str, Expect)]) {
    let mut c = srv.connect();
    for &(path, expect) in cases {
        let r = c.request(get(path));
        let ctx = format!("GET {path}: {r:?}");
        assert!(!r.body_str().contains(SECRET), "{ctx}: the secret leaked");
        match expect {
            Refused => {
                assert_eq!(r.status, 400, "{ctx}");
                let message = r.json()["message"].as_str().unwrap_or_default().to_string();
                assert!(message.starts_with("Invalid request path"), "{ctx}");
            }
            NoRoute => assert_error_in(&r, 403, MISSING_TOKEN, &ctx),
            Forwarded => assert!(
                r.status == 200 || r.status == 404,
                "{ctx}: not answered by the backend"
            ),
        }
        if r.closes() {
            c = srv.connect();
        }
    }
}

fn forwarded(cases: &[(&str, Expect)]) -> usize {
    cases.iter().filter(|(_, e)| *e == Forwarded).count()
}

fn under_public(path: &str) -> bool {
    path == "/public" || path.starts_with("/public/")
}

/// nginx serving `public/ok.txt`, with `secret.txt` one level up.
fn docroot_nginx() -> (Nginx, TempDir) {
    let root = TempDir::new("docroot");
    std::fs::create_dir_all(root.path.join("public")).unwrap();
    std::fs::write(root.path.join("public/ok.txt"), PUBLIC).unwrap();
    std::fs::write(root.path.join("secret.txt"), SECRET).unwrap();
    let nginx = Nginx::start(&format!("root {};\nlocation / {{ }}", root.path.display()));
    (nginx, root)
}

/// Runs `cases` through portico (with `encoded_slashes`) to nginx: every
/// `$uri` nginx resolved is under `/public/`.
fn through_nginx(encoded_slashes: &str, cases: &[&[(&str, Expect)]]) {
    let (nginx, _root) = docroot_nginx();
    // The backend normalises: the same climb sent to it directly is served.
    let direct = call_once(nginx.port, get("/public/../secret.txt").as_bytes());
    assert_eq!(direct.body_str(), SECRET, "nginx resolves `..` itself");
    let before = nginx.log_lines(1).len();
    let srv = Server::start(&files_api(&nginx.addr(), encoded_slashes));
    let mut sent = 0;
    for list in cases {
        attack(&srv, list);
        sent += forwarded(list);
    }
    let log = nginx.log_lines(before + sent);
    assert_eq!(log.len(), before + sent, "{log:?}");
    for l in &log[before..] {
        assert!(under_public(&l.uri), "nginx resolved {l:?}");
    }
}

/// tests/traversal/path_echo.py on a loopback port, killed on drop.
struct EchoBackend {
    child: Child,
    port: u16,
}

impl EchoBackend {
    fn start() -> EchoBackend {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/traversal/path_echo.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start path_echo.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read path_echo.py's first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("path_echo.py said {line:?}"));
        EchoBackend { child, port }
    }

    /// The paths it resolved, in order.
    fn seen(&self) -> Vec<Value> {
        let a = call_once(self.port, get("/__seen").as_bytes());
        serde_json::from_slice(&a.body).expect("a JSON list")
    }
}

impl Drop for EchoBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn through_python(encoded_slashes: &str, cases: &[&[(&str, Expect)]]) {
    let echo = EchoBackend::start();
    let direct = call_once(echo.port, get("/public/%252e%252e/secret.txt").as_bytes());
    let direct: Value = serde_json::from_slice(&direct.body).unwrap();
    assert_eq!(direct["path"], "/secret.txt", "the backend decodes twice");
    let srv = Server::start(&files_api(
        &format!("127.0.0.1:{}", echo.port),
        encoded_slashes,
    ));
    let mut sent = 0;
    for list in cases {
        attack(&srv, list);
        sent += forwarded(list);
    }
    let seen = echo.seen();
    // The direct call above, then one per forwarded request.
    assert_eq!(seen.len(), 1 + sent, "{seen:?}");
    for s in &seen[1..] {
        let path = s["path"].as_str().unwrap_or_default();
        assert!(under_public(path), "the backend resolved {s}");
    }
}

#[test]
fn nginx_sees_nothing_outside_the_prefix() {
    through_nginx("decode", &[ATTACKS, DECODED_SLASHES]);
}

#[test]
fn python_sees_nothing_outside_the_prefix() {
    through_python("decode", &[ATTACKS, DECODED_SLASHES]);
}

#[test]
fn kept_encoded_slashes_never_carry_a_dot_segment() {
    through_nginx("keep", &[ATTACKS, KEPT_SLASHES]);
    through_python("keep", &[ATTACKS, KEPT_SLASHES]);
}

#[test]
fn rejected_encoded_slashes_are_400() {
    through_nginx("reject", &[ATTACKS, REJECTED_SLASHES]);
    through_python("reject", &[ATTACKS, REJECTED_SLASHES]);
}

/// A path parameter mapped from the body (`method.request.body.p` into
/// `{id}`) is a value, not a path portico normalised: whatever dot segment
/// it spells, however encoded, the double-decoding backend never resolves
/// a path outside `/public/` (such a value is left out).
#[test]
fn a_body_mapped_path_value_never_climbs() {
    let echo = EchoBackend::start();
    let srv = Server::start(&Config::new(&format!(
        r#"[[api]]
name = "files"

[api.stages.p]

[[api.routes]]
method = "POST"
path = "/map"
integration = {{ type = "http_proxy", uri = "http://127.0.0.1:{}/public/{{id}}", request_parameters = {{ "integration.request.path.id" = "method.request.body.p" }} }}
"#,
        echo.port
    )));
    let values = [
        "../secret.txt",
        "../../secret.txt",
        "..",
        "%2e%2e/secret.txt",
        "..%2Fsecret.txt",
        "%252e%252e%252fsecret.txt",
        "%25252e%25252e%25252fsecret.txt",
        "..\\secret.txt",
        "%2e%2e%5csecret.txt",
        "..;/secret.txt",
        "ok.txt",
    ];
    let mut c = srv.connect();
    for v in values {
        let body = serde_json::json!({ "p": v }).to_string();
        let r = c.request(request("POST", "/p/map", "localhost", &[], body.as_bytes()));
        assert_eq!(r.status, 200, "{v}: {r:?}");
        assert!(!r.body_str().contains(SECRET), "{v}: {r:?}");
    }
    let seen = echo.seen();
    assert_eq!(seen.len(), values.len(), "{seen:?}");
    for s in &seen {
        let path = s["path"].as_str().unwrap_or_default();
        assert!(under_public(path), "the backend resolved {s}");
    }
    assert_eq!(seen[values.len() - 1]["path"], "/public/ok.txt");
}

#[test]
fn upstreams_get_the_canonical_path() {
    let up = Upstream::ok(b"up");
    let srv = Server::start(&files_api(&up.addr(), "keep"));
    let mut c = srv.connect();
    for (path, upstream) in [
        ("/p/files/a/./b/../%6Fk.txt", "/public/a/ok.txt"),
        ("/p/files/x%2fy/z%3b", "/public/x%2Fy/z%3B"),
        ("/p/files/caf\u{e9}%20", "/public/caf%C3%A9%20"),
        ("/p/files/dir/", "/public/dir"),
        ("/p/one/%7Eme?q=1", "/public/~me?q=1"),
    ] {
        let r = c.request(get(path));
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_eq!(up.recv().target, upstream, "{path}");
    }
}

#[test]
fn strict_paths_are_refused_rather_than_rewritten() {
    let up = Upstream::ok(b"up");
    let cfg = files_api(&up.addr(), "decode")
        .server("normalize_path", "false")
        .server("merge_slashes", "false");
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    for path in [
        "/p/files/a/../ok.txt",
        "/p/files/%6Fk.txt",
        "/p/files//ok.txt",
        "/p/files/ok.txt/",
    ] {
        let r = c.request(get(path));
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
    up.assert_nothing();
    assert_eq!(c.request(get("/p/files/ok.txt")).status, 200);
    assert_eq!(up.recv().target, "/public/ok.txt");
}

// ---------------------------------------------------------------------------
// Item 15: authorizers, API keys and throttles see the canonical path
// ---------------------------------------------------------------------------

/// Spellings of `/tok/admin` (after the stage) that a backend serves as it.
const ADMIN_SPELLINGS: &[&str] = &[
    "/prod/tok/admin",
    "/prod/tok/%61dmin",
    "/prod/tok/admin/",
    "/prod/tok//admin",
    "/prod//tok/admin",
    "/prod/tok/admin%2f",
    "/prod/tok/./admin",
    "/prod/tok/x/../admin",
    "/prod/tok/%2e/admin",
    "/pro%64/tok/admin",
];

#[test]
fn a_lambda_authorizer_deny_holds_for_every_spelling() {
    let fns = Functions::start();
    let up = Upstream::ok(b"up");
    let srv = Server::start(&Config::new(&format!(
        r#"[[api]]
name = "guarded"
id = "abc123"

[api.authorizers.token]
type = "token"
function = "authorizer-token"
ttl_s = 300

[api.stages.prod]

[[api.routes]]
method = "ANY"
path = "/{{proxy+}}"
authorizer = "token"
integration = {{ type = "http_proxy", uri = "http://{}/{{proxy}}" }}

[aws]
account_id = "123456789012"
region = "us-east-1"
lambda_endpoint = "{}"
"#,
        up.addr(),
        fns.endpoint()
    )));
    let mut c = srv.connect();
    let call = |c: &mut Client, path: &str| {
        c.request(request(
            "GET",
            path,
            "localhost",
            &[("Authorization", "deny-admin")],
            b"",
        ))
    };
    // The policy allows the rest of the API.
    let r = call(&mut c, "/prod/tok/other");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(up.recv().target, "/tok/other");
    let event = fns.last_event("authorizer-token");
    assert_eq!(
        event["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/tok/other"
    );
    for path in ADMIN_SPELLINGS {
        let r = call(&mut c, path);
        assert_eq!(r.status, 403, "{path}: {r:?}");
        assert_eq!(
            r.json()["Message"],
            "User is not authorized to access this resource with an explicit deny",
            "{path}"
        );
    }
    up.assert_nothing();
    // Resources match case-sensitively, as in IAM: another resource.
    assert_eq!(call(&mut c, "/prod/tok/ADMIN").status, 200);
    assert_eq!(up.recv().target, "/tok/ADMIN");
    // A fresh decision for a non-canonical first call names the canonical ARN.
    let r = c.request(request(
        "GET",
        "/prod/tok/%61dmin/",
        "localhost",
        &[("Authorization", "allow")],
        b"",
    ));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(up.recv().target, "/tok/admin");
    assert_eq!(
        fns.last_event("authorizer-token")["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/tok/admin"
    );
}

#[test]
fn an_api_key_route_and_its_throttle_hold_for_every_spelling() {
    let up = Upstream::ok(b"open proxy");
    let routes = [
        mock_route("GET", "/keyed", true, "keyed"),
        format!(
            "[[api.routes]]\nmethod = \"ANY\"\npath = \"/{{proxy+}}\"\n\
             integration = {{ type = \"http_proxy\", uri = \"http://{}/{{proxy}}\" }}\n",
            up.addr()
        ),
    ];
    let text = api_toml("k", &[], &["prod"], &routes)
        + &plan_toml("gold", "", "k", "prod", "")
        + &alice_key_toml(&["gold"]);
    let text = text.replacen(
        "[api.stages.prod]\n",
        "[api.stages.prod]\nroute_throttle = { \"GET /keyed\" = { rate = 0.001, burst = 2 } }\n",
        1,
    );
    let srv = Server::start(&Config::new(&text));
    let mut c = srv.connect();
    let spellings = [
        "/prod/keyed",
        "/prod/keyed/",
        "/prod//keyed",
        "/prod/%6Beyed",
        "/prod/%6beyed/.",
        "/prod/x/../keyed",
    ];
    for path in spellings {
        assert_error_in(
            &c.request(get(path)),
            403,
            FORBIDDEN,
            &format!("{path} without a key"),
        );
    }
    up.assert_nothing();
    // The route's throttle (burst 2) counts every spelling.
    assert_ok(
        &c.request(get_with_key("/prod/keyed/", ALICE)),
        "keyed",
        "1st",
    );
    assert_ok(
        &c.request(get_with_key("/prod/%6Beyed", ALICE)),
        "keyed",
        "2nd",
    );
    assert_429(&c.request(get_with_key("//prod//keyed", ALICE)), TOO_MANY);
    up.assert_nothing();
    // Other paths still reach the open proxy.
    assert_eq!(c.request(get("/prod/other")).status, 200);
    assert_eq!(up.recv().target, "/other");
}
