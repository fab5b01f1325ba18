//! A fleet's control store: the same tables in the fleet's Redis
//! (`[cluster]`), one hash per table under the `{prefix}` hash tag, each
//! row its JSON. A change is one Lua script (a script runs alone, so a
//! read-modify-write such as a delete with its memberships is atomic) that
//! bumps the fleet's revision `{prefix}:rev`; the revision is then
//! published on the channel of the same name for the other nodes, and with
//! `min_replicas` the call waits (`WAIT`) for that many replicas. Only
//! once Redis acknowledged does the call answer. Redis unreachable: every
//! call, read or change, answers 503 within the command timeout.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::cluster::{self, Keys, Revision};
use crate::config::ClusterConfig;
use crate::control::state::{KeyError, StateKey, StoreError};

use super::super::error::ApiError;
use super::rows::{Member, Op, Order, Row, Rows, Table};

const APPLY: &str = include_str!("apply.lua");

pub struct Redis {
    cfg: ClusterConfig,
    keys: Keys,
    /// Opened on first use and again after a failure.
    conn: RefCell<Option<cluster::Connection>>,
    /// The last failure and when: for a connect timeout after it, calls
    /// fail at once, so a call that reads several times waits once.
    failed: RefCell<Option<(Instant, String)>>,
    /// What this node's key says in `{prefix}:key_check`.
    check: String,
    revision: Arc<Revision>,
    script: redis::Script,
}

/// A stored row with its place among the table's rows.
#[derive(Deserialize)]
struct Stored {
    #[serde(flatten)]
    row: Row,
    #[serde(default)]
    seq: i64,
}

impl Redis {
    /// The fleet's store. A Redis that holds rows sealed with another state
    /// key refuses this node (every node of a fleet needs the same key);
    /// an unreachable one is tried again at each call.
    pub fn open(
        cfg: &ClusterConfig,
        key: &StateKey,
        revision: Arc<Revision>,
    ) -> Result<Redis, StoreError> {
        let store = Redis {
            cfg: cfg.clone(),
            keys: cluster::Keys::new(&cfg.key_prefix),
            conn: RefCell::new(None),
            failed: RefCell::new(None),
            check: key.check_value(),
            revision,
            script: redis::Script::new(APPLY),
        };
        match store.connected(|_| Ok(())) {
            Err(ApiError::ServiceUnavailable(e)) => {
                crate::log!(
                    warn,
                    "fleet store: {e}; management calls answer 503 until it answers"
                );
            }
            Err(e) => {
                crate::log!(error, "fleet store: {e}");
                return Err(StoreError::Key(KeyError::WrongKey {
                    what: format!(
                        "the fleet's state in Redis ({}*, shared by every node of the fleet, \
                         which all need the same state key)",
                        store.keys.key("")
                    ),
                }));
            }
            Ok(()) => {}
        }
        Ok(store)
    }

    /// Whether Redis already holds a fleet's state (`portico cluster
    /// migrate` refuses to overwrite one).
    pub fn holds_state(&self) -> Result<bool, ApiError> {
        let rev = self.keys.key("rev");
        self.connected(|c| redis::cmd("EXISTS").arg(&rev).query::<bool>(c))
    }

    /// Everything, replaced by `ops`, in one script call.
    pub fn replace(&mut self, ops: &[Op]) -> Result<(), ApiError> {
        self.run(&[json!({"o": "clear", "t": 1})], ops).map(|_| ())
    }

    fn table_key(&self, t: Table) -> String {
        self.keys.key(&format!("t:{}", t.name()))
    }

    /// `f` on the connection (opened, and the state key checked, if
    /// needed). A connection that failed is dropped, so the next call
    /// opens another.
    fn connected<T>(
        &self,
        f: impl FnOnce(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T, ApiError> {
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            let hold_off = Duration::from_millis(self.cfg.connect_timeout_ms);
            if let Some((at, why)) = self.failed.borrow().as_ref() {
                if at.elapsed() < hold_off {
                    return Err(down(why));
                }
            }
            let mut conn = cluster::connect(&self.cfg).map_err(|e| self.fail(e))?;
            self.check_key(&mut *conn)?;
            *slot = Some(conn);
        }
        let conn = slot.as_mut().expect("opened above");
        f(&mut **conn).map_err(|e| {
            if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                *slot = None;
                self.fail(e)
            } else {
                ApiError::Internal(format!("fleet store: {e}"))
            }
        })
    }

