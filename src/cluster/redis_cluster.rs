//! A connection to a Redis Cluster: the crate's cluster client, which
//! follows the slot map and its MOVED/ASK redirections. Every key portico
//! writes is hash-tagged to one slot, so in practice it talks to one
//! master. Retries are few and short, so an unreachable cluster costs the
//! calling thread about one timeout per try, not the crate's default of
//! sixteen backed-off tries.

use super::connect::{parse, with_credentials, Timeouts};
use super::ClusterError;
use crate::config::ClusterConfig;

const RETRIES: u32 = 1;
const RETRY_WAIT_MS: u64 = 50;

pub fn connect(
    cfg: &ClusterConfig,
    timeouts: Timeouts,
) -> Result<redis::cluster::ClusterConnection, ClusterError> {
    let nodes = cfg
        .redis
        .iter()
        .map(|url| parse(url).map(|info| with_credentials(cfg, info)))
        .collect::<Result<Vec<_>, _>>()?;
    let failed = |source| ClusterError::Redis {
        addr: cfg.redis.join(", "),
        source,
    };
    let client = redis::cluster::ClusterClient::builder(nodes)
        .connection_timeout(timeouts.connect)
        .response_timeout(timeouts.command)
        .retries(RETRIES)
        .min_retry_wait(RETRY_WAIT_MS)
        .max_retry_wait(RETRY_WAIT_MS)
        .build()
        .map_err(failed)?;
    let conn = client.get_connection().map_err(failed)?;
    conn.set_read_timeout(Some(timeouts.command))
        .map_err(failed)?;
    conn.set_write_timeout(Some(timeouts.command))
        .map_err(failed)?;
    Ok(conn)
}
