//! The one place that sends an answer: the gateway's own errors, answers
//! without a body to read first (mock, preflight, cache hit, ACME
//! challenge), `100 Continue`, and the keep-alive decision every answer
//! shares. Integrations write their heads and bodies into `conn.out` and
//! send them through here, so the rule for closing a connection is written
//! once.

use std::io;
use std::time::Duration;

use super::conn::Connection;
use super::exchange::{Exchange, Outcome};
use super::request_id::RequestId;
use super::shard::Shard;
use crate::http::{
    buffered_body_len, write_error, BodyKind, ErrorResponse, Relay, RelayError, ResponseType, Sink,
};
use crate::metrics::Invalid;
use crate::snapshot::{ErrorContext, Snapshot};

/// How long a client that waited for `100 Continue` and got a final answer
/// instead has to start sending its body anyway before the connection closes.
const LATE_BODY: Duration = Duration::from_secs(1);

/// Whether the connection closes after this answer: the caller must close
/// it (`must`: the body could not be read, the framing is the end of the
/// body), the client asked to, or the worker is draining.
pub fn closes(w: &Shard, ex: &Exchange<'_>, must: bool) -> bool {
    must || ex.close || w.draining()
}

/// Sends the whole answer in `conn.out`; the connection carries another
/// request only if it went out and it need not close.
pub async fn send(conn: &mut Connection, ex: &Exchange<'_>, close: bool) -> Outcome {
    match send_whole(conn, ex).await {
        Ok(()) if !close => Outcome::KeepAlive,
        _ => Outcome::Close,
    }
}

/// Sends a whole answer (head and body in `conn.out`), keeping a copy when
/// the cache asked for one. An answer sent in pieces (a relayed body) is
/// never kept, so the cache stores only what went out as one answer.
pub async fn send_whole(conn: &mut Connection, ex: &Exchange<'_>) -> io::Result<()> {
    if ex.capture.is_some() {
        conn.captured.clear();
        conn.captured.extend_from_slice(&conn.out);
    }
    conn.flush().await
}

/// Answers with the gateway's own error. `must_close`: the request's body
/// was not read, so the connection cannot carry another request.
pub async fn error(
    w: &Shard,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    err: ErrorResponse,
    must_close: bool,
) -> Outcome {
    let close = closes(w, ex, must_close);
    ex.status = err.status;
    ex.error = Some(err.message);
    ex.invalid = match err.kind {
        ResponseType::BadRequestParameters => Some(Invalid::Parameters),
        ResponseType::BadRequestBody => Some(Invalid::Body),
        _ => None,
    };
    // The gateway's own answers are never stored.
    ex.capture = None;
    let custom = ex
        .api
        .and_then(|a| Some((a, a.gateway_responses.as_deref()?)));
    let written = custom.and_then(|(api, g)| {
        let cx = ErrorContext {
            request_id: ex.id.as_bytes(),
            api_id: &api.id,
            stage: ex.stage.map_or("", |s| s.name.as_str()),
            variables: ex.stage.map(|s| &s.variables),
            captured: &ex.request_values,
        };
        g.write(&mut conn.out, err, &cx, &w.date(), &conn.extra_head, close)
    });
    match written {
        Some(status) => ex.status = status,
        None => write_error_to(w, conn, ex.id, err, close),
    }
    send(conn, ex, close).await
}

/// A request whose head could not be read: the error, then the connection closes.
pub async fn unreadable(w: &Shard, conn: &mut Connection, err: ErrorResponse) {
    let id = RequestId::generate(w.random_u128());
    write_error_to(w, conn, id, err, true);
    let _ = conn.flush().await;
}

fn write_error_to(
    w: &Shard,
    conn: &mut Connection,
    id: RequestId,
    err: ErrorResponse,
    close: bool,
) {
    // The answer's own headers (CORS, the cache's Miss tag) go with it too.
    write_error(
        &mut conn.out,
        err,
        id.as_bytes(),
        &w.date(),
        &conn.extra_head,
        close,
    );
}

/// A refusal decided before the body was read: the body is skipped if it
/// is here already (the connection stays usable), else the connection ends.
pub async fn refuse(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    err: ErrorResponse,
) -> Outcome {
    let skipped =
        match buffered_body_len(ex.body, conn.stream.buffered(), snap.limits.max_body_bytes) {
            Ok(Some(n)) => {
                conn.stream.consume(n);
                true
            }
            _ => false,
        };
    error(w, conn, ex, err, !skipped).await
}

