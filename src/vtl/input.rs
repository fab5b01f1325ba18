//! `$input`: the body as text and as JSON (parsed once per render, on first
//! use), and the request's parameters.

use std::sync::Arc;

use super::bindings::Bindings;
use super::jsonpath;
use super::limits::{Fail, Limit};
use super::value::{parse_json, Value};

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

    /// `$input.name(args)`.
    pub fn call(&mut self, name: &str, args: &[Value], max: usize) -> Result<Value, Fail> {
        match (name, args) {
            ("path", [p]) => {
                let p = p.text(max).ok_or(Limit::Output(max))?;
                Ok(jsonpath::select(self.json(), &p)?.unwrap_or_default())
            }
            ("json", [p]) => {
                let p = p.text(max).ok_or(Limit::Output(max))?;
                match jsonpath::select(self.json(), &p)? {
                    Some(v) => {
                        let mut out = String::new();
                        if !v.json_into(&mut out, max) {
                            return Err(Limit::Output(max).into());
                        }
                        Ok(Value::Str(Arc::from(out)))
                    }
                    None => Ok(Value::Null),
                }
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
