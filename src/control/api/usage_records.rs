//! Where GetUsage and UpdateUsage find the usage records: this node's
//! `portico.db`, or on a fleet node the fleet's Redis (`[cluster]`), so
//! every node answers with the same figures. A Redis that cannot be
//! reached is a 503, as for every other management call on a fleet node.

use chrono::NaiveDate;

use super::error::ApiError;
use super::ControlPlane;
use crate::cluster::usage::FleetUsage;
use crate::control::state::{state_key, Store, StoreError};
use crate::usage_report::{UsageError, UsageRecords};

/// The records one call reads (and UpdateUsage writes).
pub(super) enum Records {
    Fleet(FleetUsage),
    Node(Store),
    /// A single node's store was never written: no usage yet.
    None,
}

impl Records {
    pub(super) fn as_dyn(&mut self) -> Option<&mut dyn UsageRecords> {
        match self {
            Records::Fleet(f) => Some(f),
            Records::Node(s) => Some(s),
            Records::None => None,
        }
    }

    /// Records UpdateUsage's change of `key`'s quota in `plan` for the
    /// period starting `period`: on one node the reconciler's `adjust`
    /// (from what it counted); in a fleet the one that leaves `remaining`
    /// of what every node recorded, so every node reports the same.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_adjust(
        &mut self,
        config: &crate::config::Config,
        plan: &str,
        key: &str,
        period: NaiveDate,
        today: NaiveDate,
        remaining: u64,
        adjust: i64,
    ) -> Result<(), ApiError> {
        match self {
            Records::Fleet(f) => {
                let adjust =
                    crate::usage_report::adjust_for(config, f, plan, key, period, today, remaining)
                        .map_err(report_error)?;
                f.set_quota_adjust(plan, key, period, adjust)
                    .map_err(unreachable)
            }
            Records::Node(s) => s
                .set_quota_adjust(plan, key, period, adjust)
                .map_err(internal),
            Records::None => Err(ApiError::Internal("no usage store".into())),
        }
    }
}

impl ControlPlane {
    /// The records to read.
    pub(super) fn usage_records(&self) -> Result<Records, ApiError> {
        if let Some(cluster) = &self.fleet {
            return FleetUsage::open(cluster)
                .map(Records::Fleet)
                .map_err(unreachable);
        }
        if !self.state_dir.join("portico.db").exists() {
            return Ok(Records::None);
        }
        Store::open_read_only(&self.state_dir)
            .map(Records::Node)
            .map_err(internal)
    }

    /// The records to write to (a single node's store is created if new).
    pub(super) fn usage_records_for_update(&self) -> Result<Records, ApiError> {
        if self.fleet.is_some() {
            return self.usage_records();
        }
        let key = state_key::installed_or_load(&crate::config::StateConfig {
            dir: self.state_dir.clone(),
            ..Default::default()
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        Store::open(&self.state_dir, key)
            .map(Records::Node)
            .map_err(internal)
    }
}

fn internal(e: StoreError) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn unreachable(e: crate::cluster::ClusterError) -> ApiError {
    ApiError::ServiceUnavailable(format!("the fleet's Redis cannot be reached: {e}"))
}

/// A report's error as the caller's (a bad range, an unknown key) or, when
/// the records could not be read, the server's.
pub(super) fn report_error(e: UsageError) -> ApiError {
    match e {
        UsageError::Fleet(e) => unreachable(e),
        UsageError::Store(e) => internal(e),
        e => ApiError::BadRequest(e.to_string()),
    }
}
