//! Membership: every second each node adds itself to the sorted set
//! `{prefix}:nodes` with its expiry as the score, and writes what it says
//! about itself into the hash `{prefix}:node:<id>` (which expires with
//! it). Expiries are computed from Redis `TIME` inside the script, never
//! from the node's clock: nodes' clocks disagree, Redis's is one. Each beat
//! also drops the members whose expiry has passed, so a node killed with
//! -9 leaves the set one expiry after its last beat.
//!
//! While Redis cannot be reached the thread keeps trying at the same
//! pace, each try bounded by the configured timeouts, and logs once per
//! change of state.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::{connect, ClusterError, Connection, Health, Keys};
use crate::config::ClusterConfig;

/// How often a node says it is alive.
pub const BEAT: Duration = Duration::from_secs(1);
/// How long a member stays listed after its last beat: three beats, so
/// one slow beat does not drop a live node.
pub const EXPIRY: Duration = Duration::from_secs(3);

/// Adds (or refreshes) a member and returns `{redis_now_ms, live}`.
/// KEYS: nodes set, node hash. ARGV: id, expiry ms, revision, started ms,
/// listen, latency µs, instance.
const BEAT_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], 'revision', ARGV[3], 'started_ms', ARGV[4],
  'listen', ARGV[5], 'latency_us', ARGV[6], 'instance', ARGV[7], 'heartbeat_ms', now)
redis.call('PEXPIRE', KEYS[2], ttl)
return {now, redis.call('ZCARD', KEYS[1])}
";

/// Removes a member, if it is still this process's (a node that took over
/// this one's sockets has the same id). KEYS as above; ARGV: id, instance.
const LEAVE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[2], 'instance') == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
return 0
";

/// What a node says about itself.
#[derive(Debug, Clone)]
pub struct Me {
    pub id: String,
    /// The data plane's address.
    pub listen: String,
    /// When this process started, Unix ms (the node's clock: shown, never
    /// compared with another's).
    pub started_ms: u64,
    /// Tells this process from another with the same id.
    pub instance: String,
}

impl Me {
    /// This process, serving on `listen`; its id is `[cluster] node_id`,
    /// else `HOSTNAME:PORT`.
    pub fn new(cfg: &ClusterConfig, listen: std::net::SocketAddr) -> Me {
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        Me {
            id: node_id(cfg, listen.port()),
            listen: listen.to_string(),
            started_ms,
            instance: format!("{}-{started_ms}", std::process::id()),
        }
    }
}

/// This node's name among the others, the one every fleet key it writes
/// uses: `[cluster] node_id`, else `HOSTNAME:PORT` of its data listener.
pub fn node_id(cfg: &ClusterConfig, port: u16) -> String {
    cfg.node_id
        .clone()
        .unwrap_or_else(|| format!("{}:{port}", hostname()))
}

/// The `{prefix}:node:<id>` key.
pub fn node_key(keys: &Keys, id: &str) -> String {
    keys.key(&format!("node:{id}"))
}

/// The kernel's host name (`localhost` where it cannot be read).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, which is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match (rc, std::str::from_utf8(&buf[..end])) {
        (0, Ok(name)) if !name.is_empty() => name.to_string(),
        _ => "localhost".into(),
    }
}

/// The heartbeat, until `stop`'s sender is dropped; then the member
/// leaves the set, if Redis answers.
pub fn run(cfg: ClusterConfig, me: Me, health: Arc<Health>, stop: Receiver<()>) {
    let keys = Keys::new(&cfg.key_prefix);
    let beat = redis::Script::new(BEAT_SCRIPT);
    let mut conn: Option<Connection> = None;
    let mut was_up: Option<bool> = None;
    loop {
        let started = Instant::now();
        match heartbeat(&cfg, &keys, &me, &health, &beat, &mut conn) {
            Ok((latency, live)) => {
                health.up(latency, live);
                match was_up {
                    None => crate::log!(
                        info,
                        "cluster: Redis up, node {} joined ({live} live)",
                        me.id
                    ),
                    Some(false) => crate::log!(
                        info,
                        "cluster: Redis back, node {} rejoined ({live} live)",
                        me.id
                    ),
                    Some(true) => {}
                }
                was_up = Some(true);
            }
            Err(e) => {
                conn = None;
                health.down();
                if was_up != Some(false) {
                    let why = if e.timed_out() {
                        format!("{}: no answer in time", cfg.redis.join(", "))
                    } else {
                        e.to_string()
                    };
                    crate::log!(
                        warn,
                        "cluster: Redis down ({why}); serving on the last snapshot, retrying every {}s",
                        BEAT.as_secs()
                    );
                }
                was_up = Some(false);
            }
        }
        match stop.recv_deadline(started + BEAT) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    if let Some(mut c) = conn {
        let _ = redis::Script::new(LEAVE_SCRIPT)
            .key(keys.key("nodes"))
            .key(node_key(&keys, &me.id))
            .arg(&me.id)
            .arg(&me.instance)
            .invoke::<i64>(&mut *c);
    }
}

/// One beat, connecting first where needed: its round trip and the live
/// members.
fn heartbeat(
    cfg: &ClusterConfig,
    keys: &Keys,
    me: &Me,
    health: &Health,
    script: &redis::Script,
    conn: &mut Option<Connection>,
) -> Result<(Duration, u64), ClusterError> {
    if conn.is_none() {
        *conn = Some(connect(cfg)?);
    }
    let c = conn.as_mut().expect("connected above");
    let expiry_ms = u64::try_from(EXPIRY.as_millis()).unwrap_or(u64::MAX);
    let latency_us = u64::try_from(health.latency().as_micros()).unwrap_or(u64::MAX);
    let sent = Instant::now();
    let (_now, live): (u64, u64) = script
        .key(keys.key("nodes"))
        .key(node_key(keys, &me.id))
        .arg(&me.id)
        .arg(expiry_ms)
        .arg(health.revision().get())
        .arg(me.started_ms)
        .arg(&me.listen)
        .arg(latency_us)
        .arg(&me.instance)
        .invoke(&mut **c)
        .map_err(|source| ClusterError::Redis {
            addr: cfg.redis.join(", "),
            source,
        })?;
    Ok((sent.elapsed(), live))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_id_is_host_and_port() {
        let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let me = Me::new(&ClusterConfig::default(), addr);
        assert!(me.id.ends_with(":8080") && me.id.len() > 5, "{}", me.id);
        let cfg = ClusterConfig {
            node_id: Some("edge-1".into()),
            ..ClusterConfig::default()
        };
        assert_eq!(Me::new(&cfg, addr).id, "edge-1");
        assert_eq!(node_key(&Keys::new("p"), "edge-1"), "{p}:node:edge-1");
    }
}
