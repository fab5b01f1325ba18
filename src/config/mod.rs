//! The config file: schema with defaults, loading with file/line/key errors,
//! and the cross-field checks serde cannot express.

mod error;
mod load;
mod plans;
mod schema;

pub use error::ConfigError;
pub use load::{load_file, parse, DEFAULT_CONFIG, DEFAULT_CONFIG_NAME};
pub use plans::MIN_KEY_LEN;
pub use schema::*;
