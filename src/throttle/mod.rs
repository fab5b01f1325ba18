//! Throttling and metering, exact in aggregate with nothing shared on the
//! hot path but small limits. Each worker spends tokens and quota from its
//! own balances (`local`); a control-plane thread (`reconciler`) hears what
//! every worker spent and refused each tick and leases the limits out again
//! in proportion to demand (`lease`, `quota`), persisting usage as it goes.
//! A bucket too small to split over the workers is one lock-free cell that
//! they all spend from (`shared`).
//!
//! Limits are identified by dense indices into the `Catalog` the snapshot
//! is compiled with, so a worker's balances are plain vectors.

mod calendar;
mod catalog;
mod fleet;
mod fleet_quota;
mod holders;
mod lease;
mod local;
mod quota;
mod reconciler;
mod shared;
mod waiting;

pub use calendar::{Calendar, CalendarError, TEST_CLOCK_ENV};
pub use catalog::{BucketId, BucketSpec, Catalog, Level, MeterId, MeterSpec, ACCOUNT};
pub use fleet::{is_fleet, Answer, Ask, BucketAsk, Fallback, Fleet, FleetState, Grant};
pub use fleet_quota::{FleetQuotas, QuotaAnswer, QuotaAsk, QuotaAskBatch, QuotaGrant};
pub use lease::{FleetBooks, Lease, Order};
pub use local::{Local, Refusal};
pub use quota::{day_of, midnight_secs, period_of, QuotaLease};
pub use reconciler::{
    Instruction, Recatalog, Reconciler, RemainingSet, Report, SetRemaining, UsageDelta,
};
pub use shared::{is_shared, monotonic_ns, Cells, SHARE_TOKENS};
