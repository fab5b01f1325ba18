//! `portico::cluster::connect` against real servers, for each topology
//! `[cluster]` accepts: a standalone Redis, a Redis watched by a Sentinel,
//! a 3-master Redis Cluster, and `rediss://` (TLS) failing cleanly and
//! within its timeouts when no TLS server answers.

mod common;

use std::time::{Duration, Instant};

use common::{Redis, RedisCluster, Sentinel};
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
        let started = Instant::now();
        let err = connect(&cfg).err().expect("no TLS server: connect fails");
        assert!(matches!(err, ClusterError::Redis { .. }), "{err:?}");
        assert!(err.to_string().contains(&addr), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{addr} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_frozen_redis_costs_a_timeout_not_a_hang() {
    let r = Redis::start();
    r.pause();
    let cfg = cluster(&format!(
        "{}\nconnect_timeout_ms = 300\ncommand_timeout_ms = 300",
        urls(&[r.url()])
    ));
    let started = Instant::now();
    let err = connect(&cfg).err().expect("a stopped Redis cannot answer");
    r.resume();
    assert!(matches!(err, ClusterError::Redis { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
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
    let started = Instant::now();
    let err = connect(&cfg).err().expect("nothing listens");
    assert!(matches!(err, ClusterError::Redis { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
