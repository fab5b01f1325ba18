//! Quotas and usage records (issue 3): 429 `Limit Exceeded` over a plan's
//! quota, the first-period offset, the sqlite usage store read by
//! `portico usage` (exact after SIGTERM, bounded loss after kill -9), quota
//! state across restarts.
mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BODY: &str = "keyed-body";

/// API `u` (stage prod: `GET /keyed` with a key, answering [`BODY`], and
/// `GET /open`) and plan gold over u/prod with `plan_lines`; keys alice (id
/// alice-id) and bob (id bob-id) in it.
fn cfg(plan_lines: &str) -> Config {
    let routes = [
        mock_route("GET", "/keyed", true, BODY),
        mock_route("GET", "/open", false, "open"),
    ];
    Config::new(&api_toml("u", &[], &["prod"], &routes))
        .append(&gold_plan_alice_bob("u", plan_lines, ""))
}

fn keyed(key: &str) -> Vec<u8> {
    get_with_key("/prod/keyed", key)
}

/// `n` calls with `key` on `c`, each admitted (`ctx #i`).
fn assert_admitted(c: &mut Client, key: &str, n: usize, ctx: &str) {
    assert_ok_times(c, keyed(key), n, BODY, ctx);
}

/// The next call with alice's key is over the quota: 429 `Limit Exceeded`;
/// returns its Retry-After and the seconds then left to UTC midnight.
/// `None` (skipped, with a note) when UTC midnight passed since `day0`: the
/// quota period rolled over.
fn alice_over_quota(c: &mut Client, day0: i64) -> Option<(u64, u64)> {
    let r = c.request(keyed(ALICE));
    let to_midnight = secs_to_utc_midnight();
    if utc_days_now() != day0 {
        eprintln!("UTC midnight passed during the test; the quota period rolled over: skipped");
        return None;
    }
    Some((assert_429(&r, LIMIT_EXCEEDED), to_midnight))
}

#[test]
fn quota_per_day_then_limit_exceeded() {
    let day0 = utc_days_now();
    let cfg = cfg("quota = { limit = 5, period = \"DAY\" }");
    let mut srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 5, "alice");
    let Some((ra, to_midnight)) = alice_over_quota(&mut c, day0) else {
        return;
    };
    assert!(ra <= 86_400, "Retry-After {ra} > one day");
    assert!(
        ra.abs_diff(to_midnight) <= 5,
        "Retry-After {ra}, but the DAY period ends in {to_midnight} s"
    );
    assert_429(&c.request(keyed(ALICE)), LIMIT_EXCEEDED);
    // Quota is per key: bob still has his 5.
    assert_ok(&c.request(keyed(BOB)), BODY, "bob");
    // Other connections see the same count.
    let mut c2 = srv.connect();
    assert_429(&c2.request(keyed(ALICE)), LIMIT_EXCEEDED);

    srv.stop();
    // Rejected calls are not usage.
    let u = usage_cli(&cfg, "gold", None);
    assert_eq!(u.calls("alice-id"), 5, "{}", u.json);
    assert_eq!(u.calls("bob-id"), 1, "{}", u.json);
    if utc_days_now() == day0 {
        assert_eq!(u.remaining_on("alice-id", day0), Some(0), "{}", u.json);
        assert_eq!(u.remaining_on("bob-id", day0), Some(4), "{}", u.json);
    }
}

#[test]
fn quota_offset_reduces_first_period() {
    let day0 = utc_days_now();
    let cfg = cfg("quota = { limit = 5, period = \"DAY\", offset = 2 }");
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 3, "alice");
    alice_over_quota(&mut c, day0);
}

#[test]
fn usage_is_exact_after_sigterm() {
    // Flushes only at the clean stop: nothing of it may be lost.
    let day0 = utc_days_now();
    let cfg = cfg("quota = { limit = 1000, period = \"DAY\" }").state("flush_ms", "3600000");
    let mut srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 7, "alice");
    let mut c2 = srv.connect();
    assert_admitted(&mut c2, BOB, 3, "bob");
    // Not usage: no key, unknown key, open route.
    assert_error(&c.get("/prod/keyed"), 403, Some(FORBIDDEN));
    assert_error(
        &c.request(keyed("unknown-key-0123456789abcdef")),
        403,
        Some(FORBIDDEN),
    );
    assert_eq!(c.get("/prod/open").status, 200);
    srv.stop();

    let u = usage_cli(&cfg, "gold", None);
    assert_eq!(u.calls("alice-id"), 7, "{}", u.json);
    assert_eq!(u.calls("bob-id"), 3, "{}", u.json);
    assert!(
        u.bytes("alice-id") >= 7 * BODY.len() as u64,
        "alice bytes < 7 bodies: {}",
        u.json
    );
    assert!(u.bytes("bob-id") >= 3 * BODY.len() as u64, "{}", u.json);
    if utc_days_now() == day0 {
        assert_eq!(u.remaining_on("alice-id", day0), Some(993), "{}", u.json);
        assert_eq!(u.remaining_on("bob-id", day0), Some(997), "{}", u.json);
    }
    // --key narrows the report to one key.
    let only = usage_cli_range(&cfg, "gold", Some("bob-id"), day0 - 1, day0 + 1);
    assert_eq!(only.calls("bob-id"), 3, "{}", only.json);
    assert_eq!(only.calls("alice-id"), 0, "--key bob-id: {}", only.json);
    // One entry per day in the range.
    let days = only.json["items"]["bob-id"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    assert_eq!(days, 3, "yesterday..tomorrow: {}", only.json);
}

