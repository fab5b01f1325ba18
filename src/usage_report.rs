//! `portico usage`: a usage plan's calls per key per day, read from the
//! store (also while the server runs), in the shape of AWS's GetUsage:
//! `items` maps each key id to one `[used, remaining]` pair per day.
//! The records are one node's `portico.db`, or a fleet's Redis
//! (`[cluster]`), which every node reads alike.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde_json::{json, Value};

use crate::cluster::usage::FleetUsage;
use crate::cluster::ClusterError;
use crate::config::{Config, QuotaConfig, UsagePlanConfig};
use crate::control::state::{DayUsage, Store, StoreError};
use crate::throttle::period_of;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("no usage plan is named `{0}`")]
    NoPlan(String),
    #[error("key `{key}` is not in usage plan `{plan}`")]
    NotInPlan { key: String, plan: String },
    #[error("--from {from} is after --to {to}")]
    Dates { from: NaiveDate, to: NaiveDate },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("usage records in Redis: {0}")]
    Fleet(#[from] ClusterError),
}

/// Which days of usage to read: of `key` (or of every key) in `plan`,
/// `from..=to`.
pub struct DaysOf<'a> {
    pub plan: &'a str,
    pub key: Option<&'a str>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A key's usage on one day.
pub type DayRow = (String, NaiveDate, DayUsage);

/// Where usage is recorded: what the report reads.
pub trait UsageRecords {
    fn days(&mut self, d: &DaysOf<'_>) -> Result<Vec<DayRow>, UsageError>;
    fn first_day(&mut self, plan: &str) -> Result<Option<NaiveDate>, UsageError>;
    fn adjust(&mut self, plan: &str, key: &str, period: NaiveDate) -> Result<i64, UsageError>;
}

impl UsageRecords for Store {
    fn days(&mut self, d: &DaysOf<'_>) -> Result<Vec<DayRow>, UsageError> {
        Ok(self.usage(d.plan, d.key, d.from, d.to)?)
    }

    fn first_day(&mut self, plan: &str) -> Result<Option<NaiveDate>, UsageError> {
        Ok(self.recorded_first_day(plan)?)
    }

    fn adjust(&mut self, plan: &str, key: &str, period: NaiveDate) -> Result<i64, UsageError> {
        Ok(self.quota_adjust(plan, key, period)?)
    }
}

/// A fleet's records (`[cluster]`).
impl UsageRecords for FleetUsage {
    fn days(&mut self, d: &DaysOf<'_>) -> Result<Vec<DayRow>, UsageError> {
        let rows = self.usage(d.plan, d.key, d.from, d.to)?;
        let row = |r: crate::cluster::usage::DayRow| {
            let (calls, bytes) = (r.calls, r.bytes);
            (r.key_id, r.day, DayUsage { calls, bytes })
        };
        Ok(rows.into_iter().map(row).collect())
    }

    fn first_day(&mut self, plan: &str) -> Result<Option<NaiveDate>, UsageError> {
        self.recorded_first_day(plan).map_err(UsageError::Fleet)
    }

    fn adjust(&mut self, plan: &str, key: &str, period: NaiveDate) -> Result<i64, UsageError> {
        self.quota_adjust(plan, key, period)
            .map_err(UsageError::Fleet)
    }
}

/// The adjustment of `key`'s used calls in `plan` that leaves `remaining`
/// of the quota period starting `period` (UpdateUsage), given the calls
/// `records` hold for that period up to `today`.
pub fn adjust_for(
    config: &Config,
    records: &mut dyn UsageRecords,
    plan: &str,
    key: &str,
    period: NaiveDate,
    today: NaiveDate,
    remaining: u64,
) -> Result<i64, UsageError> {
    let Some(q) = plan_of(config, plan)?.quota else {
        return Ok(0);
    };
    let days = DaysOf {
        plan,
        key: Some(key),
        from: period,
        to: today.max(period),
    };
    let used: u64 = records.days(&days)?.iter().map(|(_, _, u)| u.calls).sum();
    let limit = period_limit(q, records.first_day(plan)?, period);
    let adjust = limit as i128 - remaining as i128 - used as i128;
    Ok(adjust.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

fn plan_of<'c>(config: &'c Config, plan: &str) -> Result<&'c UsagePlanConfig, UsageError> {
    config
        .usage_plans
        .iter()
        .find(|p| p.name.get_ref() == plan)
        .ok_or_else(|| UsageError::NoPlan(plan.to_string()))
}

/// The limit of `q`'s period starting `start`: the plan's first period is
/// reduced by the offset.
fn period_limit(q: QuotaConfig, first_day: Option<NaiveDate>, start: NaiveDate) -> u64 {
    if first_day.map(|f| period_of(q.period, f).0) == Some(start) {
        q.limit.saturating_sub(q.offset)
    } else {
        q.limit
    }
}

pub fn report(
    config: &Config,
    mut store: Option<&mut dyn UsageRecords>,
    plan: &str,
    key: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Value, UsageError> {
    let p = plan_of(config, plan)?;
    if from > to {
        return Err(UsageError::Dates { from, to });
    }
    let keys: Vec<&str> = config
        .api_keys
        .iter()
        .filter(|k| k.usage_plans.iter().any(|n| n == plan))
        .map(|k| k.id())
        .filter(|id| key.is_none_or(|k| k == *id))
        .collect();
    if let Some(k) = key {
        if keys.is_empty() {
            return Err(UsageError::NotInPlan {
                key: k.to_string(),
                plan: plan.to_string(),
            });
        }
    }
    // Remaining quota needs the calls since the start of `from`'s period.
    let since = p.quota.map_or(from, |q| period_of(q.period, from).0);
    let mut days: BTreeMap<(String, NaiveDate), DayUsage> = BTreeMap::new();
    let first_day = match store.as_deref_mut() {
        Some(s) => {
            let range = DaysOf {
                plan,
                key,
                from: since,
                to,
            };
            for (k, d, u) in s.days(&range)? {
                days.insert((k, d), u);
            }
            s.first_day(plan)?
        }
        None => None,
    };
    let mut items = serde_json::Map::new();
    let mut bytes = serde_json::Map::new();
    for k in keys {
        let mut pairs = Vec::new();
        let mut sent = Vec::new();
        let mut used_in_period = 0u64;
        let mut adjust = 0i64;
        let mut period = None;
        let mut d = since;
        while d <= to {
            let u = days.get(&(k.to_string(), d)).copied().unwrap_or_default();
            let remaining = match p.quota {
                None => None,
                Some(q) => {
                    let (start, _) = period_of(q.period, d);
                    if period != Some(start) {
                        period = Some(start);
                        used_in_period = 0;
                        // UpdateUsage's adjustment of this period, if any.
                        adjust = match store.as_deref_mut() {
                            Some(s) => s.adjust(plan, k, start)?,
                            None => 0,
                        };
                    }
                    used_in_period += u.calls;
                    let limit = period_limit(q, first_day, start);
                    let used = used_in_period as i128 + i128::from(adjust);
                    Some((limit as i128 - used).clamp(0, i128::from(u64::MAX)) as u64)
                }
            };
            if d >= from {
                pairs.push(json!([u.calls, remaining]));
                sent.push(json!(u.bytes));
            }
            d = d + Days::new(1);
        }
        items.insert(k.to_string(), Value::Array(pairs));
        bytes.insert(k.to_string(), Value::Array(sent));
    }
    Ok(json!({
        "usagePlanId": plan,
        "startDate": from.to_string(),
        "endDate": to.to_string(),
        "items": items,
        "bytes": bytes,
    }))
}
