//! The state directory's embedded store (SQLite, in WAL mode): usage per
//! key per plan per UTC day, each plan's first day (for the quota offset)
//! and generated API key values (sealed with the state key). One writer
//! (the store thread, `control::reconcile`); `portico usage` and `portico keys`
//! commands read it while the server runs, which WAL allows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{database, open_database, scrub_database, state_key, KeyError, StateKey, StoreError};
use crate::throttle::UsageDelta;

pub struct Store {
    conn: Connection,
    file: PathBuf,
    /// Seals generated values; `None` when opened read-only.
    key: Option<Arc<StateKey>>,
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
CREATE TABLE IF NOT EXISTS quota_adjust (
    plan TEXT NOT NULL, key_id TEXT NOT NULL, period TEXT NOT NULL, adjust INTEGER NOT NULL,
    PRIMARY KEY (plan, key_id, period)
);
";

impl Store {
    /// Opens (creating if needed) `dir/portico.db` for writing, sealing
    /// any generated value stored before values were sealed.
    pub fn open(dir: &Path, key: Arc<StateKey>) -> Result<Store, StoreError> {
        let conn = open_database(dir, "portico.db", &key)?;
        let mut store = Store {
            conn,
            file: dir.join("portico.db"),
            key: Some(key),
        };
        store.batch(SCHEMA)?;
        if store.seal_plain_values()? > 0 {
            scrub_database(&store.conn, &store.file)?;
        }
        Ok(store)
    }

