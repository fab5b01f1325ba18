//! The state directory's embedded store (SQLite, in WAL mode): usage per
//! key per plan per UTC day, each plan's first day (for the quota offset)
//! and generated API key values. One writer (the server's store thread);
//! the `portico usage` and `portico keys` commands read it while the server
//! runs, which WAL allows.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::throttle::UsageDelta;

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
}

pub struct Store {
    conn: Connection,
    file: PathBuf,
}

/// One day's usage of one key: calls admitted and bytes sent back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayUsage {
    pub calls: u64,
    pub bytes: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage (
    plan TEXT NOT NULL, key_id TEXT NOT NULL, day TEXT NOT NULL,
    calls INTEGER NOT NULL, bytes INTEGER NOT NULL,
    PRIMARY KEY (plan, key_id, day)
);
CREATE TABLE IF NOT EXISTS plans (name TEXT PRIMARY KEY, first_day TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generated_keys (key_id TEXT PRIMARY KEY, value TEXT NOT NULL);
";

impl Store {
    /// Opens (creating if needed) `dir/portico.db` for writing.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let file = dir.join("portico.db");
        let conn = Connection::open(&file).map_err(|source| StoreError::Sqlite {
            file: file.clone(),
            source,
        })?;
        let store = Store { conn, file };
        store.batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )?;
        store.batch(SCHEMA)?;
        Ok(store)
    }

    /// Opens an existing store read-only, beside a running server.
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        let file = dir.join("portico.db");
        let conn = Connection::open_with_flags(&file, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| StoreError::Sqlite {
                file: file.clone(),
                source,
            },
        )?;
        let store = Store { conn, file };
        store.batch("PRAGMA busy_timeout = 5000;")?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            file: self.file.clone(),
            source,
        }
    }

    fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    /// Adds usage in one transaction: all of it is stored, or none.
    pub fn add_usage(&mut self, rows: &[UsageDelta]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
            file: self.file.clone(),
            source: e,
        })?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO usage (plan, key_id, day, calls, bytes) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (plan, key_id, day)
                     DO UPDATE SET calls = calls + excluded.calls, bytes = bytes + excluded.bytes",
                )
                .map_err(|e| StoreError::Sqlite {
                    file: self.file.clone(),
                    source: e,
                })?;
            for r in rows {
                stmt.execute(params![
                    r.plan,
                    r.key_id,
                    r.day.to_string(),
                    r.calls as i64,
                    r.bytes as i64
                ])
                .map_err(|e| StoreError::Sqlite {
                    file: self.file.clone(),
                    source: e,
                })?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Usage of `key_id` (or of every key) in `plan`, per day, `from..=to`.
    pub fn usage(
        &self,
        plan: &str,
        key_id: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, NaiveDate, DayUsage)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT key_id, day, calls, bytes FROM usage
                 WHERE plan = ?1 AND (?2 IS NULL OR key_id = ?2) AND day >= ?3 AND day <= ?4
                 ORDER BY key_id, day",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![plan, key_id, from.to_string(), to.to_string()],
                |row| {
                    let day: String = row.get(1)?;
                    Ok((
                        row.get::<_, String>(0)?,
                        day,
                        DayUsage {
                            calls: row.get::<_, i64>(2)? as u64,
                            bytes: row.get::<_, i64>(3)? as u64,
                        },
                    ))
                },
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let (key, day, u) = r.map_err(|e| self.err(e))?;
            if let Ok(day) = day.parse() {
                out.push((key, day, u));
            }
        }
        Ok(out)
    }

    /// Calls of `key_id` in `plan` from `from` (inclusive) on.
    pub fn calls_since(
        &self,
        plan: &str,
        key_id: &str,
        from: NaiveDate,
    ) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(calls), 0) FROM usage WHERE plan = ?1 AND key_id = ?2 AND day >= ?3",
                params![plan, key_id, from.to_string()],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The day `plan` was first seen, recording `today` if it is new.
    pub fn plan_first_day(&self, plan: &str, today: NaiveDate) -> Result<NaiveDate, StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO plans (name, first_day) VALUES (?1, ?2)",
                params![plan, today.to_string()],
            )
            .map_err(|e| self.err(e))?;
        let day: String = self
            .conn
            .query_row(
                "SELECT first_day FROM plans WHERE name = ?1",
                params![plan],
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(day.parse().unwrap_or(today))
    }

    /// The day `plan` was first seen, if it was.
    pub fn recorded_first_day(&self, plan: &str) -> Result<Option<NaiveDate>, StoreError> {
        let day: Option<String> = self
            .conn
            .query_row(
                "SELECT first_day FROM plans WHERE name = ?1",
                params![plan],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(day.and_then(|d| d.parse().ok()))
    }

    /// The generated value of `key_id`, generating and storing one if absent.
    pub fn generated_key(&mut self, key_id: &str) -> Result<String, StoreError> {
        if let Some(v) = self.stored_key(key_id)? {
            return Ok(v);
        }
        let value = generate_key_value();
        self.conn
            .execute(
                "INSERT INTO generated_keys (key_id, value) VALUES (?1, ?2)",
                params![key_id, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(value)
    }

    pub fn stored_key(&self, key_id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM generated_keys WHERE key_id = ?1",
                params![key_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

/// 40 characters from the kernel's random source (as AWS keys are 40 long).
fn generate_key_value() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 40];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if filled.is_err() {
        // No /dev/urandom: fall back to the clock and the process id, mixed.
        let mut x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        for b in &mut bytes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "portico-store-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn usage_adds_up_per_day_and_survives_reopening() {
        let d = dir();
        let day: NaiveDate = "2026-11-25".parse().unwrap();
        let row = |calls, day| UsageDelta {
            plan: "gold".into(),
            key_id: "alice".into(),
            day,
            calls,
            bytes: calls * 10,
        };
        {
            let mut s = Store::open(&d).unwrap();
            s.add_usage(&[row(3, day), row(4, day), row(1, day.succ_opt().unwrap())])
                .unwrap();
        }
        let s = Store::open_read_only(&d).unwrap();
        let u = s.usage("gold", Some("alice"), day, day).unwrap();
        assert_eq!(
            u,
            vec![(
                "alice".into(),
                day,
                DayUsage {
                    calls: 7,
                    bytes: 70
                }
            )]
        );
        assert_eq!(s.calls_since("gold", "alice", day).unwrap(), 8);
        assert_eq!(s.usage("gold", Some("bob"), day, day).unwrap(), vec![]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn generated_keys_and_first_days_are_kept() {
        let d = dir();
        let mut s = Store::open(&d).unwrap();
        let k = s.generated_key("alice").unwrap();
        assert_eq!(k.len(), 40);
        assert_eq!(s.generated_key("alice").unwrap(), k);
        assert_ne!(s.generated_key("bob").unwrap(), k);
        let day: NaiveDate = "2026-11-25".parse().unwrap();
        assert_eq!(s.plan_first_day("gold", day).unwrap(), day);
        assert_eq!(
            s.plan_first_day("gold", day.succ_opt().unwrap()).unwrap(),
            day
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
