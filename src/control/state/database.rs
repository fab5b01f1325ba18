//! How portico opens a database of its own in the state directory (the
//! usage store `portico.db`, the management store `control.db`): owner-only
//! files, WAL with `synchronous = FULL`, `secure_delete` so a replaced or
//! deleted row's bytes are zeroed rather than left in free space, and a
//! check that the state key is the one its sealed values were written with.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use super::state_key::{KeyError, StateKey};
use super::{private, StoreError};

const CHECK: &str = "state_key_check";

/// Opens (creating if needed) `dir/name` for writing with `key`.
pub fn open(dir: &Path, name: &str, key: &StateKey) -> Result<Connection, StoreError> {
    let dir_err = |source| StoreError::Dir {
        dir: dir.to_path_buf(),
        source,
    };
    private::create_dir(dir).map_err(dir_err)?;
    let file = dir.join(name);
    private::create_database(&file).map_err(dir_err)?;
    let err = sqlite_err(&file);
    let conn = Connection::open(&file).map_err(&err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;
         PRAGMA secure_delete = ON;
         CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
    .map_err(&err)?;
    let check: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE name = ?1", [CHECK], |r| {
            r.get(0)
        })
        .optional()
        .map_err(&err)?;
    match check {
        Some(c) if c != key.check_value() => {
            return Err(StoreError::Key(KeyError::WrongKey {
                what: file.display().to_string(),
            }))
        }
        Some(_) => {}
        None => {
            conn.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                [CHECK, &key.check_value()],
            )
            .map_err(&err)?;
        }
    }
    Ok(conn)
}

/// After plain values were sealed in place: rewrites the file so no page
/// (free ones included) keeps the old bytes, and empties the WAL that
/// still holds them.
pub fn scrub(conn: &Connection, file: &Path) -> Result<(), StoreError> {
    conn.execute_batch("VACUUM;")
        .and_then(|()| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|_| ())
        .map_err(sqlite_err(file))
}

pub fn sqlite_err(file: &Path) -> impl Fn(rusqlite::Error) -> StoreError {
    let file: PathBuf = file.to_path_buf();
    move |source| StoreError::Sqlite {
        file: file.clone(),
        source,
    }
}