#[test]
fn usage_without_quota_has_null_remaining() {
    let day0 = utc_days_now();
    let cfg = cfg("");
    let mut srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 2, "alice");
    srv.stop();
    let u = usage_cli_range(&cfg, "gold", None, day0, day0);
    if utc_days_now() != day0 {
        return;
    }
    assert_eq!(u.calls("alice-id"), 2, "{}", u.json);
    let entry = &u.json["items"]["alice-id"][0];
    assert!(
        entry.get(1).is_some_and(|r| r.is_null()),
        "remaining must be null without a quota: {}",
        u.json
    );
}

#[test]
fn quota_survives_restart() {
    let day0 = utc_days_now();
    let cfg = cfg("quota = { limit = 10, period = \"DAY\" }");
    let mut srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 6, "alice");
    srv.stop();

    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 4, "alice after restart");
    alice_over_quota(&mut c, day0);
}

#[test]
fn kill9_loses_at_most_the_last_flush() {
    const LIMIT: u64 = 100_000;
    let cfg = cfg("quota = { limit = 100000, period = \"DAY\" }").state("flush_ms", "100");
    let mut srv = Server::start(&cfg);
    let mut c = srv.connect();
    assert_admitted(&mut c, ALICE, 300, "alice");
    // Flushed while running, within a few flush intervals.
    let u = wait_usage(&cfg, "gold", Duration::from_secs(10), "300 calls", |u| {
        u.calls("alice-id") >= 300
    });
    assert_eq!(u.calls("alice-id"), 300, "{}", u.json);

    // Background load, killed with SIGKILL in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let port = srv.port;
    let raw = keyed(ALICE);
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let stop2 = stop.clone();
    let loader = std::thread::spawn(move || {
        let mut total = LoadCount::default();
        // Reconnect after each connection ends until told to stop.
        while !stop2.load(Ordering::SeqCst) {
            let n = load_loop(port, &raw, || {
                let _ = tx.send(0);
                stop2.load(Ordering::SeqCst)
            });
            total.add(n);
            if n.unanswered > 0 || n.ok == 0 {
                break;
            }
        }
        total
    });
    // Wait until the load has been running for a while (observable: at
    // least 2000 loop iterations, i.e. several flush intervals at any speed
    // this machine reaches), then kill.
    let mut ticks = 0;
    while ticks < 2000 {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("load loop stalled");
        ticks += 1;
    }
    srv.kill9();
    stop.store(true, Ordering::SeqCst);
    let n = loader.join().expect("loader");
    drop(rx);
    assert_eq!(n.other + n.throttled, 0, "background load: {n:?}");
    let ok_total = 300 + n.ok;
    eprintln!("kill -9 after {ok_total} admitted calls: {n:?}");

    // Restart on the same state dir.
    let day_before = utc_days_now();
    let mut srv = Server::start(&cfg);
    let u = usage_cli(&cfg, "gold", None);
    let recorded = u.calls("alice-id");
    eprintln!("recorded after kill -9 and restart: {recorded}");
    assert!(
        recorded >= 300 && recorded <= ok_total + n.unanswered,
        "recorded {recorded}: want >= 300 (flushed before the kill) and <= {ok_total} admitted (+{} unanswered): {}",
        n.unanswered,
        u.json
    );
    let check_remaining = |u: &UsageReport, ctx: &str| {
        let today = utc_days_now();
        if today != day_before {
            return;
        }
        let used_today = u.calls_on("alice-id", today);
        assert_eq!(
            u.remaining_on("alice-id", today),
            Some(LIMIT - used_today),
            "{ctx}: remaining != limit - recorded: {}",
            u.json
        );
    };
    check_remaining(&u, "after kill -9");

    // The restarted server counts on from what was recorded.
    let mut c = srv.connect();
    assert_ok(&c.request(keyed(ALICE)), BODY, "after restart");
    srv.stop();
    let u2 = usage_cli(&cfg, "gold", None);
    assert_eq!(u2.calls("alice-id"), recorded + 1, "{}", u2.json);
    check_remaining(&u2, "after restart and SIGTERM");
}
