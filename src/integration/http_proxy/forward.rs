//! Sending the request to the upstream: a body already here whole goes
//! with the head in one write (and can go again on a new connection if a
//! pooled one turns out closed), a larger or slower one is relayed as it
//! arrives; then the answer's head is read and `answer` takes over.

use std::time::{Duration, Instant};

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::http::{buffered_body_len, forward, BodyKind, Framing, Relay, RelayError, Sink};
use crate::snapshot::Snapshot;
use crate::upstream::{acquire_from, read_head, retry_once, Failure, UpstreamConn};

use super::answer::relay_answer;
use super::compiled::HttpProxyIntegration;
use super::deferred::Deferred;

/// Forwards the request whose head is already in `conn.upstream_out`, or
/// is written here once the body its mapping reads is (`deferred`).
pub async fn forward(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    proxy: &HttpProxyIntegration,
    deferred: Option<Box<Deferred>>,
) -> Outcome {
    let limit = snap.limits.max_body_bytes;
    // A route validating its body (AWS checks it before any integration)
    // or mapping from it (its head is `deferred` until then): read whole
    // (bounded), checked, then sent with the head. Every other route's
    // body streams as below, never copied.
    let validated = match (deferred, ex.body_schema) {
        (None, None) => None,
        (deferred, _) => match crate::integration::execute::read_valid(w, snap, conn, ex).await {
            Ok(body) => {
                if let Some(d) = deferred {
                    proxy.write_deferred_head(&mut conn.upstream_out, *d, &body);
                }
                Some(body)
            }
            Err(outcome) => return outcome,
        },
    };
    // A body already here whole travels with the head in one write, and can
    // be sent again if a pooled connection turns out to be closed.
    let whole = match validated {
        Some(mut body) => {
            forward::end_request_head(&mut conn.upstream_out, Some(body.len() as u64));
            conn.upstream_out.extend_from_slice(&body);
            body.clear();
            conn.scratch = body;
            true
        }
        None => match buffered_body_len(ex.body, conn.stream.buffered(), limit) {
            Ok(Some(n)) => {
                let body = &conn.stream.buffered()[..n];
                if ex.body == BodyKind::Chunked {
                    forward::end_with_dechunked(&mut conn.upstream_out, body);
                } else {
                    forward::end_request_head(&mut conn.upstream_out, Some(n as u64));
                    conn.upstream_out.extend_from_slice(body);
                }
                conn.stream.consume(n);
                true
            }
            Ok(None) => {
                forward::end_request_head(
                    &mut conn.upstream_out,
                    forward::upstream_length(ex.body),
                );
                false
            }
            Err(e) => return respond::error(w, conn, ex, e.into(), true).await,
        },
    };
    let started = Instant::now();
    let deadline = started + proxy.timeout;
    let mut retried = false;
    let (addr, upstream) = loop {
        let Some((addr, mut up)) =
            acquire_from(w, snap, &proxy.addrs, proxy.tls.as_ref(), deadline).await
        else {
            return respond::error(w, conn, ex, INTEGRATION_FAILURE, !whole).await;
        };
        let sent = if whole {
            up.stream
                .io
                .write_kept(&mut conn.upstream_out)
                .await
                .map_err(|_| Failure::Upstream)
        } else {
            send_streaming(snap, conn, ex, &mut up).await
        };
        let received = match sent {
            Ok(()) => {
                read_head(
                    &mut up.stream,
                    ex.is_head,
                    &mut conn.response_head,
                    deadline,
                )
                .await
            }
            Err(f) => Err(f),
        };
        match received {
            Ok(()) => break (addr, up),
            // A pooled connection the upstream closed while idle: once more
            // on a new one, unless the upstream may have executed it.
            Err(f) if whole && ex.idempotent && retry_once(&f, &up, retried) => retried = true,
            Err(Failure::Upstream) => {
                return respond::error(w, conn, ex, INTEGRATION_FAILURE, !whole).await
            }
            Err(Failure::TimedOut) => {
                return respond::error(w, conn, ex, INTEGRATION_TIMEOUT, !whole).await
            }
            Err(Failure::Client(Some(e))) => return respond::error(w, conn, ex, e, true).await,
            Err(Failure::Client(None)) => return Outcome::Close,
        }
    };
    conn.upstream_out.clear();
    ex.status = conn.response_head.status;
    ex.integration = Some((
        started.elapsed().as_micros() as u64,
        conn.response_head.status,
    ));
    relay_answer(w, conn, ex, addr, upstream, proxy).await
}

async fn send_streaming(
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &Exchange<'_>,
    up: &mut UpstreamConn,
) -> Result<(), Failure> {
    respond::continue_if_awaited(conn, ex)
        .await
        .map_err(|_| Failure::Client(None))?;
    up.stream
        .io
        .write_buf(&mut conn.upstream_out)
        .await
        .map_err(|_| Failure::Upstream)?;
    let relay = Relay {
        kind: ex.body,
        limit: snap.limits.max_body_bytes,
        read_timeout: Duration::from_millis(snap.timeouts.body_ms),
        deadline: Some(snap.timeouts.body_deadline()),
    };
    let sink = Sink::Peer {
        io: &mut up.stream.io,
        framing: Framing::Rechunk,
        scratch: &mut conn.scratch,
    };
    relay
        .run(&mut conn.stream, sink)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            RelayError::Sink(_) => Failure::Upstream,
            e => Failure::Client(e.client_answer()),
        })
}
