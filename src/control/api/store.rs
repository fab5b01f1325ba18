//! Where management API state lives: `control.db` (SQLite through
//! rusqlite, WAL, `synchronous = FULL`) in the state directory. A call's
//! change is one transaction, committed before the answer is sent, so an
//! acknowledged change survives `kill -9` and a half-applied one never shows.
//! API key values are stored sealed with the state key (`sealed`), and
//! found by their keyed hash (`lookup`), never in plain text.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use crate::control::state::{KeyError, StateKey, StoreError};

use super::error::ApiError;
use super::file_apis::{self, FileApi};
use super::model::{ApiDoc, ApiKey, Deployment, Stage, UsagePlan};

pub struct ControlStore {
    db: Connection,
    file: PathBuf,
    key: Arc<StateKey>,
    /// The config file's APIs: shown, never stored or changed here.
    file_apis: Vec<FileApi>,
}

impl ControlStore {
    /// Opens (creating if needed) `dir/control.db`, sealing the API key
    /// values of a store written before values were sealed.
    pub fn open(dir: &Path, key: Arc<StateKey>) -> Result<ControlStore, StoreError> {
        let db = crate::control::state::open_database(dir, "control.db", &key)?;
        let file = dir.join("control.db");
        let err = crate::control::state::sqlite_error(&file);
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
                 body TEXT NOT NULL,
                 sealed TEXT,
                 lookup TEXT
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
             );
             CREATE TABLE IF NOT EXISTS account (
                 id TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS client_certificates (
                 id TEXT PRIMARY KEY,
                 body TEXT NOT NULL,
                 sealed TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS vpc_links (
                 id TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS domain_names (
                 name TEXT PRIMARY KEY,
                 body TEXT NOT NULL,
                 sealed TEXT
             );
             CREATE TABLE IF NOT EXISTS domain_access (
                 id TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );",
        )
        .map_err(&err)?;
        let mut store = ControlStore {
            db,
            file,
            key,
            file_apis: Vec::new(),
        };
        if store.seal_plain_values().map_err(&err)? > 0 {
            crate::control::state::scrub_database(&store.db, &store.file)?;
        }
        Ok(store)
    }

    /// Moves plain values out of key bodies into `sealed` and `lookup`
    /// (adding the columns to a store that predates them), in one
    /// transaction; how many there were.
    fn seal_plain_values(&mut self) -> Result<usize, rusqlite::Error> {
        let key = self.key.clone();
        let tx = self.db.transaction()?;
        let has_sealed: bool = tx.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('api_keys') WHERE name = 'sealed'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has_sealed {
            tx.execute_batch(
                "ALTER TABLE api_keys ADD COLUMN sealed TEXT;
                 ALTER TABLE api_keys ADD COLUMN lookup TEXT;",
            )?;
        }
        tx.execute_batch(
            "CREATE UNIQUE INDEX IF NOT EXISTS api_keys_lookup ON api_keys (lookup);",
        )?;
        let rows: Vec<(String, String)> = {
            let mut q = tx.prepare("SELECT id, body FROM api_keys WHERE sealed IS NULL")?;
            let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut sealed = 0;
        for (id, body) in rows {
            let Ok(mut k) = serde_json::from_str::<ApiKey>(&body) else {
                continue;
            };
            let Some(value) = k.value.take() else {
                continue;
            };
            let fields = key_fields(&key, &id, &value)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let body = serde_json::to_string(&k)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.execute(
                "UPDATE api_keys SET body = ?1, sealed = ?2, lookup = ?3 WHERE id = ?4",
                params![body, fields.0, fields.1, id],
            )?;
            sealed += 1;
        }
        tx.commit()?;
        Ok(sealed)
    }

    /// The config file's APIs, as they are now (at start and after SIGHUP).
    pub fn set_file(&mut self, file: Vec<FileApi>) {
        self.file_apis = file;
    }

    fn file_api(&self, id: &str) -> Option<&FileApi> {
        self.file_apis.iter().find(|f| f.doc.api.id == id)
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
        all.extend(self.file_apis.iter().map(|f| f.doc.clone()));
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

    /// A deployment's own fields (its description), the API it deployed kept.
    pub fn update_deployment(&mut self, api: &str, d: &Deployment) -> Result<(), ApiError> {
        self.writable(api)?;
        self.db.execute(
            "UPDATE deployments SET body = ?3 WHERE api = ?1 AND id = ?2",
            params![api, d.id, encode(d)?],
        )?;
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
    /// Every stored key, with its value.
    pub fn keys(&self) -> Result<Vec<ApiKey>, ApiError> {
        let mut q = self
            .db
            .prepare("SELECT body, sealed FROM api_keys ORDER BY id")?;
        let rows = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(body, sealed)| self.opened(&body, sealed))
            .collect()
    }

    /// Key `id`, with its value.
    pub fn key(&self, id: &str) -> Result<Option<ApiKey>, ApiError> {
        let row: Option<(String, Option<String>)> = self
            .db
            .query_row(
                "SELECT body, sealed FROM api_keys WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(body, sealed)| self.opened(&body, sealed))
            .transpose()
    }

    /// The id of the stored key whose value is `value`.
    pub fn key_with_value(&self, value: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .db
            .query_row(
                "SELECT id FROM api_keys WHERE lookup = ?1",
                [self.key.lookup(value)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores `k`: its value sealed, the rest as JSON.
    pub fn put_key(&mut self, k: &ApiKey) -> Result<(), ApiError> {
        let (sealed, lookup) = match &k.value {
            Some(v) => {
                let (s, l) = key_fields(&self.key, &k.id, v).map_err(sealing)?;
                (Some(s), Some(l))
            }
            None => (None, None),
        };
        let body = encode(&ApiKey {
            value: None,
            ..k.clone()
        })?;
        self.db.execute(
            "INSERT INTO api_keys (id, body, sealed, lookup) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET
                 body = excluded.body, sealed = excluded.sealed, lookup = excluded.lookup",
            params![k.id, body, sealed, lookup],
        )?;
        Ok(())
    }

    /// A stored key's body with its sealed value opened.
    fn opened(&self, body: &str, sealed: Option<String>) -> Result<ApiKey, ApiError> {
        let mut k: ApiKey = decode(body)?;
        if let Some(s) = sealed {
            k.value = Some(self.key.open(&s, &key_row(&k.id)).map_err(sealing)?);
        }
        Ok(k)
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

/// The account's settings (UpdateAccount), one row.
impl ControlStore {
    pub fn account<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.one("SELECT body FROM account WHERE id = ?1", "account")
    }

    pub fn put_account<T: serde::Serialize>(&mut self, a: &T) -> Result<(), ApiError> {
        self.upsert("account", "account", &encode(a)?)
    }
}

/// Client certificates: the certificate as JSON, its private key sealed
/// with the state key (for its row), never in plain text.
impl ControlStore {
    pub fn client_certificates<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.all("SELECT body FROM client_certificates ORDER BY id")
    }

    pub fn client_certificate<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        self.one("SELECT body FROM client_certificates WHERE id = ?1", id)
    }

    /// Stores a new certificate with its private key (PEM), sealed.
    pub fn add_client_certificate<T: serde::Serialize>(
        &mut self,
        id: &str,
        c: &T,
        private_key: &str,
    ) -> Result<(), ApiError> {
        let sealed = self.key.seal(private_key, &cert_row(id)).map_err(sealing)?;
        self.db.execute(
            "INSERT INTO client_certificates (id, body, sealed) VALUES (?1, ?2, ?3)",
            params![id, encode(c)?, sealed],
        )?;
        Ok(())
    }

    /// Changes a stored certificate's body (its key stays).
    pub fn put_client_certificate<T: serde::Serialize>(
        &mut self,
        id: &str,
        c: &T,
    ) -> Result<(), ApiError> {
        self.db.execute(
            "UPDATE client_certificates SET body = ?2 WHERE id = ?1",
            params![id, encode(c)?],
        )?;
        Ok(())
    }

    /// A stored certificate's private key (PEM), opened.
    pub fn client_certificate_key(&self, id: &str) -> Result<Option<String>, ApiError> {
        let sealed: Option<String> = self
            .db
            .query_row(
                "SELECT sealed FROM client_certificates WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .map(|s| self.key.open(&s, &cert_row(id)).map_err(sealing))
            .transpose()
    }

    pub fn delete_client_certificate(&mut self, id: &str) -> Result<bool, ApiError> {
        let n = self
            .db
            .execute("DELETE FROM client_certificates WHERE id = ?1", [id])?;
        Ok(n > 0)
    }
}

/// What a client certificate's private key is sealed for (its row).
fn cert_row(id: &str) -> String {
    format!("control.db client_certificates {id}")
}

/// VPC links (CreateVpcLink …), oldest first (rowid: an update keeps it).
impl ControlStore {
    pub fn vpc_links<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.all("SELECT body FROM vpc_links ORDER BY rowid")
    }

    pub fn vpc_link<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        self.one("SELECT body FROM vpc_links WHERE id = ?1", id)
    }

    pub fn put_vpc_link<T: serde::Serialize>(&mut self, id: &str, l: &T) -> Result<(), ApiError> {
        self.upsert("vpc_links", id, &encode(l)?)
    }

    pub fn delete_vpc_link(&mut self, id: &str) -> Result<bool, ApiError> {
        Ok(self
            .db
            .execute("DELETE FROM vpc_links WHERE id = ?1", [id])?
            > 0)
    }
}

/// Domain name access associations by ARN, oldest first.
impl ControlStore {
    pub fn domain_accesses<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.all("SELECT body FROM domain_access ORDER BY rowid")
    }

    pub fn domain_access<T: serde::de::DeserializeOwned>(
        &self,
        arn: &str,
    ) -> Result<Option<T>, ApiError> {
        self.one("SELECT body FROM domain_access WHERE id = ?1", arn)
    }

    pub fn put_domain_access<T: serde::Serialize>(
        &mut self,
        arn: &str,
        a: &T,
    ) -> Result<(), ApiError> {
        self.upsert("domain_access", arn, &encode(a)?)
    }

    pub fn delete_domain_access(&mut self, arn: &str) -> Result<bool, ApiError> {
        Ok(self
            .db
            .execute("DELETE FROM domain_access WHERE id = ?1", [arn])?
            > 0)
    }
}

/// Custom domain names (CreateDomainName …) with their base path
/// mappings in one body, oldest first; an uploaded certificate's private
/// key sealed with the state key (for its row), never in plain text. A
/// name is its row in any case (DNS names are case-insensitive); the body
/// keeps the case it was created with, as AWS shows it.
impl ControlStore {
    pub fn domain_names<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.all("SELECT body FROM domain_names ORDER BY rowid")
    }

    pub fn domain_name<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        self.one(
            "SELECT body FROM domain_names WHERE name = ?1",
            &name.to_ascii_lowercase(),
        )
    }

    /// Stores a new domain name, with its certificate's private key (PEM) sealed.
    pub fn add_domain_name<T: serde::Serialize>(
        &mut self,
        name: &str,
        d: &T,
        private_key: Option<&str>,
    ) -> Result<(), ApiError> {
        let name = &name.to_ascii_lowercase();
        let sealed = private_key
            .map(|k| self.key.seal(k, &domain_row(name)).map_err(sealing))
            .transpose()?;
        self.db.execute(
            "INSERT INTO domain_names (name, body, sealed) VALUES (?1, ?2, ?3)",
            params![name, encode(d)?, sealed],
        )?;
        Ok(())
    }

    /// Changes a stored domain name's body (its key stays).
    pub fn put_domain_name<T: serde::Serialize>(
        &mut self,
        name: &str,
        d: &T,
    ) -> Result<(), ApiError> {
        let name = name.to_ascii_lowercase();
        self.db.execute(
            "UPDATE domain_names SET body = ?2 WHERE name = ?1",
            params![name, encode(d)?],
        )?;
        Ok(())
    }

    /// A domain name's uploaded private key (PEM), opened; `None`: none uploaded.
    pub fn domain_name_key(&self, name: &str) -> Result<Option<String>, ApiError> {
        let name = &name.to_ascii_lowercase();
        let sealed: Option<Option<String>> = self
            .db
            .query_row(
                "SELECT sealed FROM domain_names WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .flatten()
            .map(|s| self.key.open(&s, &domain_row(name)).map_err(sealing))
            .transpose()
    }

    pub fn delete_domain_name(&mut self, name: &str) -> Result<bool, ApiError> {
        Ok(self.db.execute(
            "DELETE FROM domain_names WHERE name = ?1",
            [name.to_ascii_lowercase()],
        )? > 0)
    }
}

/// What a domain name's private key is sealed for (its row).
fn domain_row(name: &str) -> String {
    format!("control.db domain_names {name}")
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

/// `value` sealed for key `id`'s row, and its lookup hash.
fn key_fields(key: &StateKey, id: &str, value: &str) -> Result<(String, String), KeyError> {
    Ok((key.seal(value, &key_row(id))?, key.lookup(value)))
}

/// What a key's value is sealed for (its row).
fn key_row(id: &str) -> String {
    format!("control.db api_keys {id}")
}

fn sealing(e: KeyError) -> ApiError {
    ApiError::Internal(format!("API key values: {e}"))
}
