//! Throttling (issue 3): account, stage, route override, usage plan per-key,
//! plan route override and plan aggregate buckets; 429 `Too Many Requests`
//! with `Retry-After`; throttled calls never reach the upstream; rate and
//! burst accuracy on two workers; small limits on two and eight workers
//! admit exactly what one token bucket would (issue 15).
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
// Accuracy on two workers: a 200 rps limit is small there (a shared cell),
// one of 2,000 rps large (leased)
// ---------------------------------------------------------------------------

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

/// The accuracy floods take turns: two at once on this 2-core machine
/// measured the machine (1,977 of 2,012 admitted, −1.7 %, in CI, against
/// 2,009 of 2,010 alone).
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn assert_rate_accuracy(conns: usize, rate: f64, burst: u64) {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (srv, _cfg) = accuracy_server(&format!(
        "throttle = {{ rate = {rate:.1}, burst = {burst} }}"
    ));
    let (n, elapsed) = flood(srv.port, conns, LOAD_FOR);
    let expected = rate * elapsed.as_secs_f64() + burst as f64;
    let ctx = format!(
        "{rate}/s burst {burst}, {conns} connection(s), {elapsed:?}: admitted {}, throttled {}, other {}, unanswered {}; expected {expected:.0} ± 1%",
        n.ok, n.throttled, n.other, n.unanswered
    );
    eprintln!("rate accuracy: {ctx}");
    assert_eq!(n.other + n.unanswered, 0, "{ctx}");
    assert!(
        n.throttled > n.ok,
        "the load did not exceed the limit enough to measure it: {ctx}"
    );
    let err = (n.ok as f64 - expected).abs() / expected;
    assert!(err <= 0.01, "admitted off by {:.2}%: {ctx}", err * 100.0);
}

#[test]
fn rate_accuracy_one_connection_two_workers() {
    assert_rate_accuracy(1, 200.0, 10);
}

#[test]
fn rate_accuracy_eight_connections_two_workers() {
    assert_rate_accuracy(8, 200.0, 10);
}

#[test]
fn leased_rate_accuracy_eight_connections_two_workers() {
    assert_rate_accuracy(8, 2000.0, 100);
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

// ---------------------------------------------------------------------------
// Small limits over many workers: what one exact token bucket admits
// ---------------------------------------------------------------------------

/// A server of `workers` workers whose only binding limit is `stage_lines`'s
/// (the account is out of the way), with plan `gold` (keys alice and bob,
/// `plan_lines`) over its `prod` stage.
fn small_limit_server(workers: usize, stage_lines: &str, plan_lines: &str) -> Server {
    let cfg = Config::new(&api(stage_lines, NO_BACKEND))
        .append(&gold_plan_alice_bob("t", plan_lines, ""))
        .server("workers", &workers.to_string())
        .throttle("rate", "1000000.0")
        .throttle("burst", "1000000");
    Server::start(&cfg)
}

/// Waits until `t`: the time a bucket takes to refill is what these tests
/// measure, so they wait it out (nothing else is awaited this way).
fn wait_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// One call of `raw` on `c`: its status, Retry-After on a 429, and when it
/// was sent and answered.
struct Call {
    status: u16,
    retry_after: Option<u64>,
    sent: Instant,
    answered: Instant,
}

fn call(c: &mut Client, raw: &[u8], body: &str) -> Call {
    let sent = Instant::now();
    let r = c.request(raw);
    let answered = Instant::now();
    let retry_after = match r.status {
        200 => {
            assert_eq!(r.body_str(), body);
            None
        }
        429 => Some(assert_429(&r, TOO_MANY)),
        s => panic!("unexpected {s}: {:?}", r.body_str()),
    };
    Call {
        status: r.status,
        retry_after,
        sent,
        answered,
    }
}

/// `burst` sequential calls, each on the next connection from `first` on
/// (so they land on different workers), then one more: a full bucket
/// admits the `burst`, and refuses the next unless a token was refilled
/// meanwhile. Returns when the last admitted call was answered.
fn sequential_burst(
    conns: &mut [Client],
    first: usize,
    raw: &[u8],
    body: &str,
    rate: f64,
    burst: usize,
    ctx: &str,
) -> Instant {
    let n = conns.len();
    let calls: Vec<Call> = (0..=burst)
        .map(|i| call(&mut conns[(first + i) % n], raw, body))
        .collect();
    let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
    let ctx = format!("{ctx}: statuses {statuses:?}");
    assert!(
        statuses[..burst].iter().all(|&s| s == 200),
        "{ctx}: a full bucket admits {burst} calls in a row"
    );
    let last = &calls[burst];
    // The window in which the server admitted them (its clock is ours).
    let window = last.answered.duration_since(calls[0].sent).as_secs_f64();
    if rate * window < 1.0 {
        assert_eq!(
            last.status,
            429,
            "{ctx}: call {} within {window:.3} s, less than one token's refill",
            burst + 1
        );
        assert_eq!(last.retry_after, Some((1.0 / rate).ceil() as u64), "{ctx}");
    } else {
        eprintln!("{ctx}: {window:.3} s is a token's refill; the next call may pass");
    }
    calls
        .iter()
        .filter(|c| c.status == 200)
        .map(|c| c.answered)
        .max()
        .expect("admitted calls")
}

/// Every connection sends one call at once: a full bucket admits exactly
/// `burst` of them, plus what it refilled while they were served.
fn parallel_burst(conns: Vec<Client>, raw: &[u8], body: &str, rate: f64, burst: u64, ctx: &str) {
    let n = conns.len();
    assert!(n as u64 > burst, "{ctx}: more calls than the burst");
    let barrier = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let barrier = barrier.clone();
            let raw = raw.to_vec();
            let body = body.to_string();
            std::thread::spawn(move || {
                barrier.wait();
                call(&mut c, &raw, &body)
            })
        })
        .collect();
    let start = Instant::now();
    barrier.wait();
    let calls: Vec<Call> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first = calls.iter().map(|c| c.sent).min().unwrap().min(start);
    let last = calls.iter().map(|c| c.answered).max().unwrap();
    let window = last.duration_since(first).as_secs_f64();
    let admitted = calls.iter().filter(|c| c.status == 200).count() as u64;
    let refilled = (rate * window).floor() as u64;
    let ctx = format!("{ctx}: {n} parallel calls in {window:.3} s, {admitted} admitted");
    eprintln!("{ctx}");
    assert!(admitted >= burst, "{ctx}: a full bucket admits {burst}");
    assert!(
        admitted <= burst + refilled,
        "{ctx}: at most {burst} + {refilled} refilled"
    );
}

