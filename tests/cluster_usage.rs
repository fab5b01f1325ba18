//! Cluster-wide usage (issue 18): nodes of a fleet add their usage into
//! one real redis-server every flush, so GetUsage on every node and
//! `portico usage` report the fleet's totals alike; usage counted while
//! Redis is frozen (SIGSTOP), thawed (writes that timed out run late and
//! are sent again) or dead arrives once it is back (restarted from its
//! append-only file), neither lost nor counted twice; UpdateUsage's
//! adjustment and a plan's first day are the fleet's; a quota hit from
//! three nodes at once admits exactly its limit, on one Redis and on a
//! 3-master Redis Cluster. /metrics shows what usage waits for Redis
//! (`portico_cluster_usage_pending_keys`) and what was dropped at the
//! bound (`portico_cluster_usage_dropped_{calls,bytes}_total`): with
//! `usage_max_pending = 1` and Redis dead, the keys that did not fit are
//! exactly what is dropped and missing once Redis is back. A node killed
//! with -9 under load loses at most its last flush interval of usage.
mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "mgmt-token-0123456789";
const BODY: &str = "keyed-body";

/// A node of a fleet on `redis`: API `u` (`GET /keyed` needing a key),
/// plan gold with `plan_lines` over it, keys alice and bob; usage flushed
/// every 50 ms; the management API on; the quota calendar at [`QUIET_NOON`].
fn node(redis: &Redis, name: &str, plan_lines: &str) -> (Server, Config) {
    node_on(&Fleet::one(redis), name, plan_lines)
}

/// The fleet's Redis: its URLs and topology.
struct Fleet {
    urls: Vec<String>,
    topology: &'static str,
}

impl Fleet {
    fn one(redis: &Redis) -> Fleet {
        Fleet {
            urls: vec![redis.url()],
            topology: "standalone",
        }
    }

    fn cluster(redis: &RedisCluster) -> Fleet {
        Fleet {
            urls: redis.urls(),
            topology: "cluster",
        }
    }
}

/// [`node`] on `fleet`, whatever its topology.
fn node_on(fleet: &Fleet, name: &str, plan_lines: &str) -> (Server, Config) {
    let cfg = node_config(fleet, name, plan_lines);
    (start(&cfg), cfg)
}

/// The config of [`node_on`]. It ends in its `[cluster]` table, so lines
/// appended before another table's header are `[cluster]` keys.
fn node_config(fleet: &Fleet, name: &str, plan_lines: &str) -> Config {
    let routes = [mock_route("GET", "/keyed", true, BODY)];
    let urls: Vec<String> = fleet.urls.iter().map(|u| toml_str(u)).collect();
    let cluster = format!(
        "[cluster]\nredis = [{}]\ntopology = \"{}\"\nnode_id = \"{name}\"\n\
         connect_timeout_ms = 300\ncommand_timeout_ms = 300\n",
        urls.join(", "),
        fleet.topology
    );
    // The account level (per node, 10,000 rps by default) out of the way:
    // one keep-alive loop on this machine went past it (1,548 calls
    // refused at the account level in one run).
    Config::new(&api_toml("u", &[], &["prod"], &routes))
        .throttle("rate", "1000000.0")
        .throttle("burst", "1000000")
        .append(&gold_plan_alice_bob("u", plan_lines, ""))
        .admin("token", &toml_str(TOKEN))
        .state("flush_ms", "50")
        .append(&cluster)
}

/// A node of `cfg`, on the quota calendar's [`QUIET_NOON`].
fn start(cfg: &Config) -> Server {
    Server::start_with_env(
        cfg,
        &[("PORTICO_STATE_KEY", FLEET_KEY), (TEST_CLOCK, QUIET_NOON)],
    )
}

/// GetUsage of plan gold on the test day, as `node` answers it.
fn get_usage(node: &mut Server) -> Value {
    let path = "/usageplans/gold/usage?startDate=2026-11-25&endDate=2026-11-25";
    node.admin_call(TOKEN, "GET", path, None, 200)
}

/// Calls of `key` on the test day in a GetUsage answer (0 when absent).
fn calls(usage: &Value, key: &str) -> u64 {
    usage["values"][key][0][0].as_u64().unwrap_or(0)
}

