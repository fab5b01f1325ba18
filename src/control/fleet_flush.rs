//! Cache flushes across a fleet (`[cluster]`), both ends. The control
//! thread that answers FlushStageCache or FlushStageAuthorizersCache has
//! flushed its own workers, then announces the flush and waits for every
//! other live node ([`Announcer`]); the fleet follower of every node reads
//! the requests and flushes its workers ([`Listener`]). Both are
//! control-plane threads: a worker never waits on Redis. The protocol
//! itself is `cluster::flush`.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;

use super::admin::stage_cache;
use super::api::ApiError;
use super::publisher::Deployed;
use crate::cluster::flush::{self, Cursor, FlushError, Target};
use crate::cluster::{self, membership, Keys};
use crate::config::ClusterConfig;
use crate::dataplane::Msg;

/// The calling node's side, owned by the control thread.
pub struct Announcer {
    cfg: ClusterConfig,
    keys: Keys,
    node: String,
    conn: Option<cluster::Connection>,
}

impl Announcer {
    /// For the node whose data listener is on `port` (its id is the one
    /// its heartbeat uses). Its connection's reads may take the flush
    /// timeout and a margin: it waits for the acknowledgements in one
    /// blocking `BLPOP`, not in slices under the command timeout.
    pub fn new(cfg: &ClusterConfig, port: u16) -> Announcer {
        let margin = u64::try_from(flush::READ_MARGIN.as_millis()).unwrap_or(u64::MAX);
        Announcer {
            keys: Keys::new(&cfg.key_prefix),
            node: membership::node_id(cfg, port),
            cfg: ClusterConfig {
                command_timeout_ms: cfg.flush_timeout_ms.saturating_add(margin),
                ..cfg.clone()
            },
            conn: None,
        }
    }

    /// Another announcer for the same node, with a connection of its
    /// own: the admin listener's `/cache/flush` flushes the fleet the same
    /// way without queueing behind the management calls of the control
    /// thread, which owns this one.
    pub fn sibling(&self) -> Announcer {
        Announcer {
            cfg: self.cfg.clone(),
            keys: self.keys.clone(),
            node: self.node.clone(),
            conn: None,
        }
    }

    /// `target` on every live node: announced, flushed here by `local`
    /// while the others flush theirs, then confirmed by all of them; what
    /// `local` returned and every node that flushed, this one included. A
    /// node that does not confirm within `[cluster] flush_timeout_ms`
    /// makes the call answer 503 naming it (it flushes when it reads the
    /// request, if it ever does); so does a Redis that cannot be reached
    /// (after `local` all the same).
    pub fn flush<T>(
        &mut self,
        target: &Target,
        local: impl FnOnce() -> T,
    ) -> Result<(T, Vec<String>), ApiError> {
        let announced = connection(&mut self.conn, &self.cfg).and_then(|c| {
            flush::announce(&mut **c, &self.keys, &self.node, target).map_err(|e| e.to_string())
        });
        let here = local();
        let timeout = Duration::from_millis(self.cfg.flush_timeout_ms);
        let waited = match (announced, self.conn.as_mut()) {
            (Ok(pending), Some(c)) => pending.wait(&mut **c, timeout),
            (Err(e), _) => return Err(self.unreachable(e)),
            (Ok(_), None) => return Err(self.unreachable("no connection".into())),
        };
        match waited {
            Ok(mut nodes) => {
                nodes.insert(self.node.clone());
                Ok((here, nodes.into_iter().collect()))
            }
            Err(e @ FlushError::Redis(_)) => Err(self.unreachable(e.to_string())),
            Err(e @ FlushError::Unanswered { .. }) => {
                Err(ApiError::ServiceUnavailable(e.to_string()))
            }
        }
    }

    /// The answer when Redis failed: the connection is dropped (the next
    /// call reconnects).
    fn unreachable(&mut self, why: String) -> ApiError {
        self.conn = None;
        ApiError::ServiceUnavailable(format!(
            "the fleet's Redis cannot be reached ({why}); the cache was flushed on this node only"
        ))
    }
}

/// `conn`, connected first where needed.
fn connection<'c>(
    conn: &'c mut Option<cluster::Connection>,
    cfg: &ClusterConfig,
) -> Result<&'c mut cluster::Connection, String> {
    match conn {
        Some(c) => Ok(c),
        None => cluster::connect(cfg)
            .map(|c| conn.insert(c))
            .map_err(|e| e.to_string()),
    }
}

/// Every node's side, run by its fleet follower after each wake-up.
pub struct Listener {
    keys: Keys,
    node: String,
    cursor: Cursor,
    mailboxes: Vec<Sender<Msg>>,
    deployed: Arc<Deployed>,
}

impl Listener {
    pub fn new(
        cfg: &ClusterConfig,
        port: u16,
        mailboxes: Vec<Sender<Msg>>,
        deployed: Arc<Deployed>,
    ) -> Listener {
        Listener {
            keys: Keys::new(&cfg.key_prefix),
            node: membership::node_id(cfg, port),
            cursor: Cursor::default(),
            mailboxes,
            deployed,
        }
    }

    /// The requests made since the last read: flushed here, then
    /// confirmed together. This node's own requests were flushed by the
    /// call that made them.
    pub fn serve(&mut self, conn: &mut dyn redis::ConnectionLike) -> redis::RedisResult<()> {
        let mut flushed = Vec::new();
        for request in self.cursor.read(conn, &self.keys)? {
            if request.origin != self.node {
                stage_cache::flush_target(&self.mailboxes, &self.deployed, &request.target);
                flushed.push(request.id);
            }
        }
        flush::acknowledge(conn, &self.keys, &flushed, &self.node)
    }
}
