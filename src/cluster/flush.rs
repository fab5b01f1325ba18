//! Fleet-wide cache flushes in Redis. The stage cache and the kept
//! authorizer decisions stay in each node's workers (a hit never crosses
//! the network), so a flush has to reach every node: the node that takes
//! the call appends a request to the stream `{prefix}:flushes` (its entry
//! id is the request id) and wakes the others on the channel
//! `{prefix}:flush`; each node's follower reads the stream, flushes its
//! workers and pushes its id onto `{prefix}:flush:<request id>`, which the
//! caller's node reads until every node that was live when the request
//! was made has answered.
//!
//! A stream, not the message alone, so that a node which did not hear the
//! wake-up (a lost message, a Sentinel or Redis Cluster topology where
//! this node does not subscribe, a node frozen for a while) still finds
//! the request at its next read, at most a second later, and flushes late
//! rather than never.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use redis::streams::StreamReadReply;

use super::{membership, Keys};

/// How many requests the stream keeps: a node away for longer than this
/// many flushes misses the oldest (it was not live, so nobody waited).
const KEPT: u32 = 1_000;
/// How long an acknowledgement list outlives its request.
const ACKS_TTL_MS: u64 = 60_000;
/// How much longer than the flush timeout the waiting connection's reads
/// may take: a blocked `BLPOP` is timed out by Redis's event loop, late
/// by up to a tenth of a second at its default `hz` (more when loaded:
/// with 1 s, a flush waiting on a loaded 2-core machine was reported as
/// Redis out of reach after 7.2 s instead of naming the silent node).
pub const READ_MARGIN: Duration = Duration::from_millis(3_000);
/// At most this many requests are handled per read.
const BATCH: u32 = 100;

/// Appends a request, wakes the followers and returns its id and the
/// nodes live now (by Redis `TIME`). KEYS: stream, nodes set. ARGV: kept,
/// channel, kind, rest api id, stage, origin.
const ANNOUNCE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
  'kind', ARGV[3], 'api', ARGV[4], 'stage', ARGV[5], 'origin', ARGV[6])
redis.call('PUBLISH', ARGV[2], id)
return {id, redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf')}
";

/// Pushes a node's id onto each request's acknowledgement list (a script,
/// not a pipeline: Redis Cluster's connection has none). KEYS: the lists.
/// ARGV: node, ttl ms.
const ACK: &str = r"
for _, key in ipairs(KEYS) do
  redis.call('RPUSH', key, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return 0
";

/// What to empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// FlushStageCache: the stage's cache (and its canary's).
    Stage { api: String, stage: String },
    /// FlushStageAuthorizersCache: the API's kept authorizer decisions.
    Authorizers { api: String },
}

impl Target {
    fn fields(&self) -> (&'static str, &str, &str) {
        match self {
            Target::Stage { api, stage } => ("stage", api, stage),
            Target::Authorizers { api } => ("authorizers", api, ""),
        }
    }
}

/// A request read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub target: Target,
    /// The node that took the call (it flushed its own workers).
    pub origin: String,
}

/// Why a fleet flush did not complete.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("the fleet's Redis cannot be reached: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("flushed on every node but {}: no answer within {} ms", .missing.join(", "), .waited.as_millis())]
    Unanswered {
        missing: Vec<String>,
        waited: Duration,
    },
}

/// The channel that wakes followers (`{prefix}:flush`).
pub fn channel(keys: &Keys) -> String {
    keys.key("flush")
}

fn stream(keys: &Keys) -> String {
    keys.key("flushes")
}

fn acks(keys: &Keys, id: &str) -> String {
    keys.key(&format!("flush:{id}"))
}

/// Announces `target`, flushed by `origin` (which flushes its own workers
/// meanwhile): what is left is to wait for the others.
pub fn announce(
    conn: &mut dyn redis::ConnectionLike,
    keys: &Keys,
    origin: &str,
    target: &Target,
) -> Result<Pending, FlushError> {
    let started = Instant::now();
    let (kind, api, stage) = target.fields();
    let (id, live): (String, Vec<String>) = redis::Script::new(ANNOUNCE)
        .key(stream(keys))
        .key(keys.key("nodes"))
        .arg(KEPT)
        .arg(channel(keys))
        .arg(kind)
        .arg(api)
        .arg(stage)
        .arg(origin)
        .invoke(conn)?;
    Ok(Pending {
        acks: acks(keys, &id),
        waiting: live.into_iter().filter(|n| n != origin).collect(),
        started,
    })
}

