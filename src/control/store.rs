//! Where management API state lives: `control.db` (SQLite through
//! rusqlite, WAL, `synchronous = FULL`) in the state directory. A call's
//! change is one transaction, committed before the answer is sent, so an
//! acknowledged change survives `kill -9` and a half-applied one never shows.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::ApiError;
use super::file_apis::{self, FileApi};
use super::model::{ApiDoc, ApiKey, Deployment, Stage, UsagePlan};

pub struct ControlStore {
    db: Connection,
    /// The config file's APIs: shown, never stored or changed here.
    file: Vec<FileApi>,
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
             );
             CREATE TABLE IF NOT EXISTS deployments (
                 api TEXT NOT NULL,
                 id TEXT NOT NULL,
                 created INTEGER NOT NULL,
                 body TEXT NOT NULL,
                 snapshot TEXT NOT NULL,
                 PRIMARY KEY (api, id)
             );
             CREATE TABLE IF NOT EXISTS api_keys (
                 id TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS usage_plans (
                 id TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS plan_keys (
                 plan TEXT NOT NULL,
                 key TEXT NOT NULL,
                 PRIMARY KEY (plan, key)
             );
             CREATE TABLE IF NOT EXISTS stages (
                 api TEXT NOT NULL,
                 name TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (api, name)
             );",
        )?;
        Ok(ControlStore {
            db,
            file: Vec::new(),
        })
    }

    /// The config file's APIs, as they are now (at start and after SIGHUP).
    pub fn set_file(&mut self, file: Vec<FileApi>) {
        self.file = file;
    }

    fn file_api(&self, id: &str) -> Option<&FileApi> {
        self.file.iter().find(|f| f.doc.api.id == id)
    }

    /// Changes to a config-file API are refused: the file is its source of truth.
    fn writable(&self, id: &str) -> Result<(), ApiError> {
        match self.file_api(id) {
            Some(f) => Err(ApiError::BadRequest(format!(
                "API {id} ({}) is declared in the config file; change it there and reload (SIGHUP)",
                f.doc.api.name
            ))),
            None => Ok(()),
        }
    }

    /// Stored APIs, then the config file's (GetRestApis).
    pub fn listed(&self) -> Result<Vec<ApiDoc>, ApiError> {
        let mut all = self.apis()?;
        all.extend(self.file.iter().map(|f| f.doc.clone()));
        Ok(all)
    }

    pub fn api(&self, id: &str) -> Result<Option<ApiDoc>, ApiError> {
        if let Some(f) = self.file_api(id) {
            return Ok(Some(f.doc.clone()));
        }
        let doc: Option<String> = self
            .db
            .query_row("SELECT doc FROM rest_apis WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        doc.map(|d| decode(&d)).transpose()
    }

    /// Every stored API, oldest first (the order pagination walks).
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
        self.writable(&doc.api.id)?;
        let text = encode(doc)?;
        self.db.execute(
            "INSERT INTO rest_apis (id, created, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            params![doc.api.id, doc.api.created_date, text],
        )?;
        Ok(())
    }

    /// The API with its deployments and stages, in one transaction.
    pub fn delete_api(&mut self, id: &str) -> Result<bool, ApiError> {
        self.writable(id)?;
        let tx = self.db.transaction()?;
        let n = tx.execute("DELETE FROM rest_apis WHERE id = ?1", [id])?;
        tx.execute("DELETE FROM deployments WHERE api = ?1", [id])?;
        tx.execute("DELETE FROM stages WHERE api = ?1", [id])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// A deployment and the API as it was when deployed.
    pub fn deployment(
        &self,
        api: &str,
        id: &str,
    ) -> Result<Option<(Deployment, ApiDoc)>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok((id == file_apis::DEPLOYMENT).then(|| (f.deployment.clone(), f.doc.clone())));
        }
        let row: Option<(String, String)> = self
            .db
            .query_row(
                "SELECT body, snapshot FROM deployments WHERE api = ?1 AND id = ?2",
                [api, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(b, s)| Ok((decode(&b)?, decode(&s)?))).transpose()
    }

    pub fn deployments(&self, api: &str) -> Result<Vec<Deployment>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok(vec![f.deployment.clone()]);
        }
        self.bodies(
            "SELECT body FROM deployments WHERE api = ?1 ORDER BY created, id",
            api,
        )
    }

    /// A new deployment, and the stage it was made for (if any), together.
    pub fn put_deployment(
        &mut self,
        api: &str,
        d: &Deployment,
        snapshot: &ApiDoc,
        stage: Option<&Stage>,
    ) -> Result<(), ApiError> {
        self.writable(api)?;
        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO deployments (api, id, created, body, snapshot) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![api, d.id, d.created_date, encode(d)?, encode(snapshot)?],
        )?;
        if let Some(s) = stage {
            put_stage(&tx, api, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn delete_deployment(&mut self, api: &str, id: &str) -> Result<bool, ApiError> {
        self.writable(api)?;
        let n = self.db.execute(
            "DELETE FROM deployments WHERE api = ?1 AND id = ?2",
            [api, id],
        )?;
        Ok(n > 0)
    }

    pub fn stage(&self, api: &str, name: &str) -> Result<Option<Stage>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok(f.stages.iter().find(|s| s.stage_name == name).cloned());
        }
        let body: Option<String> = self
            .db
            .query_row(
                "SELECT body FROM stages WHERE api = ?1 AND name = ?2",
                [api, name],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| decode(&b)).transpose()
    }

    pub fn stages(&self, api: &str) -> Result<Vec<Stage>, ApiError> {
        if let Some(f) = self.file_api(api) {
            return Ok(f.stages.clone());
        }
        self.bodies("SELECT body FROM stages WHERE api = ?1 ORDER BY name", api)
    }

    pub fn put_stage(&mut self, api: &str, s: &Stage) -> Result<(), ApiError> {
        self.writable(api)?;
        put_stage(&self.db, api, s)
    }

    pub fn delete_stage(&mut self, api: &str, name: &str) -> Result<bool, ApiError> {
        self.writable(api)?;
        let n = self.db.execute(
            "DELETE FROM stages WHERE api = ?1 AND name = ?2",
            [api, name],
        )?;
        Ok(n > 0)
    }

    fn bodies<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        api: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut q = self.db.prepare(sql)?;
        let rows = q
            .query_map([api], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|b| decode(b)).collect()
    }
}

