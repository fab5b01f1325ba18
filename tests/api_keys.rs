//! API keys (issue 3): `x-api-key` on `api_key_required` routes, 403
//! Forbidden for missing / unknown / disabled / not-covered keys, key values
//! from config, env, file or generated (and kept in the state dir), the
//! `portico keys` command, and config errors.
mod common;

use common::*;
use std::path::Path;

const ALICE: &str = "alice-key-0123456789abcdef";
const BOB: &str = "bob-key-0123456789abcdefgh";
const CAROL: &str = "carol-key-0123456789abcdef";
const DAVE: &str = "dave-key-0123456789abcdefg";

/// API `k`: stages prod and dev; `GET /open` (no key), `GET /keyed` (key required).
const API: &str = r#"[[api]]
name = "k"
hosts = []

[api.stages.prod]
variables = {}

[api.stages.dev]
variables = {}

[[api.routes]]
method = "GET"
path = "/open"
integration = { type = "mock", status = 200, headers = { "content-type" = "text/plain" }, body = 'open' }

[[api.routes]]
method = "GET"
path = "/keyed"
api_key_required = true
integration = { type = "mock", status = 200, headers = { "content-type" = "text/plain" }, body = 'keyed' }
"#;

/// Plans: gold covers k/prod (with `gold_lines`), devplan covers k/dev.
/// Keys: alice (gold), bob (gold, disabled), carol (devplan), dave (no plan).
fn keys_config(gold_lines: &str) -> Config {
    Config::new(API).append(&format!(
        r#"
[[usage_plans]]
name = "gold"
{gold_lines}
api_stages = [ {{ api = "k", stage = "prod" }} ]

[[usage_plans]]
name = "devplan"
api_stages = [ {{ api = "k", stage = "dev" }} ]

[[api_keys]]
name = "alice"
id = "alice-id"
value = "{ALICE}"
usage_plans = ["gold"]

[[api_keys]]
name = "bob"
value = "{BOB}"
enabled = false
usage_plans = ["gold"]

[[api_keys]]
name = "carol"
value = "{CAROL}"
usage_plans = ["devplan"]

[[api_keys]]
name = "dave"
value = "{DAVE}"
"#
    ))
}

fn assert_forbidden(r: &Response, ctx: &str) {
    assert_eq!(
        r.status,
        403,
        "{ctx}: expected 403, got {} {:?}",
        r.status,
        r.body_str()
    );
    assert_error(r, 403, Some(FORBIDDEN));
}

fn assert_ok(r: &Response, body: &str, ctx: &str) {
    assert_eq!(
        r.status,
        200,
        "{ctx}: expected 200, got {} {:?}",
        r.status,
        r.body_str()
    );
    assert_eq!(r.body_str(), body, "{ctx}");
}

#[test]
fn missing_key_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    assert_forbidden(&c.get("/prod/keyed"), "no x-api-key");
    // Empty header value.
    let r = c.request(get_with_key("/prod/keyed", ""));
    assert_forbidden(&r, "empty x-api-key");
    // Routes without api_key_required need no key.
    assert_ok(&c.get("/prod/open"), "open", "open route without key");
    // The connection survives.
    assert_ok(
        &c.request(get_with_key("/prod/keyed", ALICE)),
        "keyed",
        "alice",
    );
}

#[test]
fn unknown_key_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    let r = c.request(get_with_key("/prod/keyed", "no-such-key-0123456789abc"));
    assert_forbidden(&r, "unknown key");
    // A prefix / case variant of a valid key is not that key.
    let r = c.request(get_with_key("/prod/keyed", &ALICE[..ALICE.len() - 1]));
    assert_forbidden(&r, "truncated key");
    let r = c.request(get_with_key("/prod/keyed", &ALICE.to_uppercase()));
    assert_forbidden(&r, "upper-cased key");
    // A key's id or name is not its value.
    let r = c.request(get_with_key("/prod/keyed", "alice-id"));
    assert_forbidden(&r, "key id as value");
}

#[test]
fn disabled_key_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    assert_forbidden(&c.request(get_with_key("/prod/keyed", BOB)), "bob");
    assert_ok(
        &c.request(get_with_key("/prod/keyed", ALICE)),
        "keyed",
        "alice, same plan",
    );
}

