//! Answering a request with a function: the body read whole, the event
//! begun from the request head finished, the function invoked, its result
//! mapped to the answer.

use std::time::Instant;

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::http::end_head;
use crate::snapshot::Snapshot;
use crate::upstream::CallError;

use super::compiled::LambdaIntegration;
use super::event::{self, BodyEncoding};
use super::result;

/// Not taken from a function's result: framing is the gateway's.
pub const DROPPED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "date",
    "x-request-id",
];

/// Reads the body, finishes the event begun in `conn.upstream_out`,
/// invokes the function and answers with its mapped result.
pub async fn serve(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    lambda: &LambdaIntegration,
    encoding: BodyEncoding,
) -> Outcome {
    let mut body = match respond::read_body(w, snap, conn, ex).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    event::write_body(&mut conn.upstream_out, lambda.payload, &body, encoding);
    body.clear();
    conn.scratch = body;
    let started = Instant::now();
    let reply = lambda.invoker.invoke(w, snap, &conn.upstream_out).await;
    conn.upstream_out.clear();
    let answer = match reply {
        Err(CallError::TimedOut) => Err((
            INTEGRATION_TIMEOUT,
            "no result within the integration timeout".into(),
        )),
        Err(CallError::Failed) => Err((
            INTEGRATION_FAILURE,
            "the Invoke API could not be reached or answered badly".into(),
        )),
        Ok(reply) => {
            ex.integration = Some((started.elapsed().as_micros() as u64, reply.status));
            match (reply.status, reply.function_error) {
                (200..=299, false) => result::map(lambda.payload, &reply.body)
                    .map_err(|e| format!("result refused: {e}")),
                (_, true) => {
                    Err("result refused: the function failed (X-Amz-Function-Error)".into())
                }
                (status, _) => Err(format!("result refused: the Invoke API answered {status}")),
            }
            .map_err(|why| (INTEGRATION_FAILURE, why))
        }
    };
    match answer {
        Ok(a) => write_answer(w, conn, ex, &a).await,
        Err((err, why)) => {
            crate::log!(
                warn,
                worker = w.id,
                "lambda `{}`: {why}",
                lambda.invoker.function
            );
            respond::error(w, conn, ex, err, false).await
        }
    }
}

async fn write_answer(
    w: &Shard,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    a: &result::Answer,
) -> Outcome {
    let close = respond::closes(w, ex, false);
    ex.status = a.status;
    let out = &mut conn.out;
    crate::http::write_status_line(out, a.status);
    for (name, value) in &a.headers {
        if DROPPED.contains(&name.as_str()) || !is_header_safe(name, value) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(a.body.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    end_head(out, ex.id.as_bytes(), &w.date(), &conn.extra_head, close);
    if !ex.is_head {
        out.extend_from_slice(&a.body);
    }
    respond::send(conn, ex, close).await
}

/// A function cannot split the answer's head with a header of its own.
pub fn is_header_safe(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b':')
        && !value.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0)
}
