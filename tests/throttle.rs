//! Throttling (issue 3): account, stage, route override, usage plan per-key,
//! plan route override and plan aggregate buckets; 429 `Too Many Requests`
//! with `Retry-After`; throttled calls never reach the upstream; rate and
//! burst accuracy with per-core buckets on two workers.
mod common;

use common::*;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// API `t` with stages `prod` (`stage_lines` inserted into its table) and
/// `beta` (no throttle). Routes: `GET /a`, `GET /b` (mock, open),
/// `GET /keyed`, `GET /keyed2` (mock, key required), `ANY /proxy/{proxy+}`
/// (http_proxy to `backend`).
fn api(stage_lines: &str, backend: &str) -> String {
    let mut s = String::new();
    s.push_str("[[api]]\nname = \"t\"\nhosts = []\n\n");
    s.push_str("[api.stages.prod]\n");
    s.push_str(&format!("variables = {{ backend = \"{backend}\" }}\n"));
    s.push_str(stage_lines);
    s.push_str("\n\n[api.stages.beta]\n");
    s.push_str(&format!("variables = {{ backend = \"{backend}\" }}\n\n"));
    for (method, path, key, body) in [
        ("GET", "/a", false, "a"),
        ("GET", "/b", false, "b"),
        ("GET", "/keyed", true, "keyed"),
        ("GET", "/keyed2", true, "keyed2"),
    ] {
        s.push_str(&mock_route(method, path, key, body));
    }
    s.push_str(
        "[[api.routes]]\nmethod = \"ANY\"\npath = \"/proxy/{proxy+}\"\n\
         integration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/{proxy}\" }\n\n",
    );
    s
}

/// API `t` (no stage throttle) and plan `gold` over `t/prod` with
/// `plan_lines` (throttle, aggregate, quota) and `stage_extra` inside the
/// api_stages entry; keys alice and bob in it.
fn plan_config(plan_lines: &str, stage_extra: &str) -> Config {
    Config::new(&api("", NO_BACKEND)).append(&gold_plan_alice_bob("t", plan_lines, stage_extra))
}

/// `n` requests `raw` on `c` answered 200 with `body` (`ctx #i`), then one
/// 429 Too Many Requests.
fn assert_admits_then_429(c: &mut Client, raw: impl AsRef<[u8]>, n: usize, body: &str, ctx: &str) {
    assert_ok_times(c, raw.as_ref(), n, body, ctx);
    assert_429(&c.request(raw), TOO_MANY);
}

// ---------------------------------------------------------------------------
// Each level
// ---------------------------------------------------------------------------

#[test]
fn account_throttle_is_429_with_retry_after() {
    // One bucket for the whole server: two calls to /a use it up, /b and
    // another stage are throttled too.
    let cfg = Config::new(&api("", NO_BACKEND))
        .throttle("rate", "0.1")
        .throttle("burst", "2");
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_ok_times(&mut c, get("/prod/a"), 2, "a", "/prod/a");
    assert_429(&c.get("/prod/b"), TOO_MANY);
    assert_429(&c.get("/beta/a"), TOO_MANY);
    // A new connection does not get a new bucket.
    let mut c2 = srv.connect();
    assert_429(&c2.get("/prod/a"), TOO_MANY);
    // The connection survives a 429.
    assert_429(&c.get("/prod/a"), TOO_MANY);
}

#[test]
fn stage_throttle_is_429_and_only_that_stage() {
    let cfg = Config::new(&api("throttle = { rate = 0.1, burst = 2 }", NO_BACKEND));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admits_then_429(&mut c, get("/prod/a"), 2, "a", "/prod/a");
    // Stage beta has no throttle of its own.
    assert_ok_times(&mut c, get("/beta/a"), 5, "a", "beta");
    assert_429(&c.get("/prod/a"), TOO_MANY);
}

