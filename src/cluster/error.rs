use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("Redis at {addr}: {source}")]
    Redis {
        addr: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("[cluster] {0}")]
    Config(String),
    #[error("no sentinel named the master `{name}`: {tried}")]
    NoMaster { name: String, tried: String },
}
