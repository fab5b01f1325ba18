//! `portico cluster migrate`: one node's `control.db` copied into the
//! fleet's Redis in one script call, rows as they are (values stay sealed
//! with the state key, which the fleet's nodes share).

use std::sync::Arc;

use crate::cluster::Revision;
use crate::config::{ClusterConfig, StateConfig};
use crate::control::state::StoreError;

use super::super::error::ApiError;
use super::redis::Redis;
use super::rows::{Op, Rows, Table};
use super::sqlite::Sqlite;

/// What was copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub rows: usize,
    pub memberships: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("no control store to copy: {0} does not exist")]
    NoState(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Redis(#[from] ApiError),
    #[error(
        "Redis already holds a fleet's management state (key prefix `{0}`); \
         --force replaces it with this node's"
    )]
    Occupied(String),
}

/// Copies `state`'s control store into the fleet's Redis; one that already
/// holds a fleet's state is replaced only with `force`.
pub fn migrate(
    state: &StateConfig,
    cluster: &ClusterConfig,
    force: bool,
) -> Result<Migrated, MigrateError> {
    let file = state.dir.join("control.db");
    if !file.exists() {
        return Err(MigrateError::NoState(file.display().to_string()));
    }
    let key =
        crate::control::state::state_key::installed_or_load(state).map_err(StoreError::from)?;
    let from = Sqlite::open(&state.dir, &key)?;
    let mut to = Redis::open(cluster, &key, Arc::new(Revision::default()))?;
    if !force && to.holds_state()? {
        return Err(MigrateError::Occupied(cluster.key_prefix.clone()));
    }
    let mut ops = Vec::new();
    for t in Table::ALL.into_iter().filter(|t| !t.scoped()) {
        for r in from.list(t, "")? {
            ops.push(Op::Upsert(t, String::new(), r));
        }
    }
    for api in from.list(Table::RestApis, "")? {
        for t in [Table::Deployments, Table::Stages] {
            for r in from.list(t, &api.id)? {
                ops.push(Op::Upsert(t, api.id.clone(), r));
            }
        }
    }
    let rows = ops.len();
    for plan in from.list(Table::UsagePlans, "")? {
        for key in from.plan_keys(&plan.id)? {
            ops.push(Op::AddMember {
                plan: plan.id.clone(),
                key,
            });
        }
    }
    let memberships = ops.len() - rows;
    to.replace(&ops)?;
    Ok(Migrated { rows, memberships })
}
