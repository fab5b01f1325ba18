//! The execution of an AWS service integration: the request template's
//! output (or the body passed through, `contentHandling` applied) sent to
//! the service with `$context.requestOverride` applied last, the
//! integration response selected by the service's status as text, and the
//! method response from it (the service's headers readable as
//! `integration.response.header.X`), as for HTTP.

use std::time::Instant;

pub use super::bindings::Prepared;
use super::content_handling::{self, Raw};
use super::request::Failed;
use super::response::header;
use super::{read_bound, write_bytes};
use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT, UNSUPPORTED_MEDIA_TYPE};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::integration::{params, AwsService, Routed};
use crate::snapshot::{Execution, Snapshot};
use crate::upstream::CallError;
use crate::vtl::Limits;

pub fn prepare(s: &AwsService, r: &Routed<'_>) -> Box<Prepared> {
    Prepared::from_head(s.mapping(), r)
}

/// `to`: the service and the execution around it.
pub async fn serve(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    to: (&AwsService, &Execution),
    p: Box<Prepared>,
) -> Outcome {
    let (service, e) = to;
    let Prepared {
        mut bindings,
        mapped,
    } = *p;
    let body = match read_bound(w, snap, conn, ex, &mut bindings).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let limits = Limits::default();
    let types = ex.api.map_or(&[][..], |a| &a.binary_media_types[..]);
    let request = content_handling::integration_request(e, &mut bindings, body, types, &limits);
    let (payload, overrides) = match request {
        Ok(r) => r,
        Err(Failed::Unsupported) => {
            return respond::error(w, conn, ex, UNSUPPORTED_MEDIA_TYPE, false).await;
        }
        Err(Failed::Configuration(why)) => return super::misconfigured(w, conn, ex, &why).await,
    };
    let mapped = params::finish(service.mapping(), mapped, Some(&bindings.body));
    let started = Instant::now();
    let reply = service.call(w, snap, &mapped, &payload, &overrides).await;
    let mut payload = payload;
    payload.clear();
    conn.scratch = payload;
    let reply = match reply {
        Ok(r) => r,
        Err(err) => {
            crate::log!(warn, worker = w.id, "AWS service integration: {err}");
            let answer = match err {
                CallError::TimedOut => INTEGRATION_TIMEOUT,
                CallError::Failed => INTEGRATION_FAILURE,
            };
            return respond::error(w, conn, ex, answer, false).await;
        }
    };
    ex.integration = Some((started.elapsed().as_micros() as u64, reply.status));
    let selector = reply.status.to_string();
    // The service's headers, for `integration.response.header.X` mappings.
    let raw = Raw {
        selector: &selector,
        status: reply.status,
        headers: &reply.headers,
        content_type: header(&reply.headers, "content-type"),
        body: &reply.body,
    };
    let accept = header(&bindings.header, "accept").map(str::to_string);
    let answered =
        content_handling::answer(e, &raw, accept.as_deref(), types, &mut bindings, &limits);
    match answered {
        Ok((a, body)) => write_bytes(w, conn, ex, a, &body).await,
        Err(why) => super::misconfigured(w, conn, ex, &why).await,
    }
}
