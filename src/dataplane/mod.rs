//! The data plane: the worker threads and everything a request touches.
//!
//! - `runtime`: a worker's thread, pinning, driver, accept loops, admission
//!   of connections, drain; `serve`: one connection's loop (read a head,
//!   run the pipeline, repeat while keep-alive lasts).
//! - `shard`: what a worker owns (snapshot, pools, balances, caches,
//!   counts, clock) and its mailbox from the control plane.
//! - `conn`: a connection's transport and reused buffers; `exchange`: one
//!   request and its answer.
//! - `pipeline`: the steps of a request, top to bottom in its `mod.rs`.
//! - `respond`: the one place that sends an answer; `errors`: every answer
//!   the gateway gives itself.
//!
//! Steps see the shard, the connection and the exchange, never the
//! runtime: dependencies point from the runtime down to the steps.

mod catch_unwind;
mod clock;
pub mod conn;
mod cpus;
mod driver;
pub mod errors;
pub mod exchange;
mod idle;
mod linger;
mod pipeline;
pub mod request_id;
pub mod respond;
mod runtime;
mod serve;
pub mod shard;
pub mod wheel;

pub use cpus::allowed as allowed_cpus;
pub use runtime::{spawn, Settings};
pub use shard::{Msg, Settings as ShardSettings};
