//! portico: a self-hosted API gateway. Thread-per-core and shard-nothing:
//! each worker owns its listener, io_uring runtime, pools and counters.
//! See `README.md` for what it does and `src/dataplane/pipeline/` for
//! the request path, top to bottom.

pub mod auth;
pub mod aws;
pub mod cache;
pub mod cluster;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod http;
pub mod integration;
pub mod log;
pub mod metrics;
pub mod router;
pub mod snapshot;
pub mod throttle;
pub mod tls;
pub mod upstream;
pub mod usage_report;
pub mod vtl;