/// `100 Continue`, when the client waits for it before sending a body an
/// integration is about to read (RFC 9110 §10.1.1). Once some of the body
/// has come, it is not waiting.
pub async fn continue_if_awaited(conn: &mut Connection, ex: &Exchange<'_>) -> io::Result<()> {
    if ex.expect_continue && ex.body != BodyKind::None && conn.stream.buffered().is_empty() {
        conn.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        conn.flush().await?;
    }
    Ok(())
}

/// Answers a request whose body nobody needs with what `write` puts in
/// `conn.out` (told whether the connection closes after it). The body is
/// read and dropped first, so the connection stays usable; a client waiting
/// for `100 Continue` gets none, since the answer is decided: it goes first
/// and the body is read after it only if the client sends it anyway, soon
/// (RFC 9110 §10.1.1); else the connection closes.
pub async fn without_body(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    write: impl FnOnce(&mut Connection, &mut Exchange<'_>, bool),
) -> Outcome {
    let awaits_continue =
        ex.expect_continue && ex.body != BodyKind::None && conn.stream.buffered().is_empty();
    if !awaits_continue {
        if let Err(e) = discard_body(snap, conn, ex).await {
            return match e.client_answer() {
                Some(err) => {
                    // Instead of an answer already written (a cache hit).
                    conn.out.clear();
                    error(w, conn, ex, err, true).await
                }
                None => Outcome::Close,
            };
        }
    }
    let close = closes(w, ex, false);
    write(conn, ex, close);
    if send(conn, ex, close).await == Outcome::Close {
        return Outcome::Close;
    }
    if awaits_continue {
        let started = matches!(conn.stream.fill_within(LATE_BODY).await, Ok(n) if n > 0);
        if !started || discard_body(snap, conn, ex).await.is_err() {
            return Outcome::Close;
        }
    }
    Outcome::KeepAlive
}

/// Reads the request's body whole for an integration that needs it (a
/// Lambda event, a mapping template), after `100 Continue` if the client
/// waits for one, into the connection's scratch buffer (taken: hand it
/// back to `conn.scratch` when done). A body that cannot be read is
/// answered here, and `Err` carries the outcome.
pub async fn read_body(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
) -> Result<Vec<u8>, Outcome> {
    if continue_if_awaited(conn, ex).await.is_err() {
        return Err(Outcome::Close);
    }
    let mut body = std::mem::take(&mut conn.scratch);
    body.clear();
    let relay = Relay {
        kind: ex.body,
        limit: snap.limits.max_body_bytes,
        read_timeout: Duration::from_millis(snap.timeouts.body_ms),
        deadline: Some(snap.timeouts.body_deadline()),
    };
    match relay.run(&mut conn.stream, Sink::Buffer(&mut body)).await {
        Ok(_) => Ok(body),
        Err(e) => {
            conn.scratch = body;
            Err(match e.client_answer() {
                Some(err) => error(w, conn, ex, err, true).await,
                None => Outcome::Close,
            })
        }
    }
}

/// Not taken from an integration's headers: framing is the gateway's.
const DROPPED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "date",
    "x-request-id",
];

/// Answers with an integration's whole answer (a Lambda function's
/// result, a method response): its headers, less those the gateway owns
/// and any that could split the head, then the body.
pub async fn answer(
    w: &Shard,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Outcome {
    let close = closes(w, ex, false);
    ex.status = status;
    let out = &mut conn.out;
    crate::http::write_status_line(out, status);
    for (name, value) in headers {
        let owned = DROPPED.iter().any(|d| d.eq_ignore_ascii_case(name));
        if owned || !is_header_safe(name, value) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    crate::http::end_head(out, ex.id.as_bytes(), &w.date(), &conn.extra_head, close);
    if !ex.is_head {
        out.extend_from_slice(body);
    }
    send(conn, ex, close).await
}

/// An integration cannot split the answer's head with a header of its own.
fn is_header_safe(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b':')
        && !value.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0)
}

/// Reads and drops a body no integration needs, so the connection stays usable.
async fn discard_body(
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &Exchange<'_>,
) -> Result<(), RelayError> {
    if ex.body == BodyKind::None {
        return Ok(());
    }
    let relay = Relay {
        kind: ex.body,
        limit: snap.limits.max_body_bytes,
        read_timeout: Duration::from_millis(snap.timeouts.body_ms),
        deadline: Some(snap.timeouts.body_deadline()),
    };
    relay.run(&mut conn.stream, Sink::Discard).await.map(|_| ())
}
