//! One node's control store: `control.db` (SQLite through rusqlite, WAL,
//! `synchronous = FULL`) in the state directory. A change is one
//! transaction, committed before the answer is sent, so an acknowledged
//! change survives `kill -9` and a half-applied one never shows.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::control::state::{StateKey, StoreError};

use super::super::error::ApiError;
use super::super::model::ApiKey;
use super::rows::{Member, Op, Order, Row, Rows, Table};

pub struct Sqlite {
    db: Connection,
}

/// Where a table's columns are: the key column, the body column, and which
/// of the optional columns it has.
struct Columns {
    key: &'static str,
    body: &'static str,
    created: bool,
    sealed: bool,
    lookup: bool,
    snapshot: bool,
}

fn columns(t: Table) -> Columns {
    let plain = Columns {
        key: "id",
        body: "body",
        created: false,
        sealed: false,
        lookup: false,
        snapshot: false,
    };
    match t {
        Table::RestApis => Columns {
            body: "doc",
            created: true,
            ..plain
        },
        Table::Deployments => Columns {
            created: true,
            snapshot: true,
            ..plain
        },
        Table::ApiKeys => Columns {
            sealed: true,
            lookup: true,
            ..plain
        },
        Table::Stages => Columns {
            key: "name",
            ..plain
        },
        Table::ClientCertificates => Columns {
            sealed: true,
            ..plain
        },
        Table::DomainNames => Columns {
            key: "name",
            sealed: true,
            ..plain
        },
        _ => plain,
    }
}

impl Sqlite {
    /// Opens (creating if needed) `dir/control.db`, sealing the API key
    /// values of a store written before values were sealed.
    pub fn open(dir: &Path, key: &Arc<StateKey>) -> Result<Sqlite, StoreError> {
        let db = crate::control::state::open_database(dir, "control.db", key)?;
        let file = dir.join("control.db");
        let err = crate::control::state::sqlite_error(&file);
        db.execute_batch(SCHEMA).map_err(&err)?;
        let mut store = Sqlite { db };
        if store.seal_plain_values(key).map_err(&err)? > 0 {
            crate::control::state::scrub_database(&store.db, &file)?;
        }
        Ok(store)
    }

    /// Moves plain values out of key bodies into `sealed` and `lookup`
    /// (adding the columns to a store that predates them), in one
    /// transaction; how many there were.
    fn seal_plain_values(&mut self, key: &StateKey) -> Result<usize, rusqlite::Error> {
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
            let fields = super::sealed::key_fields(key, &id, &value)
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
}

/// `SELECT` list of a table, in [`Row`]'s order.
fn select(t: Table) -> String {
    let c = columns(t);
    let or_null = |has: bool, name: &str| if has { name.to_string() } else { "NULL".into() };
    format!(
        "SELECT {}, {}, {}, {}, {}, {} FROM {}",
        c.key,
        c.body,
        if c.created { "created" } else { "0" },
        or_null(c.sealed, "sealed"),
        or_null(c.lookup, "lookup"),
        or_null(c.snapshot, "snapshot"),
        t.name()
    )
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        body: r.get(1)?,
        created: r.get(2)?,
        sealed: r.get(3)?,
        lookup: r.get(4)?,
        snapshot: r.get(5)?,
    })
}

/// `WHERE` of one row, with its parameters, numbered from `first`.
/// `String`s, not `str`s: they are bound as `&dyn ToSql`, which needs a
/// sized value.
#[allow(clippy::ptr_arg)]
fn one<'a>(
    t: Table,
    scope: &'a String,
    id: &'a String,
    first: usize,
) -> (String, Vec<&'a dyn ToSql>) {
    let key = columns(t).key;
    if t.scoped() {
        let w = format!("WHERE api = ?{first} AND {key} = ?{}", first + 1);
        (w, vec![scope as &dyn ToSql, id])
    } else {
        (format!("WHERE {key} = ?{first}"), vec![id as &dyn ToSql])
    }
}

impl Rows for Sqlite {
    fn get(&self, t: Table, scope: &str, id: &str) -> Result<Option<Row>, ApiError> {
        let (scope, id) = (scope.to_string(), id.to_string());
        let (w, p) = one(t, &scope, &id, 1);
        Ok(self
            .db
            .query_row(&format!("{} {w}", select(t)), p.as_slice(), row)
            .optional()?)
    }

