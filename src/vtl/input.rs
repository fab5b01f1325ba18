//! `$input`: the body as text and as JSON (parsed once per render, on first
//! use), and the request's parameters.

use std::borrow::Cow;
use std::sync::Arc;

use super::bindings::Bindings;
use super::json::parse_json;
use super::jsonpath::{self, Path, Selected};
use super::limits::{Fail, Limit};
use super::value::Value;

pub struct Input<'b> {
    b: &'b Bindings,
    body: Option<Value>,
    json: Option<Value>,
    params: Option<Value>,
}

impl<'b> Input<'b> {
    pub fn new(b: &'b Bindings) -> Input<'b> {
        Input {
            b,
            body: None,
            json: None,
            params: None,
        }
    }

    /// `$input.body`.
    pub fn body(&mut self) -> Value {
        self.body
            .get_or_insert_with(|| Value::str(&self.b.body))
            .clone()
    }

    /// The body as JSON: `{}` when empty (as AWS), the text itself when it
    /// is not JSON, so `$input.path('$')` still yields it.
    fn json(&mut self) -> &Value {
        let body = &self.b.body;
        self.json.get_or_insert_with(|| {
            if body.trim().is_empty() {
                Value::map(Vec::new())
            } else {
                parse_json(body).unwrap_or_else(|_| Value::str(body))
            }
        })
    }

    /// `$input.name(args)`; `path` is the first argument's JSONPath when
    /// the template wrote it as a literal (parsed as it compiled).
    pub fn call(
        &mut self,
        name: &str,
        args: &[Value],
        path: Option<&Path>,
        max: usize,
    ) -> Result<Value, Fail> {
        match (name, args) {
            ("path", [p]) => {
                let path = path_of(path, p, max)?;
                Ok(path.select(self.json()).into_value().unwrap_or_default())
            }
            ("json", [_]) => {
                let mut out = String::new();
                Ok(match self.write_json(args, path, &mut out, max)? {
                    true => Value::Str(Arc::from(out)),
                    false => Value::Null,
                })
            }
            ("params", []) => Ok(self.params().clone()),
            ("params", [n]) => {
                let n = n.text(max).ok_or(Limit::Output(max))?;
                let b = self.b;
                let found = b
                    .path
                    .iter()
                    .chain(&b.querystring)
                    .find(|(k, _)| **k == *n)
                    .or_else(|| b.header.iter().find(|(k, _)| k.eq_ignore_ascii_case(&n)));
                Ok(found.map_or(Value::Null, |(_, v)| Value::str(v)))
            }
            _ => Ok(Value::Null),
        }
    }

    /// `$input.json(p)` appended to `out` (bounded by `max` bytes), straight
    /// from the parsed body; `Ok(false)` (nothing written) when a definite
    /// path matched nothing, or the call is not `json` with one argument.
    pub fn write_json(
        &mut self,
        args: &[Value],
        path: Option<&Path>,
        out: &mut String,
        max: usize,
    ) -> Result<bool, Fail> {
        let [p] = args else {
            return Ok(false);
        };
        let path = path_of(path, p, max)?;
        let fits = match path.select(self.json()) {
            Selected::One(None) => return Ok(false),
            Selected::One(Some(v)) => v.json_into(out, max),
            Selected::Many(l) => Value::list(l).json_into(out, max),
        };
        if !fits {
            return Err(Limit::Output(max).into());
        }
        Ok(true)
    }

    /// `$input.params()`: `path`, `querystring` and `header` maps.
    fn params(&mut self) -> &Value {
        let b = self.b;
        self.params.get_or_insert_with(|| {
            let m = |pairs: &[(String, String)]| {
                Value::string_map(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            };
            Value::map(vec![
                (Arc::from("path"), m(&b.path)),
                (Arc::from("querystring"), m(&b.querystring)),
                (Arc::from("header"), m(&b.header)),
            ])
        })
    }
}

/// A call's JSONPath: the one parsed when the template compiled, or its
/// argument's text parsed now.
fn path_of<'p>(compiled: Option<&'p Path>, arg: &Value, max: usize) -> Result<Cow<'p, Path>, Fail> {
    if let Some(path) = compiled {
        return Ok(Cow::Borrowed(path));
    }
    let text = arg.text(max).ok_or(Limit::Output(max))?;
    Ok(Cow::Owned(jsonpath::compile(&text)?))
}
