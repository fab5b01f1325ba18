//! A fleet's membership, with real portico binaries and a real
//! redis-server: nodes that heartbeat into one Redis see each other in
//! `portico cluster status` and `portico_cluster_nodes`; a node killed
//! with -9 leaves the set once its expiry passes, one stopped with
//! SIGTERM at once; a frozen Redis shows as
//! `portico_cluster_redis_up 0` (and `redis: down` on /readyz) while the
//! data plane answers as fast as ever; and a node without `[cluster]`
//! never talks to Redis. The same membership works on a Redis Cluster.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

/// The demo API, in a fleet on `redis`, with short timeouts so a frozen
/// Redis is noticed quickly.
fn node_config(redis: &str) -> Config {
    Config::demo(NO_BACKEND).append(&format!(
        "[cluster]\nredis = [\"{redis}\"]\nconnect_timeout_ms = 300\ncommand_timeout_ms = 300\n"
    ))
}

/// `portico cluster status [--json] --config CONFIG`.
fn cluster_status(config: &Path, json: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["cluster", "status"]);
    if json {
        cmd.arg("--json");
    }
    cmd.arg("--config")
        .arg(config)
        .output()
        .expect("run portico")
}

/// The live nodes' ids, from `portico cluster status --json`.
fn live_ids(config: &Path) -> Vec<String> {
    let out = cluster_status(config, true);
    assert!(
        out.status.success(),
        "cluster status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut ids: Vec<String> = v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

/// The id a node gets by default: `HOSTNAME:PORT`.
fn id_of(srv: &Server) -> String {
    format!(":{}", srv.port)
}

fn gauge(srv: &mut Server, name: &str) -> f64 {
    scrape(srv).value(name, &[])
}

fn readyz(srv: &mut Server) -> (u16, serde_json::Value) {
    let r = srv.admin_request("GET", "/readyz", None);
    (r.status, r.json())
}

#[test]
fn three_nodes_see_each_other_and_a_killed_one_leaves() {
    let redis = Redis::start();
    let mut nodes: Vec<Server> = (0..3)
        .map(|_| fleet_node(&node_config(&redis.url())))
        .collect();
    let config = nodes[0].config_path().to_path_buf();
    let ids = poll_until(
        POLL_FOR,
        || live_ids(&config),
        |ids| ids.len() == 3,
        |ids| format!("3 nodes never listed: {ids:?}"),
    );
    for n in &nodes {
        assert!(
            ids.iter().any(|id| id.ends_with(&id_of(n))),
            "{} in {ids:?}",
            id_of(n)
        );
    }
    for n in &mut nodes {
        scrape_until(n, "3 live nodes, Redis up", |m| {
            m.value("portico_cluster_nodes", &[]) == 3.0
                && m.value("portico_cluster_redis_up", &[]) == 1.0
        });
        assert_eq!(
            readyz(n),
            (
                200,
                serde_json::json!({"status": "ready", "redis": "up", "limits": "fleet"})
            )
        );
    }
    let text = cluster_status(&config, false);
    let table = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.status.success() && table.contains("3 live nodes"),
        "{table}"
    );
    for id in &ids {
        assert!(table.contains(id.as_str()), "{id} in {table}");
    }

    let gone = id_of(&nodes[2]);
    nodes[2].kill9();
    let killed = Instant::now();
    let left = poll_until(
        POLL_FOR,
        || live_ids(&config),
        |ids| ids.len() == 2,
        |ids| format!("the killed node never left: {ids:?}"),
    );
    // Its last beat was at most a beat before the kill, and it stays
    // listed until three beats after that one.
    assert!(
        killed.elapsed() >= Duration::from_millis(1500),
        "left after {:?}, before its expiry",
        killed.elapsed()
    );
    assert!(!left.iter().any(|id| id.ends_with(&gone)), "{left:?}");
    scrape_until(&mut nodes[0], "2 live nodes", |m| {
        m.value("portico_cluster_nodes", &[]) == 2.0
    });

    // A node stopped with SIGTERM leaves as it exits, without waiting for
    // its expiry.
    let stopped = id_of(&nodes[1]);
    nodes[1].stop();
    let left = live_ids(&config);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!left[0].ends_with(&stopped), "{left:?}");
}