/// Polls `node`'s GetUsage until alice and bob show `want` calls (a 503
/// while Redis is still starting is polled past).
fn wait_for_usage(node: &mut Server, want: (u64, u64), within: Duration) -> Value {
    let t0 = Instant::now();
    let path = "/usageplans/gold/usage?startDate=2026-11-25&endDate=2026-11-25";
    let auth = format!("Bearer {TOKEN}");
    let u = poll_until(
        within,
        || {
            let r = node.admin_json("GET", path, &[("Authorization", &auth)], None);
            (r.status == 200).then_some(r.json)
        },
        |u| {
            u.as_ref()
                .is_some_and(|u| (calls(u, "alice-id"), calls(u, "bob-id")) == want)
        },
        |u| format!("GetUsage never showed {want:?}: {u:?}"),
    )
    .expect("polled until 200");
    eprintln!("usage {want:?} seen {:?} after the load", t0.elapsed());
    u
}

fn keyed(c: &mut Client, key: &str, n: usize, ctx: &str) {
    assert_ok_times(c, get_with_key("/prod/keyed", key), n, BODY, ctx);
}

#[test]
fn usage_made_on_three_nodes_is_reported_alike_by_every_node_and_the_cli() {
    let redis = Redis::start();
    let mut nodes: Vec<(Server, Config)> = (0..3)
        .map(|i| node(&redis, &format!("node-{i}"), ""))
        .collect();
    let per_node = [(7, 2), (5, 0), (3, 4)];
    for ((srv, _), (a, b)) in nodes.iter_mut().zip(per_node) {
        let mut c = srv.connect();
        keyed(&mut c, ALICE, a, "alice");
        keyed(&mut c, BOB, b, "bob");
    }
    let first = wait_for_usage(&mut nodes[0].0, (15, 6), Duration::from_secs(10));
    for (i, (srv, _)) in nodes.iter_mut().enumerate() {
        assert_eq!(get_usage(srv), first, "node {i}'s GetUsage");
        // Redis took everything: nothing waits, nothing was dropped.
        let m = usage_backlog_becomes(srv, "nothing waiting", |pending| pending == 0.0);
        assert_eq!(dropped(&m), (0.0, 0.0), "node {i}: {}", m.text);
    }
    // `portico usage` with any node's config reads the fleet's records.
    for (_, cfg) in &nodes {
        let day = day_number(QUIET_NOON);
        let r = usage_cli_range(cfg, "gold", None, day, day);
        assert_eq!(
            (r.calls("alice-id"), r.calls("bob-id")),
            (15, 6),
            "{}",
            r.json
        );
        // Bytes sent back: every response alike, so in proportion to calls.
        let (a, b) = (r.bytes("alice-id"), r.bytes("bob-id"));
        assert!(a > 0 && a % 15 == 0 && a / 15 == b / 6, "{}", r.json);
    }
}

/// Scrapes `srv` until its usage-pending gauge satisfies `pending`,
/// checking the usage families' types on the way.
fn usage_backlog_becomes(srv: &mut Server, what: &str, pending: impl Fn(f64) -> bool) -> Metrics {
    let m = scrape_until(srv, what, |m| {
        pending(m.value("portico_cluster_usage_pending_keys", &[]))
    });
    for (family, ty) in [
        ("portico_cluster_usage_pending_keys", "gauge"),
        ("portico_cluster_usage_dropped_calls_total", "counter"),
        ("portico_cluster_usage_dropped_bytes_total", "counter"),
    ] {
        assert_eq!(
            m.types.get(family).map(String::as_str),
            Some(ty),
            "{}",
            m.text
        );
    }
    m
}

/// (calls, bytes) dropped at the recorder's bound, as /metrics says.
fn dropped(m: &Metrics) -> (f64, f64) {
    (
        m.value("portico_cluster_usage_dropped_calls_total", &[]),
        m.value("portico_cluster_usage_dropped_bytes_total", &[]),
    )
}

/// `n` keyed calls admitted on `srv`; a 429 of a lease that is only late
/// (Retry-After 1: the node's first grant from Redis had not come) is
/// retried, and counted.
fn admitted(srv: &Server, key: &str, n: u64) -> u64 {
    let mut c = srv.connect();
    let (mut ok, mut late) = (0, 0);
    while ok < n {
        let r = c.request(get_with_key("/prod/keyed", key));
        match r.status {
            200 => ok += 1,
            429 if assert_429(&r, LIMIT_EXCEEDED) == 1 && late < 100 => late += 1,
            s => panic!("call {ok}: {s} {}", String::from_utf8_lossy(&r.body)),
        }
    }
    late
}

