//! API keys (issue 3): `x-api-key` on `api_key_required` routes, 403
//! Forbidden for missing / unknown / disabled / not-covered keys, key values
//! from config, env, file or generated (and kept in the state dir), the
//! `portico keys` command, and config errors.
mod common;

use common::*;

const CAROL: &str = "carol-key-0123456789abcdef";
const DAVE: &str = "dave-key-0123456789abcdefg";

/// API `k`: stages prod and dev; `GET /open` (no key), `GET /keyed` (key required).
fn api() -> Config {
    Config::new(&api_toml(
        "k",
        &[],
        &["prod", "dev"],
        &[
            mock_route("GET", "/open", false, "open"),
            mock_route("GET", "/keyed", true, "keyed"),
        ],
    ))
}

/// Plans: gold covers k/prod (with `gold_lines`), devplan covers k/dev.
/// Keys: alice (gold), bob (gold, disabled), carol (devplan), dave (no plan).
fn keys_config(gold_lines: &str) -> Config {
    api()
        .append(&plan_toml("gold", gold_lines, "k", "prod", ""))
        .append(&plan_toml("devplan", "", "k", "dev", ""))
        .append(&key_toml(
            "alice",
            &format!("id = \"alice-id\"\nvalue = \"{ALICE}\""),
            &["gold"],
        ))
        .append(&key_toml(
            "bob",
            &format!("value = \"{BOB}\"\nenabled = false"),
            &["gold"],
        ))
        .append(&key_toml(
            "carol",
            &format!("value = \"{CAROL}\""),
            &["devplan"],
        ))
        .append(&key_toml("dave", &format!("value = \"{DAVE}\""), &[]))
}

fn assert_forbidden(r: &Response, ctx: &str) {
    assert_error_in(r, 403, FORBIDDEN, ctx);
}

/// `GET path` with `x-api-key: key` on `c` is answered 200 with the route's
/// body, which is its last path segment (`open` or `keyed`).
fn assert_key_ok(c: &mut Client, path: &str, key: &str, ctx: &str) {
    let body = path.rsplit('/').next().unwrap();
    assert_ok(&c.request(get_with_key(path, key)), body, ctx);
}

/// `GET path` with `x-api-key: key` on `c` is 403 Forbidden.
fn assert_key_forbidden(c: &mut Client, path: &str, key: &str, ctx: &str) {
    assert_forbidden(&c.request(get_with_key(path, key)), ctx);
}

#[test]
fn missing_key_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    assert_forbidden(&c.get("/prod/keyed"), "no x-api-key");
    // Empty header value.
    assert_key_forbidden(&mut c, "/prod/keyed", "", "empty x-api-key");
    // Routes without api_key_required need no key.
    assert_ok(&c.get("/prod/open"), "open", "open route without key");
    // The connection survives.
    assert_key_ok(&mut c, "/prod/keyed", ALICE, "alice");
}

#[test]
fn unknown_key_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    for (key, ctx) in [
        ("no-such-key-0123456789abc", "unknown key"),
        // A prefix / case variant of a valid key is not that key.
        (&ALICE[..ALICE.len() - 1], "truncated key"),
        (ALICE.to_uppercase().as_str(), "upper-cased key"),
        // A key's id or name is not its value.
        ("alice-id", "key id as value"),
    ] {
        assert_key_forbidden(&mut c, "/prod/keyed", key, ctx);
    }
}

#[test]
fn two_api_key_headers_are_403_forbidden_not_the_first_taken() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    for (keys, ctx) in [
        ([ALICE, "no-such-key-0123456789abc"], "valid key first"),
        ([ALICE, ALICE], "the same valid key twice"),
    ] {
        let r = c.request(get_with(
            "/prod/keyed",
            &[("x-api-key", keys[0]), ("X-Api-Key", keys[1])],
        ));
        assert_forbidden(&r, ctx);
    }
    assert_key_ok(&mut c, "/prod/keyed", ALICE, "alice alone");
}

#[test]
fn disabled_key_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    assert_key_forbidden(&mut c, "/prod/keyed", BOB, "bob");
    assert_key_ok(&mut c, "/prod/keyed", ALICE, "alice, same plan");
}

#[test]
fn key_not_in_a_plan_for_this_stage_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    // carol's plan covers k/dev only.
    assert_key_forbidden(&mut c, "/prod/keyed", CAROL, "carol on prod");
    assert_key_ok(&mut c, "/dev/keyed", CAROL, "carol on dev");
    // alice's plan covers k/prod only.
    assert_key_forbidden(&mut c, "/dev/keyed", ALICE, "alice on dev");
    // dave is in no plan.
    assert_key_forbidden(&mut c, "/prod/keyed", DAVE, "dave");
    assert_key_forbidden(&mut c, "/dev/keyed", DAVE, "dave dev");
}