/// API keys, usage plans and which keys each plan has.
impl ControlStore {
    pub fn keys(&self) -> Result<Vec<ApiKey>, ApiError> {
        self.all("SELECT body FROM api_keys ORDER BY id")
    }

    pub fn key(&self, id: &str) -> Result<Option<ApiKey>, ApiError> {
        self.one("SELECT body FROM api_keys WHERE id = ?1", id)
    }

    pub fn put_key(&mut self, k: &ApiKey) -> Result<(), ApiError> {
        self.upsert("api_keys", &k.id, &encode(k)?)
    }

    /// The key and its plan memberships, together.
    pub fn delete_key(&mut self, id: &str) -> Result<bool, ApiError> {
        self.delete_with_memberships("api_keys", "key", id)
    }

    pub fn plans(&self) -> Result<Vec<UsagePlan>, ApiError> {
        self.all("SELECT body FROM usage_plans ORDER BY id")
    }

    pub fn plan(&self, id: &str) -> Result<Option<UsagePlan>, ApiError> {
        self.one("SELECT body FROM usage_plans WHERE id = ?1", id)
    }

    pub fn put_plan(&mut self, p: &UsagePlan) -> Result<(), ApiError> {
        self.upsert("usage_plans", &p.id, &encode(p)?)
    }

    /// The plan and its key memberships, together.
    pub fn delete_plan(&mut self, id: &str) -> Result<bool, ApiError> {
        self.delete_with_memberships("usage_plans", "plan", id)
    }

    /// Writes row `id` of an `(id, body)` table.
    fn upsert(&mut self, table: &str, id: &str, body: &str) -> Result<(), ApiError> {
        self.db.execute(
            &format!(
                "INSERT INTO {table} (id, body) VALUES (?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET body = excluded.body"
            ),
            params![id, body],
        )?;
        Ok(())
    }

    /// Deletes row `id` of `table` and the `plan_keys` rows whose `column` names it.
    fn delete_with_memberships(
        &mut self,
        table: &str,
        column: &str,
        id: &str,
    ) -> Result<bool, ApiError> {
        let tx = self.db.transaction()?;
        let n = tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
        tx.execute(&format!("DELETE FROM plan_keys WHERE {column} = ?1"), [id])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Key ids of a plan.
    pub fn plan_keys(&self, plan: &str) -> Result<Vec<String>, ApiError> {
        let mut q = self
            .db
            .prepare("SELECT key FROM plan_keys WHERE plan = ?1 ORDER BY key")?;
        let rows = q
            .query_map([plan], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Whether the pair was new.
    pub fn add_plan_key(&mut self, plan: &str, key: &str) -> Result<bool, ApiError> {
        let n = self.db.execute(
            "INSERT OR IGNORE INTO plan_keys (plan, key) VALUES (?1, ?2)",
            [plan, key],
        )?;
        Ok(n > 0)
    }

    pub fn remove_plan_key(&mut self, plan: &str, key: &str) -> Result<bool, ApiError> {
        let n = self.db.execute(
            "DELETE FROM plan_keys WHERE plan = ?1 AND key = ?2",
            [plan, key],
        )?;
        Ok(n > 0)
    }

    fn all<T: serde::de::DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, ApiError> {
        let mut q = self.db.prepare(sql)?;
        let rows = q
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|b| decode(b)).collect()
    }

    fn one<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        let body: Option<String> = self.db.query_row(sql, [id], |r| r.get(0)).optional()?;
        body.map(|b| decode(&b)).transpose()
    }
}

fn put_stage(db: &Connection, api: &str, s: &Stage) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO stages (api, name, body) VALUES (?1, ?2, ?3)
         ON CONFLICT(api, name) DO UPDATE SET body = excluded.body",
        params![api, s.stage_name, encode(s)?],
    )?;
    Ok(())
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(format!("encoding: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, ApiError> {
    serde_json::from_str(doc)
        .map_err(|e| ApiError::Internal(format!("stored state unreadable: {e}")))
}
