//! Why a database in the state directory could not be opened or used: one
//! error for both of them (`portico.db`, `control.db`), since they share the
//! directory, the way they are opened and the key that seals their values.

use std::path::PathBuf;

use super::state_key::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("store {file}: {source}")]
    Sqlite {
        file: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
}
