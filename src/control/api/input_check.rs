//! A request body's members against the operation's input shape, before
//! dispatch, as AWS checks them: a member of the wrong JSON type answers
//! 400 BadRequestException naming it and the type it expects. JSON null is
//! an absent member; members the shape lacks are ignored, as AWS ignores
//! them. The types come from `input_types` (generated from the service
//! model); operations it does not list (no body member, or a raw payload)
//! are not checked.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::input_types::{Ty, INPUTS};

/// Whether `body` (the parsed JSON of a call to `op`) fits `op`'s input.
pub fn check(op: &str, body: &Value) -> Result<(), ApiError> {
    let Ok(i) = INPUTS.binary_search_by(|(name, _)| name.cmp(&op)) else {
        return Ok(());
    };
    let wrong = match body {
        Value::Null => return Ok(()),
        Value::Object(o) => match members(INPUTS[i].1, o) {
            Ok(()) => return Ok(()),
            Err(w) => w,
        },
        _ => {
            return Err(ApiError::BadRequest(
                "Invalid request body: expected a JSON object".into(),
            ))
        }
    };
    Err(ApiError::BadRequest(format!(
        "Invalid value for '{}': expected {}",
        wrong.path, wrong.expected
    )))
}

/// The first member found of the wrong type: its path (built on the way
/// out, so a body that fits costs no allocation) and what it should be.
struct Wrong {
    path: String,
    expected: &'static str,
}

impl Wrong {
    /// This error one level up: `seg` (a member or map key, or `[i]`)
    /// before the path, with a dot between names.
    fn under(mut self, seg: &str) -> Wrong {
        if !self.path.is_empty() && !self.path.starts_with('[') {
            self.path.insert(0, '.');
        }
        self.path.insert_str(0, seg);
        self
    }
}

fn members(shape: &[(&str, Ty)], obj: &Map<String, Value>) -> Result<(), Wrong> {
    for (name, ty) in shape {
        if let Some(v) = obj.get(*name) {
            value(*ty, v).map_err(|w| w.under(name))?;
        }
    }
    Ok(())
}

/// `v` against `ty`; the path of an error is relative to `v` ("" for `v`).
fn value(ty: Ty, v: &Value) -> Result<(), Wrong> {
    let ok = match (ty, v) {
        (_, Value::Null) => true,
        (Ty::Str, Value::String(_)) | (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Ty::Num | Ty::Time, Value::Number(_)) | (Ty::Time, Value::String(_)) => true,
        (Ty::List(elem), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                value(*elem, item).map_err(|w| w.under(&format!("[{i}]")))?;
            }
            true
        }
        (Ty::Map(val), Value::Object(o)) => {
            for (k, item) in o {
                value(*val, item).map_err(|w| w.under(k))?;
            }
            true
        }
        (Ty::Struct(shape), Value::Object(o)) => {
            members(shape, o)?;
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Wrong {
            path: String::new(),
            expected: expected(ty),
        })
    }
}

fn expected(ty: Ty) -> &'static str {
    match ty {
        Ty::Str => "a string",
        Ty::Bool => "a boolean",
        Ty::Int => "an integer",
        Ty::Num => "a number",
        Ty::Time => "a timestamp (a number or a string)",
        Ty::List(_) => "a list",
        Ty::Map(_) => "a map (a JSON object)",
        Ty::Struct(_) => "a structure (a JSON object)",
    }
}
