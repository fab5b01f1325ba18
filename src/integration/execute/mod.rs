//! Non-proxy execution, as API Gateway runs REST APIs' integrations that
//! are not proxies: the request read whole and bound for templates
//! (`bindings`), the integration request's body from the request template
//! or passed through (`request`), the integration called (`mock`,
//! `lambda`, `http`, an AWS service's `aws`; parameter mappings in
//! `integration::params`), and the method
//! response made from the integration response its status or error
//! message selects (`response`). What is compiled per
//! snapshot is `snapshot::Execution`.

pub mod aws;
pub mod bindings;
pub mod content_handling;
pub mod http;
mod lambda;
mod mock;
pub mod request;
pub mod response;

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{API_CONFIGURATION_ERROR, BAD_REQUEST_BODY, UNSUPPORTED_MEDIA_TYPE};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::snapshot::{Execution, Snapshot};
use crate::vtl::{Bindings, Limits, Rendered};

pub use lambda::serve as serve_lambda;
use request::{Chosen, Failed};
use response::Answer;

/// Reads the body, runs the request template, the MOCK integration and
/// the integration response, and answers.
pub async fn serve(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    e: &Execution,
    mut bindings: Box<Bindings>,
) -> Outcome {
    let mut body = match read_bound(w, snap, conn, ex, &mut bindings).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    body.clear();
    conn.scratch = body;
    let types = ex.api.map_or(&[][..], |a| &a.binary_media_types[..]);
    match run(e, &mut bindings, types) {
        Ok((a, body)) => write_bytes(w, conn, ex, a, &body).await,
        Err(Failed::Unsupported) => {
            respond::error(w, conn, ex, UNSUPPORTED_MEDIA_TYPE, false).await
        }
        Err(Failed::Configuration(why)) => misconfigured(w, conn, ex, &why).await,
    }
}

/// The body read whole and checked against the route's model: request
/// validation's second half (the first is the pipeline's `validate`),
/// for every integration that checks a body (a proxy only where its route
/// validates one), and the one whole read of a proxy whose mapping reads
/// the body (`http_proxy::deferred`).
pub async fn read_valid(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
) -> Result<Vec<u8>, Outcome> {
    let body = respond::read_body(w, snap, conn, ex).await?;
    if ex
        .body_schema
        .is_some_and(|s| !crate::snapshot::body_valid(s, &body))
    {
        return Err(respond::error(w, conn, ex, BAD_REQUEST_BODY, false).await);
    }
    Ok(body)
}

/// `read_valid`, the body bound as `$input.body`; its bytes as they came.
async fn read_bound(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    bindings: &mut Bindings,
) -> Result<Vec<u8>, Outcome> {
    let body = read_valid(w, snap, conn, ex).await?;
    bindings.body = String::from_utf8_lossy(&body).into_owned();
    Ok(body)
}

/// AWS's "Execution failed due to configuration error": logged, 500
/// (`API_CONFIGURATION_ERROR`), for every integration run here.
async fn misconfigured(
    w: &Shard,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    why: &str,
) -> Outcome {
    crate::log!(
        warn,
        worker = w.id,
        "execution failed due to configuration error: {why}"
    );
    respond::error(w, conn, ex, API_CONFIGURATION_ERROR, false).await
}

/// The whole execution of a MOCK integration, the body in `b`.
fn run(e: &Execution, b: &mut Bindings, types: &[String]) -> Result<(Answer, Vec<u8>), Failed> {
    let limits = Limits::default();
    let (rendered, accept) = render_request(e, b, &limits)?;
    let status = mock::status(rendered.as_ref().map(|r| r.body.as_str()))
        .map_err(|err| Failed::Configuration(err.to_string()))?;
    let selector = status.to_string();
    // A MOCK integration answers no headers and an empty body.
    let reply = content_handling::Raw {
        selector: &selector,
        status,
        headers: &[],
        content_type: None,
        body: b"",
    };
    content_handling::answer(e, &reply, accept.as_deref(), types, b, &limits)
        .map_err(Failed::Configuration)
}

/// The request template's output for the request's content type (none:
/// the body passes through), and the client's `Accept`.
fn render_request(
    e: &Execution,
    b: &Bindings,
    limits: &Limits,
) -> Result<(Option<Rendered>, Option<String>), Failed> {
    let content_type = response::header(&b.header, "content-type").map(str::to_string);
    let accept = response::header(&b.header, "accept").map(str::to_string);
    let rendered = match request::choose(e, content_type.as_deref()) {
        Chosen::Unsupported => return Err(Failed::Unsupported),
        Chosen::Passthrough => None,
        Chosen::Template(t) => Some(
            t.render(b, limits)
                .map_err(|err| Failed::Configuration(format!("request template: {err}")))?,
        ),
    };
    Ok((rendered, accept))
}

/// The method response, typed by its template unless a header says
/// otherwise; the body as bytes (`content_handling` may make it binary).
pub(super) async fn write_bytes(
    w: &Shard,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    a: Answer,
    body: &[u8],
) -> Outcome {
    let mut headers = a.headers;
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), a.content_type));
    }
    respond::answer(w, conn, ex, a.status, &headers, body).await
}
