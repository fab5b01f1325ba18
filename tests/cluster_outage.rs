//! A Redis outage under load (issue 18): three fleet nodes serve steady
//! load on a MOCK route while their one real `redis-server` is frozen
//! (SIGSTOP), then killed, then started again on its append-only file.
//! Throughout, no call fails and no worker stalls: no call takes as long
//! as a Redis command timeout, and the route's p99 in each phase stays
//! under 5 ms, or, on a machine too loaded for that, within 4 × the p99
//! with Redis up or a tenth of a command timeout, whichever is larger
//! (every phase's figures are printed); management calls answer 503 on
//! every node; after the restart nothing acknowledged is lost and the
//! fleet takes changes again.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A worker that waited on Redis would hold a call at least this long:
/// four times the longest call measured with Redis up on a machine at
/// load average 12 (485 ms), so scheduling noise is not taken for a stall.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(2_000);
/// Calls each node's client makes in each phase.
const CALLS_PER_PHASE: u64 = 400;
const P99_TARGET: Duration = Duration::from_millis(5);
/// How much the p99 with Redis down may exceed the p99 with Redis up when
/// the machine cannot hold the target at all (scheduling noise on a
/// loaded machine, not a stall, which costs a command timeout).
const LOADED_FACTOR: u32 = 4;
/// The p99 no phase may reach whatever the machine's load: a tenth of what
/// a stall costs. A worker waiting on a frozen Redis waits the whole
/// command timeout; scheduling noise alone measured a p99 of 13-61 ms at
/// load average 12-16 on 2 cores, up to 4.6 times the Redis-up phase's.
const STALL_FLOOR: Duration = Duration::from_millis(200);

/// The clients' first calls (connections made, caches warm): not compared.
const WARMUP: usize = 0;
const UP: usize = 1;
const FROZEN: usize = 2;
const KILLED: usize = 3;
const RESTARTED: usize = 4;
const PHASES: [&str; 5] = [
    "warm-up",
    "redis up",
    "redis frozen",
    "redis killed",
    "redis restarted",
];

fn node(redis: &Redis) -> Server {
    // The account level (per node, 10,000 rps by default) out of the way:
    // with Redis frozen a node's keep-alive loops went past it in CI
    // (8,188 calls refused at the account level, not by the fleet).
    let cfg = fleet_config(redis, COMMAND_TIMEOUT.as_millis() as u64)
        .append("connect_timeout_ms = 2000\n")
        .throttle("rate", "1000000.0")
        .throttle("burst", "1000000");
    fleet_node(&cfg)
}

fn admin(srv: &mut Server, method: &str, path: &str, body: Option<serde_json::Value>) -> AdminJson {
    let auth = format!("Bearer {FLEET_TOKEN}");
    srv.admin_json(method, path, &[("Authorization", &auth)], body.as_ref())
}

/// A write and a read on every node answer 503 ServiceUnavailableException.
fn management_answers_503(nodes: &mut [Server], why: &str) {
    for n in nodes.iter_mut() {
        for (method, path, body) in [
            (
                "POST",
                "/apikeys",
                Some(json!({"name": "lost", "enabled": true})),
            ),
            ("GET", "/restapis", None),
        ] {
            let r = admin(n, method, path, body);
            assert_eq!(
                r.status, 503,
                "{method} {path} on {} with {why}: {}",
                n.port, r.text
            );
            assert_eq!(
                r.json["__type"], "ServiceUnavailableException",
                "{}",
                r.text
            );
        }
    }
}

#[test]
fn a_redis_outage_under_load_stalls_no_worker_and_loses_nothing_acknowledged() {
    let mut redis = Redis::start();
    let mut nodes = vec![node(&redis), node(&redis), node(&redis)];
    let id = deploy_greeting_api(&mut nodes[0], "steady");
    let kept = nodes[1].admin_call(
        FLEET_TOKEN,
        "POST",
        "/apikeys",
        Some(&json!({"name": "kept", "enabled": true})),
        201,
    );
    let kept = kept["id"].as_str().expect("key id").to_string();
    let all: Vec<&Server> = nodes.iter().collect();
    all_serve(&all, &id, "steady", Instant::now());

    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let load = SteadyLoad::start(&ports, &greet_path(&id));
    load.set_phase(WARMUP);
    load.wait_calls(CALLS_PER_PHASE);
    load.set_phase(UP);
    load.wait_calls(CALLS_PER_PHASE);

    load.set_phase(FROZEN);
    redis.pause();
    management_answers_503(&mut nodes, "Redis frozen");
    load.wait_calls(CALLS_PER_PHASE);

    load.set_phase(KILLED);
    redis.kill();
    management_answers_503(&mut nodes, "Redis killed");
    load.wait_calls(CALLS_PER_PHASE);

    load.set_phase(RESTARTED);
    redis.restart();
    for n in nodes.iter_mut() {
        let port = n.port;
        let got = once_redis_answers(&format!("node {port} after the restart"), || {
            admin(n, "GET", &format!("/apikeys/{kept}"), None)
        });
        // Acknowledged before the outage, read back from the AOF.
        assert_eq!(got.status, 200, "{}", got.text);
        assert_eq!(got.json["name"], "kept", "{}", got.text);
        let listed = n.admin_call(FLEET_TOKEN, "GET", "/apikeys", None, 200);
        assert!(!listed.to_string().contains("\"lost\""), "{listed}");
    }
    load.wait_calls(CALLS_PER_PHASE);
    let records = load.stop();

    // The fleet takes changes again, on every node.
    let patch = json!({"patchOperations": [
        {"op": "replace", "path": "/variables/greeting", "value": "recovered"}]});
    let at = format!("/restapis/{id}/stages/prod");
    nodes[2].admin_call(FLEET_TOKEN, "PATCH", &at, Some(&patch), 200);
    let all: Vec<&Server> = nodes.iter().collect();
    let took = all_serve(&all, &id, "recovered", Instant::now());
    eprintln!("a change after the restart reached every node in {took:?}");

    let p99 = |phase: usize| quantile(records.iter().flat_map(|r| r.in_phase(phase)), 0.99);
    let max = |phase: usize| quantile(records.iter().flat_map(|r| r.in_phase(phase)), 1.0);
    for (phase, name) in PHASES.iter().enumerate() {
        let calls: usize = records.iter().map(|r| r.in_phase(phase).count()).sum();
        eprintln!(
            "{name}: {calls} calls, p50 {:?}, p99 {:?}, max {:?}",
            quantile(records.iter().flat_map(|r| r.in_phase(phase)), 0.5),
            p99(phase),
            max(phase)
        );
    }
    for (n, r) in records.iter().enumerate() {
        assert_eq!(r.failures, 0, "node {n} failed calls: {:?}", r.failed);
        assert_eq!(r.bodies, ["steady"], "node {n}");
    }
    let bound = P99_TARGET.max(p99(UP) * LOADED_FACTOR).max(STALL_FLOOR);
    for phase in [FROZEN, KILLED, RESTARTED] {
        assert!(
            p99(phase) <= bound,
            "{}: p99 {:?} (with Redis up {:?})",
            PHASES[phase],
            p99(phase),
            p99(UP)
        );
        assert!(
            max(phase) < COMMAND_TIMEOUT,
            "{}: a call took {:?}, as long as a Redis command timeout",
            PHASES[phase],
            max(phase)
        );
    }
}