#[test]
fn key_not_in_a_plan_for_this_stage_is_403_forbidden() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    // carol's plan covers k/dev only.
    assert_forbidden(
        &c.request(get_with_key("/prod/keyed", CAROL)),
        "carol on prod",
    );
    assert_ok(
        &c.request(get_with_key("/dev/keyed", CAROL)),
        "keyed",
        "carol on dev",
    );
    // alice's plan covers k/prod only.
    assert_forbidden(
        &c.request(get_with_key("/dev/keyed", ALICE)),
        "alice on dev",
    );
    // dave is in no plan.
    assert_forbidden(&c.request(get_with_key("/prod/keyed", DAVE)), "dave");
    assert_forbidden(&c.request(get_with_key("/dev/keyed", DAVE)), "dave dev");
}

#[test]
fn valid_key_passes() {
    let srv = Server::start(&keys_config(""));
    let mut c = srv.connect();
    for i in 0..3 {
        assert_ok(
            &c.request(get_with_key("/prod/keyed", ALICE)),
            "keyed",
            &format!("alice #{i}"),
        );
    }
    // Header name is case-insensitive.
    let r = c.request(request(
        "GET",
        "/prod/keyed",
        "localhost",
        &[("X-API-Key", ALICE)],
        b"",
    ));
    assert_ok(&r, "keyed", "X-API-Key spelling");
    // A fresh connection.
    let mut c2 = srv.connect();
    assert_ok(
        &c2.request(get_with_key("/prod/keyed", ALICE)),
        "keyed",
        "new conn",
    );
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
    for i in 0..5 {
        assert_ok(
            &c.request(get_with_key("/prod/open", ALICE)),
            "open",
            &format!("alice on open route #{i}"),
        );
    }
    // Unknown / disabled keys on the open route are ignored, too.
    assert_ok(
        &c.request(get_with_key("/prod/open", "garbage")),
        "open",
        "garbage key",
    );
    assert_ok(&c.request(get_with_key("/prod/open", BOB)), "open", "bob");
    // The plan's limits do apply on the key-required route.
    assert_ok(
        &c.request(get_with_key("/prod/keyed", ALICE)),
        "keyed",
        "alice keyed 1st",
    );
    let r = c.request(get_with_key("/prod/keyed", ALICE));
    assert_eq!(r.status, 429, "alice keyed 2nd: {:?}", r.body_str());
}

// ---------------------------------------------------------------------------
// Where key values come from
// ---------------------------------------------------------------------------

fn single_key_config(key_lines: &str) -> Config {
    Config::new(API).append(&format!(
        r#"
[[usage_plans]]
name = "gold"
api_stages = [ {{ api = "k", stage = "prod" }} ]

[[api_keys]]
name = "erin"
{key_lines}
usage_plans = ["gold"]
"#
    ))
}

