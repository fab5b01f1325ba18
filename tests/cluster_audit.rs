//! A fleet's audit log (`[cluster]`): every node adds the management calls
//! it records to one Redis stream, so `portico audit` run with any node's
//! config lists every node's calls with their node ids, filtered as the
//! file is; secrets are redacted there as in the file; the stream is
//! capped by length and age; with Redis frozen a refused call is in the
//! node's file at once and reaches the stream once Redis answers again,
//! with no further call. One real `redis-server`, real portico nodes.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "fleet-audit-token-0123456789";
const STREAM: &str = "{portico}:audit";
const SECRET: &str = "supersecretkeyvalue0123456789abcdef";
const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// A fleet node's config; `extra` may set its own `command_timeout_ms`,
/// else 2 s, so a management call under a loaded machine's full test run
/// is not taken for a Redis outage (the default is 500 ms).
fn node_config(redis: &Redis, node: &str, extra: &str) -> Config {
    let timeout = match extra.contains("command_timeout_ms") {
        true => "",
        false => "command_timeout_ms = 2000\n",
    };
    Config::new("")
        .admin("token", &toml_str(TOKEN))
        .append(&format!(
            "[cluster]\nredis = [\"{}\"]\nnode_id = \"{node}\"\n{timeout}{extra}",
            redis.url()
        ))
}

/// `portico audit ARGS --config PATH`.
fn run_audit(config: &Path, args: &[&str]) -> CmdOutput {
    let mut all: Vec<&OsStr> = vec![OsStr::new("audit")];
    all.extend(args.iter().map(OsStr::new));
    all.extend([OsStr::new("--config"), config.as_os_str()]);
    run_bin(&all, &[], CMD_TIMEOUT)
}

