//! A fleet node's control plane (`[cluster]`): its management state in
//! the fleet's Redis, and a thread that keeps what it serves at the
//! fleet's revision. The thread listens on the `{prefix}:rev` channel and
//! also reads the counter every second, so a lost message costs at most a
//! second; when Redis holds a newer revision than this node published, it
//! asks the control thread to publish again (which reads the store, as
//! after a call of its own). The same thread serves the fleet's cache
//! flushes (`super::fleet_flush`): woken by `{prefix}:flush`, or at the
//! same one-second read. Without `[cluster]` nothing here runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::admin::Admin;
use super::api::ControlPlane;
use super::error::ServerError;
use super::fleet_flush::Listener;
use super::publisher::Deployed;
use super::thread::Stoppable;
use crate::cluster::{self, Keys, Revision};
use crate::config::{ClusterConfig, Config};
use crate::dataplane::Msg;

/// How often the revision is read, whatever the channel says.
const POLL: Duration = Duration::from_secs(1);

/// The control plane as configured: one node's SQLite, or the fleet's
/// Redis with the revision this node serves. A node whose state key
/// cannot open the fleet's sealed values does not start.
pub fn open_control(
    config: &Config,
) -> Result<(Option<ControlPlane>, Option<Arc<Revision>>), ServerError> {
    let Some(cluster) = &config.cluster else {
        let control = match ControlPlane::open(&config.state.dir) {
            Ok(c) => Some(c),
            Err(e) => {
                crate::log!(
                    error,
                    "management API off: cannot open the control store: {e}"
                );
                None
            }
        };
        return Ok((control, None));
    };
    let revision = Arc::new(Revision::default());
    let control = ControlPlane::open_fleet(&config.state, cluster, revision.clone())?;
    Ok((Some(control), Some(revision)))
}

/// The thread that follows the fleet's revision and serves its cache
/// flushes on the workers behind `mailboxes`, on every fleet node (one
/// without a management API only flushes: it has nothing to republish).
pub fn follow(
    config: &Config,
    admin: Option<&Admin>,
    revision: Option<Arc<Revision>>,
    mailboxes: Vec<Sender<Msg>>,
    deployed: Arc<Deployed>,
) -> Option<Stoppable> {
    let cluster = config.cluster.clone()?;
    let republisher = admin.map(|a| a.republisher.clone());
    let revision = revision?;
    let port = deployed.data_addr().map_or(0, |a| a.port());
    let flushes = Listener::new(&cluster, port, mailboxes, deployed);
    Some(Stoppable::spawn("portico-fleet", move |stopped| {
        Follower::new(cluster, flushes).run(&stopped, |rev| {
            rev > revision.get() && republisher.as_ref().is_some_and(|r| r.republish(rev))
        })
    }))
}

struct Follower {
    cfg: ClusterConfig,
    channel: String,
    /// Wakes the thread for a cache flush.
    flush_channel: String,
    flushes: Listener,
    conn: Option<cluster::Connection>,
    subscribed: Option<redis::Connection>,
    /// Whether Redis answered last time (logged once per change).
    up: bool,
}

impl Follower {
    fn new(cfg: ClusterConfig, flushes: Listener) -> Follower {
        let keys = Keys::new(&cfg.key_prefix);
        Follower {
            channel: keys.key("rev"),
            flush_channel: cluster::flush::channel(&keys),
            flushes,
            cfg,
            conn: None,
            subscribed: None,
            up: true,
        }
    }

    /// Until `stopped` disconnects: waits for a message or a second, reads
    /// the revision, and hands a newer one to `ask` (again after a
    /// second if it is still not served).
    fn run(mut self, stopped: &Receiver<()>, ask: impl Fn(u64) -> bool) {
        let mut asked: Option<(u64, Instant)> = None;
        loop {
            if !self.wait(stopped) {
                return;
            }
            let Some(rev) = self.revision() else {
                continue;
            };
            self.serve_flushes();
            let again = asked.is_none_or(|(r, at)| r != rev || at.elapsed() >= POLL);
            if again && ask(rev) {
                asked = Some((rev, Instant::now()));
            }
        }
    }

    /// A message on the channel or a second (at once when it has just
    /// subscribed); false once told to stop.
    fn wait(&mut self, stopped: &Receiver<()>) -> bool {
        match self.subscribed.as_mut() {
            Some(s) => match s.recv_response() {
                Ok(_) => {}
                Err(e) if e.is_timeout() => {}
                Err(_) => self.subscribed = None,
            },
            None => {
                // Subscribed first, then the revision read at once: a node
                // that starts reports the fleet's revision (and serves a
                // flush) without waiting out a second (1.04 s measured).
                let channels = [self.channel.as_str(), self.flush_channel.as_str()];
                self.subscribed = subscribe(&self.cfg, &channels).ok();
                if self.subscribed.is_none()
                    && stopped.recv_timeout(POLL) != Err(RecvTimeoutError::Timeout)
                {
                    return false;
                }
            }
        }
        !matches!(stopped.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// The cache flushes requested since the last read, on the connection
    /// [`Self::revision`] just used (dropped if it fails: the next read
    /// reconnects and resumes where this one stopped).
    fn serve_flushes(&mut self) {
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        if let Err(e) = self.flushes.serve(&mut **c) {
            crate::log!(warn, "fleet: cache flush requests not served: {e}");
            self.conn = None;
        }
    }

    /// `{prefix}:rev` now (0 before the first change), or `None` while
    /// Redis does not answer.
    fn revision(&mut self) -> Option<u64> {
        let read = match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => cluster::connect(&self.cfg)
                .map(|c| self.conn.insert(c))
                .map_err(|e| e.to_string()),
        }
        .and_then(|c| {
            redis::cmd("GET")
                .arg(&self.channel)
                .query::<Option<u64>>(&mut **c)
                .map_err(|e| e.to_string())
        });
        match read {
            Ok(rev) => {
                if !self.up {
                    crate::log!(info, "fleet: Redis answers again");
                    self.up = true;
                }
                Some(rev.unwrap_or(0))
            }
            Err(e) => {
                self.conn = None;
                if self.up {
                    crate::log!(
                        warn,
                        "fleet: Redis does not answer ({e}); serving the last revision"
                    );
                    self.up = false;
                }
                None
            }
        }
    }
}

/// A connection listening on `channels`, answering every second at least
/// (a read times out): on the standalone Redis, or the master Sentinel
/// names (Redis 6 or later: RESP3). A Redis Cluster, and a Redis that
/// refuses RESP3, rely on reading the revision and the flush requests
/// every second.
fn subscribe(cfg: &ClusterConfig, channels: &[&str]) -> redis::RedisResult<redis::Connection> {
    let no = |why: String| redis::RedisError::from((redis::ErrorKind::Io, "no subscriber", why));
    let (info, _) = cluster::master(cfg)
        .map_err(|e| no(e.to_string()))?
        .ok_or_else(|| no("a Redis Cluster".into()))?;
    // RESP3: the messages arrive as pushes. On RESP2 they are replies, and
    // the client counts each read that timed out (a quiet second) as a
    // late reply to skip, dropping the next announced revision.
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings))?;
    let mut conn =
        client.get_connection_with_timeout(Duration::from_millis(cfg.connect_timeout_ms))?;
    conn.set_read_timeout(Some(POLL))?;
    conn.set_write_timeout(Some(Duration::from_millis(cfg.command_timeout_ms)))?;
    conn.send_packed_command(&redis::cmd("SUBSCRIBE").arg(channels).get_packed_command())?;
    for _ in channels {
        conn.recv_response()?;
    }
    Ok(conn)
}
