//! A fleet's management API in the tests: node configs sharing one real
//! Redis, and a MOCK route answering a stage variable, so a test can see
//! which revision of the fleet's state each node serves.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{poll_until, toml_str, AdminJson, Config, Redis, Server, POLL_FOR};

/// The admin token of every test fleet node.
pub const FLEET_TOKEN: &str = "fleet-token-0123456789";
/// How soon every node must serve a change made on any of them (issue 18).
pub const PROPAGATION: Duration = Duration::from_millis(1_500);

/// A node's config on `redis`: admin token [`FLEET_TOKEN`], no APIs of
/// its own, management state in Redis.
pub fn fleet_config(redis: &Redis, command_timeout_ms: u64) -> Config {
    Config::new("")
        .admin("token", &toml_str(FLEET_TOKEN))
        .append(&format!(
            "[cluster]\nredis = [\"{}\"]\ncommand_timeout_ms = {command_timeout_ms}\n",
            redis.url()
        ))
}

/// An API with `GET /greet` (MOCK) answering the stage variable
/// `greeting`, deployed to `prod` with `greeting` set; its id.
pub fn deploy_greeting_api(srv: &mut Server, greeting: &str) -> String {
    let mut ok = |method: &str, path: &str, body: serde_json::Value| {
        srv.admin_call(FLEET_TOKEN, method, path, Some(&body), 201)
    };
    let api = ok("POST", "/restapis", json!({"name": "fleet"}));
    let id = api["id"].as_str().expect("id").to_string();
    let root = api["rootResourceId"].as_str().expect("root").to_string();
    let child = ok(
        "POST",
        &format!("/restapis/{id}/resources/{root}"),
        json!({"pathPart": "greet"}),
    );
    let res = child["id"].as_str().expect("resource id").to_string();
    let method = format!("/restapis/{id}/resources/{res}/methods/GET");
    srv.put_integrated_method(
        FLEET_TOKEN,
        &method,
        &json!({"type": "MOCK", "requestTemplates": {"application/json": "{\"statusCode\": 200}"}}),
        &[(
            "200",
            json!({"responseTemplates": {"application/json": "$stageVariables.greeting"}}),
        )],
    );
    srv.admin_call(
        FLEET_TOKEN,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(&json!({"stageName": "prod", "variables": {"greeting": greeting}})),
        201,
    );
    id
}

/// The greeting route of API `id` on any node.
pub fn greet_path(id: &str) -> String {
    format!("/restapis/{id}/prod/_user_request_/greet")
}

/// What `srv` answers at the greeting route: (status, body).
pub fn greeting(srv: &Server, id: &str) -> (u16, String) {
    let r = srv.connect().get(&greet_path(id));
    (r.status, r.body_str().to_string())
}

/// Waits until every node answers `want`; how long that took from `since`.
pub fn all_serve(nodes: &[&Server], id: &str, want: &str, since: Instant) -> Duration {
    for n in nodes {
        poll_until(
            POLL_FOR,
            || greeting(n, id),
            |(s, b)| *s == 200 && b == want,
            |last| format!("node {} does not serve {want:?}: {last:?}", n.port),
        );
    }
    since.elapsed()
}

/// Repeats `call` (bounded) until it answers other than 503, as it does
/// once the node reaches Redis again; that answer. `what` names the call.
pub fn once_redis_answers(what: &str, mut call: impl FnMut() -> AdminJson) -> AdminJson {
    poll_until(
        POLL_FOR,
        &mut call,
        |r| r.status != 503,
        |r| format!("{what} still answers 503: {}", r.text),
    )
}
