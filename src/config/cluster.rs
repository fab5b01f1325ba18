//! `[cluster]`: several portico nodes sharing one control plane, their
//! limits, quotas and usage through Redis. Absent, portico is one node on
//! SQLite and never opens a Redis connection.

use serde::Deserialize;

use super::error::Issue;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis://[user@]host:port[/db]` or `rediss://` (TLS). For
    /// `topology = "sentinel"` the sentinels' addresses, for `"cluster"`
    /// any of the cluster's nodes; several may be listed.
    pub redis: Vec<String>,
    /// `standalone`, `sentinel` or `cluster` (Redis Cluster).
    pub topology: Topology,
    /// The master's name the sentinels watch (`topology = "sentinel"`).
    pub sentinel_master: Option<String>,
    /// Environment variables holding the Redis user and password, so no
    /// secret sits in the config file. Unset variables mean none.
    pub username_env: String,
    pub password_env: String,
    /// This node's name among the others; default `HOSTNAME:PORT` of the
    /// first listener.
    pub node_id: Option<String>,
    /// Prefix of every key portico writes, so several fleets can share
    /// one Redis. Keys are hash-tagged `{prefix}`, so on Redis Cluster a
    /// multi-key script stays on one slot.
    pub key_prefix: String,
    pub connect_timeout_ms: u64,
    pub command_timeout_ms: u64,
    /// What limits do while Redis cannot be reached.
    pub on_redis_down: OnRedisDown,
    /// A management call answers only once this many replicas hold its
    /// change (Redis `WAIT`); 0: once the primary has it.
    pub min_replicas: u32,
    /// The fleet's audit log (a Redis stream) keeps about this many calls
    /// and none much older than this many days: an unbounded stream would
    /// end up filling the Redis that the fleet's limits need.
    pub audit_max_entries: u64,
    pub audit_max_age_days: u64,
    /// How long FlushStageCache and FlushStageAuthorizersCache wait for
    /// every live node to confirm the flush before answering 503 with the
    /// nodes that did not. Above a second, so nodes that read the request
    /// by polling (Sentinel, Redis Cluster) are in time.
    pub flush_timeout_ms: u64,
    /// Distinct plan/key/day entries of usage a node keeps in memory while
    /// Redis cannot be reached (besides the batch it is trying to write);
    /// past it, usage of other entries is dropped and counted, so a long
    /// outage cannot exhaust a node's memory.
    pub usage_max_pending: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis: Vec::new(),
            topology: Topology::Standalone,
            sentinel_master: None,
            username_env: "PORTICO_REDIS_USERNAME".into(),
            password_env: "PORTICO_REDIS_PASSWORD".into(),
            node_id: None,
            key_prefix: "portico".into(),
            connect_timeout_ms: 1_000,
            command_timeout_ms: 500,
            on_redis_down: OnRedisDown::LocalShare,
            min_replicas: 0,
            audit_max_entries: 1_000_000,
            audit_max_age_days: 90,
            flush_timeout_ms: 3_000,
            usage_max_pending: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    Standalone,
    Sentinel,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRedisDown {
    /// Each node keeps admitting its recent share of every limit.
    LocalShare,
    /// Limited routes answer 429 until Redis is back.
    FailClosed,
}

