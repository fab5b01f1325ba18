//! The method response from the integration's: the integration response
//! its status selects, its header mappings, its response template for the
//! client's `Accept`, and `$context.responseOverride` applied last.

use thiserror::Error;

use super::request::media_type;
use crate::snapshot::{Execution, IntegrationResponse, Source};
use crate::vtl::{Bindings, Limits, VtlError};

/// What the integration answered.
pub struct Reply<'a> {
    /// What integration responses are selected by: the status as text
    /// (MOCK, HTTP) or a Lambda function's `errorMessage`.
    pub selector: &'a str,
    pub status: u16,
    /// Names lowercase.
    pub headers: &'a [(String, String)],
    pub body: &'a str,
}

/// The method response, ready to write.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Error)]
pub enum ResponseError {
    #[error("No match for output mapping and no default output mapping specified for Endpoint Response Status Code: {0}")]
    NoMatch(u16),
    #[error("response template: {0}")]
    Render(#[from] VtlError),
}

/// AWS's default content type when no template applies.
const JSON: &str = "application/json";

pub fn answer(
    e: &Execution,
    reply: &Reply<'_>,
    accept: Option<&str>,
    bindings: &mut Bindings,
    limits: &Limits,
) -> Result<Answer, ResponseError> {
    let r = e
        .select(reply.selector)
        .ok_or(ResponseError::NoMatch(reply.status))?;
    let mut out = Answer {
        status: r.status,
        content_type: JSON.into(),
        headers: headers(r, reply),
        body: reply.body.to_string(),
    };
    if let Some((content_type, t)) = template(r, accept) {
        bindings.body.clear();
        bindings.body.push_str(reply.body);
        let rendered = t.render(bindings, limits)?;
        out.content_type = content_type.to_string();
        out.body = rendered.body;
        let o = rendered.overrides;
        if let Some(s) = o.response_status.filter(|s| (100..=599).contains(s)) {
            out.status = s;
        }
        for (name, value) in o.response_header {
            set(&mut out.headers, name, value);
        }
    }
    Ok(out)
}

/// The method response for a payload that passes through untouched (a
/// binary one, `content_handling`): selected, its headers mapped, no
/// template run; its body is the caller's.
pub fn untemplated(e: &Execution, reply: &Reply<'_>) -> Result<Answer, ResponseError> {
    let r = e
        .select(reply.selector)
        .ok_or(ResponseError::NoMatch(reply.status))?;
    let (status, headers) = (r.status, headers(r, reply));
    Ok(Answer {
        status,
        content_type: JSON.into(),
        headers,
        body: String::new(),
    })
}

/// The template for the first media type of `Accept` that has one, else
/// `application/json`'s, else the first.
fn template<'r>(
    r: &'r IntegrationResponse,
    accept: Option<&str>,
) -> Option<(&'r str, &'r crate::vtl::Template)> {
    let find = |m: &str| r.templates.iter().find(|(ct, _)| **ct == *m);
    accept
        .into_iter()
        .flat_map(|a| a.split(','))
        .map(media_type)
        .find_map(|m| find(&m))
        .or_else(|| find(JSON))
        .or_else(|| r.templates.first())
        .map(|(ct, t)| (&**ct, t))
}

fn headers(r: &IntegrationResponse, reply: &Reply<'_>) -> Vec<(String, String)> {
    let mut json = None;
    let mut out = Vec::with_capacity(r.headers.len());
    for (name, source) in &r.headers {
        let value = match source {
            Source::Literal(v) => Some(v.to_string()),
            Source::Header(h) => reply
                .headers
                .iter()
                .find(|(n, _)| **n == **h)
                .map(|(_, v)| v.clone()),
            Source::Body => Some(reply.body.to_string()),
            Source::BodyPath(path) => {
                let doc = json
                    .get_or_insert_with(|| serde_json::from_str(reply.body).ok())
                    .as_ref();
                doc.and_then(|d: &serde_json::Value| {
                    path.iter()
                        .try_fold(d, |v, k| v.get(&**k))
                        .map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                })
            }
        };
        if let Some(v) = value {
            set(&mut out, name.to_string(), v);
        }
    }
    out
}

/// Sets a header, replacing one of the same name.
fn set(headers: &mut Vec<(String, String)>, name: String, value: String) {
    match headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(&name))
    {
        Some((_, v)) => *v = value,
        None => headers.push((name, value)),
    }
}

/// The value of header `name` (any case) in `headers`.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
