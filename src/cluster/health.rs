//! What this node's heartbeat last learned about the fleet's Redis, read
//! by the admin listener for `/readyz` and `/metrics`. Atomics only: a
//! scrape never waits on the heartbeat, which may itself be waiting on a
//! Redis that stopped answering.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::Revision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisState {
    /// No heartbeat has finished yet.
    Connecting,
    Up,
    Down,
}

impl RedisState {
    pub fn as_str(self) -> &'static str {
        match self {
            RedisState::Connecting => "connecting",
            RedisState::Up => "up",
            RedisState::Down => "down",
        }
    }
}

#[derive(Debug)]
pub struct Health {
    state: AtomicU8,
    latency_us: AtomicU64,
    nodes: AtomicU64,
    revision: Arc<Revision>,
}

impl Health {
    pub fn new(revision: Arc<Revision>) -> Health {
        Health {
            state: AtomicU8::new(0),
            latency_us: AtomicU64::new(0),
            nodes: AtomicU64::new(0),
            revision,
        }
    }

    pub fn redis(&self) -> RedisState {
        match self.state.load(Ordering::Relaxed) {
            0 => RedisState::Connecting,
            1 => RedisState::Up,
            _ => RedisState::Down,
        }
    }

    /// A heartbeat went through in `latency`; `nodes` members are live.
    pub fn up(&self, latency: Duration, nodes: u64) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.store(us, Ordering::Relaxed);
        self.nodes.store(nodes, Ordering::Relaxed);
        self.state.store(1, Ordering::Relaxed);
    }

    /// A heartbeat failed. The live count and latency keep their last
    /// values: what was last known, not a guess.
    pub fn down(&self) {
        self.state.store(2, Ordering::Relaxed);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    pub fn nodes(&self) -> u64 {
        self.nodes.load(Ordering::Relaxed)
    }

    pub fn revision(&self) -> &Arc<Revision> {
        &self.revision
    }

    /// The `portico_cluster_*` gauges, in Prometheus text.
    pub fn render(&self, o: &mut String) {
        let up = u8::from(self.redis() == RedisState::Up);
        for (name, help, value) in [
            (
                "portico_cluster_redis_up",
                "Whether this node's last heartbeat reached the fleet's Redis (1) or not (0).",
                up.to_string(),
            ),
            (
                "portico_cluster_redis_latency_seconds",
                "Round trip of this node's last successful heartbeat to Redis.",
                format!("{:.6}", self.latency().as_secs_f64()),
            ),
            (
                "portico_cluster_nodes",
                "Live nodes in the fleet, as of this node's last successful heartbeat.",
                self.nodes().to_string(),
            ),
            (
                "portico_cluster_revision",
                "Revision of the management API's state this node serves.",
                self.revision.get().to_string(),
            ),
        ] {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_follow_the_state() {
        let h = Health::new(Arc::new(Revision::default()));
        assert_eq!(h.redis(), RedisState::Connecting);
        h.up(Duration::from_micros(1500), 3);
        h.revision().set(7);
        let mut o = String::new();
        h.render(&mut o);
        for line in [
            "portico_cluster_redis_up 1\n",
            "portico_cluster_redis_latency_seconds 0.001500\n",
            "portico_cluster_nodes 3\n",
            "portico_cluster_revision 7\n",
        ] {
            assert!(o.contains(line), "{line} in {o}");
        }
        h.down();
        let mut o = String::new();
        h.render(&mut o);
        assert!(o.contains("portico_cluster_redis_up 0\n"), "{o}");
        assert_eq!(h.redis().as_str(), "down");
    }
}
