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

use super::request::{self, media_type, Chosen};
use super::response::{self, Reply};
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
    let body = match super::read_bound(w, snap, conn, ex, &mut bindings).await {
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
    let rendered = match request::choose(e, content_type.as_deref()) {
        Chosen::Unsupported => {
            return respond::error(w, conn, ex, UNSUPPORTED_MEDIA_TYPE, false).await
        }
        Chosen::Passthrough => None,
        Chosen::Template(t) => match t.render(&bindings, &limits) {
            Ok(r) => Some(r),
            Err(err) => {
                return super::misconfigured(w, conn, ex, &format!("request template: {err}")).await
            }
        },
    };
    let mut mapped = params::finish(&e.request_parameters, mapped, Some(&bindings.body));
    // "$context.requestOverride ... applied last" (the data mapping reference).
    if let Some(o) = rendered.as_ref().map(|r| &r.overrides) {
        for (n, v) in &o.request_header {
            put(&mut mapped.header, n, v.clone());
        }
        for (n, v) in &o.request_querystring {
            put(&mut mapped.querystring, n, v.clone());
        }
        for (n, v) in &o.request_path {
            put(&mut mapped.path, n, v.clone());
        }
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
        body: match &rendered {
            Some(r) => r.body.as_bytes(),
            None => &body,
        },
    };
    let mut out = Vec::new();
    proxy.write_whole_request(&mut out, &parts);
    drop(rendered);
    let mut body = body;
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
    let text = String::from_utf8_lossy(&backend.body);
    if e.has_no_responses() {
        // Portico's difference: with no integration response at all the
        // backend's answer goes back as it came (AWS answers 500).
        let typed: Vec<(String, String)> = backend
            .headers
            .iter()
            .filter(|(n, _)| n == "content-type")
            .cloned()
            .collect();
        return respond::answer(w, conn, ex, backend.status, &typed, &backend.body).await;
    }
    let selector = backend.status.to_string();
    let reply = Reply {
        selector: &selector,
        status: backend.status,
        headers: &backend.headers,
        body: &text,
    };
    match response::answer(e, &reply, accept.as_deref(), &mut bindings, &limits) {
        Ok(a) => super::write(w, conn, ex, a).await,
        Err(err) => super::misconfigured(w, conn, ex, &err.to_string()).await,
    }
}
