//! Every limit a config defines, numbered. Built with the snapshot from
//! the config alone, so the same config always numbers its limits the
//! same way and a republished snapshot keeps the workers' balances valid.

use crate::config::{QuotaConfig, Throttle};

/// A token bucket: account, stage, route, plan aggregate, or one key's.
pub type BucketId = u32;
/// One API key in one usage plan: its usage and, if the plan has one, its quota.
pub type MeterId = u32;

/// The account-level bucket every call spends from.
pub const ACCOUNT: BucketId = 0;

/// Which of AWS's throttling levels refused a call (the quota is counted
/// with them), for `portico_throttled_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    #[default]
    Account,
    Stage,
    Route,
    Plan,
    Key,
    Quota,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Account,
        Level::Stage,
        Level::Route,
        Level::Plan,
        Level::Key,
        Level::Quota,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Account => "account",
            Level::Stage => "stage",
            Level::Route => "route",
            Level::Plan => "plan",
            Level::Key => "key",
            Level::Quota => "quota",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BucketSpec {
    pub level: Level,
    /// For logs: which level and what, e.g. `stage demo/prod`.
    pub what: String,
    pub rate: f64,
    pub burst: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeterSpec {
    pub plan: String,
    pub key_id: String,
    pub quota: Option<QuotaConfig>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub buckets: Vec<BucketSpec>,
    pub meters: Vec<MeterSpec>,
}

impl Catalog {
    pub fn new(account: Throttle) -> Catalog {
        let mut c = Catalog::default();
        c.bucket(Level::Account, "account".into(), account);
        c
    }

    pub fn bucket(&mut self, level: Level, what: String, t: Throttle) -> BucketId {
        self.buckets.push(BucketSpec {
            level,
            what,
            rate: t.rate,
            burst: t.burst,
        });
        (self.buckets.len() - 1) as BucketId
    }

    pub fn meter(&mut self, plan: &str, key_id: &str, quota: Option<QuotaConfig>) -> MeterId {
        self.meters.push(MeterSpec {
            plan: plan.to_string(),
            key_id: key_id.to_string(),
            quota,
        });
        (self.meters.len() - 1) as MeterId
    }
}
