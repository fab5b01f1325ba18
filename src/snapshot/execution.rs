//! A route's non-proxy execution (`config::ExecutionConfig`) compiled once
//! per snapshot: templates parsed, selection patterns built as anchored
//! regexes, response parameter sources parsed. A request only renders.

use regex::{Regex, RegexBuilder};
use thiserror::Error;

use crate::config::{
    ContentHandling, ExecutionConfig, IntegrationResponseConfig, PassthroughBehavior,
};
use crate::vtl::Template;

use super::param_mapping::ParamMapping;

pub struct Execution {
    /// Content type (lowercase) → its request template, in the config's order.
    pub request_templates: Vec<(Box<str>, Template)>,
    pub passthrough: PassthroughBehavior,
    /// Those with a selection pattern, in order.
    pub responses: Vec<IntegrationResponse>,
    /// The one without a pattern.
    pub default_response: Option<IntegrationResponse>,
    /// An HTTP integration's `requestParameters`, in the config's order.
    pub request_parameters: ParamMapping,
    /// An HTTP integration's method; none: the client's.
    pub http_method: Option<Box<str>>,
    /// The integration request's conversion (`integration::execute::content_handling`).
    pub content_handling: Option<ContentHandling>,
}

pub struct IntegrationResponse {
    pub status: u16,
    /// Matches the whole status (or error message), as AWS's patterns do.
    pub pattern: Option<Regex>,
    /// Response header name → where its value comes from.
    pub headers: Vec<(Box<str>, Source)>,
    /// Content type (lowercase) → its response template, in the config's order.
    pub templates: Vec<(Box<str>, Template)>,
    /// The method response's conversion (`integration::execute::content_handling`).
    pub content_handling: Option<ContentHandling>,
}

/// A `responseParameters` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `'text'`.
    Literal(Box<str>),
    /// `integration.response.header.Y`.
    Header(Box<str>),
    /// `integration.response.body`.
    Body,
    /// `integration.response.body.a.b`: the field at that JSON path.
    BodyPath(Vec<Box<str>>),
}

/// Why an execution does not compile: the key it is about (below the
/// route's `execution`), where in the config file (0 for the management
/// API's), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {message}")]
pub struct ExecutionError {
    pub key: String,
    pub at: usize,
    pub message: String,
}

/// Bound on a selection pattern's compiled size: a pattern comes from a
/// management caller.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl Execution {
    pub fn compile(c: &ExecutionConfig) -> Result<Execution, ExecutionError> {
        let request_templates = templates("request_templates", &c.request_templates)?;
        let mut responses = Vec::new();
        let mut default_response = None;
        for (n, r) in c.integration_responses.iter().enumerate() {
            let compiled = response(n, r)?;
            match compiled.pattern {
                Some(_) => responses.push(compiled),
                None if default_response.is_none() => default_response = Some(compiled),
                None => {
                    return Err(ExecutionError {
                        key: format!("integration_responses[{n}].selection_pattern"),
                        at: 0,
                        message: "a second integration response without a selection pattern: \
                                  only one may be the default"
                            .into(),
                    })
                }
            }
        }
        let request_parameters =
            ParamMapping::compile(&c.request_parameters).map_err(|e| ExecutionError {
                key: "request_parameters".into(),
                at: 0,
                message: e.to_string(),
            })?;
        let http_method = match c.http_method.as_deref() {
            None | Some("") | Some("ANY") => None,
            Some(m) if m.bytes().all(|b| b.is_ascii_uppercase()) => Some(m.into()),
            Some(m) => {
                return Err(ExecutionError {
                    key: "http_method".into(),
                    at: 0,
                    message: format!("`{m}` is not an HTTP method"),
                })
            }
        };
        Ok(Execution {
            request_templates,
            passthrough: c.passthrough_behavior,
            responses,
            default_response,
            request_parameters,
            http_method,
            content_handling: c.content_handling,
        })
    }

    /// The integration response for `selector` (a status as text, or an
    /// error message): the first whose pattern matches it whole, else the default.
    pub fn select(&self, selector: &str) -> Option<&IntegrationResponse> {
        self.responses
            .iter()
            .find(|r| r.pattern.as_ref().is_some_and(|p| p.is_match(selector)))
            .or(self.default_response.as_ref())
    }
}

