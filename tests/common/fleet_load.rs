//! Load on a test fleet (issue 18's cluster-wide limits): a node's config
//! on one Redis or a Redis Cluster, floods of keep-alive loops started
//! together over several nodes, and waiting for a node's log line.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use super::{load_loop, toml_str, Config, LoadCount, Server};

/// A fleet node's config: `api` (the `[[api]]`, plan and key text) with
/// the account level out of the way (so only fleet buckets limit), node
/// `name` on the Redis at `redis` (one URL, or a Redis Cluster's members),
/// falling back to `on_down` ("local_share" or "fail_closed") with 500 ms
/// timeouts.
pub fn limited_fleet_config(redis: &[String], name: &str, on_down: &str, api: &str) -> Config {
    limited_fleet_config_waiting(redis, name, on_down, api, 500)
}

/// [`limited_fleet_config`] whose Redis commands may take `command_timeout_ms`
/// before the node falls back: a flood that starves a 2-core machine's
/// control threads past 500 ms measures the fallback, not the leasing.
pub fn limited_fleet_config_waiting(
    redis: &[String],
    name: &str,
    on_down: &str,
    api: &str,
    command_timeout_ms: u64,
) -> Config {
    let urls: Vec<String> = redis.iter().map(|u| toml_str(u)).collect();
    // Several URLs are a Redis Cluster's members.
    let topology = if redis.len() > 1 {
        "cluster"
    } else {
        "standalone"
    };
    let cluster = format!(
        "[cluster]\nredis = [{}]\ntopology = \"{topology}\"\nnode_id = \"{name}\"\n\
         on_redis_down = \"{on_down}\"\n\
         connect_timeout_ms = 500\ncommand_timeout_ms = {command_timeout_ms}\n",
        urls.join(", ")
    );
    Config::new(api)
        .throttle("rate", "1000000.0")
        .throttle("burst", "1000000")
        .append(&cluster)
}

/// Tight keep-alive loops of `raw`, `conns[i]` of them on node `ports[i]`,
/// all started together and run for `dur`: the counts per node and the
/// time from the common start to the last loop's end.
pub fn flood(
    ports: &[u16],
    conns: &[usize],
    raw: &[u8],
    dur: Duration,
) -> (Vec<LoadCount>, Duration) {
    let total: usize = conns.iter().sum();
    let barrier = Arc::new(Barrier::new(total + 1));
    let start = Arc::new(Mutex::new(None::<Instant>));
    let mut handles = Vec::new();
    for (node, (&port, &n)) in ports.iter().zip(conns).enumerate() {
        for _ in 0..n {
            let barrier = barrier.clone();
            let start = start.clone();
            let raw = raw.to_vec();
            handles.push((
                node,
                std::thread::spawn(move || {
                    barrier.wait();
                    let t0 = start.lock().unwrap().expect("start set before release");
                    load_loop(port, &raw, || t0.elapsed() >= dur)
                }),
            ));
        }
    }
    *start.lock().unwrap() = Some(Instant::now());
    barrier.wait();
    let t0 = start.lock().unwrap().unwrap();
    let mut per_node: Vec<LoadCount> = ports.iter().map(|_| LoadCount::default()).collect();
    for (node, h) in handles {
        per_node[node].add(h.join().expect("load thread"));
    }
    (per_node, t0.elapsed())
}

/// All nodes' counts together.
pub fn sum(counts: &[LoadCount]) -> LoadCount {
    let mut all = LoadCount::default();
    for c in counts {
        all.add(*c);
    }
    all
}

/// Waits (bounded) for a stderr line of `srv` containing `what`.
pub fn wait_for_line(srv: &mut Server, what: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(l) = srv.next_line(deadline.saturating_duration_since(Instant::now())) {
            if l.contains(what) {
                return l;
            }
            seen.push(l);
        }
    }
    panic!("no line with {what:?} within {within:?}; saw {seen:#?}");
}
