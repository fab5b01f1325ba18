//! One blocking Redis connection for a control-plane thread, with the
//! configured connect and command timeouts, so a Redis that stops
//! answering costs a thread at most a timeout, never a hang. Credentials
//! come from the environment (`username_env`, `password_env`).

use std::time::Duration;

use redis::{ConnectionInfo, IntoConnectionInfo};

use super::ClusterError;
use crate::config::{ClusterConfig, Topology};

/// A connection to the fleet's Redis, whatever its topology.
pub type Connection = Box<dyn redis::ConnectionLike + Send>;

pub fn connect(cfg: &ClusterConfig) -> Result<Connection, ClusterError> {
    let timeouts = Timeouts::of(cfg);
    match master(cfg)? {
        Some((info, addr)) => Ok(Box::new(open(info, &addr, timeouts)?)),
        None => Ok(Box::new(super::redis_cluster::connect(cfg, timeouts)?)),
    }
}

/// The one server every key lives on, with credentials, and its address
/// for errors: the standalone Redis, or the master Sentinel names now.
/// `None` for a Redis Cluster, whose keys live on several. A pub/sub
/// subscriber connects here (its messages reach every client of that
/// server).
pub fn master(cfg: &ClusterConfig) -> Result<Option<(ConnectionInfo, String)>, ClusterError> {
    match cfg.topology {
        Topology::Standalone => {
            let url = cfg
                .redis
                .first()
                .ok_or_else(|| ClusterError::Config("redis: no address".into()))?;
            Ok(Some((with_credentials(cfg, parse(url)?), url.clone())))
        }
        Topology::Sentinel => super::sentinel::master(cfg, Timeouts::of(cfg)).map(Some),
        Topology::Cluster => Ok(None),
    }
}

/// Runs `f` on `conn`, connecting first where there is none. A connection
/// on which a call failed is dropped and made anew next time (after a
/// timeout its answer may still come, and would be read as the next's).
pub fn call<T>(
    cfg: &ClusterConfig,
    conn: &mut Option<Connection>,
    f: impl FnOnce(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
) -> Result<T, String> {
    let mut c = match conn.take() {
        Some(c) => c,
        None => connect(cfg).map_err(|e| e.to_string())?,
    };
    let r = f(c.as_mut()).map_err(|e| e.to_string())?;
    *conn = Some(c);
    Ok(r)
}

/// `[cluster] connect_timeout_ms` and `command_timeout_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
}

impl Timeouts {
    pub fn of(cfg: &ClusterConfig) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(cfg.connect_timeout_ms),
            command: Duration::from_millis(cfg.command_timeout_ms),
        }
    }
}

/// `url` as the crate's connection info (`redis://` or `rediss://`).
pub fn parse(url: &str) -> Result<ConnectionInfo, ClusterError> {
    url.into_connection_info()
        .map_err(|source| ClusterError::Redis {
            addr: url.to_string(),
            source,
        })
}

/// `info` with the user and password of the environment variables the
/// config names, where they are set.
pub fn with_credentials(cfg: &ClusterConfig, info: ConnectionInfo) -> ConnectionInfo {
    let mut settings = info.redis_settings().clone();
    if let Ok(user) = std::env::var(&cfg.username_env) {
        settings = settings.set_username(user);
    }
    if let Ok(password) = std::env::var(&cfg.password_env) {
        settings = settings.set_password(password);
    }
    info.set_redis_settings(settings)
}

/// One server's connection (plain or TLS, as `info` says), every read and
/// write bounded by the command timeout; `addr` names it in errors.
pub fn open(
    info: ConnectionInfo,
    addr: &str,
    timeouts: Timeouts,
) -> Result<redis::Connection, ClusterError> {
    let failed = |source| ClusterError::Redis {
        addr: addr.to_string(),
        source,
    };
    let client = redis::Client::open(info).map_err(failed)?;
    let conn = client
        .get_connection_with_timeout(timeouts.connect)
        .map_err(failed)?;
    conn.set_read_timeout(Some(timeouts.command))
        .map_err(failed)?;
    conn.set_write_timeout(Some(timeouts.command))
        .map_err(failed)?;
    Ok(conn)
}
