//! UpdateUsage (`PATCH /usageplans/{id}/keys/{keyId}/usage`, `replace
//! /remaining N`): a key's remaining quota set live on the data plane (N
//! more calls, then 429), kept across a restart, read back by GetUsage,
//! and its errors, against the real binary. The calendar is fixed at
//! [`QUIET_NOON`] so the quota's day cannot end mid-test.
mod common;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "mgmt-token-0123456789";
const BODY: &str = "keyed-body";

/// API `u` (stage prod, `GET /keyed` needing a key), plan gold over it with
/// a quota of 5 a day, keys alice and bob in it; the management API on.
fn cfg() -> Config {
    let routes = [mock_route("GET", "/keyed", true, BODY)];
    Config::new(&api_toml("u", &[], &["prod"], &routes))
        .append(&gold_plan_alice_bob(
            "u",
            "quota = { limit = 5, period = \"DAY\" }",
            "",
        ))
        .admin("token", &toml_str(TOKEN))
        .state("flush_ms", "3600000")
}

fn start(cfg: &Config) -> Server {
    Server::start_with_env(cfg, &[(TEST_CLOCK, QUIET_NOON)])
}

fn set_remaining(srv: &mut Server, plan: &str, key: &str, n: &str, status: u16) -> Value {
    let body = json!({"patchOperations": [{"op": "replace", "path": "/remaining", "value": n}]});
    let path = format!("/usageplans/{plan}/keys/{key}/usage");
    srv.admin_call(TOKEN, "PATCH", &path, Some(&body), status)
}

fn admitted(c: &mut Client, n: usize, ctx: &str) {
    assert_ok_times(c, get_with_key("/prod/keyed", ALICE), n, BODY, ctx);
}

fn refused(c: &mut Client) {
    assert_429(
        &c.request(get_with_key("/prod/keyed", ALICE)),
        LIMIT_EXCEEDED,
    );
}

/// GetUsage of alice in gold on the test day: `[used, remaining]`.
fn get_usage(srv: &mut Server) -> Value {
    let path = "/usageplans/gold/usage?keyId=alice-id&startDate=2026-11-25&endDate=2026-11-25";
    srv.admin_call(TOKEN, "GET", path, None, 200)["values"]["alice-id"][0].clone()
}

#[test]
fn update_usage_sets_remaining_live_and_keeps_it_across_a_restart() {
    let cfg = cfg();
    let mut srv = start(&cfg);
    let mut c = srv.connect();
    admitted(&mut c, 5, "the quota");
    refused(&mut c);

    let u = set_remaining(&mut srv, "gold", "alice-id", "3", 200);
    assert_eq!(u["usagePlanId"], "gold");
    assert_eq!(u["startDate"], "2026-11-25");
    assert!(u["values"]["alice-id"].is_array(), "{u}");
    admitted(&mut c, 3, "after remaining = 3");
    refused(&mut c);

    // More than the limit is an extension; 0 shuts the key out at once.
    set_remaining(&mut srv, "gold", "alice-id", "10", 200);
    admitted(&mut c, 1, "after remaining = 10");
    set_remaining(&mut srv, "gold", "alice-id", "0", 200);
    refused(&mut c);
    // bob's quota is his own.
    assert_ok_times(&mut c, get_with_key("/prod/keyed", BOB), 5, BODY, "bob");

    set_remaining(&mut srv, "gold", "alice-id", "2", 200);
    drop(c);
    srv.stop();

    let mut srv = start(&cfg);
    // Every call was stored at SIGTERM: 9 used, 2 remaining.
    assert_eq!(get_usage(&mut srv), json!([9, 2]));
    let mut c = srv.connect();
    admitted(&mut c, 2, "after the restart");
    refused(&mut c);
}

#[test]
fn update_usage_errors() {
    let cfg = cfg();
    let mut srv = start(&cfg);
    let e = set_remaining(&mut srv, "nosuch", "alice-id", "3", 404);
    assert_eq!(e["__type"], "NotFoundException", "{e}");
    let e = set_remaining(&mut srv, "gold", "nosuch", "3", 404);
    assert_eq!(e["__type"], "NotFoundException", "{e}");
    let e = set_remaining(&mut srv, "gold", "alice-id", "-1", 400);
    assert_eq!(e["__type"], "BadRequestException", "{e}");
    let path = "/usageplans/gold/keys/alice-id/usage";
    for op in [
        json!({"op": "replace", "path": "/used", "value": "1"}),
        json!({"op": "add", "path": "/remaining", "value": "1"}),
    ] {
        let body = json!({"patchOperations": [op]});
        let e = srv.admin_call(TOKEN, "PATCH", path, Some(&body), 400);
        assert_eq!(e["__type"], "BadRequestException", "{e}");
    }
    let body = json!({"patchOperations": []});
    srv.admin_call(TOKEN, "PATCH", path, Some(&body), 400);
    // Nothing changed: alice still has her 5 calls.
    let mut c = srv.connect();
    admitted(&mut c, 5, "untouched quota");
    refused(&mut c);
}
