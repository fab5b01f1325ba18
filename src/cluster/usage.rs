//! A fleet's usage records in Redis: what `portico.db` holds on a single
//! node (calls and bytes per plan, key and UTC day; each plan's first day;
//! UpdateUsage's quota adjustments), shared, so GetUsage, `portico usage`
//! and every node's quotas read the same figures whichever node counted
//! the calls. Read by control-plane threads and the CLI only.
//!
//! Keys (hash-tagged like every other): `usage:DAY:PLAN` is a hash with
//! `c:KEY` and `b:KEY` (the day comes first and has a fixed width, so any
//! plan name reads back unambiguously); `usage:first` maps each plan to
//! its first day; `usage:adjust:PERIOD:PLAN` maps each key to its
//! adjustment of that quota period.

use chrono::{Days, NaiveDate};
use redis::ConnectionLike;

use super::{connect, ClusterError, Connection, Keys};
use crate::config::ClusterConfig;

/// At most this many days are read in one round trip.
const DAYS_PER_TRIP: usize = 512;

// Reads of several keys are scripts, not pipelines: Redis Cluster's
// connection has no pipelines, and every key here is hash-tagged to one
// slot, so a script may touch them all.

/// Each day's hash (KEYS), whole.
const READ_DAYS: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', key)
end
return out
";

/// One field (ARGV[1]) of each day's hash (KEYS); nil where absent.
const READ_FIELD: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, ARGV[1])
end
return out
";

/// The first day of plan ARGV[1] in KEYS[1], set to ARGV[2] if none is.
const FIRST_DAY: &str = r"
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])
";

/// The names of the usage keys.
#[derive(Debug, Clone)]
pub struct UsageKeys(Keys);

impl UsageKeys {
    pub fn new(prefix: &str) -> UsageKeys {
        UsageKeys(Keys::new(prefix))
    }

    /// The hash of `plan`'s usage on `day`.
    pub fn day(&self, plan: &str, day: NaiveDate) -> String {
        self.0.key(&format!("usage:{day}:{plan}"))
    }

    pub fn first_days(&self) -> String {
        self.0.key("usage:first")
    }

    pub fn adjust(&self, plan: &str, period: NaiveDate) -> String {
        self.0.key(&format!("usage:adjust:{period}:{plan}"))
    }

    /// The marker of the batches one run of a node added.
    pub fn applied(&self, node: &str, boot: &str) -> String {
        self.0.key(&format!("usage:applied:{node}:{boot}"))
    }
}

/// One key's usage on one day: calls admitted and bytes sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub key_id: String,
    pub day: NaiveDate,
    pub calls: u64,
    pub bytes: u64,
}

/// The fleet's usage records, on one connection.
pub struct FleetUsage {
    keys: UsageKeys,
    conn: Connection,
    addr: String,
}

impl FleetUsage {
    pub fn open(cfg: &ClusterConfig) -> Result<FleetUsage, ClusterError> {
        Ok(FleetUsage {
            keys: UsageKeys::new(&cfg.key_prefix),
            conn: connect(cfg)?,
            addr: cfg.redis.join(","),
        })
    }