#[test]
fn route_override_most_restrictive_wins() {
    // Stage allows 1000 rps / burst 1000, the override for GET /a burst 2.
    let cfg = Config::new(&api(
        "throttle = { rate = 1000.0, burst = 1000 }\n\
         route_throttle = { \"GET /a\" = { rate = 0.1, burst = 2 } }",
        NO_BACKEND,
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admits_then_429(&mut c, get("/prod/a"), 2, "a", "/a");
    // Another route of the same stage is still fine.
    assert_ok_times(&mut c, get("/prod/b"), 10, "b", "/b");
    assert_429(&c.get("/prod/a"), TOO_MANY);
}

#[test]
fn route_override_replaces_stage_default_for_its_route() {
    // The stage `throttle` is the default for routes without an override
    // (AWS "default route throttling"); a route's override takes its place
    // for that route, even when more generous. Routes without one keep it.
    let cfg = Config::new(&api(
        "throttle = { rate = 0.1, burst = 2 }\n\
         route_throttle = { \"GET /a\" = { rate = 1000.0, burst = 1000 } }",
        NO_BACKEND,
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_ok_times(&mut c, get("/prod/a"), 6, "a", "/a");
    assert_admits_then_429(&mut c, get("/prod/b"), 2, "b", "/b");
}

#[test]
fn plan_per_key_throttle_is_429() {
    let srv = Server::start(&plan_config("throttle = { rate = 0.1, burst = 2 }", ""));
    let mut c = srv.connect();
    assert_admits_then_429(
        &mut c,
        get_with_key("/prod/keyed", ALICE),
        2,
        "keyed",
        "alice",
    );
    // The per-key bucket covers all routes of the plan's stage.
    assert_429(&c.request(get_with_key("/prod/keyed2", ALICE)), TOO_MANY);
    // Open routes are not limited by the plan.
    assert_ok(&c.get("/prod/a"), "a", "open route");
}

#[test]
fn keys_in_same_plan_have_separate_buckets() {
    let srv = Server::start(&plan_config("throttle = { rate = 0.1, burst = 2 }", ""));
    let mut c = srv.connect();
    let a = get_with_key("/prod/keyed", ALICE);
    assert_admits_then_429(&mut c, &a, 2, "keyed", "alice");
    // Bob has his own bucket of 2.
    assert_admits_then_429(&mut c, get_with_key("/prod/keyed", BOB), 2, "keyed", "bob");
    assert_429(&c.request(&a), TOO_MANY);
}

#[test]
fn plan_route_override_is_per_key_and_per_route() {
    let cfg = plan_config(
        "throttle = { rate = 1000.0, burst = 1000 }",
        ", route_throttle = { \"GET /keyed\" = { rate = 0.1, burst = 1 } }",
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let alice = get_with_key("/prod/keyed", ALICE);
    assert_admits_then_429(&mut c, alice, 1, "keyed", "alice /keyed");
    // Another route of the plan: only the plan's per-key 1000/1000.
    let alice2 = get_with_key("/prod/keyed2", ALICE);
    assert_ok_times(&mut c, alice2, 5, "keyed2", "alice /keyed2");
    // Bob has his own override bucket.
    let bob = get_with_key("/prod/keyed", BOB);
    assert_admits_then_429(&mut c, bob, 1, "keyed", "bob /keyed");
}

#[test]
fn plan_aggregate_throttle_is_shared_by_keys() {
    let cfg = plan_config(
        "throttle = { rate = 1000.0, burst = 1000 }\n\
         aggregate_throttle = { rate = 0.1, burst = 3 }",
        "",
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let a = get_with_key("/prod/keyed", ALICE);
    assert_ok_times(&mut c, &a, 2, "keyed", "alice");
    let bob = get_with_key("/prod/keyed", BOB);
    assert_admits_then_429(&mut c, bob, 1, "keyed", "bob");
    assert_429(&c.request(&a), TOO_MANY);
    assert_429(&c.request(get_with_key("/prod/keyed2", BOB)), TOO_MANY);
    // Not a global limit: open routes still pass.
    assert_ok(&c.get("/prod/a"), "a", "open route");
}

#[test]
fn throttled_call_never_reaches_upstream() {
    let up = Upstream::ok(b"from-upstream");
    let cfg = Config::new(&api(
        "route_throttle = { \"ANY /proxy/{proxy+}\" = { rate = 0.1, burst = 3 } }",
        &up.addr(),
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let mut ok = 0;
    let mut throttled = 0;
    for i in 0..10 {
        let r = c.request(request(
            "POST",
            &format!("/prod/proxy/n{i}"),
            "localhost",
            &[],
            b"payload",
        ));
        match r.status {
            200 => {
                assert_eq!(r.body_str(), "from-upstream");
                ok += 1;
            }
            429 => {
                assert_429(&r, TOO_MANY);
                throttled += 1;
            }
            s => panic!("unexpected status {s}: {:?}", r.body_str()),
        }
    }
    assert_eq!((ok, throttled), (3, 7), "admitted / throttled of 10");
    // Exactly the admitted calls arrived (each was recorded before the
    // upstream answered it, so before the client saw its 200).
    let got: Vec<String> = (0..ok).map(|_| up.recv().target).collect();
    assert_eq!(got, vec!["/n0", "/n1", "/n2"]);
    up.assert_nothing();
}

// ---------------------------------------------------------------------------
// Accuracy on two workers
// ---------------------------------------------------------------------------

const RATE: f64 = 200.0;
const BURST: f64 = 10.0;
const LOAD_FOR: Duration = Duration::from_secs(10);

fn accuracy_server(stage_throttle: &str) -> (Server, Config) {
    let cfg = Config::new(&api(stage_throttle, NO_BACKEND))
        .server("workers", "2")
        // Keep the account level out of the way.
        .throttle("rate", "1000000.0")
        .throttle("burst", "1000000");
    let srv = Server::start(&cfg);
    (srv, cfg)
}

/// Run `conns` tight keep-alive loops in parallel for `dur`; returns the
/// summed counts and the elapsed time from the common start to the last
/// loop's end.
fn flood(port: u16, conns: usize, dur: Duration) -> (LoadCount, Duration) {
    let barrier = Arc::new(Barrier::new(conns + 1));
    let raw = get("/prod/a").into_bytes();
    let mut handles = Vec::new();
    let start = Arc::new(std::sync::Mutex::new(None::<Instant>));
    for _ in 0..conns {
        let barrier = barrier.clone();
        let raw = raw.clone();
        let start = start.clone();
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            let t0 = start.lock().unwrap().expect("start set before release");
            load_loop(port, &raw, || t0.elapsed() >= dur)
        }));
    }
    *start.lock().unwrap() = Some(Instant::now());
    barrier.wait();
    let t0 = start.lock().unwrap().unwrap();
    let mut total = LoadCount::default();
    for h in handles {
        total.add(h.join().expect("load thread"));
    }
    (total, t0.elapsed())
}

fn assert_rate_accuracy(conns: usize) {
    let (srv, _cfg) = accuracy_server("throttle = { rate = 200.0, burst = 10 }");
    let (n, elapsed) = flood(srv.port, conns, LOAD_FOR);
    let expected = RATE * elapsed.as_secs_f64() + BURST;
    let ctx = format!(
        "{conns} connection(s), {elapsed:?}: admitted {}, throttled {}, other {}, unanswered {}; expected {expected:.0} ± 5%",
        n.ok, n.throttled, n.other, n.unanswered
    );
    eprintln!("rate accuracy: {ctx}");
    assert_eq!(n.other + n.unanswered, 0, "{ctx}");
    assert!(
        n.throttled > n.ok,
        "the load did not exceed the limit enough to measure it: {ctx}"
    );
    let err = (n.ok as f64 - expected).abs() / expected;
    assert!(err <= 0.05, "admitted off by {:.1}%: {ctx}", err * 100.0);
}

#[test]
fn rate_accuracy_one_connection_two_workers() {
    assert_rate_accuracy(1);
}

#[test]
fn rate_accuracy_eight_connections_two_workers() {
    assert_rate_accuracy(8);
}

/// How long the flood of [`burst_accuracy_two_workers`] goes on after its
/// first 429: many ticks for the idle worker's share of the burst to be
/// moved to the busy one.
const AFTER_FIRST_REFUSAL: Duration = Duration::from_millis(500);

/// A tight keep-alive loop on one connection until [`AFTER_FIRST_REFUSAL`]
/// has gone by since its first 429 (or [`POLL_FOR`] without one): the
/// counts and the elapsed time observed from before the first call.
fn flood_past_first_refusal(port: u16) -> (LoadCount, Duration) {
    let raw = get("/prod/a");
    let mut c = Client::connect(port);
    let mut n = LoadCount::default();
    let mut first_refusal: Option<Instant> = None;
    let t0 = Instant::now();
    loop {
        match c.request(&raw).status {
            200 => n.ok += 1,
            429 => {
                n.throttled += 1;
                first_refusal.get_or_insert_with(Instant::now);
            }
            _ => n.other += 1,
        }
        let done = first_refusal.map_or(t0.elapsed() > POLL_FOR, |t| {
            t.elapsed() >= AFTER_FIRST_REFUSAL
        });
        if done {
            return (n, t0.elapsed());
        }
    }
}

#[test]
fn burst_accuracy_two_workers() {
    // Measured against the time the flood took, however slow the machine:
    // admitted = burst + rate × elapsed, so the burst is what is left after
    // the refill of the elapsed time.
    let (srv, _cfg) = accuracy_server("throttle = { rate = 10.0, burst = 100 }");
    let (n, elapsed) = flood_past_first_refusal(srv.port);
    let burst = n.ok as f64 - 10.0 * elapsed.as_secs_f64();
    let ctx = format!(
        "{elapsed:?}: admitted {}, throttled {}, other {}; burst measured {burst:.1}, configured 100 ± 10%",
        n.ok, n.throttled, n.other
    );
    eprintln!("burst accuracy: {ctx}");
    assert_eq!(n.other + n.unanswered, 0, "{ctx}");
    assert!(n.throttled > 0, "the flood never hit the limit: {ctx}");
    assert!((90.0..=110.0).contains(&burst), "{ctx}");
}
