//! The state directory at rest (issue 13, item 9), on the real binary:
//!
//! - the directory and everything portico creates in it (usage and
//!   management databases with their `-wal`/`-shm`, the state key, the
//!   audit log, access logs) are owner-only (0700 / 0600) whatever the
//!   umask, and a readable one is tightened at start, with a warning;
//! - no file under it holds an API key value, from the management API or
//!   generated for the config file, while the values still admit calls and
//!   are shown by `includeValue` after a restart;
//! - the key can come from `PORTICO_STATE_KEY`, and another key is refused;
//! - a state directory written before values were sealed is sealed at start
//!   and scrubbed of the plain values.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "state-files-token-0123456789";
const MANAGED: &str = "ManagedKeyValue-0123456789-abcdefghij";
const GENERATED_ID: &str = "gen-id";

/// API `k` (stage prod, `GET /keyed` needs a key), plan gold over it, and
/// key `gen-id` in gold with a value portico generates.
fn config() -> Config {
    Config::new(&api_toml(
        "k",
        &[],
        &["prod"],
        &[mock_route("GET", "/keyed", true, "keyed")],
    ))
    .admin("token", &toml_str(TOKEN))
    .append(&plan_toml("gold", "", "k", "prod", ""))
    .append(&key_toml(
        "generated",
        &format!("id = \"{GENERATED_ID}\""),
        &["gold"],
    ))
}

/// A management call with the token; panics unless it answers `status`.
fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// Imports an API whose `GET /v` needs a key, deploys it as `v1` with an
/// access log in the state directory, and creates key `value` in a plan
/// covering it. The key's id and the data-plane path of `/v`.
fn managed_key(srv: &mut Server, value: &str) -> (String, String) {
    let doc = keyed_mock_openapi("managed");
    let api = call(srv, "POST", "/restapis?mode=import", Some(doc), 201);
    let api = api["id"].as_str().unwrap().to_string();
    call(
        srv,
        "POST",
        &format!("/restapis/{api}/deployments"),
        Some(json!({"stageName": "v1"})),
        201,
    );
    call(
        srv,
        "PATCH",
        &format!("/restapis/{api}/stages/v1"),
        Some(json!({"patchOperations": [{
            "op": "replace",
            "path": "/accessLogSettings/destinationArn",
            "value": "arn:aws:logs:us-east-1:123456789012:log-group:managed"
        }]})),
        200,
    );
    let key = call(
        srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "managed", "value": value, "enabled": true})),
        201,
    );
    let key = key["id"].as_str().unwrap().to_string();
    let plan = call(
        srv,
        "POST",
        "/usageplans",
        Some(json!({"name": "silver", "apiStages": [{"apiId": api, "stage": "v1"}]})),
        201,
    );
    call(
        srv,
        "POST",
        &format!("/usageplans/{}/keys", plan["id"].as_str().unwrap()),
        Some(json!({"keyId": key, "keyType": "API_KEY"})),
        201,
    );
    (key, format!("/restapis/{api}/v1/_user_request_/v"))
}

/// GetApiKey with `includeValue=true`: the key's value.
fn shown_value(srv: &mut Server, id: &str) -> String {
    let k = call(
        srv,
        "GET",
        &format!("/apikeys/{id}?includeValue=true"),
        None,
        200,
    );
    k["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no value in {k}"))
        .to_string()
}

fn status_with_key(srv: &Server, path: &str, key: &str) -> u16 {
    srv.connect().request(get_with_key(path, key)).status
}

/// Every path under `dir` (itself included), with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    let meta = std::fs::metadata(dir).unwrap();
    let mut out = vec![(dir.to_path_buf(), true, meta.permissions().mode() & 0o777)];
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            out.extend(modes(&e.path()));
        } else {
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            out.push((e.path(), false, mode));
        }
    }
    out
}

fn assert_owner_only(dir: &Path, ctx: &str) {
    let all = modes(dir);
    let loose: Vec<_> = all
        .iter()
        .filter(|(_, is_dir, mode)| *mode != if *is_dir { 0o700 } else { 0o600 })
        .map(|(p, _, m)| format!("{} {m:o}", p.display()))
        .collect();
    assert!(loose.is_empty(), "{ctx}: not owner-only: {loose:?}");
}

fn names(dir: &Path) -> Vec<String> {
    modes(dir)
        .iter()
        .filter_map(|(p, _, _)| p.strip_prefix(dir).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// The files under `dir` (read whole, `-wal` included) that contain `value`.
fn files_holding(dir: &Path, value: &str) -> Vec<PathBuf> {
    modes(dir)
        .into_iter()
        .filter(|(_, is_dir, _)| !is_dir)
        .map(|(p, _, _)| p)
        // Not the running server's takeover socket, which cannot be read.
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.windows(value.len()).any(|w| w == value.as_bytes())
        })
        .collect()
}

