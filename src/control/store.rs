//! Where management API state lives: `control.db` (SQLite through
//! rusqlite, WAL, `synchronous = FULL`) in the state directory. A call's
//! change is one transaction, committed before the answer is sent, so an
//! acknowledged change survives `kill -9` and a half-applied one never shows.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::ApiError;
use super::model::ApiDoc;

pub struct ControlStore {
    db: Connection,
}

impl ControlStore {
    pub fn open(dir: &Path) -> Result<ControlStore, rusqlite::Error> {
        let _ = std::fs::create_dir_all(dir);
        let db = Connection::open(dir.join("control.db"))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS rest_apis (
                 id TEXT PRIMARY KEY,
                 created INTEGER NOT NULL,
                 doc TEXT NOT NULL
             );",
        )?;
        Ok(ControlStore { db })
    }

    pub fn api(&self, id: &str) -> Result<Option<ApiDoc>, ApiError> {
        let doc: Option<String> = self
            .db
            .query_row("SELECT doc FROM rest_apis WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        doc.map(|d| decode(&d)).transpose()
    }

    /// Every API, oldest first (the order pagination walks).
    pub fn apis(&self) -> Result<Vec<ApiDoc>, ApiError> {
        let mut q = self
            .db
            .prepare("SELECT doc FROM rest_apis ORDER BY created, id")?;
        let docs = q
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        docs.iter().map(|d| decode(d)).collect()
    }

    pub fn put_api(&mut self, doc: &ApiDoc) -> Result<(), ApiError> {
        let text = serde_json::to_string(doc)
            .map_err(|e| ApiError::Internal(format!("encoding API {}: {e}", doc.api.id)))?;
        self.db.execute(
            "INSERT INTO rest_apis (id, created, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            params![doc.api.id, doc.api.created_date, text],
        )?;
        Ok(())
    }

    pub fn delete_api(&mut self, id: &str) -> Result<bool, ApiError> {
        Ok(self
            .db
            .execute("DELETE FROM rest_apis WHERE id = ?1", [id])?
            > 0)
    }
}

fn decode(doc: &str) -> Result<ApiDoc, ApiError> {
    serde_json::from_str(doc).map_err(|e| ApiError::Internal(format!("stored API unreadable: {e}")))
}
