//! An HTTP integration's `requestParameters` evaluated for one request:
//! what the head holds is looked up while it is still in the buffer
//! (`from_head`), what reads the body once the body is read (`finish`).

use crate::integration::Routed;
use crate::snapshot::param_mapping::{MappingSource, MappingTarget};
use crate::snapshot::Execution;
use crate::vtl::{Bindings, Value};

/// The most a `context.x` mapping's value may render to.
const MAX_CONTEXT_VALUE: usize = 8 * 1024;

/// The integration request's mapped values, by target kind, in the
/// mappings' order; a later mapping of the same name replaces.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mapped {
    pub header: Vec<(String, String)>,
    pub querystring: Vec<(String, String)>,
    pub path: Vec<(String, String)>,
}

impl Mapped {
    pub fn set(&mut self, target: &MappingTarget, value: String) {
        let (list, name) = match target {
            MappingTarget::Header(n) => (&mut self.header, n),
            MappingTarget::QueryString(n) => (&mut self.querystring, n),
            MappingTarget::Path(n) => (&mut self.path, n),
        };
        put(list, name, value);
    }
}

/// Sets `name` in `list`, replacing a value of the same name.
pub fn put(list: &mut Vec<(String, String)>, name: &str, value: String) {
    match list.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, v)) => *v = value,
        None => list.push((name.to_string(), value)),
    }
}

/// Each mapping's value from the head, in `e.request_parameters`' order:
/// none where the source is absent or reads the body.
pub fn from_head(e: &Execution, r: &Routed<'_>, b: &Bindings) -> Vec<Option<String>> {
    let find = |list: &[(String, String)], name: &str| {
        list.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    e.request_parameters
        .iter()
        .map(|(_, source)| match source {
            MappingSource::Literal(s) => Some(s.to_string()),
            MappingSource::Header(n) => find(&b.header, n),
            MappingSource::QueryString(n) => b
                .querystring
                .iter()
                .find(|(k, _)| **k == **n)
                .map(|(_, v)| v.clone()),
            MappingSource::Path(n) => b
                .path
                .iter()
                .find(|(k, _)| **k == **n)
                .map(|(_, v)| v.clone()),
            MappingSource::MultiHeader(n) => {
                let all: Vec<String> = r
                    .head
                    .headers
                    .iter()
                    .filter(|(k, _)| k.get(r.buf).eq_ignore_ascii_case(n.as_bytes()))
                    .map(|(_, v)| text(v.get(r.buf)))
                    .collect();
                (!all.is_empty()).then(|| all.join(","))
            }
            MappingSource::MultiQueryString(n) => {
                crate::http::query::decoded(r.head.path_and_query(r.buf).1)
                    .into_iter()
                    .find(|(k, _)| k == n.as_bytes())
                    .map(|(_, values)| values.iter().map(|v| text(v)).collect::<Vec<_>>().join(","))
            }
            MappingSource::StageVariable(v) => r.stage.variables.get(&**v).cloned(),
            MappingSource::Context(path) => path
                .iter()
                .try_fold(&b.context, |v, k| match v {
                    Value::Map(m) => m.get(k),
                    _ => None,
                })
                .filter(|v| !v.is_null())
                .and_then(|v| v.to_text(MAX_CONTEXT_VALUE)),
            MappingSource::Body | MappingSource::BodyPath(_) => None,
        })
        .collect()
}

/// Every mapping's value, those reading `body` evaluated now: the mapped
/// integration request parameters.
pub fn finish(e: &Execution, head: Vec<Option<String>>, body: &str) -> Mapped {
    let mut json: Option<Option<serde_json::Value>> = None;
    let mut out = Mapped::default();
    for ((target, source), value) in e.request_parameters.iter().zip(head) {
        let value = match source {
            MappingSource::Body => Some(body.to_string()),
            MappingSource::BodyPath(path) => json
                .get_or_insert_with(|| serde_json::from_str(body).ok())
                .as_ref()
                .and_then(|doc| path.iter().try_fold(doc, |v, k| v.get(&**k)))
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
            _ => value,
        };
        if let Some(v) = value {
            out.set(target, v);
        }
    }
    out
}