/// `portico audit ARGS --config PATH`: its events, one per line.
fn audit(config: &Path, args: &[&str]) -> Vec<Value> {
    let out = run_audit(config, args);
    assert!(
        out.status.success(),
        "portico audit {args:?}: {:?}\n{}",
        out.status,
        out.stderr
    );
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Waits until the stream holds `n` entries (the nodes add them on a
/// thread of their own, after the call answered).
fn stream_holds(redis: &Redis, n: usize) {
    poll_until(
        POLL_FOR,
        || {
            redis
                .cli(&["XLEN", STREAM])
                .trim()
                .parse::<usize>()
                .unwrap_or(0)
        },
        |&len| len >= n,
        |len| format!("the audit stream holds {len} entries, not {n}"),
    );
}

fn node_of(e: &Value) -> &str {
    e["additionalEventData"]["nodeId"].as_str().unwrap_or("")
}

fn config_file(cfg: &Config) -> PathBuf {
    write_config(&cfg.render())
}

#[test]
fn every_nodes_calls_are_listed_on_either_node_with_their_ids_filtered_and_redacted() {
    let redis = Redis::start();
    let a_cfg = node_config(&redis, "edge-a", "");
    let b_cfg = node_config(&redis, "edge-b", "");
    let mut a = fleet_node(&a_cfg);
    let mut b = fleet_node(&b_cfg);

    a.admin_call(
        TOKEN,
        "POST",
        "/restapis",
        Some(&json!({"name": "from-a"})),
        201,
    );
    b.admin_call(
        TOKEN,
        "POST",
        "/apikeys",
        Some(&json!({"name": "from-b", "value": SECRET, "enabled": true})),
        201,
    );
    b.admin_call(TOKEN, "GET", "/restapis", None, 200);
    stream_holds(&redis, 3);

    let (a_path, b_path) = (config_file(&a_cfg), config_file(&b_cfg));
    for path in [&a_path, &b_path] {
        let all = audit(path, &[]);
        let calls: Vec<(&str, &str)> = all
            .iter()
            .map(|e| (e["eventName"].as_str().unwrap_or(""), node_of(e)))
            .collect();
        assert_eq!(
            calls,
            [
                ("CreateRestApi", "edge-a"),
                ("CreateApiKey", "edge-b"),
                ("GetRestApis", "edge-b"),
            ],
            "{all:?}"
        );
        assert_eq!(all[0]["requestParameters"]["name"], "from-a");

        let keys = audit(path, &["--event", "CreateApiKey"]);
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert_eq!(node_of(&keys[0]), "edge-b");
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        assert_eq!(audit(path, &["--since", &today]).len(), 3);
        assert!(audit(path, &["--since", "2999-01-01T00:00:00Z"]).is_empty());
    }

    // --local: the node's own file, which names the node too.
    let local = audit(&a_path, &["--local"]);
    assert_eq!(local.len(), 1, "{local:?}");
    assert_eq!(
        (local[0]["eventName"].as_str(), node_of(&local[0])),
        (Some("CreateRestApi"), "edge-a")
    );
    assert_eq!(audit(&b_path, &["--local"]).len(), 2);

    // The key's value is in neither the stream nor the file nor the output.
    let raw = redis.cli(&["XRANGE", STREAM, "-", "+"]);
    assert!(
        raw.contains("CreateApiKey") && raw.contains("edge-b"),
        "{raw}"
    );
    assert!(!raw.contains(SECRET), "the stream holds the key's value");
    assert!(raw.contains("HIDDEN_DUE_TO_SECURITY_REASONS"), "{raw}");
    let file = std::fs::read_to_string(b_cfg.state_dir().join("audit.jsonl")).unwrap();
    assert!(!file.contains(SECRET), "the file holds the key's value");
    let listed = serde_json::to_string(&audit(&a_path, &[])).unwrap();
    assert!(
        !listed.contains(SECRET),
        "portico audit shows the key's value"
    );
}

#[test]
fn the_stream_is_capped_by_length_and_by_age() {
    // One entry per stream node, so the approximate (`~`) trimming that
    // removes whole nodes removes exactly what the caps say.
    let redis = Redis::start_with(&["--stream-node-max-entries", "1"]);
    let ancient = r#"{"eventTime":"1970-01-01T00:00:01Z","eventName":"Ancient"}"#;
    redis.cli(&["XADD", STREAM, "1000-0", "node", "old", "event", ancient]);
    let cfg = node_config(&redis, "edge-cap", "audit_max_entries = 5\n");
    let mut node = fleet_node(&cfg);
    let path = config_file(&cfg);

    // Older than 90 days: gone with the next call, though under the length cap.
    node.admin_call(TOKEN, "GET", "/restapis", None, 200);
    poll_until(
        POLL_FOR,
        || redis.cli(&["XRANGE", STREAM, "-", "+"]),
        |raw| raw.contains("GetRestApis"),
        |raw| format!("the call never reached the stream: {raw}"),
    );
    let listed = audit(&path, &[]);
    let names: Vec<&str> = listed
        .iter()
        .map(|e| e["eventName"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["GetRestApis"], "{listed:?}");

    for i in 0..8 {
        node.admin_call(
            TOKEN,
            "POST",
            "/restapis",
            Some(&json!({"name": format!("cap-{i}")})),
            201,
        );
    }
    poll_until(
        POLL_FOR,
        || audit(&path, &[]),
        |l| {
            l.last()
                .is_some_and(|e| e["requestParameters"]["name"] == "cap-7")
        },
        |l| format!("the last call never reached the stream: {l:?}"),
    );
    assert_eq!(redis.cli(&["XLEN", STREAM]).trim(), "5");
    let kept: Vec<Value> = audit(&path, &[])
        .iter()
        .map(|e| e["requestParameters"]["name"].clone())
        .collect();
    assert_eq!(kept, ["cap-3", "cap-4", "cap-5", "cap-6", "cap-7"]);
    // The node's file keeps every call.
    assert_eq!(audit(&path, &["--local"]).len(), 9);
}

#[test]
fn with_redis_frozen_the_refusal_is_in_the_file_and_reaches_the_stream_later() {
    let redis = Redis::start();
    let cfg = node_config(&redis, "edge-down", "command_timeout_ms = 500\n");
    let mut node = fleet_node(&cfg);
    let path = config_file(&cfg);
    node.admin_call(TOKEN, "GET", "/restapis", None, 200);
    stream_holds(&redis, 1);

    redis.pause();
    let refused = json!({"name": "refused"});
    let r = node.admin_call(TOKEN, "POST", "/restapis", Some(&refused), 503);
    assert_eq!(r["__type"], "ServiceUnavailableException", "{r}");
    // Recorded in the node's file before the answer.
    let local = audit(&path, &["--local", "--event", "CreateRestApi"]);
    assert_eq!(local.len(), 1, "{local:?}");
    assert_eq!(local[0]["errorCode"], "ServiceUnavailableException");
    // The fleet's log cannot be read meanwhile, and says where to look.
    let out = run_audit(&path, &[]);
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(out.stderr.contains("--local"), "{}", out.stderr);

    // Once Redis answers, the refusal reaches the stream with no other call.
    redis.resume();
    stream_holds(&redis, 2);
    let fleet = audit(&path, &["--event", "CreateRestApi"]);
    assert_eq!(fleet.len(), 1, "{fleet:?}");
    assert_eq!(fleet[0]["errorCode"], "ServiceUnavailableException");
    assert_eq!(node_of(&fleet[0]), "edge-down");
}
