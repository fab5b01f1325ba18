//! What this node's heartbeat last learned about the fleet's Redis (and
//! what its limits and usage recorder say of it), read by the admin
//! listener for `/readyz` and `/metrics`. Atomics only: a scrape never
//! waits on the heartbeat or the recorder, which may themselves be waiting
//! on a Redis that stopped answering.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::recorder::Backlog;
use super::Revision;
use crate::throttle::FleetState;

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
    /// What the limits run on (`None` before the workers serve, as in a
    /// unit test).
    limits: Option<Arc<FleetState>>,
    /// What usage waits for Redis, and what was dropped (`None` likewise).
    usage: Option<Arc<Backlog>>,
}

impl Health {
    pub fn new(
        revision: Arc<Revision>,
        limits: Option<Arc<FleetState>>,
        usage: Option<Arc<Backlog>>,
    ) -> Health {
        Health {
            state: AtomicU8::new(0),
            latency_us: AtomicU64::new(0),
            nodes: AtomicU64::new(0),
            revision,
            limits,
            usage,
        }
    }

    /// `fleet`, `local_share` or `fail_closed`: what this node's limits
    /// run on now (see [`FleetState::mode`]).
    pub fn limits(&self) -> Option<&'static str> {
        self.limits.as_ref().map(|l| l.mode())
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

    /// The `portico_cluster_*` gauges and counters, in Prometheus text.
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
        ]
        .into_iter()
        .chain(self.limits.as_ref().into_iter().flat_map(|l| {
            [
                (
                    "portico_cluster_limits_fallback",
                    "Whether this node's rate limits run on their on_redis_down fallback (1) or are leased from Redis (0), as of its last lease exchange.",
                    u8::from(l.on_fallback()).to_string(),
                ),
                (
                    "portico_cluster_limits_buckets",
                    "Rate-limit buckets this node leases from the fleet's Redis (every level but the account's).",
                    l.buckets().to_string(),
                ),
            ]
        }))
        .chain(self.usage.as_ref().map(|u| {
            (
                "portico_cluster_usage_pending_keys",
                "Usage entries (plan, key, day) this node holds in memory until the fleet's Redis takes them.",
                u.pending_keys().to_string(),
            )
        })) {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        if let Some(u) = &self.usage {
            let (calls, bytes) = u.dropped();
            for (name, help, value) in [
                (
                    "portico_cluster_usage_dropped_calls_total",
                    "Calls whose usage this node dropped, never to reach Redis, as it already held its bound of entries while Redis was unreachable.",
                    calls,
                ),
                (
                    "portico_cluster_usage_dropped_bytes_total",
                    "Response bytes of those calls.",
                    bytes,
                ),
            ] {
                let _ = writeln!(
                    o,
                    "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_follow_the_state() {
        let h = Health::new(Arc::new(Revision::default()), None, None);
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
        assert_eq!(h.limits(), None);
        assert!(!o.contains("portico_cluster_limits"), "{o}");
        assert!(!o.contains("portico_cluster_usage"), "{o}");
    }

    #[test]
    fn usage_drops_are_counters_and_what_waits_a_gauge() {
        let usage = Arc::new(Backlog::default());
        let h = Health::new(Arc::new(Revision::default()), None, Some(usage));
        let mut o = String::new();
        h.render(&mut o);
        for line in [
            "# TYPE portico_cluster_usage_pending_keys gauge\nportico_cluster_usage_pending_keys 0\n",
            "# TYPE portico_cluster_usage_dropped_calls_total counter\nportico_cluster_usage_dropped_calls_total 0\n",
            "# TYPE portico_cluster_usage_dropped_bytes_total counter\nportico_cluster_usage_dropped_bytes_total 0\n",
        ] {
            assert!(o.contains(line), "{line} in {o}");
        }
    }

    #[test]
    fn limits_gauges_follow_the_last_lease_exchange() {
        use crate::throttle::{Answer, Fallback, Fleet};
        let state = Arc::new(FleetState::new(Fallback::FailClosed));
        let (asks, _asks_rx) = crossbeam_channel::unbounded();
        let (answers, answers_rx) = crossbeam_channel::unbounded();
        let mut fleet = Fleet::new(asks, answers_rx, state.clone());
        let h = Health::new(Arc::new(Revision::default()), Some(state), None);
        let gauges = |h: &Health| {
            let mut o = String::new();
            h.render(&mut o);
            o
        };
        assert_eq!(h.limits(), Some("fleet"));
        assert!(gauges(&h).contains("portico_cluster_limits_fallback 0\n"));
        let answer = |grants| Answer {
            generation: 0,
            grants,
        };
        answers.send(answer(None)).unwrap();
        fleet.hear(0, &mut []);
        assert_eq!(h.limits(), Some("fail_closed"));
        assert!(gauges(&h).contains("portico_cluster_limits_fallback 1\n"));
        answers.send(answer(Some(Vec::new()))).unwrap();
        fleet.hear(0, &mut []);
        assert_eq!(h.limits(), Some("fleet"));
        assert!(gauges(&h).contains("portico_cluster_limits_buckets 0\n"));
    }
}
