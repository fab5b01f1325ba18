//! An API's gateway responses compiled: what the gateway's own answers
//! (throttled, unknown path, authorizer refusals, integration failures...)
//! look like for that API, by AWS's response type. An API without any
//! compiles to nothing, so the error path of every other API is unchanged.
//!
//! The body templates are rendered by the VTL engine (`template`); header
//! values are AWS's `responseParameters` sources, read from what was
//! captured of the request (`captured`).

mod captured;
mod template;

use std::collections::BTreeMap;

use crate::config::GatewayResponseConfig;
use crate::http::{ErrorResponse, Head, ResponseType};

pub use captured::{Captured, Wanted};
use template::{json_string, Body, Scope};

#[derive(Debug)]
enum Value {
    Static(String),
    /// An index into the captured request values.
    Request(usize),
    /// `context.NAME` or `stageVariables.NAME`, as the template
    /// `$!{context.NAME}` renders it.
    Var(Body),
}

#[derive(Debug)]
struct Custom {
    status: Option<u16>,
    /// Lower-case header names and where their values come from.
    headers: Vec<(String, Value)>,
    /// The body's template; `None`: AWS's default body.
    template: Option<Body>,
}

#[derive(Debug)]
pub struct GatewayResponses {
    by_type: Vec<Option<Custom>>,
    pub wanted: Vec<Wanted>,
    /// Some body template or `context.*`/`stageVariables.*` header value
    /// exists: the request's method, path and domain are kept for `$context`.
    templated: bool,
    /// Some body template may read `$input.params()`.
    reads_input: bool,
}

/// What an answer's template and headers may refer to.
pub struct ErrorContext<'a> {
    pub request_id: &'a [u8],
    pub api_id: &'a str,
    pub stage: &'a str,
    pub variables: Option<&'a BTreeMap<String, String>>,
    pub captured: &'a Captured,
}

impl GatewayResponses {
    /// `None` when the API customises nothing.
    pub fn compile(
        config: &BTreeMap<String, toml::Spanned<GatewayResponseConfig>>,
    ) -> Result<Option<GatewayResponses>, (String, String)> {
        if config.is_empty() {
            return Ok(None);
        }
        let mut out = GatewayResponses {
            by_type: ResponseType::ALL.iter().map(|_| None).collect(),
            wanted: Vec::new(),
            templated: false,
            reads_input: false,
        };
        for (name, c) in config {
            let kind = ResponseType::parse(name).ok_or_else(|| {
                (
                    name.clone(),
                    format!(
                        "`{name}` is not a gateway response type: use one of {}",
                        all_names()
                    ),
                )
            })?;
            let c = c.get_ref();
            if let Some(s) = c.status {
                if !(100..=599).contains(&s) {
                    return Err((name.clone(), format!("status {s} is not an HTTP status")));
                }
            }
            let mut headers = Vec::new();
            for (h, v) in &c.headers {
                if h.is_empty() || !h.bytes().all(is_token_byte) {
                    return Err((name.clone(), format!("`{h}` is not a header name")));
                }
                let value = out
                    .value(v)
                    .map_err(|m| (name.clone(), format!("header `{h}`: {m}")))?;
                headers.push((h.to_ascii_lowercase(), value));
            }
            let template = c
                .templates
                .get("application/json")
                .map(|t| ("application/json", t))
                .or_else(|| c.templates.iter().next().map(|(k, t)| (k.as_str(), t)));
            let template = match template {
                Some((ct, _)) if ct.bytes().any(|b| b < 0x20 || b == 0x7f) => {
                    return Err((name.clone(), format!("`{ct}` is not a content type")));
                }
                Some((ct, t)) => Some(
                    Body::compile(ct, t)
                        .map_err(|e| (name.clone(), format!("responseTemplates `{ct}`: {e}")))?,
                ),
                None => None,
            };
            // Every template is compiled, though only one is served: a
            // broken one is refused, not kept for later.
            for (ct, t) in &c.templates {
                crate::vtl::Template::compile(t)
                    .map_err(|e| (name.clone(), format!("responseTemplates `{ct}`: {e}")))?;
            }
            if let Some(b) = &template {
                out.templated = true;
                out.reads_input |= b.reads_input;
            }
            out.by_type[index(kind)] = Some(Custom {
                status: c.status,
                headers,
                template,
            });
        }
        Ok(Some(out))
    }

