//! Where an API key's value is sealed for: its row, so a sealed value
//! copied into another row does not open there. Shared by the store and
//! the SQLite backend's upgrade of stores written before sealing.

use crate::control::state::{KeyError, StateKey};

/// `value` sealed for key `id`'s row, and its lookup hash.
pub fn key_fields(key: &StateKey, id: &str, value: &str) -> Result<(String, String), KeyError> {
    Ok((key.seal(value, &key_row(id))?, key.lookup(value)))
}

/// What a key's value is sealed for (its row).
pub fn key_row(id: &str) -> String {
    format!("control.db api_keys {id}")
}