    fn list(&self, t: Table, scope: &str) -> Result<Vec<Row>, ApiError> {
        let order = match t.order() {
            Order::Id => columns(t).key,
            Order::CreatedId => "created, id",
            Order::Inserted => "rowid",
        };
        let (w, p): (&str, Vec<&dyn ToSql>) = if t.scoped() {
            ("WHERE api = ?1", vec![&scope as &dyn ToSql])
        } else {
            ("", vec![])
        };
        let mut q = self
            .db
            .prepare(&format!("{} {w} ORDER BY {order}", select(t)))?;
        let rows = q.query_map(p.as_slice(), row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn key_by_lookup(&self, lookup: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .db
            .query_row("SELECT id FROM api_keys WHERE lookup = ?1", [lookup], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn plan_keys(&self, plan: &str) -> Result<Vec<String>, ApiError> {
        let mut q = self
            .db
            .prepare("SELECT key FROM plan_keys WHERE plan = ?1 ORDER BY key")?;
        let rows = q.query_map([plan], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn apply(&mut self, ops: &[Op]) -> Result<Vec<bool>, ApiError> {
        let tx = self.db.transaction()?;
        let done = ops
            .iter()
            .map(|op| apply(&tx, op))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(done)
    }
}

fn apply(tx: &Transaction<'_>, op: &Op) -> Result<bool, rusqlite::Error> {
    let n = match op {
        Op::Upsert(t, scope, r) | Op::Insert(t, scope, r) => {
            let c = columns(*t);
            let mut names: Vec<&str> = Vec::new();
            let mut values: Vec<&dyn ToSql> = Vec::new();
            if t.scoped() {
                names.push("api");
                values.push(scope);
            }
            names.extend([c.key, c.body]);
            values.extend([&r.id as &dyn ToSql, &r.body]);
            let optional: [(bool, &str, &dyn ToSql); 4] = [
                (c.created, "created", &r.created),
                (c.sealed, "sealed", &r.sealed),
                (c.lookup, "lookup", &r.lookup),
                (c.snapshot, "snapshot", &r.snapshot),
            ];
            for (has, name, value) in optional {
                if has {
                    names.push(name);
                    values.push(value);
                }
            }
            let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            let mut sql = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                t.name(),
                names.join(", "),
                marks.join(", ")
            );
            if matches!(op, Op::Upsert(..)) {
                let target = if t.scoped() {
                    format!("api, {}", c.key)
                } else {
                    c.key.to_string()
                };
                let mut set = vec![format!("{0} = excluded.{0}", c.body)];
                for (has, name) in [(c.sealed, "sealed"), (c.lookup, "lookup")] {
                    if has {
                        set.push(format!("{name} = excluded.{name}"));
                    }
                }
                sql += &format!(" ON CONFLICT({target}) DO UPDATE SET {}", set.join(", "));
            }
            tx.execute(&sql, values.as_slice())?
        }
        Op::UpdateBody(t, scope, id, body) => {
            let (w, p) = one(*t, scope, id, 2);
            let mut all: Vec<&dyn ToSql> = vec![body];
            all.extend(p);
            tx.execute(
                &format!("UPDATE {} SET {} = ?1 {w}", t.name(), columns(*t).body),
                all.as_slice(),
            )?
        }
        Op::Delete(t, scope, id) => {
            let (w, p) = one(*t, scope, id, 1);
            tx.execute(&format!("DELETE FROM {} {w}", t.name()), p.as_slice())?
        }
        Op::DeleteScope(t, scope) => {
            tx.execute(&format!("DELETE FROM {} WHERE api = ?1", t.name()), [scope])?
        }
        Op::AddMember { plan, key } => tx.execute(
            "INSERT OR IGNORE INTO plan_keys (plan, key) VALUES (?1, ?2)",
            [plan, key],
        )?,
        Op::RemoveMember { plan, key } => tx.execute(
            "DELETE FROM plan_keys WHERE plan = ?1 AND key = ?2",
            [plan, key],
        )?,
        Op::DropMembers(m, id) => {
            let column = match m {
                Member::Plan => "plan",
                Member::Key => "key",
            };
            tx.execute(&format!("DELETE FROM plan_keys WHERE {column} = ?1"), [id])?
        }
    };
    Ok(n > 0)
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS rest_apis (
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
 );";