#[test]
fn valid_key_passes() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    assert_ok_times(
        &mut c,
        get_with_key("/prod/keyed", ALICE),
        3,
        "keyed",
        "alice",
    );
    // Header name is case-insensitive.
    let r = c.request(get_with("/prod/keyed", &[("X-API-Key", ALICE)]));
    assert_ok(&r, "keyed", "X-API-Key spelling");
    // A fresh connection.
    assert_key_ok(&mut srv.connect(), "/prod/keyed", ALICE, "new conn");
}

#[test]
fn key_on_open_route_is_not_limited_by_plan() {
    // gold: burst 1 and a quota of 1 per day; on the open route alice's key
    // is ignored, so neither applies there.
    let cfg = keys_config(
        "throttle = { rate = 0.1, burst = 1 }\nquota = { limit = 1, period = \"DAY\" }",
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let open = get_with_key("/prod/open", ALICE);
    assert_ok_times(&mut c, open, 5, "open", "alice on open route");
    // Unknown / disabled keys on the open route are ignored, too.
    assert_key_ok(&mut c, "/prod/open", "garbage", "garbage key");
    assert_key_ok(&mut c, "/prod/open", BOB, "bob");
    // The plan's limits do apply on the key-required route.
    assert_key_ok(&mut c, "/prod/keyed", ALICE, "alice keyed 1st");
    let r = c.request(get_with_key("/prod/keyed", ALICE));
    assert_eq!(r.status, 429, "alice keyed 2nd: {:?}", r.body_str());
}

// ---------------------------------------------------------------------------
// Where key values come from
// ---------------------------------------------------------------------------

/// Plan gold over k/prod with key erin (`key_lines`) in it.
fn single_key_config(key_lines: &str) -> Config {
    api()
        .append(&plan_toml("gold", "", "k", "prod", ""))
        .append(&key_toml("erin", key_lines, &["gold"]))
}

/// erin's `portico keys` entry (under `id`) names erin, is enabled and in
/// plan gold; returns it.
fn erin_entry(keys: &[serde_json::Value], id: &str) -> serde_json::Value {
    let erin = key_entry(keys, id);
    assert_eq!(erin["name"], "erin", "{erin}");
    assert_eq!(erin["enabled"], true, "{erin}");
    assert_eq!(erin["usagePlans"], serde_json::json!(["gold"]), "{erin}");
    erin
}

#[test]
fn key_value_from_env() {
    let var = format!("PORTICO_TEST_KEY_{}", std::process::id());
    let value = "env-key-value-0123456789xyz";
    let cfg = single_key_config(&format!("value_env = \"{var}\""));
    let env = [(var.as_str(), value)];
    let srv = Server::start_with_env(&cfg, &env);
    let mut c = srv.connect();
    assert_key_ok(&mut c, "/prod/keyed", value, "env value");
    assert_key_forbidden(&mut c, "/prod/keyed", &var, "variable name as value");
    let erin = erin_entry(&keys_cli(&cfg, &env), "erin");
    assert_eq!(erin["value"], value, "{erin}");
}

#[test]
fn key_value_from_file() {
    let value = "file-key-value-0123456789xyz";
    let file = temp_path("key", "txt");
    std::fs::write(&file, format!("{value}\n")).unwrap();
    let cfg = single_key_config(&format!(
        "value_file = {}",
        toml_str(&file.to_string_lossy())
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let ctx = "file value (trailing newline trimmed)";
    assert_key_ok(&mut c, "/prod/keyed", value, ctx);
    let prefix = "file-key-value-0123456789xy";
    assert_key_forbidden(&mut c, "/prod/keyed", prefix, "prefix of the file value");
    let keys = keys_cli(&cfg, &[]);
    assert_eq!(key_entry(&keys, "erin")["value"], value);
    drop(srv);
    let _ = std::fs::remove_file(&file);
}

/// The generated value of key `erin-id` in the state dir of `cfg`.
fn generated_value(cfg: &Config) -> String {
    let keys = keys_cli(cfg, &[]);
    let erin = erin_entry(&keys, "erin-id");
    let value = erin["value"]
        .as_str()
        .unwrap_or_else(|| panic!("generated key has no string value: {erin}"))
        .to_string();
    assert!(value.len() >= 20, "generated key too short: {value:?}");
    value
}

#[test]
fn generated_key_is_listed_works_and_survives_restart() {
    let cfg = single_key_config("id = \"erin-id\"");
    let mut srv = Server::start(&cfg);
    let value = generated_value(&cfg);
    let mut c = srv.connect();
    assert_key_ok(&mut c, "/prod/keyed", &value, "generated key");
    assert_forbidden(&c.get("/prod/keyed"), "no key");
    srv.stop();

    // Same state dir: the same value, and it still works.
    let srv = Server::start(&cfg);
    assert_eq!(
        generated_value(&cfg),
        value,
        "generated key changed across a restart"
    );
    let mut c = srv.connect();
    assert_key_ok(&mut c, "/prod/keyed", &value, "generated key after restart");

    // A server on a different state dir generates a different key, and the
    // first one is not valid there.
    let other = single_key_config("id = \"erin-id\"");
    let srv2 = Server::start(&other);
    let v2 = generated_value(&other);
    assert_ne!(v2, value, "two state dirs generated the same key");
    let mut c = srv2.connect();
    assert_key_forbidden(&mut c, "/prod/keyed", &value, "other state dir's key");
    assert_key_ok(&mut c, "/prod/keyed", &v2, "own generated key");
}

#[test]
fn keys_command_lists_configured_keys() {
    let cfg = keys_config("");
    let keys = keys_cli(&cfg, &[]);
    assert_eq!(keys.len(), 4, "{keys:?}");
    let alice = key_entry(&keys, "alice-id");
    assert_eq!(alice["name"], "alice");
    assert_eq!(alice["value"], ALICE);
    assert_eq!(alice["enabled"], true);
    assert_eq!(alice["usagePlans"], serde_json::json!(["gold"]));
    // id defaults to the name.
    let bob = key_entry(&keys, "bob");
    assert_eq!(bob["value"], BOB);
    assert_eq!(bob["enabled"], false);
    let dave = key_entry(&keys, "dave");
    assert_eq!(dave["usagePlans"], serde_json::json!([]));
}

// ---------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------

const BASE: &str = r#"# valid; the cases below break one line of it
[server]
listen = "127.0.0.1:0"
workers = 1

[state]
dir = "@STATE@"

[[api]]
name = "k"
hosts = []

[api.stages.prod]
variables = {}
route_throttle = { "GET /open" = { rate = 5.0, burst = 2 } }

[api.stages.dev]
variables = {}

[[api.routes]]
method = "GET"
path = "/open"
integration = { type = "mock", status = 200, body = 'open' }

[[api.routes]]
method = "GET"
path = "/keyed"
api_key_required = true
integration = { type = "mock", status = 200, body = 'keyed' }

[[usage_plans]]
name = "gold"
throttle = { rate = 10.0, burst = 5 }
quota = { limit = 1000, period = "DAY" }
api_stages = [ { api = "k", stage = "prod", route_throttle = { "GET /keyed" = { rate = 2.0, burst = 1 } } } ]

[[usage_plans]]
name = "silver"
api_stages = [ { api = "k", stage = "prod" } ]

[[usage_plans]]
name = "devplan"
api_stages = [ { api = "k", stage = "dev" } ]

[[api_keys]]
name = "alice"
value = "alice-key-0123456789abcdef"
usage_plans = ["gold", "devplan"]
"#;

/// The broken config (BASE with the line starting with `prefix` replaced
/// by `with`) is rejected by `check` and at start: stderr names a line
/// between the enclosing table header and the broken line(s) (see
/// [`assert_config_rejected`]) and one of `keys`.
fn assert_rejected(prefix: &str, with: &str, keys: &[&str]) {
    let state = TempDir::new("state");
    let base = BASE.replace("@STATE@", &state.path.to_string_lossy());
    let (text, line, header) = break_line(&base, prefix, with);
    let last = line + with.lines().count() - 1;
    let what = format!("line {line} `{with}` (table at line {header})");
    assert_config_rejected(&text, header..=last, keys, &what);
}

#[test]
fn base_config_is_accepted() {
    let state = TempDir::new("state");
    let path = write_config(&BASE.replace("@STATE@", &state.path.to_string_lossy()));
    let out = check_config(&path);
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "BASE rejected: {}", out.stderr);
}

#[test]
fn short_key_value_is_rejected() {
    assert_rejected(
        "value = \"alice-key",
        "value = \"short-key-012345678\"", // 19 chars
        &["value"],
    );
}

#[test]
fn two_key_value_sources_are_rejected() {
    assert_rejected(
        "value = \"alice-key",
        "value = \"alice-key-0123456789abcdef\"\nvalue_env = \"HOME\"",
        &["value_env", "value"],
    );
    let f = temp_path("key", "txt");
    std::fs::write(&f, "file-key-value-0123456789xyz\n").unwrap();
    assert_rejected(
        "value = \"alice-key",
        &format!(
            "value_file = {}\nvalue_env = \"HOME\"",
            toml_str(&f.to_string_lossy())
        ),
        &["value_env", "value_file"],
    );
    let _ = std::fs::remove_file(&f);
}

#[test]
fn unset_value_env_is_rejected() {
    assert_rejected(
        "value = \"alice-key",
        "value_env = \"PORTICO_TEST_SURELY_UNSET_VARIABLE\"",
        &["value_env"],
    );
}

#[test]
fn missing_value_file_is_rejected() {
    let f = temp_path("no-such-key", "txt");
    assert_rejected(
        "value = \"alice-key",
        &format!("value_file = {}", toml_str(&f.to_string_lossy())),
        &["value_file"],
    );
}

#[test]
fn key_in_unknown_plan_is_rejected() {
    assert_rejected(
        "usage_plans = [\"gold\", \"devplan\"]",
        "usage_plans = [\"gold\", \"nope\"]",
        &["usage_plans"],
    );
}

#[test]
fn plan_stage_with_unknown_api_is_rejected() {
    assert_rejected(
        "api_stages = [ { api = \"k\", stage = \"dev\" } ]",
        "api_stages = [ { api = \"nope\", stage = \"dev\" } ]",
        &["api"],
    );
}

#[test]
fn plan_stage_with_unknown_stage_is_rejected() {
    assert_rejected(
        "api_stages = [ { api = \"k\", stage = \"dev\" } ]",
        "api_stages = [ { api = \"k\", stage = \"nope\" } ]",
        &["stage"],
    );
}

#[test]
fn stage_route_throttle_for_unknown_route_is_rejected() {
    assert_rejected(
        "route_throttle = { \"GET /open\"",
        "route_throttle = { \"GET /nope\" = { rate = 5.0, burst = 2 } }",
        &["route_throttle", "GET /nope"],
    );
    // The method is part of the route key.
    assert_rejected(
        "route_throttle = { \"GET /open\"",
        "route_throttle = { \"POST /open\" = { rate = 5.0, burst = 2 } }",
        &["route_throttle", "POST /open"],
    );
}

#[test]
fn plan_route_throttle_for_unknown_route_is_rejected() {
    assert_rejected(
        "api_stages = [ { api = \"k\", stage = \"prod\", route_throttle",
        "api_stages = [ { api = \"k\", stage = \"prod\", route_throttle = { \"GET /nope\" = { rate = 2.0, burst = 1 } } } ]",
        &["route_throttle", "GET /nope"],
    );
}

#[test]
fn key_in_two_plans_for_the_same_stage_is_rejected() {
    assert_rejected(
        "usage_plans = [\"gold\", \"devplan\"]",
        "usage_plans = [\"gold\", \"silver\"]",
        &["usage_plans"],
    );
}

// ---------------------------------------------------------------------------
// SIGHUP: limits, plans, keys and caches reloaded; usage carried over
// ---------------------------------------------------------------------------

/// API `r` (stage prod): `GET /keyed` (mock, key required), `GET /open`
/// (mock), `GET /slow` (proxied to `backend`). Plan gold over r/prod with a
/// DAY quota of `quota`; alice in it, bob too (disabled unless `bob`),
/// carol only when `carol`. `stage_lines` go into the stage's table,
/// `cache` (if any) is its cache table.
fn reloadable(backend: &str, v: &Reloadable) -> Config {
    let mut api = format!(
        "[[api]]\nname = \"r\"\nhosts = []\n\n[api.stages.prod]\n\
         variables = {{ backend = \"{backend}\" }}\n{}\n\n",
        v.stage_lines
    );
    if v.cache {
        api.push_str("[api.stages.prod.cache]\ncapacity = \"1MB\"\nttl_s = 60\n\n");
    }
    api.push_str(&mock_route("GET", "/keyed", true, "keyed"));
    api.push_str(&mock_route("GET", "/open", false, "open"));
    api.push_str(
        "[[api.routes]]\nmethod = \"GET\"\npath = \"/slow\"\n\
         integration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/slow\" }\n\n",
    );
    let quota = format!("quota = {{ limit = {}, period = \"DAY\" }}", v.quota);
    let mut cfg = Config::new(&api)
        .append(&plan_toml("gold", &quota, "r", "prod", ""))
        .append(&alice_key_toml(&["gold"]))
        .append(&key_toml(
            "bob",
            &format!("value = \"{BOB}\"\nenabled = {}", v.bob),
            &["gold"],
        ));
    if v.carol {
        cfg = cfg.append(&key_toml(
            "carol",
            &format!("value = \"{CAROL}\""),
            &["gold"],
        ));
    }
    cfg
}

struct Reloadable {
    stage_lines: &'static str,
    cache: bool,
    quota: u64,
    bob: bool,
    carol: bool,
}

/// The next stderr line saying whether the config was reloaded; panics
/// unless it was.
fn assert_reloaded(srv: &mut Server) {
    let deadline = std::time::Instant::now() + POLL_FOR;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match srv.next_line(left) {
            Some(l) if l.contains("config reloaded") => return,
            Some(l) => assert!(!l.contains("not reloaded"), "SIGHUP refused: {l}"),
            None => panic!("no `config reloaded` line within {POLL_FOR:?}"),
        }
    }
}

#[test]
fn sighup_reloads_limits_plans_keys_and_caches_keeping_quota_usage() {
    let (up, release) = Upstream::start_held(b"from-upstream");
    let before = Reloadable {
        stage_lines: "",
        cache: false,
        quota: 5,
        bob: true,
        carol: false,
    };
    let after = Reloadable {
        stage_lines: "route_throttle = { \"GET /open\" = { rate = 0.1, burst = 2 } }",
        cache: true,
        quota: 8,
        bob: false,
        carol: true,
    };
    let old = reloadable(&up.addr(), &before);
    let mut srv = Server::start_with_env(&old, &[(TEST_CLOCK, QUIET_NOON)]);
    let mut c = srv.connect();
    for i in 0..3 {
        assert_key_ok(&mut c, "/prod/keyed", ALICE, &format!("alice #{i} of 5"));
    }
    assert_key_ok(&mut c, "/prod/keyed", BOB, "bob, enabled");
    assert_key_forbidden(&mut c, "/prod/keyed", CAROL, "carol, not yet a key");
    assert_ok_times(
        &mut c,
        get("/prod/open"),
        5,
        "open",
        "/open, no throttle yet",
    );

    // A call in flight across the reload: its upstream holds it.
    let mut held = srv.connect();
    held.send(get("/prod/slow"));
    assert_eq!(up.recv().target, "/slow");

    let new =
        reloadable(&up.addr(), &after).state("dir", &toml_str(&old.state_dir().to_string_lossy()));
    std::fs::write(srv.config_path(), new.render()).expect("rewrite config");
    srv.signal("HUP");
    assert_reloaded(&mut srv);

    // The held call finishes on the config it started with: no cache then.
    release.send(()).unwrap();
    let r = held.read_response();
    assert_ok(&r, "from-upstream", "the call in flight during the reload");
    assert_eq!(
        r.header("x-cache"),
        None,
        "the old config had no cache: {r:?}"
    );
    // New calls see the new config: a cached stage...
    release.send(()).unwrap();
    let r = c.get("/prod/slow");
    assert_ok(&r, "from-upstream", "a new call to /slow");
    assert_eq!(r.header("x-cache"), Some("Miss"), "{r:?}");
    let r = c.get("/prod/slow");
    assert_eq!(r.header("x-cache"), Some("Hit"), "{r:?}");
    // ... a route throttle...
    assert_ok_times(&mut c, get("/prod/open"), 2, "open", "/open, burst 2");
    assert_429(&c.get("/prod/open"), TOO_MANY);
    // ... keys...
    assert_key_forbidden(&mut c, "/prod/keyed", BOB, "bob, disabled");
    assert_key_ok(&mut c, "/prod/keyed", CAROL, "carol, a new key");
    // ... and the plan's new quota of 8, of which alice used 3 before.
    for i in 3..8 {
        assert_key_ok(&mut c, "/prod/keyed", ALICE, &format!("alice #{i} of 8"));
    }
    assert_429(
        &c.request(get_with_key("/prod/keyed", ALICE)),
        LIMIT_EXCEEDED,
    );
    srv.stop();
    let day = day_number(QUIET_NOON);
    let u = usage_cli_range(&old, "gold", Some("alice-id"), day, day);
    assert_eq!(u.calls("alice-id"), 8, "{}", u.json);
    assert_eq!(u.remaining_on("alice-id", day), Some(0), "{}", u.json);
}