    /// Remembers a failure to reach Redis; the call's 503.
    fn fail(&self, e: impl std::fmt::Display) -> ApiError {
        *self.failed.borrow_mut() = Some((Instant::now(), e.to_string()));
        down(e)
    }

    /// The fleet's key check, written by the first node; a node with
    /// another key can open none of the fleet's sealed values.
    fn check_key(&self, conn: &mut dyn redis::ConnectionLike) -> Result<(), ApiError> {
        let at = self.keys.key("key_check");
        let stored: redis::RedisResult<String> = redis::cmd("SET")
            .arg(&at)
            .arg(&self.check)
            .arg("NX")
            .query::<()>(conn)
            .and_then(|()| redis::cmd("GET").arg(&at).query(conn));
        match stored {
            Ok(s) if s == self.check => Ok(()),
            Ok(_) => Err(ApiError::Internal(format!(
                "the fleet's state in Redis ({at}) is sealed with another state key than \
                 this node's: every node of a fleet needs the same state key \
                 ([state] key_file, or PORTICO_STATE_KEY); copy it from a running node"
            ))),
            Err(e) => Err(down(e)),
        }
    }

    /// The script over `ops` (after `first`, raw ones); the new revision
    /// and what each op found.
    fn run(&mut self, first: &[Value], ops: &[Op]) -> Result<Vec<bool>, ApiError> {
        let mut list: Vec<Value> = first.to_vec();
        list.extend(ops.iter().map(|op| self.encode(op)));
        let arg = serde_json::to_string(&list)
            .map_err(|e| ApiError::Internal(format!("encoding: {e}")))?;
        let mut inv = self.script.prepare_invoke();
        inv.key(self.keys.key("rev"))
            .key(self.keys.key("seq"))
            .key(self.keys.key("t:plan_keys"));
        for t in Table::ALL {
            inv.key(self.table_key(t));
        }
        inv.key(self.keys.key("t:api_keys_lookup"));
        // A change Redis runs after the caller was told 503 would be a
        // change nobody saw acknowledged: it carries a deadline on Redis's
        // own clock (no node's clock matters).
        let (secs, micros): (u64, u64) = self.connected(|c| redis::cmd("TIME").query(c))?;
        let deadline = secs * 1000 + micros / 1000 + self.cfg.command_timeout_ms;
        inv.arg(arg).arg(deadline);
        let out: Vec<i64> = self.connected(|c| inv.invoke(c))?;
        let Some((&rev, found)) = out.split_first() else {
            return Err(ApiError::Internal("fleet store: empty answer".into()));
        };
        if rev == -2 {
            return Err(down(
                "the change reached it after the command timeout; not applied",
            ));
        }
        if rev < 0 {
            return Err(ApiError::Internal(
                "state store: the row already exists".into(),
            ));
        }
        // The control thread publishes it before it reads its next job.
        self.published(rev as u64);
        self.announce(rev as u64)?;
        Ok(found.iter().skip(first.len()).map(|&n| n > 0).collect())
    }

    /// Tells the other nodes of revision `rev`, then waits for the
    /// replicas `min_replicas` asks for.
    fn announce(&self, rev: u64) -> Result<(), ApiError> {
        let channel = self.keys.key("rev");
        if let Err(e) =
            self.connected(|c| redis::cmd("PUBLISH").arg(&channel).arg(rev).query::<i64>(c))
        {
            // Stored: the others find it by polling within a second.
            crate::log!(warn, "fleet revision {rev} not announced: {e}");
        }
        let want = self.cfg.min_replicas;
        if want > 0 {
            // Within the command timeout, so the answer is read in time.
            let wait = (self.cfg.command_timeout_ms * 3 / 4).max(1);
            let got: i64 = self.connected(|c| redis::cmd("WAIT").arg(want).arg(wait).query(c))?;
            if got < i64::from(want) {
                return Err(ApiError::ServiceUnavailable(format!(
                    "the change is on the Redis primary, but only {got} of the {want} \
                     replicas [cluster] min_replicas asks for acknowledged it within {wait} ms"
                )));
            }
        }
        Ok(())
    }

    /// One op as the script reads it: `t` the index of its key.
    fn encode(&self, op: &Op) -> Value {
        let mut v = self.encode_op(op);
        if let (Op::Upsert(Table::ApiKeys, ..) | Op::Delete(Table::ApiKeys, ..), Some(o)) =
            (op, v.as_object_mut())
        {
            o.insert("x".into(), json!(4 + Table::ALL.len()));
        }
        v
    }

