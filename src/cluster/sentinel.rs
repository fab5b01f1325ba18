//! The master of a Sentinel-watched Redis: each listed sentinel in turn is
//! asked for the address of `sentinel_master`, and the server named there
//! must say it is a master (a sentinel's view can lag a failover). The
//! crate's own Sentinel client is not used: its sync connections to the
//! sentinels have no timeouts, so one stopped sentinel would hang the
//! thread that asked.

use redis::{ConnectionAddr, ConnectionInfo, ConnectionLike};

use super::connect::{open, parse, with_credentials, Timeouts};
use super::ClusterError;
use crate::config::ClusterConfig;

/// The master's connection info (with the Redis credentials) and address,
/// checked by connecting to it.
pub fn master(
    cfg: &ClusterConfig,
    timeouts: Timeouts,
) -> Result<(ConnectionInfo, String), ClusterError> {
    let name = cfg
        .sentinel_master
        .as_deref()
        .ok_or_else(|| ClusterError::Config("sentinel_master: not set".into()))?;
    let mut tried = Vec::new();
    for url in &cfg.redis {
        match from_sentinel(cfg, url, name, timeouts) {
            Ok(conn) => return Ok(conn),
            Err(e) => tried.push(e.to_string()),
        }
    }
    Err(ClusterError::NoMaster {
        name: name.to_string(),
        tried: tried.join("; "),
    })
}

/// The master `url`'s sentinel names, checked by connecting to it. The
/// sentinel is reached without the Redis credentials (a sentinel has its
/// own, usually none); the master with them, over TLS when the sentinel
/// was, on the database the URL names.
fn from_sentinel(
    cfg: &ClusterConfig,
    url: &str,
    name: &str,
    timeouts: Timeouts,
) -> Result<(ConnectionInfo, String), ClusterError> {
    let info = parse(url)?;
    let db = info.redis_settings().db();
    let to_sentinel = info
        .clone()
        .set_redis_settings(info.redis_settings().clone().set_db(0));
    let mut sentinel = open(to_sentinel, url, timeouts)?;
    let failed = |source| ClusterError::Redis {
        addr: url.to_string(),
        source,
    };
    let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(name)
        .query(&mut sentinel)
        .map_err(failed)?;
    let (host, port) = addr.ok_or_else(|| {
        ClusterError::Config(format!("sentinel {url} knows no master named `{name}`"))
    })?;
    let master_addr = match info.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host: host.clone(),
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host.clone(), port),
    };
    let master_info = info
        .clone()
        .set_addr(master_addr)
        .set_redis_settings(info.redis_settings().clone().set_db(db));
    let shown = format!("{host}:{port}");
    let master_info = with_credentials(cfg, master_info);
    let mut master = open(master_info.clone(), &shown, timeouts)?;
    let role = role(&mut master).map_err(|source| ClusterError::Redis {
        addr: shown.clone(),
        source,
    })?;
    if role != "master" {
        return Err(ClusterError::Config(format!(
            "sentinel {url} names {shown} as `{name}`'s master, which is not a master (a failover in progress?)"
        )));
    }
    Ok((master_info, shown))
}

/// The first word of `ROLE`'s answer: master, slave or sentinel.
fn role(conn: &mut impl ConnectionLike) -> Result<String, redis::RedisError> {
    let answer: Vec<redis::Value> = redis::cmd("ROLE").query(conn)?;
    Ok(answer
        .into_iter()
        .next()
        .and_then(|v| redis::from_redis_value::<String>(v).ok())
        .unwrap_or_default())
}
