//! The runtime value. JSON-shaped because every input (`$input.path`,
//! `$util.parseJson`, `$context`) is JSON; containers sit behind `Arc`
//! (a compiled template, literals included, crosses threads) so a
//! `#foreach` or `#set` copies a pointer, not a tree, and a mutation
//! (`$list.add`) copies only when the container is shared (value semantics,
//! where Java would alias). Each container records an upper bound on its
//! nesting depth, so a template cannot build a tree deep enough to overflow
//! the stack when it is rendered or dropped.

use std::fmt::Write as _;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    List(Arc<List>),
    Map(Arc<Map>),
}

/// A list and the depth bound of what it holds.
#[derive(Debug, Clone, Default)]
pub struct List {
    pub items: Vec<Value>,
    pub(super) depth: u32,
}

/// An insertion-ordered map (Velocity's maps are `LinkedHashMap`s); linear
/// lookup, since mapping-template maps are small.
#[derive(Debug, Clone, Default)]
pub struct Map {
    pub entries: Vec<(Arc<str>, Value)>,
    pub(super) depth: u32,
}

impl List {
    pub fn new(items: Vec<Value>) -> List {
        let depth = items.iter().map(Value::depth).max().unwrap_or(0);
        List { items, depth }
    }
    pub fn push(&mut self, v: Value) {
        self.depth = self.depth.max(v.depth());
        self.items.push(v);
    }
    pub fn insert(&mut self, i: usize, v: Value) {
        self.depth = self.depth.max(v.depth());
        self.items.insert(i, v);
    }
    /// Raises the depth bound after a child changed in place.
    pub fn bump(&mut self, child_depth: u32) {
        self.depth = self.depth.max(child_depth);
    }
    pub fn set(&mut self, i: usize, v: Value) -> Value {
        self.depth = self.depth.max(v.depth());
        std::mem::replace(&mut self.items[i], v)
    }
}

impl Map {
    pub fn new(entries: Vec<(Arc<str>, Value)>) -> Map {
        let mut m = Map::default();
        for (k, v) in entries {
            m.put(k, v);
        }
        m
    }
    /// Raises the depth bound after a child changed in place.
    pub fn bump(&mut self, child_depth: u32) {
        self.depth = self.depth.max(child_depth);
    }
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(ek, _)| &**ek == k)
            .map(|(_, v)| v)
    }
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(ek, _)| &**ek == k)
            .map(|(_, v)| v)
    }
    /// Replaces in place (keeping the key's position) or appends; the old value.
    pub fn put(&mut self, k: Arc<str>, v: Value) -> Value {
        self.depth = self.depth.max(v.depth());
        match self.get_mut(&k) {
            Some(slot) => std::mem::replace(slot, v),
            None => {
                self.entries.push((k, v));
                Value::Null
            }
        }
    }
    pub fn remove(&mut self, k: &str) -> Value {
        match self.entries.iter().position(|(ek, _)| &**ek == k) {
            Some(i) => self.entries.remove(i).1,
            None => Value::Null,
        }
    }
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(List::new(items)))
    }
    pub fn map(entries: Vec<(Arc<str>, Value)>) -> Value {
        Value::Map(Arc::new(Map::new(entries)))
    }
    /// A map of strings, as the caller's parameters and stage variables come.
    pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::map(
            pairs
                .into_iter()
                .map(|(k, v)| (Arc::from(k), Value::str(v)))
                .collect(),
        )
    }
    /// 0 for a scalar, 1 + the deepest child for a container.
    pub fn depth(&self) -> u32 {
        match self {
            Value::List(l) => l.depth + 1,
            Value::Map(m) => m.depth + 1,
            _ => 0,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// Velocity 1.7's `#if`: only null and false are false.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Null | Value::Bool(false))
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// An integer argument (index, count), from an int, an integral float
    /// or a numeric string, as Velocity converts method arguments.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Java's `toString`, as Velocity renders: `[a, b]` for a list,
    /// `{k=v}` for a map, `1.0` for an integral double. `max` bounds the
    /// text written (`false` once it would pass it).
    pub fn render_into(&self, out: &mut String, max: usize) -> bool {
        self.write(out, max, false)
    }

    /// The value as JSON text (what `$input.json` returns), bounded as
    /// `render_into` is.
    pub fn json_into(&self, out: &mut String, max: usize) -> bool {
        self.write(out, max, true)
    }

    fn write(&self, out: &mut String, max: usize, json: bool) -> bool {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) if json && !f.is_finite() => out.push_str("null"),
            Value::Float(f) if json => {
                let _ = write!(out, "{f}");
            }
            Value::Float(f) => java_double(*f, out),
            Value::Str(s) if json => json_string(s, out),
            Value::Str(s) => {
                if out.len() + s.len() > max {
                    return false;
                }
                out.push_str(s)
            }
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if json { "," } else { ", " });
                    }
                    if out.len() > max || !v.write(out, max, json) {
                        return false;
                    }
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.entries.iter().enumerate() {
                    if json {
                        out.push_str(if i > 0 { "," } else { "" });
                        json_string(k, out);
                        out.push(':');
                    } else {
                        out.push_str(if i > 0 { ", " } else { "" });
                        out.push_str(k);
                        out.push('=');
                    }
                    if out.len() > max || !v.write(out, max, json) {
                        return false;
                    }
                }
                out.push('}');
            }
        }
        out.len() <= max
    }

    /// The rendered text, borrowed when the value is a string (bounded by
    /// `max`).
    pub fn text(&self, max: usize) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Value::Str(s) => (s.len() <= max).then_some(std::borrow::Cow::Borrowed(&**s)),
            v => v.to_text(max).map(std::borrow::Cow::Owned),
        }
    }

    /// The rendered text as an owned string (bounded by `max`).
    pub fn to_text(&self, max: usize) -> Option<String> {
        if let Value::Str(s) = self {
            return (s.len() <= max).then(|| s.to_string());
        }
        let mut s = String::new();
        self.render_into(&mut s, max).then_some(s)
    }
}

