//! A fleet of portico nodes sharing one control plane, their limits,
//! quotas and usage through Redis (`[cluster]`). Only control-plane
//! threads ever talk to Redis: a worker never waits on it.

mod connect;
mod error;
mod keys;
mod limits;

pub use connect::{connect, Connection};
pub use error::ClusterError;
pub use keys::Keys;
pub use limits::{node_name, start as start_limits};