/// An announced flush: the nodes live when it was made, less its origin,
/// that have not confirmed it yet.
#[derive(Debug)]
pub struct Pending {
    acks: String,
    waiting: BTreeSet<String>,
    started: Instant,
}

impl Pending {
    /// Until every node confirmed (they are returned), or `timeout` (from
    /// the announcement) passed: then the error names the nodes that did
    /// not answer. `conn`'s read timeout must exceed `timeout` by more
    /// than Redis's lateness in timing out a blocked client: see
    /// [`READ_MARGIN`].
    pub fn wait(
        mut self,
        conn: &mut dyn redis::ConnectionLike,
        timeout: Duration,
    ) -> Result<BTreeSet<String>, FlushError> {
        let mut confirmed = BTreeSet::new();
        while !self.waiting.is_empty() {
            let left = timeout.saturating_sub(self.started.elapsed());
            if left < Duration::from_millis(1) {
                break;
            }
            // In seconds, at least a millisecond (0 would block for ever).
            let popped: Option<(String, String)> = redis::cmd("BLPOP")
                .arg(&self.acks)
                .arg(left.as_secs_f64().max(0.001))
                .query(conn)?;
            if let Some((_, node)) = popped {
                if self.waiting.remove(&node) {
                    confirmed.insert(node);
                }
            }
        }
        if self.waiting.is_empty() {
            return Ok(confirmed);
        }
        Err(FlushError::Unanswered {
            missing: self.waiting.into_iter().collect(),
            waited: timeout,
        })
    }
}

/// Where a follower has read the stream up to.
#[derive(Debug, Default)]
pub struct Cursor {
    last: Option<String>,
}

impl Cursor {
    /// The requests appended since the last read. The first read starts
    /// one membership expiry back (by Redis `TIME`): a node that had just
    /// joined when a request was made was counted live, so it must see it;
    /// flushing again what was already flushed is harmless.
    pub fn read(
        &mut self,
        conn: &mut dyn redis::ConnectionLike,
        keys: &Keys,
    ) -> redis::RedisResult<Vec<Request>> {
        let from = match &self.last {
            Some(id) => id.clone(),
            None => {
                let (s, us): (u64, u64) = redis::cmd("TIME").query(conn)?;
                let now_ms = s * 1000 + us / 1000;
                let back = u64::try_from(membership::EXPIRY.as_millis()).unwrap_or(0);
                format!("{}-0", now_ms.saturating_sub(back))
            }
        };
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(BATCH)
            .arg("STREAMS")
            .arg(stream(keys))
            .arg(&from)
            .query(conn)?;
        let mut out = Vec::new();
        let mut last = from;
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            last = entry.id.clone();
            let field = |name: &str| entry.get::<String>(name).unwrap_or_default();
            let api = field("api");
            let target = match field("kind").as_str() {
                "stage" => Target::Stage {
                    api,
                    stage: field("stage"),
                },
                "authorizers" => Target::Authorizers { api },
                // Written by a newer portico: not understood, not answered.
                _ => continue,
            };
            out.push(Request {
                id: entry.id.clone(),
                target,
                origin: field("origin"),
            });
        }
        self.last = Some(last);
        Ok(out)
    }
}

/// Tells the requests' nodes that `node` has flushed its workers.
pub fn acknowledge(
    conn: &mut dyn redis::ConnectionLike,
    keys: &Keys,
    requests: &[String],
    node: &str,
) -> redis::RedisResult<()> {
    if requests.is_empty() {
        return Ok(());
    }
    let lists: Vec<String> = requests.iter().map(|r| acks(keys, r)).collect();
    redis::Script::new(ACK)
        .key(lists)
        .arg(node)
        .arg(ACKS_TTL_MS)
        .invoke(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_fleets_hash_tag() {
        let k = Keys::new("p");
        assert_eq!(channel(&k), "{p}:flush");
        assert_eq!(stream(&k), "{p}:flushes");
        assert_eq!(acks(&k, "1-0"), "{p}:flush:1-0");
    }

    #[test]
    fn the_timeout_error_names_the_silent_nodes() {
        let e = FlushError::Unanswered {
            missing: vec!["b:1".into(), "c:2".into()],
            waited: Duration::from_millis(3000),
        };
        assert_eq!(
            e.to_string(),
            "flushed on every node but b:1, c:2: no answer within 3000 ms"
        );
    }
}
