//! JSON text into a `Value`; objects keep their key order, later
//! duplicate keys win in the first one's place, and nesting stops at
//! serde_json's recursion limit.
//!
//! A request body is parsed on every render that reads it, so the parse
//! is the largest part of a typical render: `reader` does it byte by byte,
//! and serde_json (`visitor`) stays as the reference it is held to and as
//! what explains a refusal.

mod keys;
mod object;
mod reader;
mod visitor;

use super::value::Value;

pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    match reader::read(text) {
        Some(v) => Ok(v),
        // The reader keeps no errors: serde_json says why (and, should the
        // two ever disagree, its answer is the one that stands).
        None => visitor::parse(text),
    }
}

/// The byte-level reader alone, `None` where it refuses the text: for the
/// checks that hold it to `parse_json_serde` (`fuzz/checks/vtl_json.rs`).
pub fn read_json(text: &str) -> Option<Value> {
    reader::read(text)
}

/// serde_json's parse into a `Value`: the reference `read_json` must agree
/// with, value for value and refusal for refusal.
pub fn parse_json_serde(text: &str) -> Result<Value, serde_json::Error> {
    visitor::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn json(v: &Value) -> String {
        let mut s = String::new();
        assert!(v.json_into(&mut s, usize::MAX));
        s
    }

    #[test]
    fn later_duplicates_win_in_small_and_large_objects() {
        let small = parse_json(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(json(&small), r#"{"a":3,"b":2}"#);
        let keys: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let large = format!(r#"{{{},"k3":"x","k30":"y"}}"#, keys.join(","));
        let v = parse_json(&large).unwrap();
        let Value::Map(m) = &v else { panic!("{v:?}") };
        assert_eq!(m.entries.len(), 40);
        assert_eq!(m.get("k3"), Some(&Value::str("x")));
        assert_eq!(m.get("k30"), Some(&Value::str("y")));
        assert_eq!(m.entries[3].0.as_ref(), "k3");
    }

    #[test]
    fn repeated_keys_are_shared_and_colliding_ones_kept_apart() {
        let v =
            parse_json(r#"[{"id":1,"name":"a"},{"id":2,"name":"b"},{"nbme":3,"id":4}]"#).unwrap();
        let Value::List(l) = &v else { panic!("{v:?}") };
        let key = |i: usize, j: usize| match &l.items[i] {
            Value::Map(m) => m.entries[j].0.clone(),
            v => panic!("{v:?}"),
        };
        assert!(Arc::ptr_eq(&key(0, 0), &key(1, 0)));
        assert!(Arc::ptr_eq(&key(0, 1), &key(1, 1)));
        // "nbme" falls in "name"'s slot: it takes it, and stays itself.
        assert_eq!(&*key(2, 0), "nbme");
        assert!(Arc::ptr_eq(&key(0, 0), &key(2, 1)));
        assert_eq!(
            json(&v),
            r#"[{"id":1,"name":"a"},{"id":2,"name":"b"},{"nbme":3,"id":4}]"#
        );
    }

    #[test]
    fn trailing_text_and_deep_nesting_are_refused() {
        assert!(parse_json("{} x").is_err());
        assert!(parse_json(&"[".repeat(10_000)).is_err());
        assert_eq!(
            json(&parse_json(" 18446744073709551615 ").unwrap()),
            "18446744073709552000"
        );
    }
}
