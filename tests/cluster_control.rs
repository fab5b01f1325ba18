//! A fleet's management API (`[cluster]`): its state in one real
//! `redis-server`, shared by several real portico nodes. A change made on
//! one node is served by the others within 1.5 s; a node killed with -9
//! and restarted under its id rejoins and catches up to the fleet's
//! revision; Redis frozen (SIGSTOP) makes management calls answer 503
//! within the command timeout while the data plane keeps serving; a node
//! whose state key differs from the fleet's refuses to start; `portico
//! cluster migrate` moves one node's SQLite state into Redis.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = FLEET_TOKEN;
/// The fleet's state key (base64 of 32 bytes), shared by every node.
const OTHER_KEY: &str = "HxwdHhscGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
const COMMAND_TIMEOUT_MS: u64 = 500;

fn node_config(redis: &Redis) -> Config {
    fleet_config(redis, COMMAND_TIMEOUT_MS)
}

fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>) -> AdminJson {
    let auth = format!("Bearer {TOKEN}");
    srv.admin_json(method, path, &[("Authorization", &auth)], body.as_ref())
}

fn ok(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

#[test]
fn a_change_on_one_node_is_served_by_every_node_within_1_5_s() {
    let redis = Redis::start();
    let cfg = node_config(&redis);
    let mut a = fleet_node(&cfg);
    let mut b = fleet_node(&node_config(&redis));
    let c = fleet_node(&node_config(&redis));

    let id = deploy_greeting_api(&mut a, "hello");
    let deployed = Instant::now();
    let took = all_serve(&[&a, &b, &c], &id, "hello", deployed);
    assert!(
        took <= PROPAGATION,
        "the deployment made on node A reached B and C in {took:?}"
    );

    // Every node lists what A created (the state is Redis's, not A's).
    let listed = ok(&mut b, "GET", "/restapis", None, 200);
    assert!(listed.to_string().contains(&id), "{listed}");

    // A stage variable changed on B reaches all three.
    let stage = format!("/restapis/{id}/stages/prod");
    let patch = json!({"patchOperations": [
        {"op": "replace", "path": "/variables/greeting", "value": "bonjour"}
    ]});
    ok(&mut b, "PATCH", &stage, Some(patch), 200);
    let changed = Instant::now();
    let took = all_serve(&[&a, &b, &c], &id, "bonjour", changed);
    assert!(
        took <= PROPAGATION,
        "the stage variable changed on B reached the others in {took:?}"
    );
    assert_eq!(redis.cli(&["EXISTS", "{portico}:t:rest_apis"]).trim(), "1");
}

/// `portico cluster status --json` with `config`: the fleet's revision
/// and each live node's id and revision.
fn fleet_status(config: &std::path::Path) -> Value {
    let config = config.to_str().expect("utf-8");
    let out = run_bin(
        &["cluster", "status", "--json", "--config", config].map(std::ffi::OsStr::new),
        &[],
        STARTUP_TIMEOUT,
    );
    assert!(out.status.success(), "cluster status: {}", out.stderr);
    serde_json::from_str(&out.stdout).expect("cluster status JSON")
}

/// The revision node `id` reports in `status`, if it is live.
fn live_revision(status: &Value, id: &str) -> Option<u64> {
    status["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["id"] == id)
        .map(|n| n["revision"].as_u64().unwrap_or(0))
}

fn served_revision(srv: &mut Server) -> f64 {
    scrape(srv).value("portico_cluster_revision", &[])
}

/// A node killed with -9 while the others change the fleet's state, gone
/// from the live set, then started again under its own id: it is live
/// again, at the fleet's revision, serving what changed while it was down.
#[test]
fn a_node_killed_with_9_rejoins_at_the_fleets_revision() {
    let redis = Redis::start();
    let named = |id: &str| node_config(&redis).append(&format!("node_id = \"{id}\"\n"));
    let mut a = fleet_node(&named("node-a"));
    let b = fleet_node(&named("node-b"));
    let c_cfg = named("node-c");
    let mut c = fleet_node(&c_cfg);
    let id = deploy_greeting_api(&mut a, "one");
    all_serve(&[&a, &b, &c], &id, "one", Instant::now());
    let config = a.config_path().to_path_buf();
    poll_until(
        POLL_FOR,
        || fleet_status(&config),
        |s| {
            ["node-a", "node-b", "node-c"]
                .iter()
                .all(|n| live_revision(s, n).is_some())
        },
        |s| format!("3 nodes never listed: {s}"),
    );

    c.kill9();
    // Changes C misses: a stage variable and a new API key.
    let stage = format!("/restapis/{id}/stages/prod");
    let patch = json!({"patchOperations": [
        {"op": "replace", "path": "/variables/greeting", "value": "two"}
    ]});
    ok(&mut a, "PATCH", &stage, Some(patch), 200);
    let key = ok(
        &mut a,
        "POST",
        "/apikeys",
        Some(json!({"name": "while-c-was-down", "enabled": true})),
        201,
    );
    let key = key["id"].as_str().expect("key id").to_string();
    all_serve(&[&a, &b], &id, "two", Instant::now());
    // Down long enough to leave the live set (its beats expire).
    let gone = poll_until(
        POLL_FOR,
        || fleet_status(&config),
        |s| live_revision(s, "node-c").is_none(),
        |s| format!("the killed node C stayed live: {s}"),
    );
    let fleet_rev = gone["revision"].as_u64().expect("fleet revision");
    assert_eq!(served_revision(&mut a) as u64, fleet_rev, "{gone}");

    let restarted = Instant::now();
    let mut c = fleet_node(&c_cfg);
    let ready = restarted.elapsed();
    let serves = all_serve(&[&c], &id, "two", restarted);
    let at_start = served_revision(&mut c);
    poll_until(
        POLL_FOR,
        || (served_revision(&mut c), served_revision(&mut a)),
        |(c, a)| c == a,
        |(c, a)| format!("node C serves revision {c}, node A {a}"),
    );
    let caught_up = restarted.elapsed();
    let got = ok(&mut c, "GET", &format!("/apikeys/{key}"), None, 200);
    assert_eq!(got["name"], "while-c-was-down", "{got}");
    let listed = poll_until(
        POLL_FOR,
        || fleet_status(&config),
        |s| live_revision(s, "node-c") == Some(fleet_rev),
        |s| format!("node C never listed live at revision {fleet_rev}: {s}"),
    );
    let live = restarted.elapsed();
    assert_eq!(listed["revision"].as_u64(), Some(fleet_rev), "{listed}");
    for n in ["node-a", "node-b"] {
        assert!(live_revision(&listed, n).is_some(), "{n} in {listed}");
    }
    eprintln!(
        "node C, killed with -9 and restarted: listening after {ready:?}, serving the change \
         made while it was down after {serves:?} (reporting revision {at_start} then), reporting \
         the fleet's revision {fleet_rev} after {caught_up:?}, listed live at it after {live:?}"
    );
}

#[test]
fn redis_frozen_management_calls_answer_503_in_time_and_the_data_plane_serves() {
    let redis = Redis::start();
    let mut a = fleet_node(&node_config(&redis));
    let id = deploy_greeting_api(&mut a, "steady");
    all_serve(&[&a], &id, "steady", Instant::now());

    redis.pause();
    // Bounded by the command timeout (a reconnect's by the connect
    // timeout, 1 s), never a hang.
    let bound = Duration::from_millis(COMMAND_TIMEOUT_MS.max(1_000) + 1_000);
    for (method, path, body) in [
        (
            "POST",
            "/restapis".to_string(),
            Some(json!({"name": "lost"})),
        ),
        ("GET", "/restapis".to_string(), None),
        ("GET", format!("/restapis/{id}/stages/prod"), None),
    ] {
        let started = Instant::now();
        let r = call(&mut a, method, &path, body);
        let took = started.elapsed();
        assert_eq!(
            r.status, 503,
            "{method} {path} with Redis frozen: {}",
            r.text
        );
        assert_eq!(
            r.json["__type"], "ServiceUnavailableException",
            "{}",
            r.text
        );
        assert_eq!(
            r.header("x-amzn-ErrorType"),
            Some("ServiceUnavailableException")
        );
        assert!(
            r.json["message"]
                .as_str()
                .is_some_and(|m| m.contains("Redis")),
            "{}",
            r.text
        );
        assert!(
            took < bound,
            "{method} {path} took {took:?} with Redis frozen"
        );
        // The data plane does not wait on Redis.
        assert_eq!(greeting(&a, &id), (200, "steady".to_string()));
    }

    redis.resume();
    let made = once_redis_answers("a management call after Redis resumed", || {
        call(&mut a, "POST", "/restapis", Some(json!({"name": "after"})))
    });
    assert_eq!(made.status, 201, "{}", made.text);
    let listed = ok(&mut a, "GET", "/restapis", None, 200).to_string();
    assert!(
        listed.contains("after") && !listed.contains("lost"),
        "{listed}"
    );
}

/// Runs the binary to its end (bounded); (success, stderr).
fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let out = run_bin(&args, env, STARTUP_TIMEOUT);
    (out.status.success(), out.stderr)
}

#[test]
fn a_node_with_another_state_key_refuses_to_join_the_fleet() {
    let redis = Redis::start();
    let mut a = fleet_node(&node_config(&redis));
    ok(
        &mut a,
        "POST",
        "/restapis",
        Some(json!({"name": "sealed"})),
        201,
    );

    let cfg = node_config(&redis);
    let path = write_config(&cfg.render());
    let (started, stderr) = run_to_end(
        &["--config", path.to_str().expect("utf-8")],
        &[("PORTICO_STATE_KEY", OTHER_KEY)],
    );
    assert!(!started, "a node with another key started: {stderr}");
    assert!(
        stderr.contains("same state key") && stderr.contains("sealed with another state key"),
        "{stderr}"
    );
}

#[test]
fn migrate_copies_a_single_nodes_state_into_redis_and_a_fleet_node_serves_it() {
    let redis = Redis::start();
    let single = Config::new("").admin("token", &toml_str(TOKEN));
    let mut one = Server::start_with_env(&single, &[("PORTICO_STATE_KEY", FLEET_KEY)]);
    let id = deploy_greeting_api(&mut one, "migrated");
    let key = ok(
        &mut one,
        "POST",
        "/apikeys",
        Some(json!({"name": "k", "enabled": true, "value": "fleet-key-value-0123456789"})),
        201,
    );
    one.stop();

    let migrating = single
        .clone()
        .append(&format!("[cluster]\nredis = [\"{}\"]\n", redis.url()));
    let path = write_config(&migrating.render());
    let path = path.to_str().expect("utf-8");
    let env = [("PORTICO_STATE_KEY", FLEET_KEY)];
    let (done, stderr) = run_to_end(&["cluster", "migrate", "--config", path], &env);
    assert!(done, "migrate failed: {stderr}");

    // A second migrate would overwrite the fleet's state: refused.
    let (again, stderr) = run_to_end(&["cluster", "migrate", "--config", path], &env);
    assert!(!again, "a second migrate overwrote the fleet's state");
    assert!(stderr.contains("--force"), "{stderr}");
    let (forced, stderr) = run_to_end(&["cluster", "migrate", "--force", "--config", path], &env);
    assert!(forced, "migrate --force failed: {stderr}");

    let mut fleet = fleet_node(&node_config(&redis));
    all_serve(&[&fleet], &id, "migrated", Instant::now());
    let got = ok(
        &mut fleet,
        "GET",
        &format!(
            "/apikeys/{}?includeValue=true",
            key["id"].as_str().expect("key id")
        ),
        None,
        200,
    );
    assert_eq!(got["value"], "fleet-key-value-0123456789", "{got}");
}

/// Deletions that take their dependents along (a key with its plan
/// memberships, an API with its stages) are one change, seen by every node.
#[test]
fn deletions_take_their_dependents_along_on_every_node() {
    let redis = Redis::start();
    let mut a = fleet_node(&node_config(&redis));
    let mut b = fleet_node(&node_config(&redis));
    let id = deploy_greeting_api(&mut a, "dependents");
    let stages = json!([{"apiId": id, "stage": "prod"}]);
    let plan = ok(
        &mut a,
        "POST",
        "/usageplans",
        Some(json!({"name": "gold", "apiStages": stages})),
        201,
    );
    let plan = plan["id"].as_str().expect("plan id").to_string();
    let key = ok(
        &mut a,
        "POST",
        "/apikeys",
        Some(json!({"name": "member", "enabled": true})),
        201,
    );
    let key = key["id"].as_str().expect("key id").to_string();
    let members = format!("/usageplans/{plan}/keys");
    ok(
        &mut a,
        "POST",
        &members,
        Some(json!({"keyId": key, "keyType": "API_KEY"})),
        201,
    );
    let listed = ok(&mut b, "GET", &members, None, 200);
    assert_eq!(listed["item"][0]["id"], key, "{listed}");

    ok(&mut b, "DELETE", &format!("/apikeys/{key}"), None, 202);
    assert_eq!(redis.cli(&["HLEN", "{portico}:t:plan_keys"]).trim(), "0");
    // A plan's keys are listed from what the node serves: A follows.
    poll_until(
        PROPAGATION,
        || ok(&mut a, "GET", &members, None, 200),
        |listed| listed["item"] == json!([]),
        |listed| format!("node A still lists the deleted key: {listed}"),
    );

    // The API goes with its stage, on every node.
    ok(&mut b, "DELETE", &format!("/usageplans/{plan}"), None, 202);
    ok(&mut b, "DELETE", &format!("/restapis/{id}"), None, 202);
    call_status(&mut a, &format!("/restapis/{id}/stages/prod"), 404);
    assert_eq!(redis.cli(&["HLEN", "{portico}:t:stages"]).trim(), "0");
    poll_until(
        POLL_FOR,
        || greeting(&a, &id).0,
        |s| *s != 200,
        |s| format!("node A still serves the deleted API: {s}"),
    );
}

fn call_status(srv: &mut Server, path: &str, status: u16) {
    let r = call(srv, "GET", path, None);
    assert_eq!(r.status, status, "GET {path}: {}", r.text);
}

/// `min_replicas` unmet (this Redis has no replica): the call answers 503
/// and says so, within the command timeout.
#[test]
fn min_replicas_unmet_answers_503() {
    let redis = Redis::start();
    let cfg = node_config(&redis).append("min_replicas = 1\n");
    let mut a = fleet_node(&cfg);
    let started = Instant::now();
    let r = call(
        &mut a,
        "POST",
        "/restapis",
        Some(json!({"name": "replicated"})),
    );
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(
        r.json["__type"], "ServiceUnavailableException",
        "{}",
        r.text
    );
    assert!(
        r.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("replicas")),
        "{}",
        r.text
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(COMMAND_TIMEOUT_MS + 1_000),
        "took {took:?}"
    );
}

/// An API key value is the fleet's: one node cannot create a key another
/// node already holds with that value, until that key is deleted.
#[test]
fn a_key_value_is_unique_across_the_fleet() {
    let redis = Redis::start();
    let mut a = fleet_node(&node_config(&redis));
    let mut b = fleet_node(&node_config(&redis));
    let body = json!({"name": "dup", "enabled": true, "value": "fleet-unique-value-0123456789"});
    let first = ok(&mut b, "POST", "/apikeys", Some(body.clone()), 201);
    a.admin_fails(
        TOKEN,
        "POST",
        "/apikeys",
        Some(&body),
        (409, "ConflictException"),
    );
    let id = first["id"].as_str().expect("key id");
    ok(&mut b, "DELETE", &format!("/apikeys/{id}"), None, 202);
    ok(&mut a, "POST", "/apikeys", Some(body), 201);
}
