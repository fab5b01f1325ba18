//! The config file: schema with defaults, loading that reports every
//! mistake with file:line:column and key path, and the cross-field checks
//! serde cannot express.

mod cluster;
mod document;
mod error;
mod execution;
mod load;
mod path;
mod plans;
mod recover;
mod schema;
mod validation;

pub use cluster::{ClusterConfig, OnRedisDown, Topology};
pub use error::{ConfigError, Problem};
pub use execution::{
    ContentHandling, ExecutionConfig, IntegrationResponseConfig, PassthroughBehavior,
};
pub use load::{load_file, parse, DEFAULT_CONFIG, DEFAULT_CONFIG_NAME};
pub use plans::MIN_KEY_LEN;
pub use schema::*;
pub use validation::ValidationConfig;
