//! A fleet of portico nodes sharing one control plane, their limits,
//! quotas and usage through Redis (`[cluster]`). Only control-plane
//! threads ever talk to Redis: a worker never waits on it.

mod audit;
mod audit_pages;
mod connect;
mod error;
pub mod flush;
mod health;
mod keys;
mod limits;
pub mod membership;
mod quotas;
mod recorder;
mod redis_cluster;
mod revision;
mod sentinel;
pub mod status;
pub mod usage;

pub use audit::AuditStream;
pub use audit_pages::AuditPages;
pub use connect::{connect, master, Connection};
pub use error::ClusterError;
pub use health::{Health, RedisState};
pub use keys::Keys;
pub use limits::start as start_limits;
pub use quotas::start as start_quotas;
pub use recorder::{start as start_usage_recorder, Backlog as UsageBacklog};
pub use revision::Revision;