/// Structural equality, bounded: a comparison visits at most a million
/// values (containers may share children, so a naive walk of two
/// look-alike trees could be exponential).
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.eq_within(other, &mut 1_000_000)
    }
}

impl Value {
    /// Equality that spends one unit of `budget` per value visited and
    /// answers `false` once it is spent (the caller sees the budget at 0).
    /// Numbers compare by value across int and float.
    pub fn eq_within(&self, other: &Value, budget: &mut u64) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.items.len() == b.items.len()
                        && a.items
                            .iter()
                            .zip(&b.items)
                            .all(|(x, y)| x.eq_within(y, budget)))
            }
            (Value::Map(a), Value::Map(b)) => {
                if Arc::ptr_eq(a, b) {
                    return true;
                }
                if a.entries.len() != b.entries.len() {
                    return false;
                }
                a.entries.iter().enumerate().all(|(i, (k, v))| {
                    // Same order is the common case; otherwise a lookup,
                    // paid for by its length.
                    let other = match b.entries.get(i) {
                        Some((bk, bv)) if bk == k => Some(bv),
                        _ => {
                            *budget = budget.saturating_sub(b.entries.len() as u64);
                            b.get(k)
                        }
                    };
                    other.is_some_and(|o| v.eq_within(o, budget))
                })
            }
            _ => false,
        }
    }
}

/// Java's `Double.toString`: decimal between 10^-3 and 10^7, with at least
/// one fractional digit; otherwise `d.dddE±n`.
pub fn java_double(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 || (1e-3..1e7).contains(&f.abs()) {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        out.push_str(mantissa);
        if !mantissa.contains('.') {
            out.push_str(".0");
        }
        out.push('E');
        out.push_str(exp);
    }
}

/// A JSON string literal.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vtl::json::parse_json;

    fn text(v: &Value) -> String {
        v.to_text(usize::MAX).unwrap()
    }

    #[test]
    fn renders_as_java_to_string() {
        assert_eq!(text(&Value::Float(1.0)), "1.0");
        assert_eq!(text(&Value::Float(249.99)), "249.99");
        assert_eq!(text(&Value::Float(1e20)), "1.0E20");
        assert_eq!(text(&Value::Float(1.5e-5)), "1.5E-5");
        let v = parse_json(r#"{"a":[1,"x",null],"b":true}"#).unwrap();
        assert_eq!(text(&v), "{a=[1, x, null], b=true}");
    }

    #[test]
    fn json_round_trips_and_keeps_key_order() {
        let src = r#"{"z":1,"a":[1.5,"q\"\n",{}],"m":null}"#;
        let v = parse_json(src).unwrap();
        let mut out = String::new();
        assert!(v.json_into(&mut out, usize::MAX));
        assert_eq!(out, src);
        assert_eq!(v.depth(), 3);
    }

    #[test]
    fn rendering_stops_at_the_bound() {
        let v = Value::list(vec![Value::str("abcdef"); 10]);
        let mut out = String::new();
        assert!(!v.render_into(&mut out, 20));
        assert!(out.len() <= 20 + 8);
    }
}