    fn encode_op(&self, op: &Op) -> Value {
        let index = |t: Table| 4 + Table::ALL.iter().position(|x| *x == t).unwrap_or(0);
        const MEMBERS: usize = 3;
        match op {
            Op::Upsert(t, s, r) | Op::Insert(t, s, r) => json!({
                "o": if matches!(op, Op::Upsert(..)) { "upsert" } else { "insert" },
                "t": index(*t), "f": field(*t, s, &r.id), "row": r,
            }),
            Op::UpdateBody(t, s, id, body) => {
                json!({"o": "update", "t": index(*t), "f": field(*t, s, id), "body": body})
            }
            Op::Delete(t, s, id) => json!({"o": "delete", "t": index(*t), "f": field(*t, s, id)}),
            Op::DeleteScope(t, s) => json!({"o": "prefix", "t": index(*t), "f": format!("{s}\n")}),
            Op::AddMember { plan, key } => {
                json!({"o": "add", "t": MEMBERS, "f": format!("{plan}\n{key}")})
            }
            Op::RemoveMember { plan, key } => {
                json!({"o": "delete", "t": MEMBERS, "f": format!("{plan}\n{key}")})
            }
            Op::DropMembers(Member::Plan, id) => {
                json!({"o": "prefix", "t": MEMBERS, "f": format!("{id}\n")})
            }
            Op::DropMembers(Member::Key, id) => {
                json!({"o": "suffix", "t": MEMBERS, "f": format!("\n{id}")})
            }
        }
    }
}

/// A row's field in its table's hash: scoped rows after their API's id.
fn field(t: Table, scope: &str, id: &str) -> String {
    if t.scoped() {
        format!("{scope}\n{id}")
    } else {
        id.to_string()
    }
}

fn down(e: impl std::fmt::Display) -> ApiError {
    ApiError::ServiceUnavailable(format!("the fleet's Redis cannot be reached: {e}"))
}

fn parse(text: &str) -> Result<Stored, ApiError> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::Internal(format!("stored state unreadable: {e}")))
}

impl Rows for Redis {
    fn get(&self, t: Table, scope: &str, id: &str) -> Result<Option<Row>, ApiError> {
        let (key, f) = (self.table_key(t), field(t, scope, id));
        let text: Option<String> =
            self.connected(|c| redis::cmd("HGET").arg(&key).arg(&f).query(c))?;
        text.map(|t| parse(&t).map(|s| s.row)).transpose()
    }

    fn list(&self, t: Table, scope: &str) -> Result<Vec<Row>, ApiError> {
        let key = self.table_key(t);
        let all: HashMap<String, String> =
            self.connected(|c| redis::cmd("HGETALL").arg(&key).query(c))?;
        let prefix = if t.scoped() {
            format!("{scope}\n")
        } else {
            String::new()
        };
        let mut rows = all
            .iter()
            .filter(|(f, _)| f.starts_with(&prefix))
            .map(|(_, text)| parse(text))
            .collect::<Result<Vec<_>, _>>()?;
        match t.order() {
            Order::Id => rows.sort_by(|a, b| a.row.id.cmp(&b.row.id)),
            Order::CreatedId => {
                rows.sort_by(|a, b| (a.row.created, &a.row.id).cmp(&(b.row.created, &b.row.id)))
            }
            Order::Inserted => rows.sort_by_key(|s| s.seq),
        }
        Ok(rows.into_iter().map(|s| s.row).collect())
    }

    fn key_by_lookup(&self, lookup: &str) -> Result<Option<String>, ApiError> {
        let index = self.keys.key("t:api_keys_lookup");
        self.connected(|c| redis::cmd("HGET").arg(&index).arg(lookup).query(c))
    }

    fn plan_keys(&self, plan: &str) -> Result<Vec<String>, ApiError> {
        let key = self.keys.key("t:plan_keys");
        let fields: Vec<String> = self.connected(|c| redis::cmd("HKEYS").arg(&key).query(c))?;
        let prefix = format!("{plan}\n");
        let mut keys: Vec<String> = fields
            .iter()
            .filter_map(|f| f.strip_prefix(&prefix).map(str::to_string))
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn apply(&mut self, ops: &[Op]) -> Result<Vec<bool>, ApiError> {
        self.run(&[], ops)
    }

    fn published(&self, revision: u64) {
        if revision > self.revision.get() {
            self.revision.set(revision);
        }
    }

    fn unpublished(&self) {
        // Below every revision: the follower asks for the fleet's current
        // one at its next read of the counter.
        self.revision.set(0);
    }
}
