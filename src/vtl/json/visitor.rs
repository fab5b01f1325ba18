//! JSON text into a `Value` through serde_json's parser (its recursion
//! limit bounds the depth). The reference the byte-level reader is held
//! to (the property test in `mod.rs` and `fuzz/checks/vtl_json.rs`), and
//! what says why a text the reader refused is not JSON.

use std::sync::Arc;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::super::value::{List, Value};
use super::keys::Keys;
use super::object::Object;

pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
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
        let mut o = Object::default();
        while let Some(k) = a.next_key_seed(KeySeed(&mut *self.0))? {
            let v = a.next_value_seed(Seed(&mut *self.0))?;
            o.put(k, v);
        }
        Ok(o.finish())
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
