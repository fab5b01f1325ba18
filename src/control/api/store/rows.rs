//! What the control store keeps, as its backends see it: tables of rows
//! (an id, a JSON body and a few columns beside it), the plans' key
//! memberships, and changes as lists of operations applied all or none.
//! Sealing and the JSON of the bodies stay in [`super::ControlStore`], so
//! SQLite and Redis only move strings and cannot disagree on them.

use serde::{Deserialize, Serialize};

use super::super::error::ApiError;

/// The stored tables. Deployments and stages belong to an API (their
/// scope); every other table has one row per id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    RestApis,
    Deployments,
    ApiKeys,
    UsagePlans,
    Stages,
    Account,
    ClientCertificates,
    VpcLinks,
    DomainNames,
    DomainAccess,
}

/// How a table's rows are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Id,
    /// Oldest first (pagination walks them in this order).
    CreatedId,
    /// In the order they were first written; a later write keeps the place.
    Inserted,
}

impl Table {
    pub const ALL: [Table; 10] = [
        Table::RestApis,
        Table::Deployments,
        Table::ApiKeys,
        Table::UsagePlans,
        Table::Stages,
        Table::Account,
        Table::ClientCertificates,
        Table::VpcLinks,
        Table::DomainNames,
        Table::DomainAccess,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::RestApis => "rest_apis",
            Table::Deployments => "deployments",
            Table::ApiKeys => "api_keys",
            Table::UsagePlans => "usage_plans",
            Table::Stages => "stages",
            Table::Account => "account",
            Table::ClientCertificates => "client_certificates",
            Table::VpcLinks => "vpc_links",
            Table::DomainNames => "domain_names",
            Table::DomainAccess => "domain_access",
        }
    }

    /// Whether its rows belong to an API.
    pub fn scoped(self) -> bool {
        matches!(self, Table::Deployments | Table::Stages)
    }

    pub fn order(self) -> Order {
        match self {
            Table::RestApis | Table::Deployments => Order::CreatedId,
            Table::VpcLinks | Table::DomainNames | Table::DomainAccess => Order::Inserted,
            _ => Order::Id,
        }
    }
}

/// One stored row. `sealed` holds a secret sealed with the state key for
/// this row, `lookup` its keyed hash, `snapshot` a deployment's API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub body: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

impl Row {
    pub fn new(id: &str, body: String) -> Row {
        Row {
            id: id.to_string(),
            body,
            ..Row::default()
        }
    }
}

/// Which side of a plan–key membership names the rows to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Plan,
    Key,
}

/// One change; a call's changes are applied together or not at all. Each
/// answers whether it found (or made) something.
#[derive(Debug, Clone)]
pub enum Op {
    /// Writes the row; an existing one keeps its `created` and its place.
    Upsert(Table, String, Row),
    /// Writes a new row; one already there fails the whole change.
    Insert(Table, String, Row),
    /// Replaces an existing row's body only.
    UpdateBody(Table, String, String, String),
    Delete(Table, String, String),
    /// Every row of an API in a scoped table.
    DeleteScope(Table, String),
    AddMember {
        plan: String,
        key: String,
    },
    RemoveMember {
        plan: String,
        key: String,
    },
    DropMembers(Member, String),
}

/// A backend: SQLite on one node, Redis for a fleet.
pub trait Rows: Send {
    fn get(&self, t: Table, scope: &str, id: &str) -> Result<Option<Row>, ApiError>;
    /// A table's rows (of `scope`, for a scoped one), in the table's order.
    fn list(&self, t: Table, scope: &str) -> Result<Vec<Row>, ApiError>;
    /// The id of the API key whose lookup hash is `lookup`.
    fn key_by_lookup(&self, lookup: &str) -> Result<Option<String>, ApiError>;
    /// A plan's key ids, sorted.
    fn plan_keys(&self, plan: &str) -> Result<Vec<String>, ApiError>;
    /// `ops`, all or none; what each found or made.
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<bool>, ApiError>;
    /// The control thread published everything up to `revision` (a
    /// fleet's backend records it; one node has no revisions).
    fn published(&self, _revision: u64) {}
    /// A change of this node's own was stored but not published (Redis
    /// failed the read that compiles it): it no longer serves the revision
    /// it wrote, so the fleet follower must publish again.
    fn unpublished(&self) {}
}
