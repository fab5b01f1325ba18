//! Routing: stages, methods, templates, host-based APIs, custom domains.
mod common;

use common::*;

/// Each of `paths` is `403 Missing Authentication Token` on one connection,
/// which then still serves `/prod/hello`.
fn assert_no_route(srv: &Server, paths: &[&str]) {
    let mut c = srv.connect();
    for path in paths {
        assert_error_in(&c.get(path), 403, MISSING_TOKEN, path);
    }
    // The connection survives a 403.
    assert_eq!(c.get("/prod/hello").status, 200);
}

#[test]
fn unknown_path_is_403_missing_token() {
    assert_no_route(
        &Server::demo(),
        &["/prod/nope", "/prod/hello/extra", "/prod", "/"],
    );
}

#[test]
fn unknown_stage_is_403_missing_token() {
    assert_no_route(&Server::demo(), &["/dev/hello", "/hello"]);
}

#[test]
fn method_not_on_route_is_403_missing_token() {
    let srv = Server::demo();
    let mut c = srv.connect();
    let r = c.request(request("POST", "/prod/hello", "localhost", &[], b"x"));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    let r = c.request(request(
        "DELETE",
        "/prod/items/special",
        "localhost",
        &[],
        b"",
    ));
    // /items/special is GET-only, but /items/{id} is ANY: the template wins
    // for other methods or it is 403 -- either way not the static mock.
    assert_ne!(r.body_str(), "special");
    // HEAD only matches HEAD or ANY routes: /hello is GET-only.
    let mut c = srv.connect();
    c.send("HEAD /prod/hello HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let r = c.read_head_response();
    assert_eq!(r.status, 403, "HEAD on a GET-only route");
}

#[test]
fn static_segment_beats_param() {
    let up = Upstream::ok(b"from-upstream");
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    let r = c.get("/prod/items/special");
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "special");
    up.assert_nothing();
    let r = c.get("/prod/items/other");
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "from-upstream");
    assert_eq!(up.recv().target, "/things/other");
}

#[test]
fn greedy_param_matches_many_segments() {
    let up = Upstream::ok(b"ok");
    let srv = Server::demo_proxy(&up);
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/proxy/a/b/c/d").status, 200);
    assert_eq!(up.recv().target, "/a/b/c/d");
    // {id} is a single segment: /items/1/2 matches no route.
    assert_error(&c.get("/prod/items/1/2"), 403, Some(MISSING_TOKEN));
    up.assert_nothing();
}

/// The demo API (its backend `backend`) behind `api.example.com`, base path `v1`.
fn v1_domain(backend: &str) -> Config {
    Config::demo(backend).append(
        r#"[[domain]]
name = "api.example.com"
mappings = [ { base_path = "v1", api = "demo", stage = "prod" } ]
"#,
    )
}

#[test]
fn http_proxy_through_a_custom_domain_sends_the_path_after_the_base_path() {
    let up = Upstream::ok(b"ok");
    let cfg = v1_domain(&up.addr());
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    // As API Gateway maps it: `{proxy+}` holds the path after the base path.
    let r = c.request(get_on("api.example.com", "/v1/proxy/a/b?q=1"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(up.recv().target, "/a/b?q=1");
}

/// API `a` on host a.example and a default API `fallback`, each with
/// `GET /who` answering its name; only the default has `GET /only-default`.
fn two_api_config() -> Config {
    let a = api_toml(
        "a",
        &["a.example"],
        &["prod"],
        &[mock_route("GET", "/who", false, "api-a")],
    );
    let fallback = api_toml(
        "fallback",
        &[],
        &["prod"],
        &[
            mock_route("GET", "/who", false, "default"),
            mock_route("GET", "/only-default", false, "only-default"),
        ],
    );
    Config::new(&(a + &fallback))
}

/// `GET path` with `Host: host`.
fn get_on(host: &str, path: &str) -> Vec<u8> {
    request("GET", path, host, &[], b"")
}

#[test]
fn host_selects_api() {
    let srv = Server::start(&two_api_config());
    let mut c = srv.connect();
    let who = |c: &mut Client, host: &str| {
        let r = c.request(get_on(host, "/prod/who"));
        assert_eq!(r.status, 200, "Host {host}");
        r.body_str()
    };
    assert_eq!(who(&mut c, "a.example"), "api-a");
    assert_eq!(who(&mut c, "a.example:1234"), "api-a");
    assert_eq!(who(&mut c, "b.example"), "default");
    assert_eq!(who(&mut c, "localhost"), "default");
    assert_eq!(who(&mut c, "127.0.0.1:8080"), "default");
    // A route only the default API has is not visible on a.example.
    let r = c.request(get_on("a.example", "/prod/only-default"));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    let r = c.request(get_on("x.example", "/prod/only-default"));
    assert_eq!(r.body_str(), "only-default");
}

#[test]
fn custom_domain_maps_base_path_to_api_and_stage() {
    let cfg = v1_domain(NO_BACKEND);
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let r = c.request(get_on("api.example.com", "/v1/hello"));
    assert_eq!(r.status, 200, "custom domain: {}", r.body_str());
    assert_eq!(r.body_str(), HELLO_BODY);
    let r = c.request(get_on("api.example.com:443", "/v1/items/special"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "special");
    // Unknown base path on the domain.
    let r = c.request(get_on("api.example.com", "/v2/hello"));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    // Another host: /v1 is just an unknown stage.
    let r = c.request(get_on("other.example", "/v1/hello"));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    // The stage-style URL still works on other hosts.
    let r = c.request(get_on("other.example", "/prod/hello"));
    assert_eq!(r.status, 200);
}
