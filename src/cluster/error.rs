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

impl ClusterError {
    /// Whether Redis accepted the connection but did not answer in time
    /// (a frozen or overloaded server), which the crate words as an OS
    /// error ("Resource temporarily unavailable").
    pub fn timed_out(&self) -> bool {
        matches!(self, ClusterError::Redis { source, .. } if source.is_timeout())
    }
}