fn assert_nowhere(dir: &Path, values: &[&str], ctx: &str) {
    for v in values {
        let found = files_holding(dir, v);
        assert!(found.is_empty(), "{ctx}: {v} in plain text in {found:?}");
    }
}

/// With umask 0 (which would leave SQLite's databases 0644 and plain
/// `create` files 0666), everything portico makes in a new state directory
/// is owner-only, while it runs (`-wal`, `-shm`) and after it stopped.
#[test]
fn a_new_state_directory_is_owner_only_whatever_the_umask() {
    // The process's umask, inherited by the server; only this file's tests run in this binary.
    unsafe { libc::umask(0) };
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let (_, path) = managed_key(&mut srv, MANAGED);
    assert_eq!(status_with_key(&srv, &path, MANAGED), 200);
    let log = cfg.state_dir().join("access-logs/managed.log");
    poll_until(
        Duration::from_secs(10),
        || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0),
        |len| *len > 0,
        |_| format!("no access log line in {}", log.display()),
    );
    assert_owner_only(cfg.state_dir(), "running");
    let present = names(cfg.state_dir());
    for want in [
        "control.db",
        "control.db-wal",
        "control.db-shm",
        "portico.db",
        "portico.db-wal",
        "state.key",
        "audit.jsonl",
        "access-logs",
        "access-logs/managed.log",
    ] {
        assert!(present.iter().any(|p| p == want), "{want} in {present:?}");
    }
    srv.stop();
    assert_owner_only(cfg.state_dir(), "stopped");
}

/// A state directory an older portico (or a copy) left readable is made
/// owner-only at start, and the log says so.
#[test]
fn a_readable_state_directory_is_tightened_at_start() {
    let cfg = config();
    let dir = cfg.state_dir();
    std::fs::create_dir_all(dir.join("access-logs")).unwrap();
    std::fs::write(dir.join("access-logs/old.log"), "{}\n").unwrap();
    std::fs::write(dir.join("audit.jsonl"), "").unwrap();
    for (p, mode) in [
        (dir.to_path_buf(), 0o755),
        (dir.join("access-logs"), 0o755),
        (dir.join("access-logs/old.log"), 0o644),
        (dir.join("audit.jsonl"), 0o666),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut srv = Server::start(&cfg);
    let warned = srv
        .startup
        .iter()
        .any(|l| l.contains("level=warn") && l.contains("was readable by others"));
    assert!(warned, "no warning in {:#?}", srv.startup);
    assert_owner_only(dir, "after start");
    srv.stop();
}

/// Values of keys made through the management API and generated for the
/// config file admit calls and are shown by `includeValue`, before and
/// after a restart, and no file of the state directory holds one.
#[test]
fn api_key_values_are_never_stored_in_plain_text() {
    let cfg = config();
    let mut srv = Server::start(&cfg);
    let (managed_id, path) = managed_key(&mut srv, MANAGED);
    let generated = shown_value(&mut srv, GENERATED_ID);
    assert_eq!(generated.len(), 40, "{generated}");
    assert_eq!(shown_value(&mut srv, &managed_id), MANAGED);
    assert_eq!(status_with_key(&srv, &path, MANAGED), 200);
    assert_eq!(status_with_key(&srv, &path, "not-the-key-0123456789"), 403);
    assert_eq!(status_with_key(&srv, "/prod/keyed", &generated), 200);
    // A value is unique (found by its keyed hash), and a key survives an update.
    call(
        &mut srv,
        "POST",
        "/apikeys",
        Some(json!({"name": "again", "value": MANAGED})),
        409,
    );
    call(
        &mut srv,
        "PATCH",
        &format!("/apikeys/{managed_id}"),
        Some(json!({"patchOperations": [{"op": "replace", "path": "/name", "value": "renamed"}]})),
        200,
    );
    assert_nowhere(cfg.state_dir(), &[MANAGED, &generated], "running");
    srv.stop();
    assert_nowhere(cfg.state_dir(), &[MANAGED, &generated], "stopped");

    let mut srv = Server::start(&cfg);
    assert_eq!(status_with_key(&srv, &path, MANAGED), 200);
    assert_eq!(status_with_key(&srv, "/prod/keyed", &generated), 200);
    assert_eq!(shown_value(&mut srv, &managed_id), MANAGED);
    assert_eq!(shown_value(&mut srv, GENERATED_ID), generated);
    let all = call(&mut srv, "GET", "/apikeys?includeValues=true", None, 200);
    let values: Vec<&str> = all["item"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["value"].as_str())
        .collect();
    assert!(
        values.contains(&MANAGED) && values.contains(&generated.as_str()),
        "{all}"
    );
    // `portico keys` opens the generated value with the key file.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(srv.config_path())
        .arg("keys")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&generated),
        "{out:?}"
    );
    srv.stop();
    assert_nowhere(cfg.state_dir(), &[MANAGED, &generated], "after the restart");
}

