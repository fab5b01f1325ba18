//! This worker's keep-alive connections to upstreams. Never shared with
//! another core: no locks, and a connection is always used by the core
//! whose io_uring owns it.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use monoio::net::TcpStream;

use crate::http::Stream;

pub struct UpstreamConn {
    pub stream: Stream,
    /// Taken from the pool rather than freshly connected: it may have been
    /// closed by the upstream meanwhile, so a failure on it is retried.
    pub reused: bool,
    idle_since: Instant,
}

/// Read buffer of an upstream connection; grows for large heads.
const UPSTREAM_BUFFER: usize = 16 * 1024;

impl UpstreamConn {
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<UpstreamConn> {
        let io = match monoio::time::timeout(timeout, TcpStream::connect_addr(addr)).await {
            Ok(res) => res?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        };
        io.set_nodelay(true)?;
        Ok(UpstreamConn {
            stream: Stream::new(crate::http::Io::plain(io), UPSTREAM_BUFFER),
            reused: false,
            idle_since: Instant::now(),
        })
    }
}

pub struct Pool {
    idle: HashMap<SocketAddr, Vec<UpstreamConn>>,
    max_idle: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: HashMap::new(),
            max_idle,
            idle_timeout,
        }
    }

    /// The most recently used idle connection to `addr` that has not timed out.
    pub fn take(&mut self, addr: SocketAddr) -> Option<UpstreamConn> {
        let list = self.idle.get_mut(&addr)?;
        while let Some(mut conn) = list.pop() {
            if conn.idle_since.elapsed() < self.idle_timeout {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    pub fn put(&mut self, addr: SocketAddr, mut conn: UpstreamConn) {
        let list = self.idle.entry(addr).or_default();
        if list.len() >= self.max_idle {
            // Drop the oldest: it is the likeliest to be closed by the upstream.
            list.remove(0);
        }
        conn.idle_since = Instant::now();
        list.push(conn);
    }

    /// Idle connections to every upstream (a gauge).
    pub fn idle_total(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    pub fn idle_count(&self, addr: SocketAddr) -> usize {
        self.idle.get(&addr).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl std::future::Future<Output = ()>) {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
            .block_on(f);
    }

    #[test]
    fn keeps_at_most_max_idle_and_drops_expired() {
        // Connections complete in the listener's backlog; nobody needs to accept them.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        run(async move {
            let connect = || UpstreamConn::connect(addr, Duration::from_secs(2));
            let mut pool = Pool::new(2, Duration::from_secs(60));
            assert!(pool.take(addr).is_none());
            for _ in 0..3 {
                let c = connect().await.unwrap();
                assert!(!c.reused);
                pool.put(addr, c);
            }
            assert_eq!(
                pool.idle_count(addr),
                2,
                "max_idle_per_upstream bounds the idle list"
            );
            assert!(pool.take(addr).unwrap().reused);
            assert_eq!(pool.idle_count(addr), 1);

            let mut expiring = Pool::new(2, Duration::ZERO);
            expiring.put(addr, connect().await.unwrap());
            assert!(
                expiring.take(addr).is_none(),
                "an idle connection past idle_timeout is not reused"
            );
            assert_eq!(expiring.idle_count(addr), 0, "and it is closed, not kept");
        });
    }
}
