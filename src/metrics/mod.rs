//! Monitoring: CloudWatch's API Gateway metrics counted per worker with
//! no shared state (`counts`, `histogram`), merged and exposed in the
//! Prometheus text format on a scrape (`exposition`), CloudWatch Embedded
//! Metric Format lines (`emf`), and per-stage access logs formatted by the
//! workers and written by one thread (`access_format`, `access_writer`).

mod access_format;
mod access_writer;
mod counts;
mod emf;
mod exposition;
mod histogram;

pub use access_format::{Fields, Format, UnknownVariable};
pub use access_writer::{
    spawn as spawn_access_writer, Batch, Buffers, Destination, OpenError, QUEUE,
};
pub use counts::{Exchange, Invalid, KeyCounts, RouteCounts, WorkerCounts};
pub use emf::{spawn as spawn_emf, EmfSettings};
pub use exposition::{render, Process, SlotLabels};
pub use histogram::{Histogram, BOUNDS_US};