/// `PORTICO_STATE_KEY` replaces the key file (none is written); a start
/// with another key is refused rather than serving keys it cannot open.
#[test]
fn the_key_can_come_from_the_environment_and_another_key_is_refused() {
    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes, base64
    let cfg = config();
    let env = [("PORTICO_STATE_KEY", KEY)];
    let mut srv = Server::start_with_env(&cfg, &env);
    let (managed_id, path) = managed_key(&mut srv, MANAGED);
    srv.stop();
    assert!(!cfg.state_dir().join("state.key").exists());
    assert_nowhere(cfg.state_dir(), &[MANAGED], "stopped");
    let mut srv = Server::start_with_env(&cfg, &env);
    assert_eq!(status_with_key(&srv, &path, MANAGED), 200);
    assert_eq!(shown_value(&mut srv, &managed_id), MANAGED);
    srv.stop();

    let config_file = write_config(&cfg.render());
    let run = |env: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&config_file)
            .env_remove("PORTICO_STATE_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        exit_of(c.spawn().unwrap())
    };
    // Without the variable a new key file is made, and it is not the key.
    let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (ctx, out) in [
        ("no key", run(&[])),
        ("another key", run(&[("PORTICO_STATE_KEY", other)])),
    ] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{ctx}: started: {err}");
        assert!(err.contains("another state key"), "{ctx}: {err}");
    }
    let out = run(&[("PORTICO_STATE_KEY", "too-short")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("PORTICO_STATE_KEY"),
        "{err}"
    );
}

/// The output of a portico expected to exit at start (killed, and the test
/// failed, if it serves instead).
fn exit_of(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("portico {pid} kept running");
        }
    }
}

/// Databases written before values were sealed: their plain values are
/// sealed at the first start, and neither they nor a deleted key's value
/// are left in any file (WAL and free pages included).
#[test]
fn plain_values_of_an_older_state_directory_are_sealed_at_start() {
    const LEGACY: &str = "LegacyManagedValue-0123456789-abcdefg";
    const DELETED: &str = "DeletedManagedValue-0123456789-abcdef";
    const LEGACY_GENERATED: &str = "LegacyGeneratedValue0123456789abcdefghij";
    let cfg = config();
    let dir = cfg.state_dir();
    std::fs::create_dir_all(dir).unwrap();
    let key_body = |id: &str, value: &str| {
        json!({"id": id, "value": value, "name": id, "enabled": true,
               "createdDate": 1, "lastUpdatedDate": 1, "stageKeys": []})
        .to_string()
    };
    {
        // The schemas as portico wrote them before sealing.
        let c = rusqlite::Connection::open(dir.join("control.db")).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE api_keys (id TEXT PRIMARY KEY, body TEXT NOT NULL);",
        )
        .unwrap();
        for (id, v) in [("legacyid01", LEGACY), ("deletedid1", DELETED)] {
            c.execute(
                "INSERT INTO api_keys (id, body) VALUES (?1, ?2)",
                [id, &key_body(id, v)],
            )
            .unwrap();
        }
        c.execute("DELETE FROM api_keys WHERE id = 'deletedid1'", [])
            .unwrap();
        let u = rusqlite::Connection::open(dir.join("portico.db")).unwrap();
        u.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE generated_keys (key_id TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .unwrap();
        u.execute(
            "INSERT INTO generated_keys (key_id, value) VALUES (?1, ?2)",
            [GENERATED_ID, LEGACY_GENERATED],
        )
        .unwrap();
    }
    for v in [LEGACY, DELETED, LEGACY_GENERATED] {
        assert!(!files_holding(dir, v).is_empty(), "{v} is there to seal");
    }
    let mut srv = Server::start(&cfg);
    assert_eq!(shown_value(&mut srv, "legacyid01"), LEGACY);
    assert_eq!(shown_value(&mut srv, GENERATED_ID), LEGACY_GENERATED);
    assert_eq!(status_with_key(&srv, "/prod/keyed", LEGACY_GENERATED), 200);
    assert_nowhere(dir, &[LEGACY, DELETED, LEGACY_GENERATED], "running");
    srv.stop();
    assert_nowhere(dir, &[LEGACY, DELETED, LEGACY_GENERATED], "stopped");
}
