//! Commands that read the state directory without a running server:
//! `keys`, `usage`, `audit`.

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use portico::cluster::usage::FleetUsage;
use portico::cluster::AuditPages;
use portico::config::Config;
use portico::control::admin::audit;
use portico::control::state::{StateKey, Store};
use portico::usage_report::UsageRecords;

use super::out;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  portico usage --plan demo-plan --from 2026-01-01 --to 2026-01-31
  portico usage --plan demo-plan --key demo-key --from 2026-01-01 --to 2026-01-01 --config portico.toml")]
pub struct UsageArgs {
    /// The usage plan's name (`[[usage_plans]] name`).
    #[arg(long, value_name = "NAME")]
    plan: String,
    /// Only this API key (its id, which defaults to its name).
    #[arg(long, value_name = "KEY_ID")]
    key: Option<String>,
    /// First day, YYYY-MM-DD (UTC).
    #[arg(long, value_name = "DATE")]
    from: NaiveDate,
    /// Last day, YYYY-MM-DD (UTC), inclusive.
    #[arg(long, value_name = "DATE")]
    to: NaiveDate,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  portico audit
  portico audit --event CreateDeployment --since 2026-01-01
  portico audit --since 2026-01-01T12:00:00Z | head -5
  portico audit --local          # a fleet node's own file, not the fleet's stream

On a fleet node ([cluster]) it reads the fleet's audit stream in Redis: every node's calls, each
naming its node in additionalEventData.nodeId.")]
pub struct AuditArgs {
    /// Only calls at or after this time (RFC 3339, or YYYY-MM-DD for that day's start, UTC).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only this operation, e.g. CreateDeployment.
    #[arg(long, value_name = "OPERATION")]
    event: Option<String>,
    /// This node's own file, even on a fleet node (which reads the fleet's stream by default).
    #[arg(long)]
    local: bool,
}

pub const KEYS_EXAMPLES: &str = "\
Examples:
  portico keys
  portico keys --config /etc/portico/portico.toml | jq -r '.[] | select(.name == \"demo-key\") | .value'";

/// The state directory's store, when one was ever written.
fn store(config: &Config) -> anyhow::Result<Option<Store>> {
    let db: PathBuf = config.state.dir.join("portico.db");
    if !db.exists() {
        return Ok(None);
    }
    Ok(Some(Store::open_read_only(&config.state.dir)?))
}

/// A fleet node's usage is the fleet's, in Redis (`[cluster]`); a single
/// node's is in its state directory.
pub fn usage(config: &Config, a: UsageArgs) -> anyhow::Result<()> {
    let mut fleet = match &config.cluster {
        Some(c) => Some(FleetUsage::open(c).context("usage records in Redis")?),
        None => None,
    };
    let mut store = match fleet {
        Some(_) => None,
        None => store(config)?,
    };
    let records: Option<&mut dyn UsageRecords> = match (&mut fleet, &mut store) {
        (Some(f), _) => Some(f),
        (None, Some(s)) => Some(s),
        (None, None) => None,
    };
    let report =
        portico::usage_report::report(config, records, &a.plan, a.key.as_deref(), a.from, a.to)
            .context("usage")?;
    Ok(out::line(report)?)
}

pub fn keys(config: &Config) -> anyhow::Result<()> {
    let store = if config.usage_plans.is_empty() && config.api_keys.is_empty() {
        None
    } else {
        store(config)?
    };
    let key = StateKey::existing(&config.state)?;
    let mut list = Vec::new();
    for k in &config.api_keys {
        let value = match (&k.value, &store) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(s)) => s.stored_key(k.id(), key.as_ref())?,
            (None, None) => None,
        };
        list.push(serde_json::json!({
            "id": k.id(),
            "name": k.name.get_ref(),
            "value": value,
            "enabled": k.enabled,
            "usagePlans": k.usage_plans,
        }));
    }
    Ok(out::line(serde_json::Value::Array(list))?)
}

pub fn audit(config: &Config, a: AuditArgs) -> anyhow::Result<()> {
    let filter = audit::Filter::new(a.since.as_deref(), a.event.as_deref());
    if let (Some(cluster), false) = (&config.cluster, a.local) {
        let context = "the fleet's audit stream in Redis (`--local` reads this node's file)";
        let mut pages = AuditPages::open(cluster, filter.stream_from_ms()).context(context)?;
        while let Some(page) = pages.next_page().context(context)? {
            for e in page.iter().filter_map(|l| filter.keeps(l)) {
                out::line(e)?;
            }
        }
        return Ok(());
    }
    let events = audit::read(&config.state.dir, &filter).context("audit log")?;
    for e in events {
        out::line(e)?;
    }
    Ok(())
}
