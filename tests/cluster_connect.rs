//! `portico::cluster::connect` against real servers, for each topology
//! `[cluster]` accepts: a standalone Redis, a Redis watched by a Sentinel,
//! a 3-master Redis Cluster, and `rediss://` (TLS) failing cleanly and
//! within its timeouts when no TLS server answers.

mod common;

use std::time::{Duration, Instant};

use common::{make_cert, write_config, Redis, RedisCluster, Sentinel, TempDir, BIN};
use portico::cluster::{connect, ClusterError, Connection};
use portico::config::ClusterConfig;

/// The `[cluster]` section of a config made of `body`, as the server
/// would read it (parsed and validated).
fn cluster(body: &str) -> ClusterConfig {
    let text = format!("[cluster]\n{body}\n");
    portico::config::parse("portico.toml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .cluster
        .expect("[cluster] parsed")
}

fn urls(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|u| format!("\"{u}\"")).collect();
    format!("redis = [{}]", quoted.join(", "))
}

fn set_get(conn: &mut Connection, key: &str) {
    let () = redis::cmd("SET")
        .arg(key)
        .arg("v")
        .query(&mut **conn)
        .unwrap_or_else(|e| panic!("SET {key}: {e}"));
    let v: String = redis::cmd("GET").arg(key).query(&mut **conn).unwrap();
    assert_eq!(v, "v");
}

/// The Redis error `connect` fails with, which it must within `limit`.
fn fails_within(cfg: &ClusterConfig, limit: Duration) -> ClusterError {
    let started = Instant::now();
    let err = connect(cfg).err().expect("connect fails");
    assert!(matches!(err, ClusterError::Redis { .. }), "{err:?}");
    assert!(
        started.elapsed() < limit,
        "failed after {:?}",
        started.elapsed()
    );
    err
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn standalone_serves_commands() {
    let r = Redis::start();
    let mut conn = connect(&cluster(&urls(&[r.url()]))).expect("connect");
    set_get(&mut conn, "{portico}:probe");
}

#[test]
fn rediss_is_accepted_and_fails_cleanly_without_a_tls_server() {
    // A plain server: the TLS handshake gets a RESP answer, not a hello.
    let r = Redis::start();
    for addr in [
        format!("rediss://127.0.0.1:{}", r.port),
        format!("rediss://127.0.0.1:{}", closed_port()),
    ] {
        let cfg = cluster(&format!(
            "redis = [\"{addr}\"]\nconnect_timeout_ms = 300\ncommand_timeout_ms = 300"
        ));
        let err = fails_within(&cfg, Duration::from_secs(3));
        assert!(err.to_string().contains(&addr), "{err}");
    }
}

/// A full TLS round trip needs the server's certificate trusted: here
/// through `SSL_CERT_FILE` (read with the system's roots), in a child
/// process, `portico cluster status`, so this process's environment stays
/// as it is.
#[test]
fn rediss_speaks_tls_to_a_redis_whose_certificate_is_trusted() {
    let dir = TempDir::new("redis-tls");
    let (crt, key) = make_cert(&dir.path, "redis", &["127.0.0.1"], false);
    let tls_port = closed_port().to_string();
    let _r = Redis::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &crt.to_string_lossy(),
        "--tls-key-file",
        &key.to_string_lossy(),
        "--tls-auth-clients",
        "no",
    ]);
    let body = format!("redis = [\"rediss://127.0.0.1:{tls_port}\"]");
    let config = write_config(&format!("[cluster]\n{body}\n"));
    let out = std::process::Command::new(BIN)
        .args(["cluster", "status", "--config"])
        .arg(&config)
        .env("SSL_CERT_FILE", &crt)
        .output()
        .expect("run portico");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("0 live nodes"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not trusted: refused.
    let err = fails_within(&cluster(&body), Duration::from_secs(3));
    assert!(err.to_string().contains("rediss://"), "{err}");
}

#[test]
fn a_frozen_redis_costs_a_timeout_not_a_hang() {
    let r = Redis::start();
    r.pause();
    let cfg = cluster(&format!(
        "{}\nconnect_timeout_ms = 300\ncommand_timeout_ms = 300",
        urls(&[r.url()])
    ));
    let err = fails_within(&cfg, Duration::from_secs(3));
    r.resume();
    assert!(err.timed_out(), "{err:?}");
}

#[test]
fn sentinel_resolves_the_named_master_past_a_dead_sentinel() {
    let master = Redis::start();
    let sentinel = Sentinel::start("fleet", &master);
    let dead = format!("redis://127.0.0.1:{}", closed_port());
    let cfg = cluster(&format!(
        "{}\ntopology = \"sentinel\"\nsentinel_master = \"fleet\"",
        urls(&[dead.clone(), sentinel.url()])
    ));
    let mut conn = connect(&cfg).expect("connect through the sentinel");
    set_get(&mut conn, "{portico}:via-sentinel");
    assert!(
        master.cli(&["GET", "{portico}:via-sentinel"]).contains('v'),
        "the write reached the master"
    );

    let wrong = cluster(&format!(
        "{}\ntopology = \"sentinel\"\nsentinel_master = \"other\"",
        urls(&[dead, sentinel.url()])
    ));
    match connect(&wrong) {
        Err(ClusterError::NoMaster { name, tried }) => {
            assert_eq!(name, "other");
            assert!(tried.contains("knows no master named `other`"), "{tried}");
        }
        other => panic!("expected NoMaster, got {:?}", other.err()),
    }
}

#[test]
fn redis_cluster_follows_slots_across_three_masters() {
    let c = RedisCluster::start();
    // One member is enough to find the others.
    let cfg = cluster(&format!("{}\ntopology = \"cluster\"", urls(&c.urls()[..1])));
    let mut conn = connect(&cfg).expect("connect to the cluster");
    // Keys on slots owned by different masters: redirections followed.
    for key in ["{a}k", "{b}k", "{c}k", "{portico}:nodes-probe"] {
        set_get(&mut conn, key);
    }
    let owners: std::collections::BTreeSet<u16> = ["{a}k", "{b}k", "{c}k"]
        .iter()
        .flat_map(|k| {
            c.members
                .iter()
                .filter(|m| m.cli(&["EXISTS", k]).trim() == "1")
                .map(|m| m.port)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(owners.len() >= 2, "keys spread over masters: {owners:?}");
}

#[test]
fn an_unreachable_cluster_fails_within_its_timeouts() {
    let cfg = cluster(&format!(
        "redis = [\"redis://127.0.0.1:{}\"]\ntopology = \"cluster\"\nconnect_timeout_ms = 300\ncommand_timeout_ms = 300",
        closed_port()
    ));
    fails_within(&cfg, Duration::from_secs(5));
}