#[test]
fn a_frozen_redis_is_reported_and_the_data_plane_keeps_answering() {
    let redis = Redis::start();
    let mut srv = fleet_node(&node_config(&redis.url()));
    scrape_until(&mut srv, "Redis up", |m| {
        m.value("portico_cluster_redis_up", &[]) == 1.0
    });
    assert!(gauge(&mut srv, "portico_cluster_redis_latency_seconds") > 0.0);

    redis.pause();
    let paused = Instant::now();
    scrape_until(&mut srv, "Redis down", |m| {
        m.value("portico_cluster_redis_up", &[]) == 0.0
    });
    assert!(
        paused.elapsed() < Duration::from_secs(5),
        "noticed after {:?}",
        paused.elapsed()
    );
    let (status, body) = readyz(&mut srv);
    assert_eq!(
        (status, &body["status"], &body["redis"]),
        (200, &serde_json::json!("ready"), &serde_json::json!("down")),
        "{body}"
    );
    // The limits' own probe may not have timed out yet.
    assert!(
        body["limits"] == "local_share" || body["limits"] == "fleet",
        "{body}"
    );
    // The heartbeat waits on the frozen Redis; no worker does.
    let mut client = srv.connect();
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let sent = Instant::now();
        let r = client.get("/prod/hello");
        slowest = slowest.max(sent.elapsed());
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), HELLO_BODY);
    }
    assert!(slowest < Duration::from_millis(200), "slowest {slowest:?}");

    redis.resume();
    scrape_until(&mut srv, "Redis up again", |m| {
        m.value("portico_cluster_redis_up", &[]) == 1.0
            && m.value("portico_cluster_nodes", &[]) == 1.0
    });
    assert_eq!(readyz(&mut srv).1["redis"], "up");
}

#[test]
fn status_fails_clearly_when_redis_is_unreachable_frozen_or_not_configured() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = write_config(&node_config(&format!("redis://127.0.0.1:{port}")).render());
    let out = cluster_status(&config, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot read the fleet's Redis") && err.contains(&port.to_string()),
        "{err}"
    );

    let redis = Redis::start();
    redis.pause();
    let config = write_config(&node_config(&redis.url()).render());
    let out = cluster_status(&config, false);
    redis.resume();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("did not answer within command_timeout_ms = 300"),
        "{err}"
    );

    let config = write_config(&Config::demo(NO_BACKEND).render());
    let out = cluster_status(&config, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no [cluster] section"), "{err}");
}

#[test]
fn a_node_without_cluster_shows_no_fleet() {
    let mut srv = Server::demo();
    let m = scrape(&mut srv);
    assert!(
        m.get("portico_cluster_redis_up", &[]).is_none(),
        "{}",
        m.text
    );
    assert_eq!(
        readyz(&mut srv),
        (200, serde_json::json!({"status": "ready"}))
    );
}

/// On a 3-master Redis Cluster the heartbeat's keys share one slot (their
/// hash tag), so its script runs there as on one server.
#[test]
fn a_node_on_a_redis_cluster_joins_and_is_listed() {
    let redis = RedisCluster::start();
    let cfg = Config::demo(NO_BACKEND).append(&format!(
        "[cluster]\nredis = [\"{}\"]\ntopology = \"cluster\"\n",
        redis.urls()[0]
    ));
    let mut srv = Server::start(&cfg);
    scrape_until(&mut srv, "Redis up, 1 live node", |m| {
        m.value("portico_cluster_redis_up", &[]) == 1.0
            && m.value("portico_cluster_nodes", &[]) == 1.0
    });
    let ids = live_ids(srv.config_path());
    assert!(ids.len() == 1 && ids[0].ends_with(&id_of(&srv)), "{ids:?}");
}