#[test]
fn key_value_from_env() {
    let var = format!("PORTICO_TEST_KEY_{}", std::process::id());
    let value = "env-key-value-0123456789xyz";
    let cfg = single_key_config(&format!("value_env = \"{var}\""));
    let env = [(var.as_str(), value)];
    let srv = Server::start_with_env(&cfg, &env);
    let mut c = srv.connect();
    assert_ok(
        &c.request(get_with_key("/prod/keyed", value)),
        "keyed",
        "env value",
    );
    assert_forbidden(
        &c.request(get_with_key("/prod/keyed", &var)),
        "variable name as value",
    );
    let keys = keys_cli(&cfg, &env);
    let erin = key_entry(&keys, "erin");
    assert_eq!(erin["value"], value, "{erin}");
    assert_eq!(erin["name"], "erin", "{erin}");
    assert_eq!(erin["enabled"], true, "{erin}");
    assert_eq!(erin["usagePlans"], serde_json::json!(["gold"]), "{erin}");
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
    assert_ok(
        &c.request(get_with_key("/prod/keyed", value)),
        "keyed",
        "file value (trailing newline trimmed)",
    );
    assert_forbidden(
        &c.request(get_with_key("/prod/keyed", "file-key-value-0123456789xy")),
        "prefix of the file value",
    );
    let keys = keys_cli(&cfg, &[]);
    assert_eq!(key_entry(&keys, "erin")["value"], value);
    drop(srv);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn generated_key_is_listed_works_and_survives_restart() {
    let cfg = single_key_config("id = \"erin-id\"");
    let mut srv = Server::start(&cfg);
    let keys = keys_cli(&cfg, &[]);
    let erin = key_entry(&keys, "erin-id");
    assert_eq!(erin["name"], "erin", "{erin}");
    assert_eq!(erin["enabled"], true, "{erin}");
    assert_eq!(erin["usagePlans"], serde_json::json!(["gold"]), "{erin}");
    let value = erin["value"]
        .as_str()
        .unwrap_or_else(|| panic!("generated key has no string value: {erin}"))
        .to_string();
    assert!(value.len() >= 20, "generated key too short: {value:?}");
    let mut c = srv.connect();
    assert_ok(
        &c.request(get_with_key("/prod/keyed", &value)),
        "keyed",
        "generated key",
    );
    assert_forbidden(&c.get("/prod/keyed"), "no key");
    srv.stop();

    // Same state dir: the same value, and it still works.
    let srv = Server::start(&cfg);
    let keys = keys_cli(&cfg, &[]);
    assert_eq!(
        key_entry(&keys, "erin-id")["value"].as_str(),
        Some(value.as_str()),
        "generated key changed across a restart"
    );
    let mut c = srv.connect();
    assert_ok(
        &c.request(get_with_key("/prod/keyed", &value)),
        "keyed",
        "generated key after restart",
    );

    // A server on a different state dir generates a different key, and the
    // first one is not valid there.
    let other = single_key_config("id = \"erin-id\"");
    let srv2 = Server::start(&other);
    let keys = keys_cli(&other, &[]);
    let v2 = key_entry(&keys, "erin-id")["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(v2.len() >= 20, "generated key too short: {v2:?}");
    assert_ne!(v2, value, "two state dirs generated the same key");
    let mut c = srv2.connect();
    assert_forbidden(
        &c.request(get_with_key("/prod/keyed", &value)),
        "other state dir's key",
    );
    assert_ok(
        &c.request(get_with_key("/prod/keyed", &v2)),
        "keyed",
        "own generated key",
    );
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

/// BASE with the line starting with `prefix` replaced by `with` (may hold
/// several lines); returns the text, the 1-based number of the replaced
/// line and of the header of the table it is in.
fn break_line(base: &str, prefix: &str, with: &str) -> (String, usize, usize) {
    let lines: Vec<&str> = base.lines().collect();
    let idx = lines
        .iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"));
    let header = (0..idx)
        .rev()
        .find(|&i| lines[i].starts_with('['))
        .expect("a table header above");
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    out[idx] = with.to_string();
    (out.join("\n") + "\n", idx + 1, header + 1)
}

/// `s` contains `:{line}` not followed by another digit.
fn has_line_ref(s: &str, line: usize) -> bool {
    let pat = format!(":{line}");
    s.match_indices(&pat).any(|(i, _)| {
        !s[i + pat.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

fn run_mode(mode: &str, path: &Path) -> CmdOutput {
    let mut args: Vec<&std::ffi::OsStr> = vec![];
    if mode == "check" {
        args.push("check".as_ref());
    }
    args.push("--config".as_ref());
    args.push(path.as_os_str());
    run_bin(&args, &[], std::time::Duration::from_secs(10))
}

/// The broken config is rejected by `check` and at start: exit 2, stderr
/// names the file, a line between the enclosing table header and the broken
/// line (the broken line itself for single-line cases), and one of `keys`.
fn assert_rejected(prefix: &str, with: &str, keys: &[&str]) {
    let state = TempDir::new("state");
    let base = BASE.replace("@STATE@", &state.path.to_string_lossy());
    let (text, line, header) = break_line(&base, prefix, with);
    let extra = with.lines().count() - 1;
    let path = write_config(&text);
    let file_name = path.file_name().unwrap().to_string_lossy().to_string();
    for mode in ["check", "start"] {
        let out = run_mode(mode, &path);
        let stderr = &out.stderr;
        let ctx = format!(
            "[{mode}] line {line} `{with}` (table at line {header})\nstatus: {:?}\nstderr:\n{stderr}",
            out.status
        );
        assert!(!stderr.contains("listening on"), "started: {ctx}");
        assert_eq!(out.status.code(), Some(2), "exit code: {ctx}");
        assert!(stderr.contains(&file_name), "file name missing: {ctx}");
        assert!(
            (header..=line + extra).any(|l| has_line_ref(stderr, l)),
            "no `:LINE` for a line in {header}..={}: {ctx}",
            line + extra
        );
        assert!(
            keys.iter().any(|k| stderr.contains(k)),
            "none of {keys:?} in stderr: {ctx}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn base_config_is_accepted() {
    let state = TempDir::new("state");
    let path = write_config(&BASE.replace("@STATE@", &state.path.to_string_lossy()));
    let out = run_mode("check", &path);
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