pub fn validate(cluster: &ClusterConfig, out: &mut Vec<Issue>) {
    if cluster.redis.is_empty() {
        out.push(Issue::new(
            "cluster.redis",
            "give the Redis address, e.g. \"redis://127.0.0.1:6379\"",
        ));
    }
    for (i, url) in cluster.redis.iter().enumerate() {
        if let Err(why) = check_url(url) {
            out.push(Issue::new(format!("cluster.redis[{i}]"), why));
        }
    }
    if cluster.topology == Topology::Sentinel && cluster.sentinel_master.is_none() {
        out.push(Issue::new(
            "cluster.sentinel_master",
            "topology = \"sentinel\" needs the master's name",
        ));
    }
    if cluster.key_prefix.is_empty() || cluster.key_prefix.contains(['{', '}']) {
        out.push(Issue::new(
            "cluster.key_prefix",
            "must be non-empty, without `{` or `}` (it becomes the keys' hash tag)",
        ));
    }
    for (key, ms) in [
        ("cluster.connect_timeout_ms", cluster.connect_timeout_ms),
        ("cluster.command_timeout_ms", cluster.command_timeout_ms),
        ("cluster.flush_timeout_ms", cluster.flush_timeout_ms),
    ] {
        if !(1..=60_000).contains(&ms) {
            out.push(Issue::new(key, "must be between 1 and 60000 milliseconds"));
        }
    }
    if !(1..=1_000_000_000).contains(&cluster.audit_max_entries) {
        out.push(Issue::new(
            "cluster.audit_max_entries",
            "must be between 1 and 1000000000",
        ));
    }
    if !(1..=36_500).contains(&cluster.audit_max_age_days) {
        out.push(Issue::new(
            "cluster.audit_max_age_days",
            "must be between 1 and 36500 days",
        ));
    }
    if cluster.usage_max_pending == 0 {
        out.push(Issue::new(
            "cluster.usage_max_pending",
            "must be at least 1",
        ));
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let info = redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|e| format!("`{url}` is not a Redis address: {e}"))?;
    if info.redis_settings().password().is_some() {
        return Err("put the password in the environment (`password_env`), not the file".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    fn problems(text: &str) -> String {
        match crate::config::parse("portico.toml", text) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_flush_timeout_is_bounded() {
        let c =
            crate::config::parse("portico.toml", "[cluster]\nredis = [\"redis://h\"]\n").unwrap();
        assert_eq!(c.cluster.unwrap().flush_timeout_ms, 3_000);
        let e = problems("[cluster]\nredis = [\"redis://h\"]\nflush_timeout_ms = 0\n");
        assert!(e.contains("cluster.flush_timeout_ms"), "{e}");
    }

    #[test]
    fn absent_means_one_node() {
        let c = crate::config::parse("portico.toml", "").unwrap();
        assert!(c.cluster.is_none());
    }

    #[test]
    fn an_address_is_required_and_checked() {
        let e = problems("[cluster]\n");
        assert!(e.contains("cluster.redis"), "{e}");
        let e = problems("[cluster]\nredis = [\"http://x\"]\n");
        assert!(
            e.contains("portico.toml:2") && e.contains("not a Redis address"),
            "{e}"
        );
        assert_eq!(
            problems("[cluster]\nredis = [\"redis://127.0.0.1:6379/2\"]\n"),
            ""
        );
    }

    #[test]
    fn a_password_in_the_file_is_refused() {
        let e = problems("[cluster]\nredis = [\"redis://u:secret@127.0.0.1:6379\"]\n");
        assert!(e.contains("password_env"), "{e}");
    }

    #[test]
    fn sentinel_needs_a_master_and_the_prefix_no_braces() {
        let e = problems(
            "[cluster]\nredis = [\"redis://127.0.0.1:26379\"]\ntopology = \"sentinel\"\nkey_prefix = \"a{b}\"\n",
        );
        assert!(e.contains("cluster.sentinel_master"), "{e}");
        assert!(e.contains("cluster.key_prefix"), "{e}");
    }

    #[test]
    fn the_audit_streams_caps_are_checked_with_their_line() {
        let base = "[cluster]\nredis = [\"redis://127.0.0.1:6379\"]\n";
        let e = problems(&format!("{base}audit_max_entries = 0\n"));
        assert!(
            e.contains("portico.toml:3") && e.contains("cluster.audit_max_entries"),
            "{e}"
        );
        let e = problems(&format!("{base}audit_max_age_days = 0\n"));
        assert!(
            e.contains("portico.toml:3") && e.contains("cluster.audit_max_age_days"),
            "{e}"
        );
        let c = crate::config::parse("portico.toml", base).unwrap();
        let c = c.cluster.unwrap();
        assert_eq!((c.audit_max_entries, c.audit_max_age_days), (1_000_000, 90));
    }

    #[test]
    fn the_usage_bound_is_at_least_one_and_checked_with_its_line() {
        let base = "[cluster]\nredis = [\"redis://127.0.0.1:6379\"]\n";
        let c = crate::config::parse("portico.toml", base).unwrap();
        assert_eq!(c.cluster.unwrap().usage_max_pending, 100_000);
        let e = problems(&format!("{base}usage_max_pending = 0\n"));
        assert!(
            e.contains("portico.toml:3") && e.contains("cluster.usage_max_pending"),
            "{e}"
        );
        let e = problems(&format!("{base}usage_max_pending = -1\n"));
        assert!(
            e.contains("portico.toml:3") && e.contains("usage_max_pending"),
            "{e}"
        );
        let c = crate::config::parse("portico.toml", &format!("{base}usage_max_pending = 1\n"));
        assert_eq!(c.unwrap().cluster.unwrap().usage_max_pending, 1);
    }
}
