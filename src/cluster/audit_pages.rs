//! `portico audit` on a fleet node: the fleet's audit stream read a page
//! at a time, oldest first, so a stream of a million calls is never held
//! in memory at once.

use redis::streams::StreamRangeReply;

use super::{audit::stream_key, connect, ClusterError, Connection};
use crate::config::ClusterConfig;

/// Entries per XRANGE.
const PAGE: usize = 1_000;

pub struct AuditPages {
    conn: Connection,
    key: String,
    addr: String,
    /// Where the next page starts (an XRANGE bound).
    from: String,
    done: bool,
}

impl AuditPages {
    /// The entries Redis added at or after `from_ms` (its own clock).
    pub fn open(cfg: &ClusterConfig, from_ms: u64) -> Result<AuditPages, ClusterError> {
        Ok(AuditPages {
            conn: connect(cfg)?,
            key: stream_key(cfg),
            addr: cfg.redis.join(","),
            from: from_ms.to_string(),
            done: false,
        })
    }

    /// The next entries' events (JSON lines, as each node's file has
    /// them); `None` after the last.
    pub fn next_page(&mut self) -> Result<Option<Vec<String>>, ClusterError> {
        if self.done {
            return Ok(None);
        }
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&self.key)
            .arg(&self.from)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query(&mut *self.conn)
            .map_err(|source| ClusterError::Redis {
                addr: self.addr.clone(),
                source,
            })?;
        if reply.ids.len() < PAGE {
            self.done = true;
        }
        let Some(last) = reply.ids.last() else {
            return Ok(None);
        };
        // Exclusive from the last one read on.
        self.from = format!("({}", last.id);
        Ok(Some(
            reply
                .ids
                .iter()
                .filter_map(|e| e.get::<String>("event"))
                .collect(),
        ))
    }
}
