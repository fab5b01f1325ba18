//! An integration's compiled `requestParameters` (`snapshot::ParamMapping`)
//! evaluated for one request, the same way for every integration kind
//! (HTTP_PROXY, HTTP, AWS service): what the head holds is looked up while
//! it is still in the buffer (`from_head`), what reads the body once the
//! body is read whole (`finish`). A source the request lacks maps nothing,
//! as AWS leaves such a parameter out.

use percent_encoding::percent_decode;

use crate::integration::Routed;
use crate::snapshot::param_mapping::{MappingSource, MappingTarget, ParamMapping};
use crate::vtl::Value;

/// A query's names and values, decoded (`http::query::decoded`).
type Decoded = Vec<(Vec<u8>, Vec<Vec<u8>>)>;

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
    /// A header value that would split the head (CR, LF, NUL) is left out,
    /// and so is a path value that a backend decoding it would read as a
    /// dot segment (`..%2Fadmin` climbs once `%2F` is a slash to it).
    pub fn set(&mut self, target: &MappingTarget, value: String) {
        let (list, name) = match target {
            MappingTarget::Header(_) if !clean(&value) => return,
            MappingTarget::Path(_) if climbs(&value) => return,
            MappingTarget::Header(n) => (&mut self.header, n),
            MappingTarget::QueryString(n) => (&mut self.querystring, n),
            MappingTarget::Path(n) => (&mut self.path, n),
        };
        put(list, name, value);
    }
}

/// Rounds of percent-decoding looked through: a value still changing
/// after them is taken to climb.
const DECODE_ROUNDS: usize = 8;

/// `value` holds a `.` or `..` segment (`/` or `\` separated, `;…`
/// dropped as servlet containers drop it), as it is or however often a
/// backend percent-decodes it.
fn climbs(value: &str) -> bool {
    let mut v: Vec<u8> = value.as_bytes().to_vec();
    for _ in 0..DECODE_ROUNDS {
        let dots = v.split(|&b| b == b'/' || b == b'\\').any(|segment| {
            let s = segment.split(|&b| b == b';').next().unwrap_or_default();
            s == b"." || s == b".."
        });
        if dots {
            return true;
        }
        let decoded: Vec<u8> = percent_decode(&v).collect();
        if decoded == v {
            return false;
        }
        v = decoded;
    }
    true
}

fn clean(v: &str) -> bool {
    !v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Sets `name` in `list`, replacing a value of the same name.
pub fn put(list: &mut Vec<(String, String)>, name: &str, value: String) {
    match list.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, v)) => *v = value,
        None => list.push((name.to_string(), value)),
    }
}

/// The value `name` has in `list` (as `put` wrote it).
pub fn get<'l>(list: &'l [(String, String)], name: &str) -> Option<&'l str> {
    list.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Each mapping's value from the head, in `m`'s order: none where the
/// source is absent or reads the body. `context`: the request's
/// `$context` where the caller has built it already (else it is built
/// here, once, if a mapping reads it).
pub fn from_head(m: &ParamMapping, r: &Routed<'_>, context: Option<&Value>) -> Vec<Option<String>> {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let query = r.head.path_and_query(r.buf).1;
    let headers = |n: &str| -> Vec<&[u8]> {
        r.head
            .headers
            .iter()
            .filter(|(k, _)| k.get(r.buf).eq_ignore_ascii_case(n.as_bytes()))
            .map(|(_, v)| v.get(r.buf))
            .collect()
    };
    // Decoded once, on the first mapping that reads it.
    let mut decoded: Option<Decoded> = None;
    let mut queries = |n: &str| {
        decoded
            .get_or_insert_with(|| crate::http::query::decoded(query))
            .iter()
            .find(|(k, _)| k == n.as_bytes())
            .map(|(_, values)| values.iter().map(|v| text(v)).collect::<Vec<_>>())
    };
    let mut built: Option<Value> = None;
    let mut out = Vec::with_capacity(m.entries.len());
    for (_, source) in &m.entries {
        out.push(match source {
            MappingSource::Literal(s) => Some(s.to_string()),
            // As AWS's single-value headers and query strings: the last.
            MappingSource::Header(n) => headers(n).last().map(|v| text(v)),
            MappingSource::MultiHeader(n) => {
                let all: Vec<String> = headers(n).iter().map(|v| text(v)).collect();
                (!all.is_empty()).then(|| all.join(","))
            }
            MappingSource::QueryString(n) => queries(n).and_then(|mut v| v.pop()),
            MappingSource::MultiQueryString(n) => queries(n).map(|v| v.join(",")),
            MappingSource::Path(n) => r
                .params
                .get(&**n)
                .map(|v| text(&percent_decode(v.as_bytes()).collect::<Vec<u8>>())),
            MappingSource::StageVariable(v) => r.stage.variables.get(&**v).cloned(),
            MappingSource::Context(path) => {
                let ctx = match context {
                    Some(c) => c,
                    None => built.get_or_insert_with(|| super::execute::bindings::context(r)),
                };
                path.iter()
                    .try_fold(ctx, |v, k| match v {
                        Value::Map(m) => m.get(k),
                        _ => None,
                    })
                    .filter(|v| !v.is_null())
                    .and_then(|v| v.to_text(MAX_CONTEXT_VALUE))
            }
            MappingSource::Body | MappingSource::BodyPath(_) => None,
        });
    }
    out
}

/// Every mapping's value, those reading the body evaluated now (`body`:
/// none where it is not read, so they map nothing): the mapped
/// integration request parameters. An empty body is a source the request
/// lacks; a body that is not JSON, or a path that selects nothing, maps
/// nothing for `method.request.body.a.b`; a selected string maps as its
/// text, any other value as its JSON text.
pub fn finish(m: &ParamMapping, head: Vec<Option<String>>, body: Option<&str>) -> Mapped {
    let body = body.filter(|b| !b.is_empty());
    let mut json: Option<Option<serde_json::Value>> = None;
    let mut out = Mapped::default();
    for ((target, source), value) in m.entries.iter().zip(head) {
        let value = match (source, body) {
            (MappingSource::Body, Some(body)) => Some(body.to_string()),
            (MappingSource::BodyPath(path), Some(body)) => json
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_value_with_a_dot_segment_however_spelled_climbs() {
        for v in [
            "..",
            ".",
            "../admin",
            "a/../b",
            "..\\x",
            "%2e%2e",
            "%2E%2e%2Fx",
            "%252e%252e",
            "%2525252525252e",
            "..;jsessionid=1/x",
        ] {
            assert!(climbs(v), "{v}");
        }
        for v in [
            "",
            "a",
            "a/b",
            "...",
            "v1.2",
            "a..b",
            "%2e%2e%2e",
            ".hidden",
        ] {
            assert!(!climbs(v), "{v}");
        }
    }
}
