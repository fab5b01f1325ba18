//! The workers: one pinned thread per core, each with its own listener,
//! io_uring runtime, pools and counters. The control plane (`control`)
//! starts them and reaches them only through their mailboxes (`Msg`).

mod catch_unwind;
mod conn;
mod cpus;
mod idle;
mod linger;
mod worker;

pub use conn::Connection;
pub use cpus::allowed as allowed_cpus;
pub use worker::{spawn as spawn_worker, Msg, Settings, Worker};
