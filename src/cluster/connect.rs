//! One blocking Redis connection for a control-plane thread, with the
//! configured connect and command timeouts, so a Redis that stops
//! answering costs a thread at most a timeout, never a hang. Credentials
//! come from the environment (`username_env`, `password_env`).

use std::time::Duration;

use redis::IntoConnectionInfo;

use super::ClusterError;
use crate::config::{ClusterConfig, Topology};

/// A connection to the fleet's Redis, whatever its topology.
pub type Connection = Box<dyn redis::ConnectionLike + Send>;

pub fn connect(cfg: &ClusterConfig) -> Result<Connection, ClusterError> {
    let connect = Duration::from_millis(cfg.connect_timeout_ms);
    let command = Duration::from_millis(cfg.command_timeout_ms);
    match cfg.topology {
        Topology::Standalone => {
            let url = cfg
                .redis
                .first()
                .ok_or_else(|| ClusterError::Config("redis: no address".into()))?;
            let failed = |source| ClusterError::Redis {
                addr: url.clone(),
                source,
            };
            let mut info = url.as_str().into_connection_info().map_err(failed)?;
            let mut settings = info.redis_settings().clone();
            if let Ok(user) = std::env::var(&cfg.username_env) {
                settings = settings.set_username(user);
            }
            if let Ok(password) = std::env::var(&cfg.password_env) {
                settings = settings.set_password(password);
            }
            info = info.set_redis_settings(settings);
            let client = redis::Client::open(info).map_err(failed)?;
            let conn = client
                .get_connection_with_timeout(connect)
                .map_err(failed)?;
            conn.set_read_timeout(Some(command)).map_err(failed)?;
            conn.set_write_timeout(Some(command)).map_err(failed)?;
            Ok(Box::new(conn))
        }
        Topology::Sentinel | Topology::Cluster => Err(ClusterError::Config(format!(
            "topology {:?} is not served yet",
            cfg.topology
        ))),
    }
}
