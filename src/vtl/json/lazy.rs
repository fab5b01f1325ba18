//! Reads into JSON text that `validate` has accepted, without building a
//! tree: a `#foreach` over `$input.path(…)` walks the array's elements
//! where they lie and `$i.name` finds its member by a scan, so a render
//! allocates only for the values it materialises. Because the text is
//! known to be valid, these walks check nothing; a value wanted whole is
//! read by `reader::read`, exactly as the tree would have held it.

use std::ops::Range;

use super::super::value::Value;
use super::reader;

/// Where a value lies in the text.
pub type Span = Range<usize>;

fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the string whose opening quote is at `i`.
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => return i + 1,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    b.len()
}

/// The end of the value that starts at `i`.
fn skip(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let (mut open, mut j) = (0usize, i);
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => open += 1,
                    b'}' | b']' => {
                        open -= 1;
                        if open == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\t' | b'\r') {
                    break;
                }
                j += 1;
            }
            j
        }
    }
}

/// The whole text's one value, its surrounding whitespace left out.
pub fn root(text: &str) -> Span {
    let b = text.as_bytes();
    let start = ws(b, 0);
    start..skip(b, start)
}

pub fn is_object(text: &str, v: &Span) -> bool {
    text.as_bytes().get(v.start) == Some(&b'{')
}

pub fn is_array(text: &str, v: &Span) -> bool {
    text.as_bytes().get(v.start) == Some(&b'[')
}

pub fn is_null(text: &str, v: &Span) -> bool {
    text.as_bytes().get(v.start) == Some(&b'n')
}

/// The member `key` of the object at `obj`: the last one of that name,
/// as the tree keeps a later duplicate's value.
pub fn get(text: &str, obj: &Span, key: &str) -> Option<Span> {
    let b = text.as_bytes();
    let mut i = ws(b, obj.start + 1);
    let mut found = None;
    while b.get(i) == Some(&b'"') {
        let k = i..string_end(b, i);
        let v = ws(b, ws(b, k.end) + 1);
        let end = skip(b, v);
        if key_is(text, k, key) {
            found = Some(v..end);
        }
        i = ws(b, end);
        if b.get(i) != Some(&b',') {
            break;
        }
        i = ws(b, i + 1);
    }
    found
}

/// Whether the key literal at `k` (quotes included) reads as `key`.
fn key_is(text: &str, k: Span, key: &str) -> bool {
    let inner = &text[k.start + 1..k.end - 1];
    if !inner.contains('\\') {
        return inner == key;
    }
    matches!(reader::read(&text[k]), Some(Value::Str(s)) if &*s == key)
}

/// The text of the string at `v` when it has no escapes (so the text is
/// its value); `None` for anything else.
pub fn plain_str<'a>(text: &'a str, v: &Span) -> Option<&'a str> {
    let s = text.get(v.clone())?;
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

/// The value at `v`, as the tree would hold it.
pub fn value(text: &str, v: &Span) -> Value {
    text.get(v.clone())
        .and_then(reader::read)
        .unwrap_or_default()
}

/// The elements of the array at `arr`, in order.
pub struct Elements<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Elements<'a> {
    pub fn new(text: &'a str, arr: &Span) -> Elements<'a> {
        let b = text.as_bytes();
        Elements {
            b,
            i: ws(b, arr.start + 1),
        }
    }
}

impl Iterator for Elements<'_> {
    type Item = Span;
    fn next(&mut self) -> Option<Span> {
        let b = self.b;
        if matches!(b.get(self.i), None | Some(b']')) {
            return None;
        }
        let start = self.i;
        let end = skip(b, start);
        let mut i = ws(b, end);
        if b.get(i) == Some(&b',') {
            i = ws(b, i + 1);
        }
        self.i = i;
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(t: &str, s: Option<Span>) -> Option<&str> {
        s.map(|s| &t[s])
    }

    #[test]
    fn finds_members_last_duplicate_and_escaped_keys() {
        let t = r#" {"a": [1, {"x": "]}"}], "b\u0041": "q\"", "a" : null } "#;
        assert!(reader::validate(t).is_some());
        let r = root(t);
        assert!(is_object(t, &r));
        assert_eq!(text_of(t, get(t, &r, "a")), Some("null"));
        assert_eq!(text_of(t, get(t, &r, "bA")), Some(r#""q\"""#));
        assert_eq!(get(t, &r, "c"), None);
        let b = get(t, &r, "bA").unwrap();
        assert_eq!(plain_str(t, &b), None);
        assert_eq!(value(t, &b), Value::str("q\""));
    }

    #[test]
    fn walks_elements_of_any_kind() {
        let t = r#"[ 1 ,"a\\",{"k":[]} , [[]], -2.5e3,true]"#;
        let els: Vec<&str> = Elements::new(t, &root(t)).map(|s| &t[s]).collect();
        assert_eq!(
            els,
            ["1", r#""a\\""#, r#"{"k":[]}"#, "[[]]", "-2.5e3", "true"]
        );
        assert_eq!(Elements::new("[ ]", &root("[ ]")).count(), 0);
    }
}
