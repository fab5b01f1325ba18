//! JSON text into a `Value`, straight from serde_json's parser (its
//! recursion limit bounds the depth); objects keep their key order.
//!
//! A request body is parsed on every render that reads it, so the parse
//! is the largest part of a typical render: object keys repeat from one
//! element of an array to the next, so each parse shares them through a
//! small cache instead of allocating each again, and duplicate keys are
//! found by a scan while an object is small (most are), by an index only
//! once it is large enough for a hostile one to make the scan quadratic.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::value::{List, Map, Value};

/// Objects up to this many keys look for a duplicate by a scan.
const SCAN_KEYS: usize = 16;
/// Keys up to this long are shared; longer ones are rarely repeated.
const SHARED_KEY_LEN: usize = 32;
const KEY_SLOTS: usize = 32;

pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    let mut keys = Keys::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Seed(&mut keys).deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Seed(&mut Keys::default()).deserialize(d)
    }
}

/// The keys this parse has allocated, in a direct-mapped cache: a lookup
/// is one comparison, and a miss replaces the slot, so hostile keys cost
/// no more than without it.
#[derive(Default)]
struct Keys {
    slots: [Option<Arc<str>>; KEY_SLOTS],
}

impl Keys {
    fn get(&mut self, s: &str) -> Arc<str> {
        let b = s.as_bytes();
        let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
            return Arc::from(s);
        };
        if b.len() > SHARED_KEY_LEN {
            return Arc::from(s);
        }
        let h = b
            .len()
            .wrapping_mul(31)
            .wrapping_add(usize::from(first).wrapping_mul(7))
            .wrapping_add(usize::from(last));
        let slot = &mut self.slots[h % KEY_SLOTS];
        match slot {
            Some(k) if **k == *s => k.clone(),
            _ => slot.insert(Arc::from(s)).clone(),
        }
    }
}

struct Seed<'k>(&'k mut Keys);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut l = List::default();
        while let Some(v) = a.next_element_seed(Seed(&mut *self.0))? {
            l.push(v);
        }
        Ok(Value::List(Arc::new(l)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        // Later duplicates win, as in Jackson.
        let mut m = Map::default();
        let mut index: Option<HashMap<Arc<str>, usize>> = None;
        while let Some(k) = a.next_key_seed(KeySeed(&mut *self.0))? {
            let v = a.next_value_seed(Seed(&mut *self.0))?;
            m.depth = m.depth.max(v.depth());
            let found = match &index {
                Some(ix) => ix.get(&k).copied(),
                None => m.entries.iter().position(|(ek, _)| *ek == k),
            };
            if let Some(i) = found {
                m.entries[i].1 = v;
                continue;
            }
            if let Some(ix) = &mut index {
                ix.insert(k.clone(), m.entries.len());
            }
            m.entries.push((k, v));
            if index.is_none() && m.entries.len() > SCAN_KEYS {
                let ix = m.entries.iter().enumerate();
                index = Some(ix.map(|(i, (k, _))| (k.clone(), i)).collect());
            }
        }
        Ok(Value::Map(Arc::new(m)))
    }
}

/// An object key straight into the `Arc<str>` a map keeps.
struct KeySeed<'k>(&'k mut Keys);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Arc<str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Arc<str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, s: &str) -> Result<Arc<str>, E> {
        Ok(self.0.get(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
