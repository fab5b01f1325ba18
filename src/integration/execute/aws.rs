//! The execution of an AWS service integration: the request template's
//! output (or the body passed through) sent to the service, the
//! integration response selected by the service's status as text, and the
//! method response from it, as for MOCK.

use std::time::Instant;

use super::response::{self, Reply};
use super::{read_bound, render_request, write, Failed};
use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT, UNSUPPORTED_MEDIA_TYPE};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::integration::{params, AwsService, Routed};
use crate::snapshot::{Execution, Snapshot};
use crate::upstream::CallError;
use crate::vtl::{Bindings, Limits, Overrides};

/// What is taken of the request while its head is in the buffer.
pub struct Prepared {
    pub bindings: Bindings,
    /// Each request parameter's value from the head (`params::from_head`).
    mapped: Vec<Option<String>>,
}

pub fn prepare(s: &AwsService, r: &Routed<'_>) -> Box<Prepared> {
    let bindings = super::bindings::from_head(r);
    let mapped = params::from_head(s.mapping(), r, Some(&bindings.context));
    Box::new(Prepared { bindings, mapped })
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
    let mut body = match read_bound(w, snap, conn, ex, &mut bindings).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let limits = Limits::default();
    let (rendered, accept) = match render_request(e, &bindings, &limits) {
        Ok(r) => r,
        Err(Failed::Unsupported) => {
            conn.scratch = body;
            return respond::error(w, conn, ex, UNSUPPORTED_MEDIA_TYPE, false).await;
        }
        Err(Failed::Configuration(why)) => {
            conn.scratch = body;
            return super::misconfigured(w, conn, ex, &why).await;
        }
    };
    let none = Overrides::default();
    let (payload, overrides) = match &rendered {
        Some(r) => (r.body.as_bytes(), &r.overrides),
        None => (&body[..], &none),
    };
    let mapped = params::finish(service.mapping(), mapped, Some(&bindings.body));
    let started = Instant::now();
    let reply = service.call(w, snap, &mapped, payload, overrides).await;
    body.clear();
    conn.scratch = body;
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
    let text = String::from_utf8_lossy(&reply.body);
    let r = Reply {
        selector: &selector,
        status: reply.status,
        headers: &[],
        body: &text,
    };
    match response::answer(e, &r, accept.as_deref(), &mut bindings, &limits) {
        Ok(a) => write(w, conn, ex, a).await,
        Err(why) => super::misconfigured(w, conn, ex, &why.to_string()).await,
    }
}
