//! A gateway response's body template, compiled once per snapshot with the
//! VTL engine and rendered for each answer against what AWS documents for
//! gateway responses: `$context` (its `error` object, the request's id,
//! API, stage, method, path and domain), `$stageVariables` and
//! `$input.params()`. AWS substitutes variables only; a template that uses
//! just variables renders the same here, and one that uses directives gets
//! Velocity's meaning (see the README).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::captured::RequestView;
use crate::http::{ErrorResponse, ResponseType};
use crate::vtl::{Bindings, Limits, Template, Value, VtlError};

/// What one error answer's body may cost: the gateway's own answers are
/// the cheapest a client can provoke (an unknown path), so they get far
/// less than an integration's template.
fn limits() -> Limits {
    Limits {
        max_output_bytes: 64 * 1024,
        max_steps: 100_000,
        ..Limits::default()
    }
}

#[derive(Debug)]
pub struct Body {
    pub content_type: String,
    template: Template,
    /// Whether the template may read `$input`: only then are the request's
    /// parameters copied for it.
    pub reads_input: bool,
    /// A template over its limits is logged the first time only; a flag
    /// set once, never read on the answers that render.
    warned: AtomicBool,
}

/// The request and error an answer's template reads.
pub struct Scope<'a> {
    pub err: ErrorResponse,
    pub request_id: &'a [u8],
    pub api_id: &'a str,
    pub stage: &'a str,
    pub variables: Option<&'a BTreeMap<String, String>>,
    pub request: Option<&'a RequestView>,
}

impl Body {
    pub fn compile(content_type: &str, source: &str) -> Result<Body, VtlError> {
        Ok(Body {
            content_type: content_type.to_string(),
            template: Template::compile(source)?,
            reads_input: source.contains("input"),
            warned: AtomicBool::new(false),
        })
    }

    /// The body; `None`: the render failed or passed its limits, and AWS's
    /// default body is written instead.
    pub fn render(&self, s: &Scope<'_>) -> Option<String> {
        match self.template.render(&bindings(s), &limits()) {
            Ok(r) => Some(r.body),
            Err(e) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    crate::log!(
                        warn,
                        "{} gateway response template failed, the default body is sent instead (logged once): {e}",
                        s.err.kind.name()
                    );
                }
                None
            }
        }
    }
}

/// A JSON string literal, quotes included (AWS's `messageString`).
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn bindings(s: &Scope<'_>) -> Bindings {
    let text = |b: &[u8]| Value::str(&String::from_utf8_lossy(b));
    let err = s.err;
    // AWS: "a string containing a detailed validation error message"; the
    // message is the detail portico has.
    let validation = match err.kind {
        ResponseType::BadRequestParameters | ResponseType::BadRequestBody => err.message,
        _ => "",
    };
    let error = Value::map(vec![
        (Arc::from("message"), Value::str(err.message)),
        (
            Arc::from("messageString"),
            Value::str(&json_string(err.message)),
        ),
        (Arc::from("responseType"), Value::str(err.kind.name())),
        (Arc::from("validationErrorString"), Value::str(validation)),
    ]);
    let mut context = vec![
        (Arc::from("apiId"), Value::str(s.api_id)),
        (Arc::from("error"), error),
        (Arc::from("extendedRequestId"), text(s.request_id)),
        (Arc::from("requestId"), text(s.request_id)),
        (Arc::from("stage"), Value::str(s.stage)),
    ];
    let mut b = Bindings::default();
    if let Some(r) = s.request {
        context.push((Arc::from("httpMethod"), Value::str(&r.http_method)));
        context.push((Arc::from("path"), Value::str(&r.path)));
        context.push((Arc::from("domainName"), Value::str(&r.domain_name)));
        b.path = r.path_params.clone();
        b.querystring = r.querystring.clone();
        b.header = r.header.clone();
    }
    b.context = Value::map(context);
    b.stage_variables = Value::string_map(
        s.variables
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(err: ErrorResponse, vars: &'a BTreeMap<String, String>) -> Scope<'a> {
        Scope {
            err,
            request_id: b"req-1",
            api_id: "api1",
            stage: "prod",
            variables: Some(vars),
            request: None,
        }
    }

    #[test]
    fn references_render_as_aws_substitutes_them() {
        let vars = BTreeMap::from([("who".to_string(), "me".to_string())]);
        let b = Body::compile(
            "application/json",
            r#"{"m":$context.error.messageString,"id":"${context.requestId}","v":"$!{stageVariables.who}.","x":"$!input.body","t":"$context.error.responseType"}"#,
        )
        .unwrap();
        let err = ErrorResponse::new(403, "say \"hi\"");
        assert_eq!(
            b.render(&scope(err, &vars)).unwrap(),
            r#"{"m":"say \"hi\"","id":"req-1","v":"me.","x":"","t":"DEFAULT_4XX"}"#
        );
    }

    #[test]
    fn a_template_over_its_limits_renders_nothing() {
        let vars = BTreeMap::new();
        let b = Body::compile(
            "text/plain",
            "#foreach($i in [1..900])#foreach($j in [1..900])x#end#end",
        )
        .unwrap();
        assert_eq!(
            b.render(&scope(
                ErrorResponse::new(500, "Internal server error"),
                &vars
            )),
            None
        );
    }
}
