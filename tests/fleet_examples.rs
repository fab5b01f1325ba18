//! The sample 3-node fleet (examples/fleet/): every node's config passes
//! `portico check` (the real binary), the three share what a fleet must
//! share (Redis, key prefix, state key, admin credentials) and differ in
//! their node ids; the systemd unit keeps its promises (its own user, a
//! state directory, a file limit, restart on failure, and a capability to
//! bind a low port only where a node listens on one).

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// The variables the sample's `[admin]` names, as portico.env sets them.
const ENV: &[(&str, &str)] = &[
    ("PORTICO_ADMIN_TOKEN", "sample-token-0123456789abcdef"),
    ("PORTICO_ADMIN_SECRET", "sample-secret-0123456789abcdef0123"),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet")
}

/// The node configs, by name.
fn configs() -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("examples/fleet")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    list.sort();
    list
}

fn table(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).expect("read sample");
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_sample_config_passes_portico_check() {
    let list = configs();
    assert_eq!(list.len(), 3, "{list:?}");
    for path in &list {
        let args = [
            OsStr::new("check"),
            OsStr::new("--config"),
            path.as_os_str(),
        ];
        let out = run_bin(&args, ENV, Duration::from_secs(30));
        assert!(
            out.status.success() && out.stdout.trim() == "ok",
            "portico check {}: {:?}\n{}{}",
            path.display(),
            out.status,
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn the_nodes_share_what_a_fleet_shares_and_differ_in_their_ids() {
    let tables: Vec<toml::Table> = configs().iter().map(|p| table(p)).collect();
    let pick = |t: &toml::Table, section: &str, key: &str| t[section][key].to_string();
    for (section, key) in [
        ("cluster", "redis"),
        ("cluster", "key_prefix"),
        ("state", "key_file"),
        ("admin", "token_env"),
        ("admin", "access_key_id"),
        ("admin", "secret_access_key_env"),
    ] {
        let first = pick(&tables[0], section, key);
        for t in &tables[1..] {
            assert_eq!(pick(t, section, key), first, "[{section}] {key}");
        }
    }
    let mut ids: Vec<String> = tables
        .iter()
        .map(|t| pick(t, "cluster", "node_id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "node ids must differ: {ids:?}");
}

#[test]
fn the_unit_runs_as_its_own_user_and_binds_low_ports_only_if_asked_to() {
    let unit = std::fs::read_to_string(dir().join("portico.service")).expect("portico.service");
    let set = |directive: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{directive}=")))
            .map(str::to_string)
            .collect()
    };
    for directive in ["User", "StateDirectory", "LimitNOFILE", "ExecStart"] {
        assert!(
            set(directive).iter().any(|v| !v.is_empty()),
            "{directive}= missing"
        );
    }
    assert_eq!(set("Restart"), ["on-failure"]);
    assert!(set("ExecStartPre")
        .iter()
        .any(|v| v.contains("portico check")));
    let low_port = configs().iter().any(|p| {
        let t = table(p);
        ["server", "admin"].iter().any(|s| {
            t[*s]["listen"]
                .as_str()
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, port)| port.parse::<u16>().ok())
                .is_some_and(|port| port < 1024)
        })
    });
    let binds = set("AmbientCapabilities")
        .iter()
        .any(|v| v.contains("CAP_NET_BIND_SERVICE"));
    assert_eq!(
        binds, low_port,
        "AmbientCapabilities=CAP_NET_BIND_SERVICE exactly when a node listens below 1024"
    );
}