    fn value(&mut self, v: &str) -> Result<Value, String> {
        if let Some(s) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            if s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err("a control character in the value".into());
            }
            return Ok(Value::Static(s.to_string()));
        }
        let want = if let Some(n) = v.strip_prefix("method.request.header.") {
            Wanted::Header(n.to_ascii_lowercase())
        } else if let Some(n) = v.strip_prefix("method.request.querystring.") {
            Wanted::Query(n.to_string())
        } else if let Some(n) = v.strip_prefix("method.request.path.") {
            Wanted::Path(n.to_string())
        } else if is_variable(v) {
            // `$context.httpMethod` and the like need the request's view.
            self.templated = true;
            return Body::compile("", &format!("$!{{{v}}}"))
                .map(Value::Var)
                .map_err(|e| format!("`{v}`: {e}"));
        } else {
            return Err(format!(
                "`{v}` is not a value: use 'literal', method.request.header|querystring|path.NAME, stageVariables.NAME or context.NAME"
            ));
        };
        let i = match self.wanted.iter().position(|w| *w == want) {
            Some(i) => i,
            None => {
                self.wanted.push(want);
                self.wanted.len() - 1
            }
        };
        Ok(Value::Request(i))
    }

    /// What the answers may read of the request; `params`: the route's
    /// path parameters, when a route matched.
    pub fn capture(
        &self,
        head: &Head,
        buf: &[u8],
        params: Option<&matchit::Params<'_, '_>>,
    ) -> Captured {
        let query = head.path_and_query(buf).1.unwrap_or_default();
        let values = self
            .wanted
            .iter()
            .map(|w| {
                let v: Option<&[u8]> = match w {
                    Wanted::Header(n) => head.header(buf, n.as_bytes()),
                    Wanted::Query(n) => crate::http::query::first(query, n.as_bytes()),
                    Wanted::Path(n) => params.and_then(|p| p.get(n)).map(str::as_bytes),
                };
                v.map(|v| String::from_utf8_lossy(v).into())
            })
            .collect();
        let request = self
            .templated
            .then(|| Box::new(captured::view(head, buf, params, self.reads_input)));
        Captured { values, request }
    }

    /// Writes the answer for `err` if this API customises its type or its
    /// fallback, and says its status; `None`: the default answer applies.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        err: ErrorResponse,
        cx: &ErrorContext<'_>,
        date: &[u8],
        extra: &[u8],
        close: bool,
    ) -> Option<u16> {
        let own = self.by_type[index(err.kind)].as_ref();
        let fallback = self.by_type[index(err.kind.fallback(err.status))].as_ref();
        let custom = own.or(fallback)?;
        // The fallback's status stands for every type not customised itself.
        let status = custom.status.unwrap_or(err.status);
        let scope = Scope {
            err,
            request_id: cx.request_id,
            api_id: cx.api_id,
            stage: cx.stage,
            variables: cx.variables,
            request: cx.captured.request.as_deref(),
        };
        let rendered = custom
            .template
            .as_ref()
            .and_then(|b| Some((b.content_type.as_str(), b.render(&scope)?)));
        let (content_type, body) = match rendered {
            Some((ct, body)) => (ct, body.into_bytes()),
            None => (
                "application/json",
                format!("{{\"{}\":{}}}", err.key, json_string(err.message)).into_bytes(),
            ),
        };
        crate::http::write_status_line(out, status);
        out.extend_from_slice(b"content-type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\ncontent-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        if err.retry_after > 0 {
            out.extend_from_slice(b"retry-after: ");
            out.extend_from_slice(itoa::Buffer::new().format(err.retry_after).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in &custom.headers {
            let mut v = Vec::new();
            match value {
                Value::Static(s) => v.extend_from_slice(s.as_bytes()),
                Value::Request(i) => match cx.captured.values.get(*i).and_then(|c| c.as_deref()) {
                    Some(s) => v.extend_from_slice(s.as_bytes()),
                    None => continue,
                },
                // A variable with no value sends no header, as a request
                // value that is absent.
                Value::Var(t) => match t.render(&scope).filter(|r| !r.is_empty()) {
                    Some(r) => v.extend_from_slice(r.as_bytes()),
                    None => continue,
                },
            }
            // A value from a stage variable or the request never splits the head.
            if v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&v);
            out.extend_from_slice(b"\r\n");
        }
        crate::http::end_head(out, cx.request_id, date, extra, close);
        out.extend_from_slice(&body);
        Some(status)
    }
}

fn index(kind: ResponseType) -> usize {
    ResponseType::ALL
        .iter()
        .position(|t| *t == kind)
        .unwrap_or_default()
}

fn all_names() -> String {
    ResponseType::ALL.map(ResponseType::name).join(", ")
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `context.NAME` or `stageVariables.NAME`, the name a reference can
/// spell (so the value compiles to nothing but that reference).
fn is_variable(v: &str) -> bool {
    let name = match v.strip_prefix("context.") {
        Some(n) => n,
        None => match v.strip_prefix("stageVariables.") {
            Some(n) => n,
            None => return false,
        },
    };
    name.split('.').all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(templates: &[(&str, &str)]) -> Result<Option<GatewayResponses>, (String, String)> {
        let c = GatewayResponseConfig {
            status: None,
            headers: BTreeMap::new(),
            templates: templates
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        GatewayResponses::compile(&BTreeMap::from([(
            "DEFAULT_4XX".to_string(),
            toml::Spanned::new(0..0, c),
        )]))
    }

    #[test]
    fn a_template_that_does_not_parse_is_refused_with_its_line() {
        let (name, why) = one(&[("application/json", "{\n#if($x\n}")]).unwrap_err();
        assert_eq!(name, "DEFAULT_4XX");
        assert!(
            why.contains("responseTemplates `application/json`: template line"),
            "{why}"
        );
        // One not served (application/json is) is checked too.
        let (_, why) = one(&[("application/json", "{}"), ("text/plain", "#end")]).unwrap_err();
        assert!(why.contains("`text/plain`"), "{why}");
    }

    #[test]
    fn only_templates_reading_input_keep_the_requests_parameters() {
        let g = one(&[("application/json", "$context.error.messageString")])
            .unwrap()
            .unwrap();
        assert!(g.templated && !g.reads_input);
        let g = one(&[("application/json", "$input.params('x')")])
            .unwrap()
            .unwrap();
        assert!(g.reads_input);
    }
}
