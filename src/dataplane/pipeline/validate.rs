//! Request validation's first half, after admission: the route's required
//! parameters must be present (AWS's BAD_REQUEST_PARAMETERS), and the
//! body's schema is chosen by content type while the head is readable;
//! the body itself is checked where an integration reads it whole
//! (execution, Lambda proxy), and, only on a route that validates a body,
//! read whole first by an HTTP proxy (`integration::forward`) and a
//! config-file MOCK (`whole_body` here). A route without validation pays
//! one `Option` check and its body streams as before.

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::bad_request_parameters;
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::shard::Shard;
use crate::http::{BodyKind, ErrorResponse, Head};
use crate::snapshot::{Location, Snapshot, Validation};

/// The missing parameters' refusal, else the body's schema, if any.
pub fn check<'s>(
    v: Option<&'s Validation>,
    head: &Head,
    buf: &[u8],
    params: &matchit::Params<'_, '_>,
) -> Result<Option<&'s jsonschema::Validator>, ErrorResponse> {
    let Some(v) = v else { return Ok(None) };
    let query = head.path_and_query(buf).1.unwrap_or_default();
    let mut missing = 0u64;
    for (i, r) in v.required.iter().enumerate() {
        let present = match r.location {
            // AWS: "included and not blank".
            Location::Query => {
                crate::http::query::first(query, r.name.as_bytes()).is_some_and(|v| !v.is_empty())
            }
            Location::Header => head
                .header(buf, r.name.as_bytes())
                .is_some_and(|v| !v.trim_ascii().is_empty()),
            Location::Path => params.get(&r.name).is_some_and(|p| !p.is_empty()),
        };
        if !present {
            missing |= 1u64.checked_shl(i as u32).unwrap_or(0);
            if i >= 64 {
                missing = u64::MAX;
            }
        }
    }
    if missing != 0 {
        return Err(bad_request_parameters(v.missing_message(missing)));
    }
    Ok(v.body_for(head.header(buf, b"content-type")))
}

/// For an integration that answers without reading the body (a MOCK
/// without execution): where the route validates a body, it is read
/// (bounded by `max_body_bytes`), checked (400 `BAD_REQUEST_BODY`) and
/// dropped, so the answer is the mock's only for a valid one.
pub async fn whole_body(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
) -> Result<(), Outcome> {
    if ex.body_schema.is_none() {
        return Ok(());
    }
    let mut body = crate::integration::execute::read_valid(w, snap, conn, ex).await?;
    body.clear();
    conn.scratch = body;
    // Read: nothing of it is left on the connection to discard.
    ex.body = BodyKind::None;
    Ok(())
}