    fn err(&self) -> impl Fn(redis::RedisError) -> ClusterError + '_ {
        |source| ClusterError::Redis {
            addr: self.addr.clone(),
            source,
        }
    }

    /// Usage of `key_id` (or of every key) in `plan`, per day, `from..=to`,
    /// ordered by key then day.
    pub fn usage(
        &mut self,
        plan: &str,
        key_id: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayRow>, ClusterError> {
        let mut out = Vec::new();
        let script = redis::Script::new(READ_DAYS);
        for days in day_chunks(from, to) {
            let mut call = script.prepare_invoke();
            for d in &days {
                call.key(self.keys.day(plan, *d));
            }
            let hashes: Vec<Vec<(String, u64)>> =
                call.invoke(self.conn.as_mut()).map_err(self.err())?;
            for (day, fields) in days.iter().zip(hashes) {
                collect_day(*day, fields, key_id, &mut out);
            }
        }
        out.sort_by(|a, b| (&a.key_id, a.day).cmp(&(&b.key_id, b.day)));
        Ok(out)
    }

    /// Calls of `key_id` in `plan` on the days `from..=to`.
    pub fn calls_between(
        &mut self,
        plan: &str,
        key_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u64, ClusterError> {
        let mut total = 0u64;
        let field = format!("c:{key_id}");
        let script = redis::Script::new(READ_FIELD);
        for days in day_chunks(from, to) {
            let mut call = script.prepare_invoke();
            call.arg(&field);
            for d in &days {
                call.key(self.keys.day(plan, *d));
            }
            let calls: Vec<Option<u64>> = call.invoke(self.conn.as_mut()).map_err(self.err())?;
            total = calls.into_iter().flatten().fold(total, u64::saturating_add);
        }
        Ok(total)
    }

    /// The day `plan` was first seen, if it was.
    pub fn recorded_first_day(&mut self, plan: &str) -> Result<Option<NaiveDate>, ClusterError> {
        let day: Option<String> = redis::cmd("HGET")
            .arg(self.keys.first_days())
            .arg(plan)
            .query(self.conn.as_mut())
            .map_err(self.err())?;
        Ok(day.and_then(|d| d.parse().ok()))
    }

    /// The day `plan` was first seen by any node, recording `today` if no
    /// node saw it before (the first node to ask sets it for all).
    pub fn plan_first_day(
        &mut self,
        plan: &str,
        today: NaiveDate,
    ) -> Result<NaiveDate, ClusterError> {
        let day: Option<String> = redis::Script::new(FIRST_DAY)
            .key(self.keys.first_days())
            .arg(plan)
            .arg(today.to_string())
            .invoke(self.conn.as_mut())
            .map_err(self.err())?;
        Ok(day.and_then(|d| d.parse().ok()).unwrap_or(today))
    }

    /// What is added to `key_id`'s calls in `plan` in the period starting
    /// `period` (0 if nothing).
    pub fn quota_adjust(
        &mut self,
        plan: &str,
        key_id: &str,
        period: NaiveDate,
    ) -> Result<i64, ClusterError> {
        let n: Option<i64> = redis::cmd("HGET")
            .arg(self.keys.adjust(plan, period))
            .arg(key_id)
            .query(self.conn.as_mut())
            .map_err(self.err())?;
        Ok(n.unwrap_or(0))
    }

    /// Sets `key_id`'s adjustment in `plan` for the period starting `period`.
    pub fn set_quota_adjust(
        &mut self,
        plan: &str,
        key_id: &str,
        period: NaiveDate,
        adjust: i64,
    ) -> Result<(), ClusterError> {
        redis::cmd("HSET")
            .arg(self.keys.adjust(plan, period))
            .arg(key_id)
            .arg(adjust)
            .query::<()>(self.conn.as_mut())
            .map_err(self.err())
    }

    /// The connection, for the writer of usage batches.
    pub fn conn(&mut self) -> &mut dyn ConnectionLike {
        self.conn.as_mut()
    }
}

/// The days `from..=to`, a round trip's worth at a time.
fn day_chunks(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = Vec<NaiveDate>> {
    let mut next = Some(from).filter(|f| *f <= to);
    std::iter::from_fn(move || {
        let mut days = Vec::new();
        while let Some(d) = next.filter(|_| days.len() < DAYS_PER_TRIP) {
            days.push(d);
            next = d.checked_add_days(Days::new(1)).filter(|n| *n <= to);
        }
        (!days.is_empty()).then_some(days)
    })
}

/// One day's hash as rows, `key_id`'s alone when given.
fn collect_day(
    day: NaiveDate,
    fields: Vec<(String, u64)>,
    key_id: Option<&str>,
    out: &mut Vec<DayRow>,
) {
    let start = out.len();
    for (field, n) in fields {
        let Some((kind, key)) = field.split_once(':') else {
            continue;
        };
        if key_id.is_some_and(|k| k != key) {
            continue;
        }
        let i = match out[start..].iter().position(|r| r.key_id == key) {
            Some(i) => start + i,
            None => {
                out.push(DayRow {
                    key_id: key.to_string(),
                    day,
                    calls: 0,
                    bytes: 0,
                });
                out.len() - 1
            }
        };
        match kind {
            "c" => out[i].calls = n,
            "b" => out[i].bytes = n,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn days_come_in_bounded_round_trips() {
        let chunks: Vec<_> = day_chunks(d("2026-01-01"), d("2027-12-31")).collect();
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 730);
        assert!(chunks.iter().all(|c| c.len() <= DAYS_PER_TRIP));
        assert_eq!(chunks[0][0], d("2026-01-01"));
        assert_eq!(chunks.last().unwrap().last(), Some(&d("2027-12-31")));
        assert_eq!(day_chunks(d("2026-01-02"), d("2026-01-01")).count(), 0);
    }

    #[test]
    fn a_days_hash_reads_back_per_key_whatever_the_key_holds() {
        let day = d("2026-11-25");
        let fields = vec![
            ("c:alice".to_string(), 3),
            ("b:a:b".to_string(), 70),
            ("b:alice".to_string(), 30),
            ("c:a:b".to_string(), 7),
        ];
        let mut out = Vec::new();
        collect_day(day, fields.clone(), None, &mut out);
        out.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        let row = |k: &str, calls, bytes| DayRow {
            key_id: k.into(),
            day,
            calls,
            bytes,
        };
        assert_eq!(out, vec![row("a:b", 7, 70), row("alice", 3, 30)]);
        let mut only = Vec::new();
        collect_day(day, fields, Some("a:b"), &mut only);
        assert_eq!(only, vec![row("a:b", 7, 70)]);
    }

    #[test]
    fn plan_names_cannot_collide_with_days() {
        let k = UsageKeys::new("p");
        assert_eq!(k.day("gold", d("2026-11-25")), "{p}:usage:2026-11-25:gold");
        assert_ne!(
            k.day("2026-11-25:x", d("2026-11-26")),
            k.day("x", d("2026-11-25"))
        );
    }
}
