//! Java's methods on the values a template holds: `String`, `List`, `Map`
//! and the boxed numbers, as Velocity calls them. An unknown method is
//! null, as Velocity's introspection finds nothing. Indices count
//! characters (Java counts UTF-16 units; they differ only past U+FFFF).

use std::sync::Arc;

use regex::Regex;

use super::ast::{Expr, Node, Part, Reference};
use super::limits::{Fail, Limit};
use super::value::{List, Map, Value};

/// Regular expressions: the template's literal patterns, compiled with it,
/// and any built at render time.
#[derive(Debug, Default)]
pub struct Regexes {
    compiled: Vec<(Box<str>, Regex)>,
}

const REGEX_METHODS: [&str; 4] = ["replaceAll", "replaceFirst", "split", "matches"];
/// Bounds a pattern's compiled size, so one cannot cost unbounded memory.
const REGEX_SIZE: usize = 1 << 20;

impl Regexes {
    /// Compiles the literal patterns of regex methods found in `nodes`.
    pub fn precompile(&mut self, nodes: &[Node]) {
        for n in nodes {
            self.node(n);
        }
    }
    fn node(&mut self, n: &Node) {
        match n {
            Node::Text(_) | Node::Break | Node::Stop | Node::Define(..) => {}
            Node::Ref(r) => self.reference(r),
            Node::Set(r, e) => {
                self.reference(r);
                self.expr(e);
            }
            Node::If(branches, otherwise) => {
                for (c, body) in branches {
                    self.expr(c);
                    self.precompile(body);
                }
                if let Some(body) = otherwise {
                    self.precompile(body);
                }
            }
            Node::Foreach(f) => {
                self.expr(&f.iter);
                self.precompile(&f.body);
            }
        }
    }
    fn reference(&mut self, r: &Reference) {
        for p in &r.parts {
            match p {
                Part::Prop(_) => {}
                Part::Index(e) => self.expr(e),
                Part::Method(name, args) => {
                    if let (true, Some(Expr::Lit(Value::Str(pat)))) =
                        (REGEX_METHODS.contains(&&**name), args.first())
                    {
                        let anchored = &**name == "matches";
                        let key = pattern(pat, anchored);
                        if self.find(&key).is_none() {
                            if let Ok(re) = build(&key) {
                                self.compiled.push((key.into(), re));
                            }
                        }
                    }
                    for a in args {
                        self.expr(a);
                    }
                }
            }
        }
    }
    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Lit(_) => {}
            Expr::Ref(r) => self.reference(r),
            Expr::Interp(nodes) => self.precompile(nodes),
            Expr::List(items) => items.iter().for_each(|i| self.expr(i)),
            Expr::Map(entries) => entries.iter().for_each(|(k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            Expr::Range(a, b) | Expr::Bin(_, a, b) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::Not(a) | Expr::Neg(a) => self.expr(a),
        }
    }
    fn find(&self, key: &str) -> Option<&Regex> {
        self.compiled
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, r)| r)
    }
}

fn pattern(pat: &str, anchored: bool) -> String {
    if anchored {
        format!("^(?:{pat})$")
    } else {
        pat.to_string()
    }
}

fn build(pat: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pat)
        .size_limit(REGEX_SIZE)
        .dfa_size_limit(REGEX_SIZE)
        .build()
        .map_err(|e| format!("bad regular expression: {e}"))
}

/// What a call may use: the template's regexes, those built this render,
/// and the bounds on what it may build.
pub struct Cx<'t> {
    pub regexes: &'t Regexes,
    pub dynamic: Vec<(String, Regex)>,
    pub max_len: usize,
    pub max_items: usize,
    /// What comparisons may still spend (see `Value::eq_within`); the
    /// evaluator sets it from its step budget and charges what was spent.
    pub budget: u64,
}

impl Cx<'_> {
    fn eq(&mut self, a: &Value, b: &Value) -> bool {
        a.eq_within(b, &mut self.budget)
    }
    fn regex(&mut self, pat: &str, anchored: bool) -> Result<Regex, Fail> {
        let key = pattern(pat, anchored);
        if let Some(r) = self.regexes.find(&key) {
            return Ok(r.clone());
        }
        if let Some((_, r)) = self.dynamic.iter().find(|(k, _)| *k == key) {
            return Ok(r.clone());
        }
        let re = build(&key)?;
        if self.dynamic.len() < 16 {
            self.dynamic.push((key, re.clone()));
        }
        Ok(re)
    }
    fn text(&self, v: &Value) -> Result<String, Fail> {
        v.to_text(self.max_len)
            .ok_or(Fail::Limit(Limit::Output(self.max_len)))
    }
    fn checked(&self, s: String) -> Result<Value, Fail> {
        if s.len() > self.max_len {
            return Err(Limit::Output(self.max_len).into());
        }
        Ok(Value::Str(Arc::from(s)))
    }
}

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

