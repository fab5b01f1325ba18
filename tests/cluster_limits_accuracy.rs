//! Cluster-wide accuracy (issue 18): three nodes on one Redis (and on a
//! 3-master Redis Cluster) admit, together, what one bucket would: a stage
//! limit under a 70/20/10 load split for 10 s, at the highest limit this
//! machine can drive past (2,000 rps where it can) and at 50 rps; and a
//! per-key limit of 10 rps with a burst of 20 under a sequential and a
//! parallel pattern. admitted / (burst + rate × t) is printed for every
//! run; the bound (1.02) is asserted always, and a floor that holds on a
//! loaded 2-core machine. The same scenarios on one node without
//! `[cluster]` (the same connections, all to it) are the baseline.
//!
//! The tests of this file take turns (`TURN`): each measures a rate, and
//! two floods at once would measure the machine, not the limits.
mod common;

use common::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static TURN: Mutex<()> = Mutex::new(());

/// The stages with a limit (rate, burst), highest first: a run floods
/// the highest the machine can offer 1.5 × its rate to.
const LIMITS: [(&str, f64, u64); 4] = [
    ("s2000", 2000.0, 200),
    ("s1000", 1000.0, 100),
    ("s500", 500.0, 50),
    ("s200", 200.0, 20),
];
/// The low limit of the second scenario.
const LOW: (&str, f64, u64) = ("s50", 50.0, 10);
/// The load split: connections per node, 70/20/10.
const SPLIT: [usize; 3] = [7, 2, 1];
const RUN: Duration = Duration::from_secs(10);
/// Per key: 10 rps, burst 20 (plan `gold`, keys alice and bob, stage prod).
const KEY_RATE: f64 = 10.0;
const KEY_BURST: u64 = 20;
/// admitted / (burst + rate × t) never above this (one bucket's bound,
/// with 2 % for the time a call takes to be counted).
const BOUND: f64 = 1.02;
/// ... and never below this for a flood over the limit. Measured on this
/// 2-core machine (2026-11-30, 3 s command timeout): 0.986 to 0.995 at
/// 2,000 rps in 4 runs; 0.70 to 0.997 at 50 rps (a bucket spent per call;
/// not yet explained), on one Redis and on a Redis Cluster (each run
/// prints its figures); a bucket that stops being refilled, or refills on
/// one node only, falls far below.
const FLOOR: f64 = 0.3;
/// A key's 10 rps: measured 78 to 80 of one bucket's 80 since it is spent
/// in Redis per call (72 to 79 leased).
const KEY_FLOOR: f64 = 0.8;

fn api() -> String {
    let mut s = String::from("[[api]]\nname = \"t\"\nhosts = []\n\n");
    for (stage, rate, burst) in LIMITS.iter().chain([&LOW]) {
        s.push_str(&format!(
            "[api.stages.{stage}]\nthrottle = {{ rate = {rate:.1}, burst = {burst} }}\n\n"
        ));
    }
    s.push_str("[api.stages.free]\nvariables = {}\n\n[api.stages.prod]\nvariables = {}\n\n");
    s.push_str(&mock_route("GET", "/a", false, "a"));
    s.push_str(&mock_route("GET", "/k", true, "k"));
    s + &gold_plan_alice_bob(
        "t",
        &format!("throttle = {{ rate = {KEY_RATE:.1}, burst = {KEY_BURST} }}"),
        "",
    )
}

/// Three nodes whose Redis commands may take 3 s before they fall back: a
/// flood on this 2-core machine starved a node's limits thread past the
/// 500 ms default now and then, and a node on `local_share` while the
/// others lease from Redis admits more than its share (90 of a key's 80
/// measured). That is the fallback's cost, not the leasing's.
fn fleet(redis: &[String]) -> Vec<Server> {
    let api = api();
    (0..3)
        .map(|i| {
            let name = format!("node-{i}");
            fleet_node(&limited_fleet_config_waiting(
                redis,
                &name,
                "local_share",
                &api,
                3000,
            ))
        })
        .collect()
}

/// One node without `[cluster]`, serving the same API: the baseline.
fn single() -> Server {
    Server::start(&Config::new(&api()))
}

/// Floods `/{stage}/a` over `split` (connections per node) for `RUN`:
/// admitted / (burst + rate × t), with what happened, printed.
fn run(
    ports: &[u16],
    split: &[usize],
    (stage, rate, burst): (&str, f64, u64),
    label: &str,
) -> (f64, String) {
    let (counts, elapsed) = flood(ports, split, get(&format!("/{stage}/a")).as_bytes(), RUN);
    let all = sum(&counts);
    let t = elapsed.as_secs_f64();
    let expected = burst as f64 + rate * t;
    let ratio = all.ok as f64 / expected;
    let ctx = format!(
        "{label}: {rate} rps burst {burst}, connections {split:?} over {} node(s) for {t:.2} s: \
         offered {:.0} rps, \
         admitted {} {:?}, throttled {}, other {}; expected {expected:.0}: ratio {ratio:.4}",
        ports.len(),
        (all.ok + all.throttled) as f64 / t,
        all.ok,
        counts.iter().map(|c| c.ok).collect::<Vec<_>>(),
        all.throttled,
        all.other + all.unanswered
    );
    eprintln!("cluster accuracy: {ctx}");
    assert_eq!(all.other + all.unanswered, 0, "only 200 or 429: {ctx}");
    assert!(
        counts.iter().all(|c| c.ok > 0),
        "a node admitted nothing: {ctx}"
    );
    assert!(ratio <= BOUND, "over the bound: {ctx}");
    (ratio, ctx)
}

