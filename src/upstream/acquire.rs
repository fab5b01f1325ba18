//! Getting a connection to an upstream, and the one rule for trying again.
//! A pooled keep-alive connection to any of the upstream's addresses is
//! taken first, else a new one is connected. A pooled connection may have
//! been closed by the upstream while it sat idle, which shows only once it
//! is used: a request that failed on one goes once more on a new one, if
//! the caller can send it again (`retry_once`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dataplane::shard::Shard;
use crate::http::ErrorResponse;
use crate::snapshot::Snapshot;

use super::pool::{PoolKey, UpstreamConn};
use super::tls::UpstreamTls;

/// How one attempt at an upstream request went wrong.
pub enum Failure {
    /// Connect, write or read failed, or the upstream's answer was malformed.
    Upstream,
    TimedOut,
    /// The client misbehaved mid-body: answer it this, or just close.
    Client(Option<ErrorResponse>),
}

/// A pooled connection to one of `addrs`, else a new one.
pub async fn acquire_from(
    w: &Shard,
    snap: &Snapshot,
    addrs: &[SocketAddr],
    tls: Option<&UpstreamTls>,
    deadline: Instant,
) -> Option<(PoolKey, UpstreamConn)> {
    let sni = tls.map(|t| t.pool_name.clone());
    if let Some(conn) = addrs.iter().find_map(|a| {
        let key = (*a, sni.clone());
        let conn = w.pool.borrow_mut().take(&key)?;
        Some((key, conn))
    }) {
        return Some(conn);
    }
    let connect_timeout = Duration::from_millis(snap.upstream.connect_timeout_ms)
        .min(deadline.saturating_duration_since(Instant::now()));
    for addr in addrs {
        if let Ok(conn) = UpstreamConn::connect(*addr, connect_timeout, tls).await {
            return Some(((*addr, sni), conn));
        }
    }
    None
}

/// Whether an attempt that failed with `failure` on `up` goes once more on
/// a new connection: `up` came from the pool (the upstream may have closed
/// it while idle) and this was the first attempt. The caller adds whether
/// the request can be sent again (whole in hand, and safe to repeat).
pub fn retry_once(failure: &Failure, up: &UpstreamConn, retried: bool) -> bool {
    matches!(failure, Failure::Upstream) && up.reused && !retried
}