fn response(
    n: usize,
    r: &IntegrationResponseConfig,
) -> Result<IntegrationResponse, ExecutionError> {
    let key = |k: &str| format!("integration_responses[{n}].{k}");
    if !(100..=599).contains(&r.status) {
        return Err(ExecutionError {
            key: key("status"),
            at: 0,
            message: format!("status {} must be between 100 and 599", r.status),
        });
    }
    let pattern = match r.selection_pattern.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            RegexBuilder::new(&format!("^(?:{p})$"))
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|e| ExecutionError {
                    key: key("selection_pattern"),
                    at: 0,
                    message: format!("not a regular expression: {e}"),
                })?,
        ),
    };
    let mut headers = Vec::new();
    for (name, value) in &r.response_parameters {
        let header = parse_target(name).map_err(|message| ExecutionError {
            key: key(&format!("response_parameters.\"{name}\"")),
            at: 0,
            message,
        })?;
        let source = parse_source(value).map_err(|message| ExecutionError {
            key: key(&format!("response_parameters.\"{name}\"")),
            at: 0,
            message,
        })?;
        headers.push((header.into(), source));
    }
    Ok(IntegrationResponse {
        status: r.status,
        pattern,
        headers,
        templates: templates(&key("response_templates"), &r.response_templates)?,
        content_handling: r.content_handling,
    })
}

fn templates(
    key: &str,
    sources: &std::collections::BTreeMap<String, toml::Spanned<String>>,
) -> Result<Vec<(Box<str>, Template)>, ExecutionError> {
    sources
        .iter()
        .map(|(content_type, source)| {
            Template::compile(source.get_ref())
                .map(|t| (content_type.to_ascii_lowercase().into(), t))
                .map_err(|e| ExecutionError {
                    key: format!("{key}.\"{content_type}\""),
                    at: source.span().start,
                    message: e.to_string(),
                })
        })
        .collect()
}

/// `method.response.header.X` → `X`, a valid header name.
pub fn parse_target(name: &str) -> Result<&str, String> {
    let header = name
        .strip_prefix("method.response.header.")
        .ok_or_else(|| format!("`{name}` is not method.response.header.NAME"))?;
    if header.is_empty()
        || !header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err(format!("`{header}` is not a header name"));
    }
    Ok(header)
}

/// A response parameter's value, as AWS writes them.
pub fn parse_source(value: &str) -> Result<Source, String> {
    if let Some(text) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        if text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err("a literal value may not hold a line break".into());
        }
        return Ok(Source::Literal(text.into()));
    }
    if let Some(h) = value.strip_prefix("integration.response.header.") {
        if !h.is_empty() {
            return Ok(Source::Header(h.to_ascii_lowercase().into()));
        }
    }
    if value == "integration.response.body" {
        return Ok(Source::Body);
    }
    if let Some(path) = value.strip_prefix("integration.response.body.") {
        let parts: Vec<Box<str>> = path.split('.').map(Into::into).collect();
        if parts.iter().all(|p| !p.is_empty()) {
            return Ok(Source::BodyPath(parts));
        }
    }
    Err(format!(
        "`{value}` is not 'literal', integration.response.header.NAME, \
         integration.response.body or integration.response.body.PATH"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(patterns: &[(u16, Option<&str>)]) -> ExecutionConfig {
        ExecutionConfig {
            integration_responses: patterns
                .iter()
                .map(|(status, p)| IntegrationResponseConfig {
                    status: *status,
                    selection_pattern: p.map(str::to_string),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn patterns_match_the_whole_status_and_the_default_takes_the_rest() {
        let e = Execution::compile(&config(&[(200, None), (500, Some("5\\d\\d"))])).unwrap();
        assert_eq!(e.select("500").map(|r| r.status), Some(500));
        assert_eq!(e.select("200").map(|r| r.status), Some(200));
        // Anchored: "5" alone, or a longer status, is not a match.
        assert_eq!(e.select("5000").map(|r| r.status), Some(200));
        let no_default = Execution::compile(&config(&[(500, Some("5\\d\\d"))])).unwrap();
        assert!(no_default.select("200").is_none());
    }

    #[test]
    fn bad_patterns_sources_and_two_defaults_are_refused() {
        assert!(Execution::compile(&config(&[(500, Some("5(\\d"))])).is_err());
        assert!(Execution::compile(&config(&[(200, None), (201, Some(""))])).is_err());
        assert_eq!(parse_source("'x'"), Ok(Source::Literal("x".into())));
        assert_eq!(
            parse_source("integration.response.body.a.b"),
            Ok(Source::BodyPath(vec!["a".into(), "b".into()]))
        );
        assert!(parse_source("method.request.header.x").is_err());
        assert!(parse_target("method.response.header.").is_err());
    }
}
