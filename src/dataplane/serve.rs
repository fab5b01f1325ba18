//! One client connection: read a head, hand it to the pipeline, repeat
//! while keep-alive lasts. Timeouts: the first byte of a request must come
//! within the keep-alive (or header) timeout, the whole head within the
//! header timeout from its first byte (slowloris gets 408). While it waits
//! for a request's first byte, or lingers after its last answer, the worker
//! may close it to admit a new connection (see `idle`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::conn::Connection;
use super::errors::UNAVAILABLE;
use super::exchange::Outcome;
use super::linger::{linger, LINGER_TIME};
use super::pipeline;
use super::request_id::RequestId;
use super::respond;
use super::runtime::{Refusal, Slot, Worker};
use super::shard::Shard;
use crate::http::{parse_request_head, write_error, Head, HttpError, Io, Stream};
use crate::upstream::ResponseHead;

/// Initial read buffer of a client connection; grows for large heads.
const CLIENT_BUFFER: usize = 8 * 1024;

/// Serves one client connection; `tls`: the HTTPS listener's certificates.
pub async fn serve(slot: Slot, io: TcpStream, peer: SocketAddr, tls: Option<Arc<crate::tls::Tls>>) {
    let w = &slot.w.shard;
    let Some(io) = transport(w, io, tls) else {
        return;
    };
    let mut conn = Connection {
        https: io.is_tls(),
        stream: Stream::new(io, CLIENT_BUFFER),
        out: Vec::with_capacity(CLIENT_BUFFER),
        // Only HTTP and Lambda integrations write here: allocated on first
        // use, so a connection to MOCK or cached routes never holds it
        // (8 KiB of an idle connection's 31 measured).
        upstream_out: Vec::new(),
        scratch: Vec::new(),
        path: Vec::new(),
        head: Head::default(),
        response_head: ResponseHead::default(),
        peer_ip: peer.ip().to_string(),
        sent: 0,
        extra_head: Vec::new(),
        captured: Vec::new(),
        log_path: Vec::new(),
        client_cert: None,
    };
    if exchanges(w, &slot, &mut conn).await == Ending::Quiet {
        // TLS ends with close_notify, so the client can tell an end from a cut.
        conn.stream.io.close().await;
        return;
    }
    // Only waiting for the client to finish: reusable meanwhile.
    let idle = &slot.w.idle;
    idle.park(slot.idle);
    let buf = std::mem::take(&mut conn.out);
    monoio::select! {
        _ = linger(&mut conn.stream.io, buf) => {},
        _ = idle.evicted(slot.idle) => {},
    }
}

/// A new connection the worker has no room for: 503 with Retry-After,
/// then a lingering close.
pub async fn refuse(r: Refusal, io: TcpStream, tls: Option<Arc<crate::tls::Tls>>) {
    let w = &r.0.shard;
    let Some(io) = transport(w, io, tls) else {
        return;
    };
    let mut stream = Stream::new(io, 0);
    // Over TLS the answer needs the handshake, which the first read drives.
    if stream.io.is_tls() && !matches!(stream.fill_within(LINGER_TIME).await, Ok(n) if n > 0) {
        return;
    }
    let mut out = Vec::new();
    let id = RequestId::generate(w.random_u128());
    write_error(&mut out, UNAVAILABLE, id.as_bytes(), &w.date(), b"", true);
    if stream.io.write_buf(&mut out).await.is_ok() {
        linger(&mut stream.io, out).await;
    }
}

/// The connection's transport: plain, or TLS with the listener's certificates.
fn transport(w: &Shard, io: TcpStream, tls: Option<Arc<crate::tls::Tls>>) -> Option<Io> {
    let _ = io.set_nodelay(true);
    Some(match tls {
        None => Io::plain(io),
        Some(t) => {
            // A CA validating TLS-ALPN-01 (while one is pending) and
            // mutual-TLS domains: the config is chosen by the ClientHello.
            let acme = w.acme.alpn_pending().then(|| w.acme.clone());
            if t.by_name || acme.is_some() {
                Io::tls_by_name(io, t, acme)
            } else {
                match rustls::ServerConnection::new(t.config_for(None)) {
                    Ok(c) => Io::tls(io, c),
                    Err(e) => {
                        crate::log!(warn, worker = w.id, "TLS: {e}");
                        return None;
                    }
                }
            }
        }
    })
}

/// How a connection's exchanges ended.
#[derive(PartialEq, Eq)]
enum Ending {
    /// Idle, evicted or the peer gone: nothing was owed.
    Quiet,
    /// After an answer, with input possibly still on its way.
    Answered,
}

/// Request after request until the connection ends.
async fn exchanges(w: &Shard, slot: &Slot, conn: &mut Connection) -> Ending {
    let mut first = true;
    loop {
        match read_head(&slot.w, slot.idle, conn, first).await {
            Ok(()) => {}
            Err(None) => return Ending::Quiet,
            Err(Some(e)) => {
                respond::unreadable(w, conn, e.into()).await;
                return Ending::Answered;
            }
        }
        first = false;
        let buf = conn.stream.buffered();
        let busy = slot.begin_request(conn.head.method_span.get(buf), conn.head.target.get(buf));
        let outcome = pipeline::handle(w, conn).await;
        drop(busy);
        if outcome == Outcome::Close || w.draining() {
            return Ending::Answered;
        }
    }
}

/// Reads until `conn.head` holds a complete head. `Err(None)`: close
/// quietly (idle, peer gone); `Err(Some(e))`: answer `e`, then close.
/// Between requests the connection is parked as reusable (`idle`): the
/// worker may close it to admit another.
async fn read_head(
    worker: &Worker,
    idle: u32,
    conn: &mut Connection,
    first: bool,
) -> Result<(), Option<HttpError>> {
    let (limits, timeouts) = {
        let s = worker.shard.snapshot();
        (s.limits, s.timeouts)
    };
    let header_timeout = Duration::from_millis(timeouts.header_ms);
    let mut deadline: Option<Instant> = None;
    loop {
        if !conn.stream.buffered().is_empty() {
            if parse_request_head(conn.stream.buffered(), &limits, &mut conn.head)? {
                return Ok(());
            }
            deadline.get_or_insert_with(|| Instant::now() + header_timeout);
        }
        let read = match deadline {
            Some(d) => monoio::time::timeout_at(d.into(), conn.stream.fill()).await,
            None => {
                let wait = if first {
                    header_timeout
                } else {
                    Duration::from_millis(timeouts.keepalive_ms)
                };
                worker.idle.park(idle);
                let read = monoio::select! {
                    read = monoio::time::timeout(wait, conn.stream.fill()) => Some(read),
                    _ = worker.idle.evicted(idle) => None,
                };
                // Evicted, even if a request began at the same moment.
                match read {
                    Some(read) if worker.idle.unpark(idle) => read,
                    _ => return Err(None),
                }
            }
        };
        match read {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return Err(None),
            // Idle keep-alive: close without a word, as nginx does.
            Err(_) if deadline.is_none() => return Err(None),
            Err(_) => return Err(Some(HttpError::Timeout)),
        }
    }
}
