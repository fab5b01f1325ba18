//! A Lambda non-proxy ("custom") integration, API Gateway's `AWS` type
//! with a Lambda invocation URI: the event is the request template's
//! output (or the body passed through), the function's payload is the
//! integration response, and selection patterns are matched against the
//! `errorMessage` of a function error, an empty string on success, as AWS
//! matches them ("the Lambda error regex" is tried on successful results
//! too, with an empty error message).

use std::time::Instant;

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, UNSUPPORTED_MEDIA_TYPE};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::integration::lambda::Invoker;
use crate::integration::LambdaIntegration;
use crate::snapshot::{Execution, Snapshot};
use crate::upstream;
use crate::vtl::{Bindings, Limits, Overrides};

use super::bindings::Prepared;
use super::content_handling::{self, Raw};
use super::request::Failed;
use crate::integration::params;

/// Reads the body, builds the event, invokes the function and answers
/// with the integration response its result selects.
pub async fn serve(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    p: Box<Prepared>,
    e: &Execution,
    lambda: &LambdaIntegration,
) -> Outcome {
    let Prepared {
        mut bindings,
        mapped,
    } = *p;
    let body = match super::read_bound(w, snap, conn, ex, &mut bindings).await {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let limits = Limits::default();
    let types = ex.api.map_or(&[][..], |a| &a.binary_media_types[..]);
    let event = match event(e, &mut bindings, body, types, &limits) {
        Ok(event) => event,
        Err(Failed::Unsupported) => {
            return respond::error(w, conn, ex, UNSUPPORTED_MEDIA_TYPE, false).await
        }
        Err(Failed::Configuration(why)) => return super::misconfigured(w, conn, ex, &why).await,
    };
    let started = Instant::now();
    let (payload, overrides) = event;
    // The integration request's headers: mapped, then overridden.
    let mapped = params::finish(&e.request_parameters, mapped, Some(&bindings.body));
    let headers = invoke_headers(mapped.header.iter().chain(&overrides.request_header));
    let reply = lambda
        .invoker
        .invoke_with(w, snap, &payload, &headers)
        .await;
    let mut payload = payload;
    payload.clear();
    conn.scratch = payload;
    let result = match reply {
        Err(e) => Err(Invoker::failure(e)),
        Ok(reply) => {
            ex.integration = Some((started.elapsed().as_micros() as u64, reply.status));
            outcome(&reply)
                .map(|r| (r, reply))
                .map_err(|why| (INTEGRATION_FAILURE, why))
        }
    };
    let (result, reply) = match result {
        Ok(r) => r,
        Err(failed) => return lambda.invoker.refuse(w, conn, ex, failed).await,
    };
    let raw = Raw {
        selector: &result.selector,
        status: 200,
        headers: &[],
        content_type: super::response::header(&reply.headers, "content-type"),
        body: &reply.body,
    };
    let accept = super::response::header(&bindings.header, "accept").map(str::to_string);
    let answered =
        content_handling::answer(e, &raw, accept.as_deref(), types, &mut bindings, &limits);
    match answered {
        Ok((a, body)) => super::write_bytes(w, conn, ex, a, &body).await,
        Err(why) => super::misconfigured(w, conn, ex, &why).await,
    }
}

/// The Invoke API's own headers a template may set through
/// `$context.requestOverride.header` (AWS's Lambda integrations take
/// `X-Amz-Invocation-Type`, `X-Amz-Log-Type` and `X-Amz-Client-Context`
/// from the integration request's headers); the rest mean nothing to it.
fn invoke_headers<'h>(set: impl Iterator<Item = &'h (String, String)>) -> Vec<(String, String)> {
    const INVOKE: &[&str] = &[
        "x-amz-invocation-type",
        "x-amz-log-type",
        "x-amz-client-context",
    ];
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, v) in set
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, v)| {
            INVOKE.contains(&n.as_str()) && !v.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0)
        })
    {
        // An override replaces the mapped value of the same name.
        match out.iter_mut().find(|(m, _)| *m == n) {
            Some(slot) => slot.1 = v,
            None => out.push((n, v)),
        }
    }
    out
}

/// The event: the request template's output for the request's content
/// type, or the body as it came (`contentHandling` applied); an empty one
/// is `{}` (AWS hands a function `{}` for a request without a body).
fn event(
    e: &Execution,
    b: &mut Bindings,
    raw: Vec<u8>,
    types: &[String],
    limits: &Limits,
) -> Result<(Vec<u8>, Overrides), Failed> {
    let (payload, overrides) = content_handling::integration_request(e, b, raw, types, limits)?;
    Ok(if payload.trim_ascii().is_empty() {
        (b"{}".to_vec(), overrides)
    } else {
        (payload, overrides)
    })
}

/// What the integration response is selected by.
#[derive(Debug, PartialEq, Eq)]
struct Invoked {
    /// The function error's `errorMessage`; empty on success.
    selector: String,
}

/// The function's result as an integration response, or why it is none
/// (the Invoke API itself refused the call).
fn outcome(reply: &upstream::Reply) -> Result<Invoked, String> {
    if !(200..=299).contains(&reply.status) {
        return Err(format!(
            "result refused: the Invoke API answered {}",
            reply.status
        ));
    }
    let selector = if reply.function_error {
        error_message(&String::from_utf8_lossy(&reply.body))
    } else {
        String::new()
    };
    Ok(Invoked { selector })
}

/// A function error's `errorMessage` (a string as it is, any other value
/// as JSON); a payload without one selects as an empty message.
fn error_message(payload: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Object(mut m)) => match m.remove("errorMessage") {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, function_error: bool, body: &str) -> upstream::Reply {
        upstream::Reply {
            status,
            function_error,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_function_error_selects_by_its_error_message_and_success_by_nothing() {
        let err =
            r#"{"errorMessage":"Bad request: missing name","errorType":"Error","stackTrace":[]}"#;
        let r = outcome(&reply(200, true, err)).unwrap();
        assert_eq!(r.selector, "Bad request: missing name");
        let ok = outcome(&reply(200, false, r#"{"errorMessage":"not an error"}"#)).unwrap();
        assert_eq!(ok.selector, "");
        assert!(outcome(&reply(429, false, "{}")).is_err());
        assert!(outcome(&reply(500, true, "{}")).is_err());
    }

    #[test]
    fn error_messages_that_are_not_strings_or_missing() {
        assert_eq!(error_message(r#"{"errorMessage": 42}"#), "42");
        assert_eq!(error_message(r#"{"errorMessage": null}"#), "");
        assert_eq!(error_message(r#"{"errorType": "X"}"#), "");
        assert_eq!(error_message("\"just a string\""), "");
        assert_eq!(error_message("not json \u{0}"), "");
    }
}
