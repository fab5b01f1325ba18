//! JSONPath as `$input.path` and `$input.json` evaluate it: `$`, `.name`,
//! `['name']`, `[n]` (negative from the end), `[*]`, `.*` and `..name`. A
//! path without a wildcard or `..` names one value (or none); one with them
//! yields the list of what matched, as Jayway JsonPath (AWS's) does.

use super::value::Value;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Child(String),
    Index(i64),
    Wildcard,
    Descend(Option<String>),
}

/// A parsed path: a template's literal paths are parsed when it compiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    segs: Vec<Seg>,
    /// No wildcard or `..`: the path names one value, found by reference.
    definite: bool,
}

/// What a path selected: one value of the document (`None` when a
/// definite path matched nothing), or the list of what matched.
pub enum Selected<'v> {
    One(Option<&'v Value>),
    Many(Vec<Value>),
}

impl Selected<'_> {
    pub fn into_value(self) -> Option<Value> {
        match self {
            Selected::One(v) => v.cloned(),
            Selected::Many(l) => Some(Value::list(l)),
        }
    }
}

pub fn compile(path: &str) -> Result<Path, String> {
    let segs = parse(path)?;
    let definite = !segs
        .iter()
        .any(|s| matches!(s, Seg::Wildcard | Seg::Descend(_)));
    Ok(Path { segs, definite })
}

impl Path {
    pub fn select<'v>(&self, root: &'v Value) -> Selected<'v> {
        if self.definite {
            let mut cur = Some(root);
            for seg in &self.segs {
                cur = cur.and_then(|v| child(v, seg));
            }
            return Selected::One(cur);
        }
        let mut cur = vec![root.clone()];
        for seg in &self.segs {
            let mut next = Vec::new();
            for v in &cur {
                step(v, seg, &mut next);
            }
            cur = next;
        }
        Selected::Many(cur)
    }
}

/// One step of a definite path.
fn child<'v>(v: &'v Value, seg: &Seg) -> Option<&'v Value> {
    match (seg, v) {
        (Seg::Child(name), Value::Map(m)) => m.get(name),
        (Seg::Index(i), Value::List(l)) => {
            let n = l.items.len() as i64;
            let i = if *i < 0 { n + i } else { *i };
            usize::try_from(i).ok().and_then(|i| l.items.get(i))
        }
        _ => None,
    }
}

fn step(v: &Value, seg: &Seg, out: &mut Vec<Value>) {
    match (seg, v) {
        (Seg::Child(name), Value::Map(m)) => out.extend(m.get(name).cloned()),
        (Seg::Index(_), Value::List(_)) => out.extend(child(v, seg).cloned()),
        (Seg::Wildcard, Value::Map(m)) => out.extend(m.entries.iter().map(|(_, v)| v.clone())),
        (Seg::Wildcard, Value::List(l)) => out.extend(l.items.iter().cloned()),
        (Seg::Descend(name), _) => descend(v, name.as_deref(), out),
        _ => {}
    }
}

/// `..name` (or `..*`): matches at this level and every level below, in
/// document order. Recursion is bounded by the value's depth limit.
fn descend(v: &Value, name: Option<&str>, out: &mut Vec<Value>) {
    match v {
        Value::Map(m) => {
            for (k, child) in &m.entries {
                if name.is_none_or(|n| n == &**k) {
                    out.push(child.clone());
                }
            }
            for (_, child) in &m.entries {
                descend(child, name, out);
            }
        }
        Value::List(l) => {
            for child in &l.items {
                if name.is_none() {
                    out.push(child.clone());
                }
                descend(child, name, out);
            }
        }
        _ => {}
    }
}

fn parse(path: &str) -> Result<Vec<Seg>, String> {
    let bad = |why: &str| format!("invalid JSONPath `{path}`: {why}");
    let p = path.trim();
    let mut rest = match p.strip_prefix('$') {
        Some(r) => r,
        // AWS takes `a.b` as `$.a.b`.
        None if !p.is_empty() => return parse(&format!("$.{p}")),
        None => return Err(bad("empty")),
    };
    let mut segs = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("..") {
            let (name, r) = name_of(r);
            segs.push(Seg::Descend(match name {
                "*" => None,
                "" => return Err(bad("`..` without a name")),
                n => Some(n.to_string()),
            }));
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            let (name, r) = name_of(r);
            segs.push(match name {
                "*" => Seg::Wildcard,
                "" => return Err(bad("`.` without a name")),
                n => Seg::Child(n.to_string()),
            });
            rest = r;
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or_else(|| bad("unclosed `[`"))?;
            let inner = r[..close].trim();
            segs.push(if inner == "*" {
                Seg::Wildcard
            } else if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
            {
                Seg::Child(q.to_string())
            } else if let Ok(i) = inner.parse::<i64>() {
                Seg::Index(i)
            } else {
                return Err(bad("unsupported subscript"));
            });
            rest = &r[close + 1..];
        } else {
            return Err(bad("expected `.` or `[`"));
        }
    }
    Ok(segs)
}

/// A dotted name: up to the next `.` or `[`.
fn name_of(s: &str) -> (&str, &str) {
    let end = s.find(['.', '[']).unwrap_or(s.len());
    (s[..end].trim(), &s[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtl::json::parse_json;

    fn sel(doc: &str, path: &str) -> Option<String> {
        let v = parse_json(doc).unwrap();
        compile(path).unwrap().select(&v).into_value().map(|v| {
            let mut s = String::new();
            v.json_into(&mut s, usize::MAX);
            s
        })
    }

    #[test]
    fn definite_paths_name_one_value() {
        let doc = r#"{"a":{"b":[10,20,{"c":"x"}]},"k y":1}"#;
        assert_eq!(
            sel(doc, "$").as_deref(),
            Some(r#"{"a":{"b":[10,20,{"c":"x"}]},"k y":1}"#)
        );
        assert_eq!(sel(doc, "$.a.b[0]").as_deref(), Some("10"));
        assert_eq!(sel(doc, "$.a.b[-1].c").as_deref(), Some(r#""x""#));
        assert_eq!(sel(doc, "$['k y']").as_deref(), Some("1"));
        assert_eq!(sel(doc, "a.b[1]").as_deref(), Some("20"));
        assert_eq!(sel(doc, "$.missing"), None);
        assert_eq!(sel(doc, "$.a.b[7]"), None);
    }

    #[test]
    fn wildcards_and_descent_yield_lists() {
        let doc = r#"{"items":[{"id":1},{"id":2,"x":{"id":3}}]}"#;
        assert_eq!(sel(doc, "$.items[*].id").as_deref(), Some("[1,2]"));
        assert_eq!(sel(doc, "$..id").as_deref(), Some("[1,2,3]"));
        assert_eq!(sel(doc, "$.nothing[*]").as_deref(), Some("[]"));
    }

    #[test]
    fn filters_are_refused() {
        assert!(compile("$.a[?(@.b)]").is_err());
        assert!(compile("$.").is_err());
        assert!(compile("").is_err());
    }
}
