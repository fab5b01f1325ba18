//! One client connection: read a head, hand it to the pipeline, repeat
//! while keep-alive lasts. Timeouts: the first byte of a request must come
//! within the keep-alive (or header) timeout, the whole head within the
//! header timeout from its first byte (slowloris gets 408). While it waits
//! for a request's first byte, or lingers after its last answer, the worker
//! may close it to admit a new connection (see `idle`). After
//! `[timeouts] quiet_ms` without a byte it goes quiet: no read pending, no
//! buffer held, until its socket is readable (ARCHITECTURE.md,
//! "Connection").

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::io::Canceller;
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
        out: Vec::new(),
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
    // Boxed, as the busy stretches are: it would otherwise size every task.
    monoio::select! {
        _ = Box::pin(linger(&mut conn.stream.io, buf)) => {},
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

/// Request after request until the connection ends: busy stretches,
/// each boxed, with quiet waits between them.
async fn exchanges(w: &Shard, slot: &Slot, conn: &mut Connection) -> Ending {
    let mut first = true;
    let mut canceller = Canceller::new();
    // Whether this client paused longer than `quiet_ms` before its last
    // request: then the connection goes quiet as soon as it has answered,
    // with no read to cancel and no timer for it (three io_uring operations
    // a request there instead of five).
    let mut at_once = false;
    loop {
        let quiet_after = Duration::from_millis(w.snapshot().timeouts.quiet_ms);
        let grace = if at_once { Duration::ZERO } else { quiet_after };
        // Boxed: the futures of reading heads and running exchanges are
        // most of a connection's task (several KiB; a task is the size of
        // its largest state), and a quiet connection must not carry them.
        // One allocation per busy stretch, not per request.
        let rest = match Box::pin(busy(w, slot, conn, &mut canceller, &mut first, grace)).await {
            Busy::WentQuiet(rest) => rest,
            Busy::Ended(ending) => return ending,
        };
        conn.release_idle();
        let since = Instant::now();
        if !quiet(&slot.w, slot.idle, conn, rest).await {
            return Ending::Quiet;
        }
        // Gone quiet after a grace read, the pause was that long already.
        at_once = !grace.is_zero() || since.elapsed() >= quiet_after;
    }
}

/// How a busy stretch ended.
enum Busy {
    /// No byte for its grace after an answer: wait for the next request
    /// quietly, for at most this long.
    WentQuiet(Duration),
    Ended(Ending),
}

/// Requests back to back, until the connection ends or goes quiet: it
/// waits for each next request with a read pending for `grace`.
async fn busy(
    w: &Shard,
    slot: &Slot,
    conn: &mut Connection,
    canceller: &mut Canceller,
    first: &mut bool,
    grace: Duration,
) -> Busy {
    loop {
        match read_head(&slot.w, slot.idle, conn, canceller, *first, grace).await {
            Ok(()) => {}
            Err(Stop::WentQuiet(rest)) => return Busy::WentQuiet(rest),
            Err(Stop::Close) => return Busy::Ended(Ending::Quiet),
            Err(Stop::Answer(e)) => {
                respond::unreadable(w, conn, e.into()).await;
                return Busy::Ended(Ending::Answered);
            }
        }
        *first = false;
        let buf = conn.stream.buffered();
        let busy = slot.begin_request(conn.head.method_span.get(buf), conn.head.target.get(buf));
        let outcome = pipeline::handle(w, conn).await;
        drop(busy);
        if outcome == Outcome::Close || w.draining() {
            return Busy::Ended(Ending::Answered);
        }
    }
}

/// Why no head was read.
enum Stop {
    /// Close without a word (idle, evicted, peer gone).
    Close,
    /// Answer this error, then close.
    Answer(HttpError),
    /// Nothing came within the grace: the read is cancelled (or none was
    /// made), the connection still parked, with this long left to wait.
    WentQuiet(Duration),
}

/// Reads until `conn.head` holds a complete head. Between requests the
/// connection is parked as reusable (`idle`): the worker may close it to
/// admit another.
async fn read_head(
    worker: &Worker,
    idle: u32,
    conn: &mut Connection,
    canceller: &mut Canceller,
    first: bool,
    grace: Duration,
) -> Result<(), Stop> {
    let (limits, timeouts) = {
        let s = worker.shard.snapshot();
        (s.limits, s.timeouts)
    };
    let header_timeout = Duration::from_millis(timeouts.header_ms);
    let mut deadline: Option<Instant> = None;
    loop {
        if !conn.stream.buffered().is_empty() {
            if parse_request_head(conn.stream.buffered(), &limits, &mut conn.head)
                .map_err(Stop::Answer)?
            {
                return Ok(());
            }
            deadline.get_or_insert_with(|| Instant::now() + header_timeout);
        }
        let read = match deadline {
            Some(d) => monoio::time::timeout_at(d.into(), conn.stream.fill())
                .await
                .ok(),
            None => {
                let wait = if first {
                    header_timeout
                } else {
                    Duration::from_millis(timeouts.keepalive_ms)
                };
                worker.idle.park(idle);
                let read = monoio::select! {
                    read = next_bytes(conn, wait, canceller, grace) => Some(read),
                    _ = worker.idle.evicted(idle) => None,
                };
                match read {
                    // Still parked: the quiet wait may be evicted too.
                    Some(Next::WentQuiet(rest)) => return Err(Stop::WentQuiet(rest)),
                    // Evicted, even if a request began at the same moment.
                    Some(Next::Read(read)) if worker.idle.unpark(idle) => read,
                    _ => return Err(Stop::Close),
                }
            }
        };
        match read {
            Some(Ok(n)) if n > 0 => {}
            Some(_) => return Err(Stop::Close),
            // Idle keep-alive: close without a word, as nginx does.
            None if deadline.is_none() => return Err(Stop::Close),
            None => return Err(Stop::Answer(HttpError::Timeout)),
        }
    }
}

enum Next {
    /// The read's outcome; `None`: `wait` passed.
    Read(Option<io::Result<usize>>),
    WentQuiet(Duration),
}

/// The first bytes of the next request within `wait`, with a read pending
/// for at most `grace` (`[timeouts] quiet_ms`; zero: quiet at once); then
/// the read is cancelled. Cancelling loses nothing: bytes that came
/// meanwhile are returned by the cancelled read or left in the socket.
async fn next_bytes(
    conn: &mut Connection,
    wait: Duration,
    canceller: &mut Canceller,
    grace: Duration,
) -> Next {
    if grace.is_zero() {
        return Next::WentQuiet(wait);
    }
    if wait <= grace {
        return Next::Read(monoio::time::timeout(wait, conn.stream.fill()).await.ok());
    }
    let mut read = std::pin::pin!(conn.stream.fill_cancelable(canceller.handle()));
    monoio::select! {
        read = &mut read => return Next::Read(Some(read)),
        _ = monoio::time::sleep(grace) => {}
    }
    *canceller = std::mem::take(canceller).cancel();
    match read.await {
        Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => Next::WentQuiet(wait - grace),
        read => Next::Read(Some(read)),
    }
}

/// A parked connection's wait for its next request holding no buffer:
/// until its socket is readable (an io_uring poll), for at most `wait`
/// (a deadline on the worker's wheel: a timer here would be most of an
/// idle connection's task); then the bytes are read (a buffer again), so
/// the busy stretch that follows starts with them. `false`: close it
/// (timed out, evicted, peer gone).
async fn quiet(worker: &Worker, idle: u32, conn: &mut Connection, wait: Duration) -> bool {
    let gauge = &worker.shard.quiet;
    gauge.set(gauge.get() + 1);
    worker.idle.close_at(idle, Instant::now() + wait);
    // Still within the wait: readable may be part of a TLS record, and
    // epoll may call a socket readable that was before it went quiet.
    let arrived = async {
        conn.stream.io.readable().await?;
        // Boxed, so the read's future does not size every quiet task.
        Box::pin(conn.stream.fill()).await
    };
    let ready = monoio::select! {
        read = arrived => matches!(read, Ok(n) if n > 0),
        _ = worker.idle.evicted(idle) => false,
    };
    gauge.set(gauge.get() - 1);
    // The busy stretch that follows parks it again.
    ready && worker.idle.unpark(idle)
}