#[test]
fn a_quota_adjustment_and_first_day_are_the_fleets() {
    let redis = Redis::start();
    let plan = "quota = { limit = 100, period = \"DAY\" }";
    let (mut a, _) = node(&redis, "node-a", plan);
    let (mut b, _) = node(&redis, "node-b", plan);
    let late = admitted(&a, ALICE, 4) + admitted(&b, ALICE, 6);
    eprintln!("calls refused while a fresh node's first grant was late: {late}");
    let u = wait_for_usage(&mut a, (10, 0), Duration::from_secs(10));
    assert_eq!(u["values"]["alice-id"][0], json!([10, 90]), "{u}");
    let body = json!({"patchOperations": [{"op": "replace", "path": "/remaining", "value": "25"}]});
    a.admin_call(
        TOKEN,
        "PATCH",
        "/usageplans/gold/keys/alice-id/usage",
        Some(&body),
        200,
    );
    for (name, srv) in [("a", &mut a), ("b", &mut b)] {
        let u = get_usage(srv);
        assert_eq!(
            u["values"]["alice-id"][0],
            json!([10, 25]),
            "node {name}: {u}"
        );
    }
    let first = redis.cli(&["HGET", "{portico}:usage:first", "gold"]);
    assert_eq!(first.trim(), "2026-11-25");
    // Both nodes live by the adjustment: 25 more in all.
    let loads =
        [a.port, b.port].map(|port| std::thread::spawn(move || until_exhausted(port, ALICE)));
    let counts = loads.map(|h| h.join().unwrap());
    assert_eq!(
        counts[0].0 + counts[1].0,
        25,
        "after remaining = 25: {counts:?}"
    );
}

/// Keyed calls on `port` in a loop until `stop`, counting each 200 in `ok`.
fn load(port: u16, key: &'static str, stop: Arc<AtomicBool>, ok: Arc<AtomicU64>) -> u64 {
    let mut c = Client::connect(port);
    let req = get_with_key("/prod/keyed", key);
    let mut other = 0;
    while !stop.load(Ordering::Relaxed) {
        match c.request(req.clone()).status {
            200 => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            _ => other += 1,
        }
    }
    other
}

