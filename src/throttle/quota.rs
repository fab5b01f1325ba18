//! Quota periods (UTC days, weeks starting on Sunday, calendar months, as
//! Amazon API Gateway) and the central account of one key's quota: what was
//! used this period and how much of the rest is leased to each worker.
//!
//! Leases come out of what remains, so a quota is never exceeded. A worker
//! whose lease ran out while the quota is not used up holds the call for
//! a few ticks until the reconciler leases it more (moving unused leases
//! from idle workers), rather than refusing it early; only once the
//! reconciler says the quota is exhausted are calls refused at once.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

use crate::config::{QuotaConfig, QuotaPeriod};

use super::holders::Holders;
use super::lease::Order;

/// The period containing `day`: its first day and the first day after it.
pub fn period_of(period: QuotaPeriod, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    match period {
        QuotaPeriod::Day => (day, day + Days::new(1)),
        QuotaPeriod::Week => {
            let start = day - Days::new(u64::from(day.weekday().num_days_from_sunday()));
            (start, start + Days::new(7))
        }
        QuotaPeriod::Month => {
            let start = day.with_day(1).expect("day 1 exists");
            (start, start + Months::new(1))
        }
    }
}

pub fn day_of(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

pub fn midnight_secs(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}

#[derive(Debug, Clone)]
pub struct QuotaLease {
    config: QuotaConfig,
    /// The plan's first period, where `offset` is subtracted from the limit.
    first_period: NaiveDate,
    pub period: (NaiveDate, NaiveDate),
    /// Calls admitted this period (reported by workers, or loaded at start).
    pub used: u64,
    /// Bumped at each new period; workers drop leases of older epochs.
    pub epoch: u32,
    holders: Holders,
    /// Workers were told the quota is used up this period.
    exhausted: bool,
    /// Added to `used` this period (UpdateUsage: a key's remaining quota
    /// set by hand); negative extends the quota beyond the limit.
    pub adjust: i64,
    /// In a fleet: what Redis granted this node, which is all it leases.
    fleet: Option<FleetBook>,
}

/// A fleet node's share of a quota.
#[derive(Debug, Clone, Copy, Default)]
struct FleetBook {
    /// Granted by Redis and not spent (leased to workers or not).
    budget: u64,
    /// Redis said nothing remains cluster-wide.
    dry: bool,
}

impl QuotaLease {
    pub fn new(
        config: QuotaConfig,
        first_day: NaiveDate,
        today: NaiveDate,
        used: u64,
        workers: usize,
    ) -> QuotaLease {
        let n = workers.max(1);
        QuotaLease {
            config,
            first_period: period_of(config.period, first_day).0,
            period: period_of(config.period, today),
            used,
            epoch: 1,
            holders: Holders::new(n),
            exhausted: false,
            adjust: 0,
            fleet: None,
        }
    }

    /// A fleet node's quota: it leases only what Redis grants it, starting
    /// with nothing (leases already handed out are void: none reached a
    /// worker yet).
    pub fn in_fleet(&mut self) {
        self.holders.forget_leases();
        self.fleet = Some(FleetBook::default());
    }

    /// Tokens Redis granted; `dry`: nothing remains cluster-wide.
    pub fn supply(&mut self, tokens: u64, dry: bool) {
        if let Some(f) = &mut self.fleet {
            f.budget = f.budget.saturating_add(tokens);
            f.dry = dry;
            if !dry {
                self.exhausted = false;
            }
        }
    }

    /// What this node wants from Redis beyond what it holds (about four
    /// ticks of its workers' demand), and what it holds.
    pub fn fleet_books(&self) -> (u64, u64) {
        let budget = self.fleet.map_or(0, |f| f.budget);
        (self.target().saturating_sub(budget), budget)
    }

    /// About four ticks of every worker's demand, at least a floor each.
    fn target(&self) -> u64 {
        let n = self.holders.len() as u64;
        let floor = self.floor();
        (0..self.holders.len())
            .map(|i| ((self.holders.demand(i) * 4.0) as u64).max(floor))
            .sum::<u64>()
            .max(n)
    }

    fn floor(&self) -> u64 {
        let n = self.holders.len() as u64;
        (self.limit() / (64 * n)).clamp(1, 1024)
    }

    /// This period's limit: the plan's first period is reduced by `offset`.
    /// The first day of the plan's first period.
    pub fn first_day(&self) -> NaiveDate {
        self.first_period
    }

    pub fn limit(&self) -> u64 {
        if self.period.0 == self.first_period {
            self.config.limit.saturating_sub(self.config.offset)
        } else {
            self.config.limit
        }
    }

    pub fn remaining(&self) -> u64 {
        if let Some(f) = &self.fleet {
            return f.budget;
        }
        let used = self.used as i128 + i128::from(self.adjust);
        (self.limit() as i128 - used).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// Sets what remains this period to `n` (UpdateUsage): every lease is
    /// void (a new epoch, as at a new period, so workers drop what they
    /// hold); the adjustment to `used` that gives `n`, to store.
    pub fn set_remaining(&mut self, n: u64) -> i64 {
        let target = self.limit() as i128 - n as i128 - self.used as i128;
        self.adjust = target.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        self.epoch += 1;
        self.holders.forget_leases();
        self.exhausted = false;
        // The workers drop what they held; Redis hears this node holds nothing.
        if let Some(f) = &mut self.fleet {
            *f = FleetBook::default();
        }
        self.adjust
    }

    /// A report from a worker, for the lease of `epoch`. Spending under an
    /// older epoch belonged to the last period: it is usage, not quota.
    /// True when `spent` counts against this period.
    pub fn report(
        &mut self,
        worker: usize,
        epoch: u32,
        spent: u64,
        refused: u64,
        returned: u64,
    ) -> bool {
        self.holders.wanted(worker, spent, refused);
        if epoch != self.epoch {
            return false;
        }
        self.used += spent;
        if let Some(f) = &mut self.fleet {
            f.budget = f.budget.saturating_sub(spent);
        }
        self.holders.settle(worker, spent, returned);
        true
    }

    /// Starts a new period if `today` is past this one; true if it did
    /// (every worker must then get a fresh lease with the new epoch).
    pub fn roll(&mut self, today: NaiveDate) -> bool {
        if today < self.period.1 {
            return false;
        }
        self.period = period_of(self.config.period, today);
        self.used = 0;
        self.adjust = 0;
        self.epoch += 1;
        self.holders.forget_leases();
        self.exhausted = false;
        if let Some(f) = &mut self.fleet {
            *f = FleetBook::default();
        }
        true
    }

    /// Leases what remains: a busy worker gets about four ticks of its
    /// demand (at least `floor`), an idle one a small amount to start with.
    pub fn tick(&mut self, mut order: impl FnMut(usize, Order)) {
        let mut unleased = self.remaining().saturating_sub(self.holders.held());
        let floor = self.floor();
        for i in self.holders.by_need() {
            let target = ((self.holders.demand(i) * 4.0) as u64).max(floor);
            let want = target.saturating_sub(self.holders.holds(i)).min(unleased);
            if want > 0 {
                unleased -= want;
                self.holders.grant(i, want, &mut order);
            } else if unleased == 0 {
                self.holders.reclaim_if_idle(i, 0, &mut order);
            }
        }
        // In a fleet, what no worker holds beyond the node's target goes
        // back to Redis for other nodes (the next ask reports less held).
        let target = self.target();
        if let Some(f) = &mut self.fleet {
            let excess = unleased.saturating_sub(target);
            f.budget -= excess.min(f.budget);
        }
        let dry = self.fleet.is_none_or(|f| f.dry);
        if self.remaining() == 0 && dry && !self.exhausted {
            self.exhausted = true;
            for i in 0..self.holders.len() {
                order(i, Order::Exhausted);
            }
        }
        self.holders.end_tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_are_utc_days_sunday_weeks_and_calendar_months() {
        let day = d("2026-11-25"); // a Wednesday
        assert_eq!(period_of(QuotaPeriod::Day, day), (day, d("2026-11-26")));
        assert_eq!(
            period_of(QuotaPeriod::Week, day),
            (d("2026-11-22"), d("2026-11-29"))
        );
        assert_eq!(
            period_of(QuotaPeriod::Week, d("2026-11-22")),
            (d("2026-11-22"), d("2026-11-29"))
        );
        assert_eq!(
            period_of(QuotaPeriod::Month, d("2026-12-31")),
            (d("2026-12-01"), d("2027-01-01"))
        );
        assert_eq!(
            period_of(QuotaPeriod::Month, d("2028-02-29")),
            (d("2028-02-01"), d("2028-03-01"))
        );
    }

    fn quota(limit: u64, period: QuotaPeriod, offset: u64) -> QuotaConfig {
        QuotaConfig {
            limit,
            period,
            offset,
        }
    }

    /// Spends as a worker would: from its lease, refusing when it is empty;
    /// every worker reports (idle ones hand back what was reclaimed).
    fn spend(q: &mut QuotaLease, w: &mut [(u64, u64)], worker: usize, calls: u64) -> u64 {
        let mut admitted = 0;
        let mut refused = 0;
        for _ in 0..calls {
            if w[worker].0 > 0 {
                w[worker].0 -= 1;
                admitted += 1;
            } else {
                refused += 1;
            }
        }
        let epoch = q.epoch;
        for (i, (_, returned)) in w.iter_mut().enumerate() {
            let (a, r) = if i == worker {
                (admitted, refused)
            } else {
                (0, 0)
            };
            q.report(i, epoch, a, r, std::mem::take(returned));
        }
        admitted
    }

    fn tick(q: &mut QuotaLease, w: &mut [(u64, u64)]) {
        q.tick(|i, o| match o {
            Order::Grant(g) => w[i].0 += g,
            Order::Reclaim { keep } => {
                let r = w[i].0.saturating_sub(keep);
                w[i].0 -= r;
                w[i].1 += r;
            }
            Order::Exhausted | Order::Flowing => {}
        });
    }

    #[test]
    fn never_exceeded_and_rolls_over_at_the_period_boundary() {
        let today = d("2026-11-25");
        let mut q = QuotaLease::new(quota(100, QuotaPeriod::Day, 0), today, today, 0, 2);
        let mut w = [(0u64, 0u64); 2];
        let mut admitted = 0;
        for _ in 0..50 {
            tick(&mut q, &mut w);
            admitted += spend(&mut q, &mut w, 0, 7);
        }
        assert_eq!(admitted, 100, "worker 1's idle lease moved to worker 0");
        assert_eq!(q.used, 100);
        assert!(!q.roll(d("2026-11-25")), "same day: no rollover");
        assert!(q.roll(d("2026-11-26")), "next UTC day starts a new period");
        w = [(0, 0); 2]; // the workers drop leases of the old epoch
        assert_eq!(q.remaining(), 100);
        let mut again = 0;
        for _ in 0..50 {
            tick(&mut q, &mut w);
            again += spend(&mut q, &mut w, 1, 7);
        }
        assert_eq!(again, 100);
    }

    #[test]
    fn offset_reduces_only_the_first_period() {
        let first = d("2026-11-02"); // a Monday
        let mut q = QuotaLease::new(quota(10, QuotaPeriod::Week, 4), first, first, 0, 1);
        assert_eq!(q.limit(), 6);
        assert!(!q.roll(d("2026-11-07")), "Saturday is the same week");
        assert!(q.roll(d("2026-11-08")), "weeks start on Sunday");
        assert_eq!(q.limit(), 10);
    }

    #[test]
    fn usage_loaded_at_start_counts() {
        let today = d("2026-11-25");
        let q = QuotaLease::new(quota(10, QuotaPeriod::Month, 0), today, today, 6, 2);
        assert_eq!(q.remaining(), 4);
    }

    #[test]
    fn set_remaining_admits_exactly_n_more_and_ends_with_the_period() {
        let today = d("2026-11-25");
        let mut q = QuotaLease::new(quota(5, QuotaPeriod::Day, 0), today, today, 0, 2);
        let mut w = [(0u64, 0u64); 2];
        for _ in 0..10 {
            tick(&mut q, &mut w);
            spend(&mut q, &mut w, 0, 1);
        }
        assert_eq!((q.used, q.remaining()), (5, 0));
        let epoch = q.epoch;
        assert_eq!(q.set_remaining(3), -3);
        assert_eq!(q.epoch, epoch + 1, "old leases are void");
        w = [(0, 0); 2];
        let mut admitted = 0;
        for _ in 0..20 {
            tick(&mut q, &mut w);
            admitted += spend(&mut q, &mut w, 1, 1);
        }
        assert_eq!(admitted, 3);
        assert_eq!(q.set_remaining(0), -3);
        assert_eq!(q.remaining(), 0);
        // More than the limit: an extension.
        q.set_remaining(9);
        assert_eq!(q.remaining(), 9);
        assert!(q.roll(d("2026-11-26")));
        assert_eq!(
            (q.adjust, q.remaining()),
            (0, 5),
            "a new period starts afresh"
        );
    }

    #[test]
    fn a_fleet_quota_leases_only_what_redis_granted_and_is_exhausted_only_when_dry() {
        let today = d("2026-11-25");
        let mut q = QuotaLease::new(quota(100, QuotaPeriod::Day, 0), today, today, 0, 2);
        q.in_fleet();
        let mut w = [(0u64, 0u64); 2];
        tick(&mut q, &mut w);
        assert_eq!(w, [(0, 0); 2], "nothing granted yet: nothing leased");
        assert!(!q.exhausted, "not dry: calls wait for a grant");
        let (want, held) = q.fleet_books();
        assert!(want >= 2 && held == 0, "asks for a floor per worker");
        q.supply(3, false);
        let mut admitted = 0;
        for _ in 0..5 {
            tick(&mut q, &mut w);
            admitted += spend(&mut q, &mut w, 0, 5);
        }
        assert_eq!(admitted, 3, "the grant, and no more");
        assert_eq!(
            (q.used, q.fleet_books().1),
            (3, 0),
            "spent leaves the holding"
        );
        q.supply(0, true);
        tick(&mut q, &mut w);
        assert!(q.exhausted, "dry cluster-wide and nothing held");
        q.supply(2, false);
        assert!(!q.exhausted, "more granted (UpdateUsage elsewhere)");
    }
}