/// Sequential bursts (at start, then after the bucket refilled while idle)
/// and then a parallel one, for a limit of `rate`/`burst` on `workers`
/// workers that `raw` spends from.
fn small_limit_is_one_bucket(
    mut srv: Server,
    workers: usize,
    raw: &[u8],
    body: &str,
    rate: f64,
    burst: usize,
) {
    let ctx = format!("{rate}/s burst {burst} on {workers} workers");
    let mut conns = open_spread(&mut srv, 3 * burst, 2, |s| s.connect());
    let refill = Duration::from_secs_f64(burst as f64 / rate);
    let last = sequential_burst(
        &mut conns,
        0,
        raw,
        body,
        rate,
        burst,
        &format!("{ctx}, at start"),
    );
    wait_until(last + refill);
    let last = sequential_burst(
        &mut conns,
        burst / 2 + 1,
        raw,
        body,
        rate,
        burst,
        &format!("{ctx}, after idle"),
    );
    wait_until(last + refill);
    parallel_burst(conns, raw, body, rate, burst as u64, &ctx);
}

#[test]
fn route_limit_5_per_s_burst_10_on_8_workers_is_one_bucket() {
    let srv = small_limit_server(
        8,
        "route_throttle = { \"GET /a\" = { rate = 5.0, burst = 10 } }",
        "",
    );
    small_limit_is_one_bucket(srv, 8, get("/prod/a").as_bytes(), "a", 5.0, 10);
}

#[test]
fn key_limit_10_per_s_burst_20_on_8_workers_is_one_bucket() {
    let srv = small_limit_server(8, "", "throttle = { rate = 10.0, burst = 20 }");
    small_limit_is_one_bucket(
        srv,
        8,
        &get_with_key("/prod/keyed", ALICE),
        "keyed",
        10.0,
        20,
    );
}

#[test]
fn limit_1_per_s_burst_1_on_2_workers_admits_the_first_call_after_idle() {
    let mut srv = small_limit_server(
        2,
        "route_throttle = { \"GET /a\" = { rate = 1.0, burst = 1 } }",
        "",
    );
    let mut conns = open_spread(&mut srv, 2, 2, |s| s.connect());
    let raw = get("/prod/a");
    let n = conns.len();
    // Each connection in turn makes the first call after the bucket refilled,
    // so both workers do; another connection's call follows at once.
    let mut refilled = Instant::now();
    for round in 0..n.max(4) {
        wait_until(refilled);
        let first = call(&mut conns[round % n], raw.as_bytes(), "a");
        let ctx = format!("round {round} of {n} connections");
        assert_eq!(first.status, 200, "{ctx}: the first call after a refill");
        let second = call(&mut conns[(round + 1) % n], raw.as_bytes(), "a");
        let window = second.answered.duration_since(first.sent).as_secs_f64();
        if window < 1.0 {
            assert_eq!(
                second.status, 429,
                "{ctx}: {window:.3} s after an admitted call"
            );
            assert_eq!(second.retry_after, Some(1), "{ctx}");
        }
        let admitted = if second.status == 200 {
            &second
        } else {
            &first
        };
        refilled = admitted.answered + Duration::from_secs(1);
    }
}
