//! An API's gateway responses compiled: what the gateway's own answers
//! (throttled, unknown path, authorizer refusals, integration failures...)
//! look like for that API, by AWS's response type. An API without any
//! compiles to nothing, so the error path of every other API is unchanged.
//!
//! The body templates are the part of AWS's mapping templates that
//! gateway responses use: `$context.*` and `$stageVariables.*` references
//! (also as `${...}` and `$!{...}`); anything else is written as it stands,
//! as Velocity writes a reference it cannot resolve.

use std::collections::BTreeMap;

use crate::config::GatewayResponseConfig;
use crate::http::{ErrorResponse, Head, ResponseType};

/// A request value a header refers to, captured while the head is read
/// (the answer may be written after the head's bytes are gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Header(String),
    Query(String),
    Path(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Var {
    ErrorMessage,
    ErrorMessageString,
    ResponseType,
    RequestId,
    ApiId,
    Stage,
    StageVariable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Static(String),
    /// An index into the captured request values.
    Request(usize),
    Var(Var),
}

#[derive(Debug)]
struct Custom {
    status: Option<u16>,
    /// Lower-case header names and where their values come from.
    headers: Vec<(String, Value)>,
    /// The body's content type and template; `None`: AWS's default body.
    template: Option<(String, Vec<Part>)>,
}

#[derive(Debug)]
pub struct GatewayResponses {
    by_type: Vec<Option<Custom>>,
    pub wanted: Vec<Wanted>,
}

/// What an answer's template and headers may refer to.
pub struct ErrorContext<'a> {
    pub request_id: &'a [u8],
    pub api_id: &'a str,
    pub stage: &'a str,
    pub variables: Option<&'a BTreeMap<String, String>>,
    /// The values of `GatewayResponses::wanted`, in order.
    pub captured: &'a [Option<Box<str>>],
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
                .or_else(|| c.templates.iter().next().map(|(k, t)| (k.as_str(), t)))
                .map(|(ct, t)| (ct.to_string(), parse_template(t)));
            if let Some((ct, _)) = &template {
                if ct.bytes().any(|b| b < 0x20 || b == 0x7f) {
                    return Err((name.clone(), format!("`{ct}` is not a content type")));
                }
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
        } else if let Some(var) = v.strip_prefix("context.").and_then(context_var) {
            return Ok(Value::Var(var));
        } else if let Some(n) = v.strip_prefix("stageVariables.") {
            return Ok(Value::Var(Var::StageVariable(n.to_string())));
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

    /// The request values the headers refer to; `params`: the route's path
    /// parameters, when a route matched.
    pub fn capture<'p>(
        &self,
        head: &Head,
        buf: &[u8],
        params: impl Fn(&str) -> Option<&'p str>,
    ) -> Box<[Option<Box<str>>]> {
        let query = head.path_and_query(buf).1.unwrap_or_default();
        self.wanted
            .iter()
            .map(|w| {
                let v: Option<&[u8]> = match w {
                    Wanted::Header(n) => head.header(buf, n.as_bytes()),
                    Wanted::Query(n) => crate::http::query::first(query, n.as_bytes()),
                    Wanted::Path(n) => params(n).map(str::as_bytes),
                };
                v.map(|v| String::from_utf8_lossy(v).into())
            })
            .collect()
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
        let mut body = Vec::new();
        let content_type = match &custom.template {
            Some((ct, parts)) => {
                for p in parts {
                    match p {
                        Part::Text(t) => body.extend_from_slice(t.as_bytes()),
                        Part::Var(v) => render(&mut body, v, err, cx),
                    }
                }
                ct.as_str()
            }
            None => {
                body.extend_from_slice(format!("{{\"{}\":", err.key).as_bytes());
                json_string(&mut body, err.message);
                body.push(b'}');
                "application/json"
            }
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
                Value::Request(i) => match cx.captured.get(*i).and_then(|c| c.as_deref()) {
                    Some(s) => v.extend_from_slice(s.as_bytes()),
                    None => continue,
                },
                Value::Var(var) => render(&mut v, var, err, cx),
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

fn context_var(name: &str) -> Option<Var> {
    Some(match name {
        "error.message" => Var::ErrorMessage,
        "error.messageString" => Var::ErrorMessageString,
        "error.responseType" => Var::ResponseType,
        "requestId" | "extendedRequestId" => Var::RequestId,
        "apiId" => Var::ApiId,
        "stage" => Var::Stage,
        _ => return None,
    })
}

fn render(out: &mut Vec<u8>, v: &Var, err: ErrorResponse, cx: &ErrorContext<'_>) {
    match v {
        Var::ErrorMessage => out.extend_from_slice(err.message.as_bytes()),
        Var::ErrorMessageString => json_string(out, err.message),
        Var::ResponseType => out.extend_from_slice(err.kind.name().as_bytes()),
        Var::RequestId => out.extend_from_slice(cx.request_id),
        Var::ApiId => out.extend_from_slice(cx.api_id.as_bytes()),
        Var::Stage => out.extend_from_slice(cx.stage.as_bytes()),
        Var::StageVariable(n) => {
            if let Some(v) = cx.variables.and_then(|vars| vars.get(n)) {
                out.extend_from_slice(v.as_bytes());
            }
        }
    }
}

/// A JSON string literal, quotes included (AWS's `messageString`).
fn json_string(out: &mut Vec<u8>, s: &str) {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    out.extend_from_slice(quoted.as_bytes());
}

/// Splits a template into text and the references it knows; `$name`,
/// `${name}` and `$!{name}` forms.
fn parse_template(t: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = t;
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (quiet, after) = match after.strip_prefix('!') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(after.len());
            // A trailing dot ends the sentence, not the name.
            let name = after[..end].trim_end_matches('.');
            (name, name.len())
        };
        let var = if let Some(n) = name.strip_prefix("context.") {
            context_var(n)
        } else {
            name.strip_prefix("stageVariables.")
                .map(|n| Var::StageVariable(n.to_string()))
        };
        match var {
            Some(v) if len > 0 => {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Var(v));
                rest = &after[len..];
            }
            _ => {
                text.push('$');
                if quiet {
                    text.push('!');
                }
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_references() {
        let parts = parse_template(
            r#"{"m":$context.error.messageString,"id":"${context.requestId}","v":"$!{stageVariables.who}.","x":"$input.body $5"}"#,
        );
        assert_eq!(
            parts,
            vec![
                Part::Text(r#"{"m":"#.into()),
                Part::Var(Var::ErrorMessageString),
                Part::Text(r#","id":""#.into()),
                Part::Var(Var::RequestId),
                Part::Text(r#"","v":""#.into()),
                Part::Var(Var::StageVariable("who".into())),
                Part::Text(r#".","x":"$input.body $5"}"#.into()),
            ]
        );
    }

    #[test]
    fn message_string_is_json_quoted() {
        let mut out = Vec::new();
        json_string(&mut out, "say \"hi\"");
        assert_eq!(out, br#""say \"hi\"""#);
    }
}
