//! `patchOperations` of the Update* calls: `op` (replace, add, remove,
//! copy, move), `path`, `value`. Each resource says which paths it takes;
//! anything else is refused the way API Gateway refuses it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;

#[derive(Debug, Clone, Deserialize)]
pub struct PatchOp {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub value: Option<String>,
}

impl PatchOp {
    pub fn value(&self) -> Result<&str, ApiError> {
        self.value.as_deref().ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid patch operation specified. Must have a value for op '{}' on path '{}'",
                self.op, self.path
            ))
        })
    }

    pub fn bool(&self) -> Result<bool, ApiError> {
        // AWS reads a boolean in any case ("True", "FALSE").
        match self.value()? {
            v if v.eq_ignore_ascii_case("true") => Ok(true),
            v if v.eq_ignore_ascii_case("false") => Ok(false),
            v => Err(ApiError::BadRequest(format!(
                "Invalid boolean value '{v}' for path '{}'",
                self.path
            ))),
        }
    }

    /// The refusal for a path this resource does not take.
    pub fn unsupported(&self, paths: &[&str]) -> ApiError {
        ApiError::BadRequest(format!(
            "Invalid patch path '{}' specified for op '{}'. Must be one of: [{}]",
            self.path,
            self.op,
            paths.join(", ")
        ))
    }
}

/// The body's `patchOperations` (none is a valid, empty update).
pub fn operations(body: &Value) -> Result<Vec<PatchOp>, ApiError> {
    match body.get("patchOperations") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::BadRequest(format!("Invalid patchOperations: {e}"))),
    }
}

/// `add`/`replace` (with `value`'s value) or `remove` of one entry of a map
/// patched at `prefix` + its key; `None` when `op` is for another path.
pub fn patch_entry<V>(
    map: &mut BTreeMap<String, V>,
    prefix: &str,
    op: &PatchOp,
    value: impl FnOnce(&PatchOp) -> Result<V, ApiError>,
) -> Option<Result<(), ApiError>> {
    let key = unescape(op.path.strip_prefix(prefix)?);
    Some(match op.op.as_str() {
        "add" | "replace" => value(op).map(|v| {
            map.insert(key, v);
        }),
        "remove" => {
            map.remove(&key);
            Ok(())
        }
        _ => return None,
    })
}

/// A patch path segment with JSON Pointer escapes (`~1` is `/`, `~0` is `~`).
pub fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}
