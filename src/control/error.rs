//! Why the server could not start: each part the supervisor starts brings
//! its own error, named here so `portico run` reports them all alike.

use super::admin::AdminError;
use super::listen::bind::ListenError;
use super::listen::takeover::TakeoverError;
use super::state::StoreError;
use crate::metrics::OpenError;
use crate::throttle::CalendarError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Takeover(#[from] TakeoverError),
    #[error("worker {id} failed to start: {message}")]
    Worker { id: usize, message: String },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    AccessLog(#[from] OpenError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("EMF output `{path}`: {source}")]
    Emf {
        path: String,
        source: std::io::Error,
    },
}
