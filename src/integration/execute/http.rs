//! A non-proxy HTTP integration (AWS's `HTTP` type): the integration
//! request built from the request template's output, the mapped
//! parameters and `$context.requestOverride`, sent whole to the
//! integration's URI, and the backend's whole answer (status, headers,
//! body) turned into the method response by the integration responses.

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT, UNSUPPORTED_MEDIA_TYPE};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::integration::{HttpParts as Parts, HttpProxyIntegration, Routed};
use crate::snapshot::{Execution, Snapshot};
use crate::upstream::{call, CallError};
use crate::vtl::{Bindings, Limits};

use super::content_handling;
use super::request::media_type;
use super::request::Failed;
use crate::integration::params::{self, put};

/// What is taken of the request while its head is in the buffer.
pub struct Prepared {
    pub bindings: Bindings,
    /// The client's method: the integration's when it names none.
    method: String,
    /// Each request parameter's value from the head (`params::from_head`).
    mapped: Vec<Option<String>>,
}

pub fn prepare(e: &Execution, r: &Routed<'_>) -> Box<Prepared> {
    let bindings = super::bindings::from_head(r);
    let mapped = params::from_head(&e.request_parameters, r, Some(&bindings.context));
    let method = String::from_utf8_lossy(r.head.method_span.get(r.buf)).into_owned();
    Box::new(Prepared {
        bindings,
        method,
        mapped,
    })
}

pub async fn serve(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    proxy: &HttpProxyIntegration,
    e: &Execution,
    p: Box<Prepared>,
) -> Outcome {
    let Prepared {
        mut bindings,
        method,
        mapped,
    } = *p;
    let mut body = match super::read_bound(w, snap, conn, ex, &mut bindings).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let limits = Limits::default();
    let (mut content_type, mut accept) = (None, None);
    for (name, value) in &bindings.header {
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.clone());
        } else if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.clone());
        }
    }
    let types = ex.api.map_or(&[][..], |a| &a.binary_media_types[..]);
    let raw = std::mem::take(&mut body);
    let (payload, overrides) =
        match content_handling::integration_request(e, &mut bindings, raw, types, &limits) {
            Ok(r) => r,
            Err(Failed::Unsupported) => {
                return respond::error(w, conn, ex, UNSUPPORTED_MEDIA_TYPE, false).await
            }
            Err(Failed::Configuration(why)) => {
                return super::misconfigured(w, conn, ex, &why).await
            }
        };
    let mut mapped = params::finish(&e.request_parameters, mapped, Some(&bindings.body));
    // "$context.requestOverride ... applied last" (the data mapping reference).
    for (n, v) in &overrides.request_header {
        put(&mut mapped.header, n, v.clone());
    }
    for (n, v) in &overrides.request_querystring {
        put(&mut mapped.querystring, n, v.clone());
    }
    for (n, v) in &overrides.request_path {
        put(&mut mapped.path, n, v.clone());
    }
    let media = media_type(content_type.as_deref().unwrap_or(""));
    let parts = Parts {
        method: e.http_method.as_deref().unwrap_or(&method),
        path: &mapped.path,
        query: &mapped.querystring,
        headers: &mapped.header,
        content_type: if media.is_empty() {
            "application/json"
        } else {
            &media
        },
        body: &payload,
    };
    let mut out = Vec::new();
    proxy.write_whole_request(&mut out, &parts);
    let mut body = payload;
    body.clear();
    conn.scratch = body;
    let got = call(w, snap, proxy.endpoint(), &mut out, proxy.timeout()).await;
    let backend = match got {
        Ok(b) => b,
        Err(CallError::TimedOut) => {
            return respond::error(w, conn, ex, INTEGRATION_TIMEOUT, false).await
        }
        Err(CallError::Failed) => {
            return respond::error(w, conn, ex, INTEGRATION_FAILURE, false).await
        }
    };
    let selector = backend.status.to_string();
    let raw = content_handling::Raw {
        selector: &selector,
        status: backend.status,
        headers: &backend.headers,
        content_type: super::response::header(&backend.headers, "content-type"),
        body: &backend.body,
    };
    let answered =
        content_handling::answer(e, &raw, accept.as_deref(), types, &mut bindings, &limits);
    match answered {
        Ok((a, body)) => super::write_bytes(w, conn, ex, a, &body).await,
        Err(why) => super::misconfigured(w, conn, ex, &why).await,
    }
}
