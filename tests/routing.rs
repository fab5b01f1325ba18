//! Routing: stages, methods, templates, host-based APIs, custom domains.
mod common;

use common::*;

fn demo_server() -> Server {
    Server::start(&Config::demo(NO_BACKEND))
}

#[test]
fn unknown_path_is_403_missing_token() {
    let srv = demo_server();
    let mut c = srv.connect();
    assert_error(&c.get("/prod/nope"), 403, Some(MISSING_TOKEN));
    assert_error(&c.get("/prod/hello/extra"), 403, Some(MISSING_TOKEN));
    assert_error(&c.get("/prod"), 403, Some(MISSING_TOKEN));
    assert_error(&c.get("/"), 403, Some(MISSING_TOKEN));
    // The connection survives a 403.
    assert_eq!(c.get("/prod/hello").status, 200);
}

#[test]
fn unknown_stage_is_403_missing_token() {
    let srv = demo_server();
    let mut c = srv.connect();
    assert_error(&c.get("/dev/hello"), 403, Some(MISSING_TOKEN));
    assert_error(&c.get("/hello"), 403, Some(MISSING_TOKEN));
    assert_eq!(c.get("/prod/hello").status, 200);
}

#[test]
fn method_not_on_route_is_403_missing_token() {
    let srv = demo_server();
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
    let srv = Server::start(&Config::demo(&up.addr()));
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
    let srv = Server::start(&Config::demo(&up.addr()));
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/proxy/a/b/c/d").status, 200);
    assert_eq!(up.recv().target, "/a/b/c/d");
    // {id} is a single segment: /items/1/2 matches no route.
    assert_error(&c.get("/prod/items/1/2"), 403, Some(MISSING_TOKEN));
    up.assert_nothing();
}

fn two_api_config() -> Config {
    Config::new(
        r#"[[api]]
name = "a"
hosts = ["a.example"]

[api.stages.prod]
variables = {}

[[api.routes]]
method = "GET"
path = "/who"
integration = { type = "mock", status = 200, headers = { "content-type" = "text/plain" }, body = 'api-a' }

[[api]]
name = "fallback"
hosts = []

[api.stages.prod]
variables = {}

[[api.routes]]
method = "GET"
path = "/who"
integration = { type = "mock", status = 200, headers = { "content-type" = "text/plain" }, body = 'default' }

[[api.routes]]
method = "GET"
path = "/only-default"
integration = { type = "mock", status = 200, headers = { "content-type" = "text/plain" }, body = 'only-default' }
"#,
    )
}

#[test]
fn host_selects_api() {
    let srv = Server::start(&two_api_config());
    let mut c = srv.connect();
    let who = |c: &mut Client, host: &str| {
        let r = c.request(request("GET", "/prod/who", host, &[], b""));
        assert_eq!(r.status, 200, "Host {host}");
        r.body_str()
    };
    assert_eq!(who(&mut c, "a.example"), "api-a");
    assert_eq!(who(&mut c, "a.example:1234"), "api-a");
    assert_eq!(who(&mut c, "b.example"), "default");
    assert_eq!(who(&mut c, "localhost"), "default");
    assert_eq!(who(&mut c, "127.0.0.1:8080"), "default");
    // A route only the default API has is not visible on a.example.
    let r = c.request(request("GET", "/prod/only-default", "a.example", &[], b""));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    let r = c.request(request("GET", "/prod/only-default", "x.example", &[], b""));
    assert_eq!(r.body_str(), "only-default");
}

#[test]
fn custom_domain_maps_base_path_to_api_and_stage() {
    let cfg = Config::demo(NO_BACKEND).append(
        r#"[[domain]]
name = "api.example.com"
mappings = [ { base_path = "v1", api = "demo", stage = "prod" } ]
"#,
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let r = c.request(request("GET", "/v1/hello", "api.example.com", &[], b""));
    assert_eq!(r.status, 200, "custom domain: {}", r.body_str());
    assert_eq!(r.body_str(), HELLO_BODY);
    let r = c.request(request(
        "GET",
        "/v1/items/special",
        "api.example.com:443",
        &[],
        b"",
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "special");
    // Unknown base path on the domain.
    let r = c.request(request("GET", "/v2/hello", "api.example.com", &[], b""));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    // Another host: /v1 is just an unknown stage.
    let r = c.request(request("GET", "/v1/hello", "other.example", &[], b""));
    assert_error(&r, 403, Some(MISSING_TOKEN));
    // The stage-style URL still works on other hosts.
    let r = c.request(request("GET", "/prod/hello", "other.example", &[], b""));
    assert_eq!(r.status, 200);
}
