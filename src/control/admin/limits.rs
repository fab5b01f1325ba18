//! The admin listener's bounds: what one connection, one body and all of
//! them together may hold, so that no client can stall it or fill memory.

use std::time::Duration;

/// AWS's cap on an API definition (ImportRestApi, PutRestApi: "6MB"),
/// taken as MiB.
pub const IMPORT_BODY_MAX: usize = 6 * 1024 * 1024;
/// Every other operation's body: JSON of a few KB in practice.
pub const BODY_MAX: usize = 1024 * 1024;
/// Bodies of management calls being read or waiting for the control
/// plane, all together; past it calls are answered 429 (botocore retries).
pub const BODY_BUDGET: usize = 64 * 1024 * 1024;
/// Connections served in full at once; each holds at most [`HEAD_BUFFER`]
/// besides its body.
pub const CONNECTIONS: usize = 1024;
/// Connections beyond [`CONNECTIONS`], served one request each under
/// [`BRIEF_HEADER_TIMEOUT`] and answering only the health endpoints, so
/// that a flood of idle connections cannot make a liveness probe wait
/// for the header timeout.
pub const BRIEF_CONNECTIONS: usize = 256;
pub const BRIEF_HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// hyper's read buffer per connection (request heads are far smaller).
pub const HEAD_BUFFER: usize = 64 * 1024;
/// Management calls queued for the control thread.
pub const CONTROL_QUEUE: usize = 64;
/// Threads for work that blocks (metrics scrapes, cache flushes wait on
/// workers' mailboxes).
pub const BLOCKING_THREADS: usize = 4;

/// The largest body operation `name` (from the control plane's router)
/// accepts.
pub fn body_cap(operation: &str) -> usize {
    match operation {
        "ImportRestApi" | "PutRestApi" => IMPORT_BODY_MAX,
        _ => BODY_MAX,
    }
}
