//! `portico usage`: a usage plan's calls per key per day, read from the
//! store (also while the server runs), in the shape of AWS's GetUsage:
//! `items` maps each key id to one `[used, remaining]` pair per day.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde_json::{json, Value};

use crate::config::Config;
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
}

pub fn report(
    config: &Config,
    store: Option<&Store>,
    plan: &str,
    key: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Value, UsageError> {
    let p = config
        .usage_plans
        .iter()
        .find(|p| p.name.get_ref() == plan)
        .ok_or_else(|| UsageError::NoPlan(plan.to_string()))?;
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
    let first_day = match store {
        Some(s) => {
            for (k, d, u) in s.usage(plan, key, since, to)? {
                days.insert((k, d), u);
            }
            s.recorded_first_day(plan)?
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
                        adjust = match store {
                            Some(s) => s.quota_adjust(plan, k, start)?,
                            None => 0,
                        };
                    }
                    used_in_period += u.calls;
                    let first = first_day.map(|f| period_of(q.period, f).0);
                    let limit = if first == Some(start) {
                        q.limit.saturating_sub(q.offset)
                    } else {
                        q.limit
                    };
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
