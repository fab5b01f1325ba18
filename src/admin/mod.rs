//! The admin listener: a small blocking HTTP server on its own thread,
//! off the data plane. It changes workers' state only through their
//! mailboxes. Endpoints now: `GET /healthz`, `POST /cache/flush`.

pub mod audit;
mod flush;
mod server;

pub use flush::{flush_request, FlushError};
pub use server::{start, Admin, AdminError, Context};