    /// Seals plain generated values in one transaction; how many there were.
    fn seal_plain_values(&mut self) -> Result<usize, StoreError> {
        let key = self.key.clone().expect("opened for writing");
        let err = database::sqlite_err(&self.file);
        let tx = self.conn.transaction().map_err(&err)?;
        let plain: Vec<(String, String)> = {
            let mut q = tx
                .prepare("SELECT key_id, value FROM generated_keys")
                .map_err(&err)?;
            let rows = q
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(&err)?
        };
        let plain: Vec<_> = plain
            .into_iter()
            .filter(|(_, v)| !state_key::is_sealed(v))
            .collect();
        for (id, value) in &plain {
            tx.execute(
                "UPDATE generated_keys SET value = ?1 WHERE key_id = ?2",
                params![key.seal(value, &generated_row(id))?, id],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(plain.len())
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
        let store = Store {
            conn,
            file,
            key: None,
        };
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

    /// Sets what is added to `key_id`'s calls in `plan` in the quota period
    /// starting `period` (UpdateUsage).
    pub fn set_quota_adjust(
        &self,
        plan: &str,
        key_id: &str,
        period: NaiveDate,
        adjust: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO quota_adjust (plan, key_id, period, adjust) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plan, key_id, period) DO UPDATE SET adjust = excluded.adjust",
                params![plan, key_id, period.to_string(), adjust],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// What is added to `key_id`'s calls in `plan` in the period starting
    /// `period` (0 if nothing, or a store from before adjustments).
    pub fn quota_adjust(
        &self,
        plan: &str,
        key_id: &str,
        period: NaiveDate,
    ) -> Result<i64, StoreError> {
        let q = self.conn.query_row(
            "SELECT adjust FROM quota_adjust WHERE plan = ?1 AND key_id = ?2 AND period = ?3",
            params![plan, key_id, period.to_string()],
            |row| row.get::<_, i64>(0),
        );
        match q {
            Ok(n) => Ok(n),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(0),
            // Read-only beside a store opened before the table existed.
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => Ok(0),
            Err(e) => Err(self.err(e)),
        }
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

    /// The generated value of `key_id`, generating and storing one (sealed)
    /// if absent.
    pub fn generated_key(&mut self, key_id: &str) -> Result<String, StoreError> {
        let key = self.key.clone().expect("opened for writing");
        if let Some(v) = self.stored_key(key_id, Some(&key))? {
            return Ok(v);
        }
        let value = random_key_value()?;
        self.conn
            .execute(
                "INSERT INTO generated_keys (key_id, value) VALUES (?1, ?2)",
                params![key_id, key.seal(&value, &generated_row(key_id))?],
            )
            .map_err(|e| self.err(e))?;
        Ok(value)
    }

    /// The generated value of `key_id`, opened with `key` (`None`: there is
    /// no state key, so only a value from before sealing can be read).
    pub fn stored_key(
        &self,
        key_id: &str,
        key: Option<&StateKey>,
    ) -> Result<Option<String>, StoreError> {
        let stored: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM generated_keys WHERE key_id = ?1",
                params![key_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(match stored {
            // Not sealed yet: written before sealing, read before a server start sealed it.
            Some(v) if !state_key::is_sealed(&v) => Some(v),
            Some(v) => Some(
                key.ok_or(KeyError::Missing)?
                    .open(&v, &generated_row(key_id))?,
            ),
            None => None,
        })
    }
}

/// What a generated value is sealed for (its row).
fn generated_row(key_id: &str) -> String {
    format!("portico.db generated_keys {key_id}")
}

/// An API key value: 40 characters (as AWS's are) of the 62 letters and
/// digits, from the system's cryptographic random source.
pub fn random_key_value() -> Result<String, KeyError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Bytes at or above the last multiple of 62 are dropped, so every character is equally likely.
    const BOUND: u8 = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut out = String::with_capacity(40);
    let mut bytes = [0u8; 64];
    while out.len() < 40 {
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::Random)?;
        out.extend(
            bytes
                .iter()
                .filter(|b| **b < BOUND)
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .take(40 - out.len()),
        );
    }
    Ok(out)
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

    fn key(byte: u8) -> Arc<StateKey> {
        Arc::new(StateKey::from_bytes(&[byte; state_key::KEY_LEN]))
    }

    /// Every file of the store, read whole.
    fn store_bytes(d: &Path) -> Vec<u8> {
        let mut all = Vec::new();
        for e in std::fs::read_dir(d).unwrap() {
            all.extend(std::fs::read(e.unwrap().path()).unwrap());
        }
        all
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn generated_values_are_sealed_on_disk_and_need_their_key() {
        let d = dir();
        let v = {
            let mut s = Store::open(&d, key(1)).unwrap();
            s.generated_key("alice").unwrap()
        };
        assert!(!contains(&store_bytes(&d), &v));
        let ro = Store::open_read_only(&d).unwrap();
        assert_eq!(ro.stored_key("alice", Some(&key(1))).unwrap(), Some(v));
        assert!(ro.stored_key("alice", Some(&key(2))).is_err());
        drop(ro);
        match Store::open(&d, key(2)) {
            Err(StoreError::Key(KeyError::WrongKey { .. })) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened with another key"),
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn plain_values_from_before_sealing_are_sealed_at_open() {
        let d = dir();
        std::fs::create_dir_all(&d).unwrap();
        let plain = "PlainGeneratedValue0123456789abcdefghijk";
        {
            let c = Connection::open(d.join("portico.db")).unwrap();
            c.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.execute(
                "INSERT INTO generated_keys (key_id, value) VALUES ('alice', ?1)",
                [plain],
            )
            .unwrap();
        }
        assert!(contains(&store_bytes(&d), plain));
        let mut s = Store::open(&d, key(1)).unwrap();
        assert!(!contains(&store_bytes(&d), plain), "sealed and scrubbed");
        assert_eq!(s.generated_key("alice").unwrap(), plain);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn random_values_are_40_letters_and_digits() {
        let a = random_key_value().unwrap();
        assert_eq!(a.len(), 40);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, random_key_value().unwrap());
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
            let mut s = Store::open(&d, key(1)).unwrap();
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
        let mut s = Store::open(&d, key(1)).unwrap();
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

    #[test]
    fn quota_adjustments_are_per_period_replaced_and_kept() {
        let d = dir();
        let day: NaiveDate = "2026-11-25".parse().unwrap();
        {
            let s = Store::open(&d, key(1)).unwrap();
            assert_eq!(s.quota_adjust("gold", "alice", day).unwrap(), 0);
            s.set_quota_adjust("gold", "alice", day, 4).unwrap();
            s.set_quota_adjust("gold", "alice", day, -3).unwrap();
        }
        let s = Store::open_read_only(&d).unwrap();
        assert_eq!(s.quota_adjust("gold", "alice", day).unwrap(), -3);
        assert_eq!(s.quota_adjust("gold", "bob", day).unwrap(), 0);
        let next = day.succ_opt().unwrap();
        assert_eq!(s.quota_adjust("gold", "alice", next).unwrap(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }
}