#[test]
fn usage_counted_while_redis_is_frozen_or_dead_arrives_once_it_is_back() {
    let mut redis = Redis::start();
    let (mut a, _) = node(&redis, "node-a", "");
    let (b, _) = node(&redis, "node-b", "");
    let stop = Arc::new(AtomicBool::new(false));
    let (ok_a, ok_b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let loads =
        [(a.port, ALICE, ok_a.clone()), (b.port, BOB, ok_b.clone())].map(|(port, key, ok)| {
            let stop = stop.clone();
            std::thread::spawn(move || load(port, key, stop, ok))
        });
    let admitted = || ok_a.load(Ordering::Relaxed) + ok_b.load(Ordering::Relaxed);
    // Some usage reaches Redis before the outage.
    poll_until(
        Duration::from_secs(10),
        || calls(&get_usage(&mut a), "alice-id"),
        |n| *n > 0,
        |n| format!("no usage before the outage: {n}"),
    );
    let at_pause = admitted();
    redis.pause();
    // Each phase lasts a second at least (longer than the command
    // timeout) and admits calls.
    let grew = |since: u64| {
        let t0 = Instant::now();
        poll_until(
            Duration::from_secs(10),
            || (admitted(), t0.elapsed()),
            |(n, t)| *n > since + 50 && *t >= Duration::from_secs(1),
            |(n, _)| format!("calls stalled during the outage: {n} since {since}"),
        )
    };
    grew(at_pause);
    // Thawed, the writes that timed out run late and are sent again; then
    // frozen again, killed, and restarted from its append-only file.
    let mut phases = vec![("frozen", admitted() - at_pause)];
    let mut waiting = 0.0;
    for phase in ["thawed", "frozen again", "dead", "restarted"] {
        match phase {
            "thawed" => redis.resume(),
            "frozen again" => redis.pause(),
            "dead" => redis.kill(),
            _ => redis.restart(),
        }
        let since = admitted();
        grew(since);
        phases.push((phase, admitted() - since));
        if phase == "dead" {
            // alice's usage waits on node a, and /metrics says so.
            let m = usage_backlog_becomes(&mut a, "usage waiting for Redis", |p| p >= 1.0);
            waiting = m.value("portico_cluster_usage_pending_keys", &[]);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let other: u64 = loads.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(other, 0, "every call admitted");
    let want = (ok_a.load(Ordering::Relaxed), ok_b.load(Ordering::Relaxed));
    eprintln!("admitted {want:?}: {at_pause} before SIGSTOP, then {phases:?}");
    let u = wait_for_usage(&mut a, want, Duration::from_secs(15));
    assert_eq!(
        (calls(&u, "alice-id"), calls(&u, "bob-id")),
        want,
        "every admitted call counted once: {u}"
    );
    // Kept, not dropped (far below the bound), and written once back.
    let m = usage_backlog_becomes(&mut a, "nothing waiting", |p| p == 0.0);
    assert_eq!(dropped(&m), (0.0, 0.0), "{}", m.text);
    eprintln!("usage entries waiting on node a while Redis was dead: {waiting}");
}

/// Keyed calls on `port` until the quota is used up cluster-wide (a 429
/// whose Retry-After runs to the period's end, not the 1 s of a lease
/// that is only late): the calls admitted.
fn until_exhausted(port: u16, key: &'static str) -> (u64, u64) {
    let mut c = Client::connect(port);
    let req = get_with_key("/prod/keyed", key);
    let (mut ok, mut late) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let r = c.request(req.clone());
        match r.status {
            200 => ok += 1,
            429 if assert_429(&r, LIMIT_EXCEEDED) > 1 => return (ok, late),
            429 => late += 1,
            s => panic!("status {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    panic!("the quota was never used up: {ok} admitted")
}

#[test]
fn a_quota_of_1000_hit_from_three_nodes_at_once_admits_exactly_1000() {
    let redis = Redis::start();
    quota_of_1000_from_three_nodes(&Fleet::one(&redis), "one Redis");
}

#[test]
fn a_quota_of_1000_hit_from_three_nodes_on_a_redis_cluster_admits_exactly_1000() {
    let redis = RedisCluster::start();
    quota_of_1000_from_three_nodes(&Fleet::cluster(&redis), "Redis Cluster");
}

/// Three nodes on `fleet`, two connections each, all started together on
/// one key's quota of 1,000 until it is used up: exactly 1,000 admitted,
/// shared, then refused by every node, and recorded.
fn quota_of_1000_from_three_nodes(fleet: &Fleet, label: &str) {
    let plan = "quota = { limit = 1000, period = \"DAY\" }";
    let mut nodes: Vec<Server> = (0..3)
        .map(|i| node_on(fleet, &format!("node-{i}"), plan).0)
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(6));
    let loads: Vec<_> = nodes
        .iter()
        .flat_map(|n| [n.port, n.port])
        .map(|port| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                until_exhausted(port, ALICE)
            })
        })
        .collect();
    let counts: Vec<(u64, u64)> = loads.into_iter().map(|h| h.join().unwrap()).collect();
    let admitted: u64 = counts.iter().map(|c| c.0).sum();
    eprintln!("quota 1000 on 3 nodes x 2 connections, {label}: admitted {counts:?} (ok, 429 while a lease was late) = {admitted}");
    assert_eq!(admitted, 1000, "{counts:?}");
    assert!(
        counts.iter().filter(|c| c.0 > 0).count() >= 2,
        "the quota was shared: {counts:?}"
    );
    // Every node refuses now, and the records agree.
    for n in &nodes {
        assert_429(
            &n.connect().request(get_with_key("/prod/keyed", ALICE)),
            LIMIT_EXCEEDED,
        );
    }
    let u = wait_for_usage(&mut nodes[1], (1000, 0), Duration::from_secs(10));
    assert_eq!(u["values"]["alice-id"][0], json!([1000, 0]), "{u}");
}

#[test]
fn while_redis_is_frozen_a_node_spends_only_what_it_holds_and_the_quota_still_holds() {
    let redis = Redis::start();
    let plan = "quota = { limit = 300, period = \"DAY\" }";
    let (a, _) = node(&redis, "node-a", plan);
    let (b, _) = node(&redis, "node-b", plan);
    admitted(&a, ALICE, 50);
    redis.pause();
    // Frozen: node a admits what it holds, then answers 429 Retry-After 1
    // (a late lease, not a quota used up) until Redis answers again.
    let mut c = a.connect();
    let req = get_with_key("/prod/keyed", ALICE);
    let (mut held, mut late) = (0, 0);
    while late < 20 {
        let r = c.request(req.clone());
        match r.status {
            200 => held += 1,
            _ => {
                assert_eq!(assert_429(&r, LIMIT_EXCEEDED), 1, "not exhausted");
                late += 1;
            }
        }
        assert!(held < 250, "admitted {held} with Redis frozen");
    }
    redis.resume();
    let loads =
        [a.port, b.port].map(|port| std::thread::spawn(move || until_exhausted(port, ALICE)));
    let after: u64 = loads.map(|h| h.join().unwrap().0).into_iter().sum();
    eprintln!(
        "quota 300: 50 before SIGSTOP, {held} while frozen (what node a held), {after} after"
    );
    assert_eq!(50 + held + after, 300);
}

const CAROL: &str = "carol-key-0123456789abcdef";

#[test]
fn past_usage_max_pending_other_keys_usage_is_dropped_and_counted_and_the_rest_arrives() {
    let mut redis = Redis::start();
    let carol = key_toml(
        "carol",
        &format!("id = \"carol-id\"\nvalue = \"{CAROL}\""),
        &["gold"],
    );
    let cfg = node_config(&Fleet::one(&redis), "node-a", "")
        .append("usage_max_pending = 1\n")
        .append(&carol);
    let mut a = start(&cfg);
    let mut c = a.connect();
    // Before the outage every key's usage reaches Redis.
    let before = [("alice", ALICE, 3), ("bob", BOB, 4), ("carol", CAROL, 5)];
    for (name, key, n) in before {
        keyed(&mut c, key, n, name);
    }
    let u = wait_for_usage(&mut a, (3, 4), Duration::from_secs(10));
    assert_eq!(calls(&u, "carol-id"), 5, "{u}");
    let m = usage_backlog_becomes(&mut a, "nothing waiting", |p| p == 0.0);
    assert_eq!(dropped(&m), (0.0, 0.0), "{}", m.text);

    redis.kill();
    // alice's first usage after the kill is the batch being written (and
    // resent); what comes next waits beside it: the one entry allowed.
    keyed(&mut c, ALICE, 10, "alice, Redis dead");
    usage_backlog_becomes(&mut a, "alice's batch being written", |p| p >= 1.0);
    keyed(&mut c, ALICE, 10, "alice, Redis dead");
    usage_backlog_becomes(&mut a, "alice's usage waiting beside it", |p| p == 2.0);
    // Full: bob's and carol's usage has no room; alice's still adds up.
    let outage = [("bob", BOB, 6), ("carol", CAROL, 7), ("alice", ALICE, 10)];
    for (name, key, n) in outage {
        keyed(&mut c, key, n, &format!("{name}, Redis dead"));
    }
    let m = scrape_until(&mut a, "bob's and carol's usage dropped", |m| {
        dropped(m).0 >= 13.0
    });
    let (lost_calls, lost_bytes) = dropped(&m);
    assert_eq!(lost_calls, 13.0, "bob's 6 and carol's 7 only: {}", m.text);
    assert_eq!(
        m.value("portico_cluster_usage_pending_keys", &[]),
        2.0,
        "{}",
        m.text
    );

    redis.restart();
    // Everything kept arrives once; what was dropped never does.
    let u = wait_for_usage(&mut a, (33, 4), Duration::from_secs(15));
    let counted = [
        calls(&u, "alice-id"),
        calls(&u, "bob-id"),
        calls(&u, "carol-id"),
    ];
    let admitted = [33, 10, 12];
    assert_eq!(counted, [33, 4, 5], "{u}");
    let lost: u64 = admitted.iter().zip(counted).map(|(a, c)| a - c).sum();
    assert_eq!(lost as f64, lost_calls, "admitted - counted = dropped");
    let m = usage_backlog_becomes(&mut a, "nothing waiting", |p| p == 0.0);
    assert_eq!(dropped(&m), (lost_calls, lost_bytes), "{}", m.text);
    // Bytes dropped are the dropped calls' (every answer is alike).
    let day = day_number(QUIET_NOON);
    let r = usage_cli_range(&cfg, "gold", None, day, day);
    assert_eq!(r.calls("alice-id"), 33, "{}", r.json);
    let per_call = r.bytes("alice-id") / 33;
    assert!(
        per_call > 0 && r.bytes("alice-id").is_multiple_of(33),
        "{}",
        r.json
    );
    assert_eq!(lost_bytes, (13 * per_call) as f64, "{}", r.json);
    eprintln!(
        "usage_max_pending = 1, Redis dead: admitted {admitted:?} (alice, bob, carol), \
         counted {counted:?}, dropped {lost_calls} calls / {lost_bytes} bytes"
    );
}

/// Keyed calls on `port` until the node is gone (a call fails): when each
/// answer of 200 came back.
fn timed_load(port: u16, key: &'static str) -> Vec<Instant> {
    use std::io::Write;
    let mut c = Client::connect(port);
    let req = get_with_key("/prod/keyed", key);
    let mut times = Vec::new();
    loop {
        let mut s: &std::net::TcpStream = c.stream();
        if s.write_all(&req).is_err() {
            return times;
        }
        match c.try_read_response(false) {
            Ok(r) if r.status == 200 => times.push(Instant::now()),
            Ok(r) => panic!("{}: {}", r.status, r.body_str()),
            Err(_) => return times,
        }
    }
}

#[test]
fn a_node_killed_with_9_loses_at_most_its_last_flush_interval_of_usage() {
    const FLUSH: Duration = Duration::from_millis(500);
    // The reconciler's tick (`[throttle] reconcile_ms`, default).
    const TICK: Duration = Duration::from_millis(10);
    let redis = Redis::start();
    let cfg = node_config(&Fleet::one(&redis), "node-a", "")
        .state("flush_ms", &FLUSH.as_millis().to_string());
    let mut a = start(&cfg);
    let (mut b, _) = node(&redis, "node-b", "");
    let loads: Vec<_> = (0..2)
        .map(|_| {
            let port = a.port;
            std::thread::spawn(move || timed_load(port, ALICE))
        })
        .collect();
    let mut counted = || calls(&get_usage(&mut b), "alice-id");
    // Several intervals into the load, a flush is seen landing in Redis...
    let t0 = Instant::now();
    let (seen, _) = poll_until(
        Duration::from_secs(30),
        || (counted(), t0.elapsed()),
        |(n, t)| *n > 0 && *t >= 3 * FLUSH,
        |(n, t)| format!("no usage flushed in {t:?}: {n}"),
    );
    poll_until(
        POLL_FOR,
        &mut counted,
        |n| *n != seen,
        |n| format!("no flush landed after {seen}: {n}"),
    );
    let landed = Instant::now();
    // ...and the node is killed half an interval later: a deliberate
    // phase (not a wait for anything), far from both the flush seen and
    // the next, so neither a slow write nor a late tick blurs what the
    // kill takes.
    std::thread::sleep((landed + FLUSH / 2).saturating_duration_since(Instant::now()));
    let killed = Instant::now();
    a.kill9();
    let mut times: Vec<Instant> = loads.into_iter().flat_map(|h| h.join().unwrap()).collect();
    times.sort();
    let admitted = times.len() as u64;
    let counted = counted();
    // Admitted in the last `w` before the kill (or after it: answers
    // already sent when the signal came).
    let in_last = |w: Duration| {
        times
            .iter()
            .filter(|t| killed.saturating_duration_since(**t) <= w)
            .count() as u64
    };
    let lost = admitted.checked_sub(counted).unwrap_or_else(|| {
        panic!("counted {counted} of {admitted} admitted: more than the node answered")
    });
    // The last interval, give or take a tick each for the worker's report
    // to the reconciler and the reconciler's flush running late.
    let window = FLUSH + 2 * TICK;
    let bound = in_last(window);
    let lost_span = times
        .len()
        .checked_sub(lost as usize)
        .and_then(|i| times.get(i))
        .map_or(Duration::ZERO, |t| killed.saturating_duration_since(*t));
    eprintln!(
        "kill -9 with flush_ms {} ({:?} after a flush landed): admitted {admitted}, counted \
         {counted}, lost {lost} (the calls of the last {lost_span:?}); admitted in the last \
         flush interval {}, in the last {window:?} {bound}",
        FLUSH.as_millis(),
        killed - landed,
        in_last(FLUSH),
    );
    assert!(
        lost <= bound,
        "lost {lost}: more than the {bound} calls of the last {window:?}"
    );
}
