//! Answering a request with a function: the body read whole, the event
//! begun from the request head finished, the function invoked, its result
//! mapped to the answer.

use std::time::Instant;

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{BAD_REQUEST_BODY, INTEGRATION_FAILURE};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::snapshot::Snapshot;

use super::compiled::LambdaIntegration;
use super::event::{self, BodyEncoding};
use super::invoker::Invoker;
use super::result;

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
    // Request validation's second half (the first is the pipeline's `validate`).
    if ex
        .body_schema
        .is_some_and(|s| !crate::snapshot::body_valid(s, &body))
    {
        return respond::error(w, conn, ex, BAD_REQUEST_BODY, false).await;
    }
    event::write_body(&mut conn.upstream_out, lambda.payload, &body, encoding);
    body.clear();
    conn.scratch = body;
    let started = Instant::now();
    let reply = lambda.invoker.invoke(w, snap, &conn.upstream_out).await;
    conn.upstream_out.clear();
    let answer = match reply {
        Err(e) => Err(Invoker::failure(e)),
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
        Ok(a) => respond::answer(w, conn, ex, a.status, &a.headers, &a.body).await,
        Err(failed) => lambda.invoker.refuse(w, conn, ex, failed).await,
    }
}
