//! What portico keeps in the state directory, and how it keeps it there:
//! owner-only modes (`private`), the key that seals API key values at rest
//! (`state_key`), how its SQLite databases are opened (`database`), and the
//! usage store `portico.db` (`usage`). The management store `control.db`
//! is the management API's own (`control::api`), opened the same way.
//! One writer per database (the supervisor's store thread for usage, the
//! control thread for management state); the `portico` commands read them
//! while the server runs, which WAL allows.

mod database;
mod error;
pub mod private;
pub mod state_key;
mod usage;

pub use database::open as open_database;
pub use database::scrub as scrub_database;
pub use database::sqlite_err as sqlite_error;
pub use error::StoreError;
pub use state_key::{KeyError, StateKey};
pub use usage::{random_key_value, DayUsage, Store};

use std::sync::Arc;

/// The server's start: the state directory made owner-only, the state key
/// loaded (generated at the first start) and installed for the process,
/// and the usage store opened with it.
pub fn open_state(state: &crate::config::StateConfig) -> Result<Store, StoreError> {
    private::secure_state_dir(&state.dir).map_err(|source| StoreError::Dir {
        dir: state.dir.clone(),
        source,
    })?;
    let key = Arc::new(StateKey::load(state)?);
    state_key::install(key.clone());
    Store::open(&state.dir, key)
}