fn int_arg(args: &[Value], i: usize, method: &str) -> Result<i64, Fail> {
    arg(args, i)
        .as_int()
        .ok_or_else(|| Fail::Eval(format!("{method}: argument {} is not a number", i + 1)))
}

/// A non-mutating call on `recv`.
pub fn call(recv: &Value, name: &str, args: &[Value], cx: &mut Cx) -> Result<Value, Fail> {
    match (recv, name, args.len()) {
        (_, "toString", 0) => return Ok(Value::Str(Arc::from(cx.text(recv)?))),
        (_, "equals", 1) => return Ok(Value::Bool(cx.eq(recv, &args[0]))),
        (_, "hashCode", 0) => return Ok(Value::Null),
        _ => {}
    }
    match recv {
        Value::Str(s) => string(s, name, args, cx),
        Value::List(l) => list(l, name, args, cx),
        Value::Map(m) => map(m, name, args, cx),
        Value::Int(i) => Ok(match name {
            "intValue" | "longValue" => Value::Int(*i),
            "doubleValue" | "floatValue" => Value::Float(*i as f64),
            _ => Value::Null,
        }),
        Value::Float(f) => Ok(match name {
            "intValue" | "longValue" => Value::Int(*f as i64),
            "doubleValue" | "floatValue" => Value::Float(*f),
            "isNaN" => Value::Bool(f.is_nan()),
            _ => Value::Null,
        }),
        Value::Bool(b) => Ok(match name {
            "booleanValue" => Value::Bool(*b),
            _ => Value::Null,
        }),
        Value::Null => Ok(Value::Null),
    }
}

/// Character offset to byte offset, `None` past the end.
fn byte_at(s: &str, ci: i64) -> Option<usize> {
    if ci < 0 {
        return None;
    }
    let ci = ci as usize;
    if s.is_ascii() {
        return (ci <= s.len()).then_some(ci);
    }
    s.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()))
        .nth(ci)
}

fn char_index(s: &str, byte: usize) -> i64 {
    if s.is_ascii() {
        byte as i64
    } else {
        s[..byte].chars().count() as i64
    }
}

