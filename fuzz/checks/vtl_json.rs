//! The VTL engine's byte-level JSON reader against serde_json: on any text
//! both accept or both refuse, and what they accept is the same value,
//! down to each number's kind and bits, each key's order and each
//! container's depth bound. `parse_json`, which the engine calls, gives
//! the reader's value, or serde_json's error.
//!
//! Self-contained (no `gen`), so `tests/vtl_json_reader.rs` includes this
//! file alone.

use portico::vtl::{parse_json, parse_json_serde, read_json, Value};

/// A fuzz input: the text, lossily UTF-8 (a body reaches the engine as a
/// `String`).
pub fn check(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    let fast = read_json(&text);
    let reference = parse_json_serde(&text);
    match (&fast, &reference) {
        (None, Err(_)) => {}
        (Some(a), Ok(b)) => same(a, b).map_err(|e| format!("{text:?}: {e}"))?,
        (Some(_), Err(e)) => return Err(format!("{text:?}: read, serde_json refused: {e}")),
        (None, Ok(_)) => return Err(format!("{text:?}: refused, serde_json read it")),
    }
    match (parse_json(&text), reference) {
        (Ok(a), Ok(b)) => same(&a, &b).map_err(|e| format!("{text:?}: parse_json: {e}")),
        (Err(a), Err(b)) if a.to_string() == b.to_string() => Ok(()),
        (a, b) => Err(format!("{text:?}: parse_json {a:?}, serde_json {b:?}")),
    }
}

/// Strict equality: `Value`'s own `==` takes `1` for `1.0`.
fn same(a: &Value, b: &Value) -> Result<(), String> {
    if a.depth() != b.depth() {
        return Err(format!("depth {} against {}", a.depth(), b.depth()));
    }
    let ok = match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if x.items.len() != y.items.len() {
                return Err(format!("{} items against {}", x.items.len(), y.items.len()));
            }
            for (x, y) in x.items.iter().zip(&y.items) {
                same(x, y)?;
            }
            true
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.entries.len() != y.entries.len() {
                return Err(format!(
                    "{} keys against {}",
                    x.entries.len(),
                    y.entries.len()
                ));
            }
            for ((kx, x), (ky, y)) in x.entries.iter().zip(&y.entries) {
                if kx != ky {
                    return Err(format!("key {kx:?} against {ky:?}"));
                }
                same(x, y)?;
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{a:?} against {b:?}"))
    }
}
