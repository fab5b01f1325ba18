//! The fleet as Redis sees it (`portico cluster status`): the live
//! members, what each said at its last beat, and the fleet's revision.
//! Ages are measured on Redis's clock, the one the beats were stamped by.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis::ConnectionLike;
use serde::Serialize;

use super::membership::node_key;
use super::{connect, ClusterError, Keys};
use crate::config::ClusterConfig;

/// The key of the fleet's revision counter, which management calls bump
/// (read here, never written).
pub const REVISION_KEY: &str = "rev";

#[derive(Debug, Serialize)]
pub struct Fleet {
    /// The fleet's revision; `None` before any management call stored one.
    pub revision: Option<u64>,
    /// Round trip of this command's first call to Redis, µs.
    pub latency_us: u64,
    pub nodes: Vec<Member>,
}

#[derive(Debug, Serialize)]
pub struct Member {
    pub id: String,
    /// The revision the node serves.
    pub revision: Option<u64>,
    pub listen: Option<String>,
    /// The node's Redis round trip at its previous beat, µs.
    pub latency_us: Option<u64>,
    /// How long ago (Redis's clock) its last beat was, ms.
    pub heartbeat_age_ms: Option<u64>,
    /// When it started (Unix ms, its own clock).
    pub started_ms: Option<u64>,
}

pub fn read(cfg: &ClusterConfig) -> Result<Fleet, ClusterError> {
    let mut conn = connect(cfg)?;
    let failed = |source| ClusterError::Redis {
        addr: cfg.redis.join(", "),
        source,
    };
    let keys = Keys::new(&cfg.key_prefix);
    let sent = Instant::now();
    let now_ms = redis_now_ms(&mut *conn).map_err(failed)?;
    let latency = sent.elapsed();
    let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(keys.key("nodes"))
        .arg(format!("({now_ms}"))
        .arg("+inf")
        .query(&mut *conn)
        .map_err(failed)?;
    let mut nodes = Vec::with_capacity(ids.len());
    for id in ids {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(node_key(&keys, &id))
            .query(&mut *conn)
            .map_err(failed)?;
        let num = |k: &str| fields.get(k).and_then(|v| v.parse::<u64>().ok());
        nodes.push(Member {
            revision: num("revision"),
            listen: fields.get("listen").cloned(),
            latency_us: num("latency_us"),
            heartbeat_age_ms: num("heartbeat_ms").map(|t| now_ms.saturating_sub(t)),
            started_ms: num("started_ms"),
            id,
        });
    }
    let revision: Option<u64> = redis::cmd("GET")
        .arg(keys.key(REVISION_KEY))
        .query(&mut *conn)
        .map_err(failed)?;
    Ok(Fleet {
        revision,
        latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        nodes,
    })
}

/// Redis `TIME` in Unix ms.
fn redis_now_ms(conn: &mut dyn ConnectionLike) -> redis::RedisResult<u64> {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(conn)?;
    Ok(secs * 1000 + micros / 1000)
}

impl Fleet {
    /// A table for people: one line per node.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let shown = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let mut o = format!(
            "fleet revision {}, {} live node{}\n",
            shown(self.revision),
            self.nodes.len(),
            if self.nodes.len() == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            o,
            "{:<32} {:>9} {:>12} {:>15}  LISTEN",
            "NODE", "REVISION", "LATENCY", "LAST HEARTBEAT"
        );
        for n in &self.nodes {
            let latency = n.latency_us.map_or("-".into(), |us| {
                format!("{:.2} ms", Duration::from_micros(us).as_secs_f64() * 1e3)
            });
            let age = n.heartbeat_age_ms.map_or("-".into(), |ms| {
                format!("{:.1} s ago", Duration::from_millis(ms).as_secs_f64())
            });
            let _ = writeln!(
                o,
                "{:<32} {:>9} {:>12} {:>15}  {}",
                n.id,
                shown(n.revision),
                latency,
                age,
                n.listen.as_deref().unwrap_or("-")
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_node() {
        let f = Fleet {
            revision: Some(4),
            latency_us: 100,
            nodes: vec![Member {
                id: "a:1".into(),
                revision: Some(4),
                listen: Some("127.0.0.1:1".into()),
                latency_us: Some(250),
                heartbeat_age_ms: Some(300),
                started_ms: Some(0),
            }],
        };
        let t = f.text();
        assert!(t.starts_with("fleet revision 4, 1 live node\n"), "{t}");
        assert!(
            t.contains("a:1") && t.contains("0.25 ms") && t.contains("0.3 s ago"),
            "{t}"
        );
    }
}