fn string(s: &str, name: &str, args: &[Value], cx: &mut Cx) -> Result<Value, Fail> {
    let text_arg = |cx: &Cx, i: usize| cx.text(arg(args, i));
    Ok(match name {
        "length" | "size" => Value::Int(s.chars().count() as i64),
        "isEmpty" => Value::Bool(s.is_empty()),
        "contains" => Value::Bool(s.contains(&*text_arg(cx, 0)?)),
        "startsWith" => {
            let from = if args.len() > 1 {
                byte_at(s, int_arg(args, 1, name)?).unwrap_or(usize::MAX)
            } else {
                0
            };
            let prefix = text_arg(cx, 0)?;
            Value::Bool(s.get(from..).is_some_and(|r| r.starts_with(&*prefix)))
        }
        "endsWith" => Value::Bool(s.ends_with(&*text_arg(cx, 0)?)),
        "indexOf" | "lastIndexOf" => {
            let needle = text_arg(cx, 0)?;
            let found = if name == "indexOf" {
                let from = if args.len() > 1 {
                    byte_at(s, int_arg(args, 1, name)?.max(0)).unwrap_or(s.len())
                } else {
                    0
                };
                s.get(from..)
                    .and_then(|r| r.find(&*needle))
                    .map(|i| i + from)
            } else {
                s.rfind(&*needle)
            };
            Value::Int(found.map_or(-1, |b| char_index(s, b)))
        }
        "substring" => {
            let a = int_arg(args, 0, name)?;
            let b = if args.len() > 1 {
                int_arg(args, 1, name)?
            } else {
                char_index(s, s.len())
            };
            match (byte_at(s, a), byte_at(s, b)) {
                (Some(x), Some(y)) if x <= y => Value::str(&s[x..y]),
                _ => {
                    return Err(Fail::Eval(format!(
                        "substring({a}, {b}) out of range for length {}",
                        char_index(s, s.len())
                    )))
                }
            }
        }
        "charAt" => {
            let i = int_arg(args, 0, name)?;
            match byte_at(s, i).and_then(|b| s[b..].chars().next()) {
                Some(c) => Value::str(c.encode_utf8(&mut [0; 4])),
                None => return Err(Fail::Eval(format!("charAt({i}) out of range"))),
            }
        }
        "concat" => {
            let t = text_arg(cx, 0)?;
            cx.checked(format!("{s}{t}"))?
        }
        "replace" => {
            let (from, to) = (text_arg(cx, 0)?, text_arg(cx, 1)?);
            let hits = if from.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(&*from).count()
            };
            let grown = s.len() + hits.saturating_mul(to.len());
            if grown > cx.max_len {
                return Err(Limit::Output(cx.max_len).into());
            }
            Value::str(&s.replace(&*from, &to))
        }
        "replaceAll" | "replaceFirst" => {
            let re = cx.regex(&text_arg(cx, 0)?, false)?;
            let rep = java_replacement(&text_arg(cx, 1)?)?;
            let refs = rep.matches("${").count();
            let most = if name == "replaceAll" { usize::MAX } else { 1 };
            let mut out = String::with_capacity(s.len());
            let mut last = 0;
            for caps in re.captures_iter(s).take(most) {
                let Some(m) = caps.get(0) else { continue };
                // A group is inside its match: bound the expansion first.
                let grow = rep.len() + refs.saturating_mul(m.len());
                if out.len() + (m.start() - last) + grow > cx.max_len {
                    return Err(Limit::Output(cx.max_len).into());
                }
                out.push_str(&s[last..m.start()]);
                caps.expand(&rep, &mut out);
                last = m.end();
            }
            out.push_str(&s[last..]);
            cx.checked(out)?
        }
        "matches" => Value::Bool(cx.regex(&text_arg(cx, 0)?, true)?.is_match(s)),
        "split" => {
            let re = cx.regex(&text_arg(cx, 0)?, false)?;
            let limit = if args.len() > 1 {
                int_arg(args, 1, name)?
            } else {
                0
            };
            let mut parts: Vec<&str> = if s.is_empty() {
                vec![""]
            } else if limit > 0 {
                re.splitn(s, limit as usize).collect()
            } else {
                re.split(s).collect()
            };
            // Java drops a leading empty piece left by a zero-width match.
            if parts.len() > 1 && parts[0].is_empty() && re.find(s).is_some_and(|m| m.is_empty()) {
                parts.remove(0);
            }
            if limit == 0 {
                while parts.len() > 1 && parts.last() == Some(&"") {
                    parts.pop();
                }
            }
            if parts.len() > cx.max_items {
                return Err(Limit::Collection(cx.max_items).into());
            }
            Value::list(parts.into_iter().map(Value::str).collect())
        }
        "toLowerCase" => cx.checked(s.to_lowercase())?,
        "toUpperCase" => cx.checked(s.to_uppercase())?,
        "trim" => Value::str(s.trim_matches(|c: char| c <= ' ')),
        "equalsIgnoreCase" => Value::Bool(
            arg(args, 0)
                .as_str()
                .is_some_and(|t| t.to_lowercase() == s.to_lowercase()),
        ),
        _ => Value::Null,
    })
}

/// A Java replacement (`$1`, `\$`) as the regex crate writes it.
fn java_replacement(r: &str) -> Result<String, Fail> {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => return Err(Fail::Eval("replacement ends in `\\`".into())),
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    return Err(Fail::Eval("`$` in a replacement without a group".into()));
                }
                out.push_str("${");
                out.push_str(&digits);
                out.push('}');
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn list(l: &List, name: &str, args: &[Value], cx: &mut Cx) -> Result<Value, Fail> {
    Ok(match name {
        "size" => Value::Int(l.items.len() as i64),
        "isEmpty" => Value::Bool(l.items.is_empty()),
        "get" => {
            let i = int_arg(args, 0, name)?;
            match usize::try_from(i).ok().and_then(|i| l.items.get(i)) {
                Some(v) => v.clone(),
                None => {
                    return Err(Fail::Eval(format!(
                        "get({i}) out of range for size {}",
                        l.items.len()
                    )))
                }
            }
        }
        "contains" => Value::Bool(l.items.iter().any(|v| cx.eq(v, arg(args, 0)))),
        "indexOf" => Value::Int(
            l.items
                .iter()
                .position(|v| cx.eq(v, arg(args, 0)))
                .map_or(-1, |i| i as i64),
        ),
        _ => Value::Null,
    })
}

