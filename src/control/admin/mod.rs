//! The admin listener, off the data plane: health, readiness, metrics,
//! cache flushes and API Gateway's management API. It changes workers'
//! state only through their mailboxes.

pub mod audit;
mod auth;
mod control;
pub mod credentials;
mod flush;
mod limits;
mod refusal;
mod replay;
mod server;
pub(super) mod stage_cache;
mod test_invoke;
mod test_invoke_authorizer;

pub use flush::{flush_request, FlushError};
pub use server::{start, Admin, AdminError, Context};