/// The accuracy scenario on the nodes at `ports`, `split`
/// connections each.
fn stage_accuracy(ports: &[u16], split: &[usize], label: &str) {
    // What this machine can offer, on a stage without a limit.
    let (free, t) = flood(
        ports,
        split,
        get("/free/a").as_bytes(),
        Duration::from_secs(1),
    );
    let capacity = sum(&free).ok as f64 / t.as_secs_f64();
    let high = LIMITS
        .into_iter()
        .find(|(_, rate, _)| capacity >= 1.5 * rate)
        .unwrap_or(LIMITS[LIMITS.len() - 1]);
    eprintln!(
        "cluster accuracy: {label}: the load offers {capacity:.0} rps unlimited; flooding {} ({} rps)",
        high.0, high.1
    );
    for limit in [high, LOW] {
        let (ratio, ctx) = run(ports, split, limit, label);
        assert!(ratio >= FLOOR, "under the floor: {ctx}");
    }
}

#[test]
fn a_stage_limit_holds_across_three_nodes_on_one_redis() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let redis = Redis::start();
    let nodes = fleet(&[redis.url()]);
    let ports: Vec<u16> = nodes.iter().map(|s| s.port).collect();
    stage_accuracy(&ports, &SPLIT, "one Redis");
}

#[test]
fn a_stage_limit_holds_across_three_nodes_on_a_redis_cluster() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let redis = RedisCluster::start();
    let nodes = fleet(&redis.urls());
    let ports: Vec<u16> = nodes.iter().map(|s| s.port).collect();
    stage_accuracy(&ports, &SPLIT, "Redis Cluster");
}

#[test]
fn the_same_stage_limits_on_a_single_node_for_the_baseline() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let node = single();
    let all: usize = SPLIT.iter().sum();
    stage_accuracy(&[node.port], &[all], "single node");
}

/// One key's calls for `dur`, one at a time, each on the next node.
fn sequential(nodes: &[Server], key: &str, dur: Duration) -> (LoadCount, Duration) {
    let mut clients: Vec<Client> = nodes.iter().map(|s| s.connect()).collect();
    let raw = get_with_key("/prod/k", key);
    let mut n = LoadCount::default();
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < dur {
        let at = i % clients.len();
        let r = clients[at].request(raw.clone());
        match r.status {
            200 => n.ok += 1,
            429 => n.throttled += 1,
            _ => n.other += 1,
        }
        i += 1;
    }
    (n, t0.elapsed())
}

/// admitted against one bucket's burst + rate × t for the key limit.
fn key_ratio(label: &str, nodes: usize, n: LoadCount, elapsed: Duration) -> (f64, String) {
    let expected = KEY_BURST as f64 + KEY_RATE * elapsed.as_secs_f64();
    let ratio = n.ok as f64 / expected;
    let ctx = format!(
        "per key {KEY_RATE} rps burst {KEY_BURST}, {label} over {nodes} node(s) for {elapsed:?}: \
         admitted {}, throttled {}, other {}; one bucket: {expected:.1}; ratio {ratio:.4}",
        n.ok, n.throttled, n.other
    );
    eprintln!("cluster accuracy: {ctx}");
    assert_eq!(n.other + n.unanswered, 0, "only 200 or 429: {ctx}");
    (ratio, ctx)
}

#[test]
fn a_key_limit_admits_one_buckets_worth_sequentially_and_in_parallel() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let redis = Redis::start();
    let nodes = fleet(&[redis.url()]);
    key_accuracy(&nodes, &[1, 1, 1]);
}

#[test]
fn the_same_key_limit_on_a_single_node_for_the_baseline() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    key_accuracy(&[single()], &[3]);
}

/// The key scenarios on `nodes`, the parallel one with `split`
/// connections each.
fn key_accuracy(nodes: &[Server], split: &[usize]) {
    let ports: Vec<u16> = nodes.iter().map(|s| s.port).collect();
    let dur = Duration::from_secs(6);

    // Alice: one call at a time, rotating over the nodes.
    let (n, elapsed) = sequential(nodes, ALICE, dur);
    let (ratio, ctx) = key_ratio("sequential", nodes.len(), n, elapsed);
    assert!(ratio <= BOUND, "{ctx}");
    assert!(ratio >= KEY_FLOOR, "{ctx}");

    // Bob (a bucket of its own, full): all connections at once.
    let (counts, elapsed) = flood(&ports, split, &get_with_key("/prod/k", BOB), dur);
    let (ratio, ctx) = key_ratio("parallel", nodes.len(), sum(&counts), elapsed);
    assert!(ratio <= BOUND, "{ctx}");
    assert!(ratio >= KEY_FLOOR, "{ctx}");
}
