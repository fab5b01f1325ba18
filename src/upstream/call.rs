//! A whole request out, a whole answer back, over this worker's pool: how
//! portico calls the Lambda Invoke API (integrations and authorizers) and
//! fetches a JWKS. Unlike the HTTP proxy nothing is streamed: an event and
//! a function's result are JSON documents read and built whole.

use std::time::{Duration, Instant};

use crate::dataplane::shard::Shard;
use crate::http::{Relay, Sink};
use crate::snapshot::Snapshot;

use super::acquire::{acquire_from, retry_once, Failure};
use super::authority::Endpoint;
use super::head::{read_head, ResponseHead};

/// What came back: status, the one header Lambda's callers look at, the
/// headers (for an HTTP integration's response mappings), the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// `X-Amz-Function-Error` was set: the function failed.
    pub function_error: bool,
    /// End-to-end headers in order, names lowercase, values as text.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("could not connect, send or read, or the answer was malformed")]
    Failed,
    #[error("no answer before the deadline")]
    TimedOut,
}

/// The most a reply may hold: Lambda's synchronous response limit is 6 MB.
const MAX_REPLY: u64 = 16 * 1024 * 1024;

/// Sends `request` (head and body, written whole) to one of `addrs` and
/// reads the answer whole. A pooled connection found closed is retried
/// once on a fresh one.
pub async fn call(
    w: &Shard,
    snap: &Snapshot,
    to: &Endpoint,
    request: &mut Vec<u8>,
    timeout: Duration,
) -> Result<Reply, CallError> {
    let deadline = Instant::now() + timeout;
    let mut head = ResponseHead::default();
    let mut retried = false;
    loop {
        let Some((addr, mut up)) =
            acquire_from(w, snap, &to.addrs, to.tls.as_ref(), deadline).await
        else {
            return Err(CallError::Failed);
        };
        let got = match up.stream.io.write_kept(request).await {
            Ok(()) => read_head(&mut up.stream, false, &mut head, deadline).await,
            Err(_) => Err(Failure::Upstream),
        };
        match got {
            Ok(()) => {}
            Err(f) if retry_once(&f, &up, retried) => {
                retried = true;
                continue;
            }
            Err(Failure::TimedOut) => return Err(CallError::TimedOut),
            Err(_) => return Err(CallError::Failed),
        }
        let rest = deadline.saturating_duration_since(Instant::now());
        let function_error = head.headers.iter().any(|(n, _)| {
            n.get(up.stream.buffered())
                .eq_ignore_ascii_case(b"x-amz-function-error")
        });
        let headers = head
            .headers
            .iter()
            .map(|(n, v)| (n.get(up.stream.buffered()), v.get(up.stream.buffered())))
            .filter(|(n, _)| !crate::http::forward::is_gateway_response_header(n))
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).to_ascii_lowercase(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        up.stream.consume(head.len);
        let mut body = Vec::new();
        let relay = Relay {
            kind: head.body,
            limit: MAX_REPLY,
            read_timeout: rest,
            deadline: None,
        };
        match relay.run(&mut up.stream, Sink::Buffer(&mut body)).await {
            Ok(_) => {}
            Err(crate::http::RelayError::SourceTimeout) => return Err(CallError::TimedOut),
            Err(_) => return Err(CallError::Failed),
        }
        if head.keep_alive && up.stream.buffered().is_empty() {
            w.pool.borrow_mut().put(addr, up);
        }
        return Ok(Reply {
            status: head.status,
            function_error,
            headers,
            body,
        });
    }
}