fn map(m: &Map, name: &str, args: &[Value], cx: &mut Cx) -> Result<Value, Fail> {
    let key = || arg(args, 0).to_text(usize::MAX).unwrap_or_default();
    Ok(match (name, args.len()) {
        ("get", 1) => m.get(&key()).cloned().unwrap_or_default(),
        ("getOrDefault", 2) => m.get(&key()).cloned().unwrap_or_else(|| args[1].clone()),
        ("containsKey", 1) => Value::Bool(m.get(&key()).is_some()),
        ("containsValue", 1) => Value::Bool(m.entries.iter().any(|(_, v)| cx.eq(v, &args[0]))),
        ("keySet", 0) => Value::list(
            m.entries
                .iter()
                .map(|(k, _)| Value::Str(k.clone()))
                .collect(),
        ),
        ("values", 0) => Value::list(m.entries.iter().map(|(_, v)| v.clone()).collect()),
        ("entrySet", 0) => Value::list(
            m.entries
                .iter()
                .map(|(k, v)| {
                    Value::map(vec![
                        (Arc::from("key"), Value::Str(k.clone())),
                        (Arc::from("value"), v.clone()),
                    ])
                })
                .collect(),
        ),
        ("size", 0) => Value::Int(m.entries.len() as i64),
        ("isEmpty", 0) => Value::Bool(m.entries.is_empty()),
        // A bean getter: `$entry.getKey()` is `$entry.key`.
        (getter, 0) if getter.len() > 3 && getter.starts_with("get") => {
            let mut prop = getter[3..].to_string();
            if let Some(first) = prop.get_mut(..1) {
                first.make_ascii_lowercase();
            }
            m.get(&prop).cloned().unwrap_or_default()
        }
        _ => Value::Null,
    })
}

/// A mutating call on `recv` in place; `None` when `name` does not mutate
/// a value of this type.
pub fn call_mut(
    recv: &mut Value,
    name: &str,
    args: &[Value],
    cx: &mut Cx,
) -> Result<Option<Value>, Fail> {
    let full = Limit::Collection(cx.max_items);
    Ok(Some(match (recv, name, args.len()) {
        (Value::List(l), "add", 1) => {
            let l = Arc::make_mut(l);
            if l.items.len() >= cx.max_items {
                return Err(full.into());
            }
            l.push(args[0].clone());
            Value::Bool(true)
        }
        (Value::List(l), "add", 2) => {
            let i = int_arg(args, 0, name)?;
            let l = Arc::make_mut(l);
            if l.items.len() >= cx.max_items {
                return Err(full.into());
            }
            match usize::try_from(i).ok().filter(|&i| i <= l.items.len()) {
                Some(i) => l.insert(i, args[1].clone()),
                None => return Err(Fail::Eval(format!("add({i}, …) out of range"))),
            }
            Value::Null
        }
        (Value::List(l), "addAll", 1) => {
            let Value::List(more) = &args[0] else {
                return Ok(Some(Value::Bool(false)));
            };
            let more = more.clone();
            let l = Arc::make_mut(l);
            if l.items.len() + more.items.len() > cx.max_items {
                return Err(full.into());
            }
            for v in &more.items {
                l.push(v.clone());
            }
            Value::Bool(!more.items.is_empty())
        }
        (Value::List(l), "set", 2) => {
            let i = int_arg(args, 0, name)?;
            let l = Arc::make_mut(l);
            match usize::try_from(i).ok().filter(|&i| i < l.items.len()) {
                Some(i) => l.set(i, args[1].clone()),
                None => return Err(Fail::Eval(format!("set({i}, …) out of range"))),
            }
        }
        (Value::List(l), "remove", 1) => {
            let l = Arc::make_mut(l);
            match &args[0] {
                Value::Int(i) => match usize::try_from(*i).ok().filter(|&i| i < l.items.len()) {
                    Some(i) => l.items.remove(i),
                    None => return Err(Fail::Eval(format!("remove({i}) out of range"))),
                },
                v => match l.items.iter().position(|x| cx.eq(x, v)) {
                    Some(i) => {
                        l.items.remove(i);
                        Value::Bool(true)
                    }
                    None => Value::Bool(false),
                },
            }
        }
        (Value::List(l), "clear", 0) => {
            Arc::make_mut(l).items.clear();
            Value::Null
        }
        (Value::Map(m), "put", 2) => {
            let k = cx.text(&args[0])?;
            let m = Arc::make_mut(m);
            if m.get(&k).is_none() && m.entries.len() >= cx.max_items {
                return Err(full.into());
            }
            m.put(Arc::from(k), args[1].clone())
        }
        (Value::Map(m), "putAll", 1) => {
            let Value::Map(more) = &args[0] else {
                return Ok(Some(Value::Null));
            };
            let more = more.clone();
            let m = Arc::make_mut(m);
            for (k, v) in &more.entries {
                if m.get(k).is_none() && m.entries.len() >= cx.max_items {
                    return Err(full.into());
                }
                m.put(k.clone(), v.clone());
            }
            Value::Null
        }
        (Value::Map(m), "remove", 1) => {
            let k = cx.text(&args[0])?;
            Arc::make_mut(m).remove(&k)
        }
        (Value::Map(m), "clear", 0) => {
            Arc::make_mut(m).entries.clear();
            Value::Null
        }
        _ => return Ok(None),
    }))
}

/// Whether `name` may mutate its receiver (so the evaluator resolves the
/// receiver in place).
pub fn mutates(name: &str) -> bool {
    matches!(
        name,
        "add" | "addAll" | "set" | "remove" | "clear" | "put" | "putAll"
    )
}
