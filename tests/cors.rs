//! CORS, as HTTP APIs configure it: preflights answered by the gateway
//! without the integration, CORS headers on answers to allowed origins
//! only, and `*` with credentials refused in the config.
mod common;

use common::*;

const ORIGIN: &str = "https://app.example";

fn cors_config(up: &Upstream, cors: &str) -> Config {
    let text =
        demo_api(&up.addr()).replacen("hosts = []", &format!("hosts = []\ncors = {cors}"), 1);
    Config::new(&text)
}

fn app_cors(up: &Upstream) -> Config {
    cors_config(
        up,
        r#"{ allow_origins = ["https://app.example"], allow_methods = ["GET", "POST"], allow_headers = ["content-type", "x-api-key"], expose_headers = ["x-request-id"], max_age = 600, allow_credentials = true }"#,
    )
}

fn preflight(c: &mut Client, path: &str, origin: &str) -> Response {
    c.request(request(
        "OPTIONS",
        path,
        "localhost",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    ))
}

#[test]
fn preflight_is_answered_without_the_integration() {
    let up = Upstream::ok(b"up");
    let srv = Server::start(&app_cors(&up));
    let mut c = srv.connect();
    let r = preflight(&mut c, "/prod/proxy/thing", ORIGIN);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-api-key")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("vary"), Some("origin"));
    assert!(r.body.is_empty());
    assert!(
        matches!(up.rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty)),
        "the preflight reached the integration"
    );
    // Even where no route exists, and the connection carries on.
    let r = preflight(&mut c, "/prod/no-such-route", ORIGIN);
    assert_eq!(r.status, 204);
    assert_eq!(c.get("/prod/hello").status, 200);
}

#[test]
fn a_disallowed_origin_gets_no_cors_headers() {
    let up = Upstream::ok(b"up");
    let srv = Server::start(&app_cors(&up));
    let mut c = srv.connect();
    let r = preflight(&mut c, "/prod/hello", "https://evil.example");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
    let r = c.request(request(
        "GET",
        "/prod/hello",
        "localhost",
        &[("Origin", "https://evil.example")],
        b"",
    ));
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .iter()
            .all(|(n, _)| !n.to_ascii_lowercase().starts_with("access-control-")),
        "{r:?}"
    );
}

#[test]
fn answers_to_allowed_origins_carry_the_headers() {
    let up = Upstream::ok(b"up");
    let srv = Server::start(&app_cors(&up));
    let mut c = srv.connect();
    for path in ["/prod/hello", "/prod/proxy/x"] {
        let r = c.request(request(
            "GET",
            path,
            "localhost",
            &[("Origin", ORIGIN)],
            b"",
        ));
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some(ORIGIN),
            "{path}"
        );
        assert_eq!(
            r.header("access-control-expose-headers"),
            Some("x-request-id"),
            "{path}"
        );
        assert_eq!(
            r.header("access-control-allow-credentials"),
            Some("true"),
            "{path}"
        );
        assert_eq!(
            r.header("access-control-allow-methods"),
            None,
            "preflight-only header on {path}"
        );
    }
    // No Origin: no CORS headers.
    let r = c.get("/prod/hello");
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn any_origin_answers_star_and_cached_answers_follow_the_caller() {
    let up = Upstream::ok(b"up");
    let text = demo_api(&up.addr())
        .replacen(
            "hosts = []",
            "hosts = []\ncors = { allow_origins = [\"*\"] }",
            1,
        )
        .replacen(
            "[api.stages.prod]\n",
            "[api.stages.prod]\ncache = { capacity = \"1MB\" }\n",
            1,
        );
    let srv = Server::start(&Config::new(&text));
    let mut c = srv.connect();
    let r = c.request(request(
        "GET",
        "/prod/proxy/c",
        "localhost",
        &[("Origin", ORIGIN)],
        b"",
    ));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{r:?}");
    assert_eq!(r.header("x-cache"), Some("Miss"));
    // A hit for a caller without Origin: the stored answer has no CORS lines.
    let r = c.get("/prod/proxy/c");
    assert_eq!(r.header("x-cache"), Some("Hit"), "{r:?}");
    assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
    let r = c.request(request(
        "GET",
        "/prod/proxy/c",
        "localhost",
        &[("Origin", "https://other.example")],
        b"",
    ));
    assert_eq!(r.header("x-cache"), Some("Hit"));
    assert_eq!(
        r.header_all("access-control-allow-origin"),
        vec!["*"],
        "{r:?}"
    );
}

#[test]
fn star_with_credentials_is_a_config_error() {
    let text = demo_api(NO_BACKEND).replacen(
        "hosts = []",
        "hosts = []\ncors = { allow_origins = [\"*\"], allow_credentials = true }",
        1,
    );
    assert_config_rejected(
        &text,
        4..=4,
        &["api[0].cors.allow_credentials"],
        "* with credentials",
    );
}
