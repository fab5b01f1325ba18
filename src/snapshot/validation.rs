//! A route's request validation, compiled once per snapshot: the required
//! parameters by where they are, and a `jsonschema` validator (draft 4, as
//! API Gateway) per content type. Workers only look values up and run the
//! compiled validators.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::config::ValidationConfig;

/// More required parameters than this: the message names them all, not
/// just the missing ones, so the messages compiled stay few.
const NAMED_PARAMETERS: usize = 8;
/// Backtracking steps one `pattern` may take on one value: patterns are
/// Java-like (lookarounds), so backtracking, but never unbounded.
const BACKTRACK_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("required: `{0}` is not querystring.NAME, header.NAME or path.NAME")]
    Parameter(String),
    #[error("body_schema `{0}`: not JSON: {1}")]
    NotJson(String, String),
    #[error("body_schema `{0}`: not a valid JSON Schema (draft 4): {1}")]
    Schema(String, String),
}

/// Where a required parameter is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Query,
    Header,
    Path,
}

#[derive(Debug)]
pub struct Required {
    pub location: Location,
    pub name: String,
}

pub struct Validation {
    pub required: Vec<Required>,
    /// By the set of missing parameters (bit i: `required[i]`): AWS's
    /// message naming them. Messages are `&'static` like every other
    /// refusal's, so they are interned (see `intern`).
    messages: Vec<&'static str>,
    /// Lower-case content type (or `$default`) → its body's validator.
    bodies: Vec<(String, jsonschema::Validator)>,
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validation")
            .field("required", &self.required)
            .field("bodies", &self.bodies.len())
            .finish()
    }
}

impl Validation {
    pub fn compile(c: &ValidationConfig) -> Result<Validation, ValidationError> {
        let mut required = Vec::new();
        for r in &c.required {
            let location = match r.split_once('.') {
                Some(("querystring", n)) if !n.is_empty() => (Location::Query, n),
                Some(("header", n)) if !n.is_empty() => (Location::Header, n),
                Some(("path", n)) if !n.is_empty() => (Location::Path, n),
                _ => return Err(ValidationError::Parameter(r.clone())),
            };
            required.push(Required {
                location: location.0,
                name: location.1.to_string(),
            });
        }
        let messages = missing_messages(&required);
        let mut bodies = Vec::new();
        for (content_type, text) in &c.body_schema {
            let schema: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| ValidationError::NotJson(content_type.clone(), e.to_string()))?;
            let validator = jsonschema::draft4::options()
                .with_pattern_options(
                    jsonschema::PatternOptions::fancy_regex().backtrack_limit(BACKTRACK_LIMIT),
                )
                .build(&schema)
                .map_err(|e| ValidationError::Schema(content_type.clone(), e.to_string()))?;
            bodies.push((content_type.to_ascii_lowercase(), validator));
        }
        Ok(Validation {
            required,
            messages,
            bodies,
        })
    }

    /// The refusal's message for the missing parameters `missing` (bit i:
    /// `required[i]`).
    pub fn missing_message(&self, missing: u64) -> &'static str {
        match self.messages.as_slice() {
            [all] => all,
            m => m.get(missing as usize).copied().unwrap_or(m[m.len() - 1]),
        }
    }

    /// The body's validator for a request of `content_type` (absent:
    /// `application/json`, as AWS assumes), else the `$default` one; none:
    /// the body is not checked.
    pub fn body_for(&self, content_type: Option<&[u8]>) -> Option<&jsonschema::Validator> {
        let essence = content_type
            .map(|c| c.split(|&b| b == b';').next().unwrap_or(c).trim_ascii())
            .unwrap_or(b"application/json");
        let find = |t: &[u8]| {
            self.bodies
                .iter()
                .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(t))
                .map(|(_, v)| v)
        };
        find(essence).or_else(|| find(b"$default"))
    }
}

/// Whether `body` is JSON that `schema` accepts.
pub fn body_valid(schema: &jsonschema::Validator, body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| schema.is_valid(&v))
}

fn missing_messages(required: &[Required]) -> Vec<&'static str> {
    let message = |names: Vec<&str>| {
        intern(format!(
            "Missing required request parameters: [{}]",
            names.join(", ")
        ))
    };
    if required.len() > NAMED_PARAMETERS {
        return vec![message(required.iter().map(|r| r.name.as_str()).collect())];
    }
    (0..1u64 << required.len())
        .map(|set| {
            message(
                required
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| set & (1 << i) != 0)
                    .map(|(_, r)| r.name.as_str())
                    .collect(),
            )
        })
        .collect()
}

/// One leaked copy per distinct message the process ever compiled: a
/// reload of the same APIs adds nothing. Taken at compile time only,
/// never by workers.
fn intern(s: String) -> &'static str {
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(&found) = seen.get(s.as_str()) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.into_boxed_str());
    seen.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(required: &[&str], schema: Option<&str>) -> ValidationConfig {
        ValidationConfig {
            required: required.iter().map(|s| s.to_string()).collect(),
            body_schema: schema
                .map(|s| [("application/json".to_string(), s.to_string())].into())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn messages_name_the_missing_parameters_in_order() {
        let v = Validation::compile(&config(&["querystring.a", "header.b"], None)).unwrap();
        assert_eq!(
            v.missing_message(0b11),
            "Missing required request parameters: [a, b]"
        );
        assert_eq!(
            v.missing_message(0b10),
            "Missing required request parameters: [b]"
        );
    }

    #[test]
    fn a_draft4_schema_checks_bodies() {
        let s = r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"object",
            "required":["name"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}"#;
        let v = Validation::compile(&config(&[], Some(s))).unwrap();
        let b = v
            .body_for(Some(b"Application/JSON; charset=utf-8"))
            .unwrap();
        assert!(body_valid(b, br#"{"name":"x","age":3}"#));
        assert!(!body_valid(b, br#"{"age":3}"#));
        assert!(!body_valid(b, br#"{"name":1}"#));
        assert!(!body_valid(b, b"{not json"));
        assert!(v.body_for(Some(b"text/plain")).is_none());
        assert!(v.body_for(None).is_some());
    }

    #[test]
    fn bad_parameters_and_schemas_are_refused() {
        assert!(Validation::compile(&config(&["cookie.a"], None)).is_err());
        assert!(Validation::compile(&config(&["header."], None)).is_err());
        assert!(Validation::compile(&config(&[], Some("{"))).is_err());
        assert!(Validation::compile(&config(&[], Some(r#"{"type":"nope"}"#))).is_err());
    }

    #[test]
    fn many_parameters_stay_few_messages() {
        let names: Vec<String> = (0..20).map(|i| format!("header.h{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let v = Validation::compile(&config(&names, None)).unwrap();
        assert_eq!(v.messages.len(), 1);
        assert!(v.missing_message(1).contains("h0, h1,"));
    }
}
