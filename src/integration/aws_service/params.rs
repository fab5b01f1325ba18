//! An AWS integration's `requestParameters`: where each
//! `integration.request.{path|querystring|header}.X` comes from, parsed
//! once per snapshot and looked up in the request's bindings.

use crate::vtl::Bindings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Path,
    Querystring,
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Literal(String),
    Method(Place, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub place: Place,
    pub name: String,
    pub from: Source,
}

fn place(s: &str) -> Option<Place> {
    match s {
        "path" => Some(Place::Path),
        "querystring" => Some(Place::Querystring),
        "header" => Some(Place::Header),
        _ => None,
    }
}

fn clean(v: &str) -> bool {
    !v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// One mapping, `integration.request.P.X` = `method.request.P.Y` or `'text'`.
pub fn parse(target: &str, source: &str) -> Result<Param, String> {
    let (p, name) = target
        .strip_prefix("integration.request.")
        .and_then(|t| t.split_once('.'))
        .and_then(|(p, n)| Some((place(p)?, n)))
        .filter(|(_, n)| !n.is_empty() && clean(n) && !n.contains([' ', ':']))
        .ok_or_else(|| {
            format!("`{target}` is not integration.request.{{path|querystring|header}}.NAME")
        })?;
    let from = if let Some(text) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        if !clean(text) {
            return Err("a literal value may not hold a line break".into());
        }
        Source::Literal(text.to_string())
    } else {
        source
            .strip_prefix("method.request.")
            .and_then(|t| t.split_once('.'))
            .and_then(|(p, n)| Some(Source::Method(place(p)?, n.to_string())))
            .filter(|_| !source.ends_with('.'))
            .ok_or_else(|| {
                format!("`{source}` is not 'literal' or method.request.{{path|querystring|header}}.NAME")
            })?
    };
    Ok(Param {
        place: p,
        name: name.to_string(),
        from,
    })
}

impl Param {
    /// Its value for this request; none when the method request lacks it.
    pub fn value<'b>(&'b self, b: &'b Bindings) -> Option<&'b str> {
        let find = |list: &'b [(String, String)], name: &str, fold: bool| {
            list.iter()
                .find(|(n, _)| {
                    if fold {
                        n.eq_ignore_ascii_case(name)
                    } else {
                        n == name
                    }
                })
                .map(|(_, v)| v.as_str())
        };
        match &self.from {
            Source::Literal(v) => Some(v.as_str()),
            Source::Method(Place::Path, n) => find(&b.path, n, false),
            Source::Method(Place::Querystring, n) => find(&b.querystring, n, false),
            Source::Method(Place::Header, n) => find(&b.header, n, true),
        }
        .filter(|v| clean(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_parse_and_read_the_request() {
        let p = parse("integration.request.path.bucket", "method.request.path.b").unwrap();
        let q = parse("integration.request.header.Content-Type", "'text/plain'").unwrap();
        let b = Bindings {
            path: vec![("b".into(), "photos".into())],
            ..Bindings::default()
        };
        assert_eq!(p.value(&b), Some("photos"));
        assert_eq!(q.value(&b), Some("text/plain"));
        let missing = parse(
            "integration.request.querystring.x",
            "method.request.header.X",
        )
        .unwrap();
        assert_eq!(missing.value(&b), None);
        assert!(parse("integration.request.body.x", "'a'").is_err());
        assert!(parse("integration.request.header.x", "'a\r\nb'").is_err());
        assert!(parse("integration.request.header.x", "context.requestId").is_err());
        assert!(parse("integration.request.header.", "'a'").is_err());
    }
}
