//! This worker's keep-alive connections to upstreams. Never shared with
//! another core: no locks, and a connection is always used by the core
//! whose io_uring owns it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use monoio::net::TcpStream;

use super::tls::UpstreamTls;
use crate::http::{Io, Stream};

/// Connections are pooled per address and, for TLS, per server name.
pub type PoolKey = (SocketAddr, Option<Arc<str>>);

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
    /// Connects to `addr`; with `tls` the handshake starts with the first write.
    pub async fn connect(
        addr: SocketAddr,
        timeout: Duration,
        tls: Option<&UpstreamTls>,
    ) -> io::Result<UpstreamConn> {
        let tcp = match monoio::time::timeout(timeout, TcpStream::connect_addr(addr)).await {
            Ok(res) => res?,
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        };
        tcp.set_nodelay(true)?;
        let io = match tls {
            None => Io::plain(tcp),
            Some(t) => Io::tls(
                tcp,
                rustls::ClientConnection::new(t.config.clone(), t.name.clone())
                    .map_err(io::Error::other)?,
            ),
        };
        Ok(UpstreamConn {
            stream: Stream::new(io, UPSTREAM_BUFFER),
            reused: false,
            idle_since: Instant::now(),
        })
    }
}

pub struct Pool {
    idle: HashMap<PoolKey, Vec<UpstreamConn>>,
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

    /// The most recently used idle connection to `addr` that has not timed
    /// out and has heard nothing since its last answer (a byte or a close
    /// from an idle upstream means it is out of step: dropped).
    pub fn take(&mut self, key: &PoolKey) -> Option<UpstreamConn> {
        let list = self.idle.get_mut(key)?;
        while let Some(mut conn) = list.pop() {
            if conn.idle_since.elapsed() < self.idle_timeout && conn.stream.io.is_quiet() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    pub fn put(&mut self, key: PoolKey, mut conn: UpstreamConn) {
        let list = self.idle.entry(key).or_default();
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

    pub fn idle_count(&self, key: &PoolKey) -> usize {
        self.idle.get(key).map_or(0, Vec::len)
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
            let connect = || UpstreamConn::connect(addr, Duration::from_secs(2), None);
            let key = (addr, None);
            let mut pool = Pool::new(2, Duration::from_secs(60));
            assert!(pool.take(&key).is_none());
            for _ in 0..3 {
                let c = connect().await.unwrap();
                assert!(!c.reused);
                pool.put(key.clone(), c);
            }
            assert_eq!(
                pool.idle_count(&key),
                2,
                "max_idle_per_upstream bounds the idle list"
            );
            assert!(pool.take(&key).unwrap().reused);
            assert_eq!(pool.idle_count(&key), 1);

            // An upstream that spoke (bytes after its answer) or closed
            // while the connection was idle: out of step, never reused.
            use std::io::Write;
            let fresh = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = fresh.local_addr().unwrap();
            let connect = || UpstreamConn::connect(addr, Duration::from_secs(2), None);
            let key = (addr, None);
            let mut pool = Pool::new(4, Duration::from_secs(60));
            let spoke = connect().await.unwrap();
            let (mut peer, _) = fresh.accept().unwrap();
            peer.write_all(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
            let closed = connect().await.unwrap();
            let (peer2, _) = fresh.accept().unwrap();
            drop(peer2);
            let silent = connect().await.unwrap();
            let (_peer3, _) = fresh.accept().unwrap();
            pool.put(key.clone(), silent);
            pool.put(key.clone(), closed);
            pool.put(key.clone(), spoke);
            // Loopback delivers at once; the peek sees the bytes and the FIN.
            let taken = pool.take(&key).expect("the silent one");
            assert_eq!(pool.idle_count(&key), 0, "the other two were dropped");
            assert!(taken.reused);
            drop(peer);

            let mut expiring = Pool::new(2, Duration::ZERO);
            expiring.put(key.clone(), connect().await.unwrap());
            assert!(
                expiring.take(&key).is_none(),
                "an idle connection past idle_timeout is not reused"
            );
            assert_eq!(expiring.idle_count(&key), 0, "and it is closed, not kept");
        });
    }
}
