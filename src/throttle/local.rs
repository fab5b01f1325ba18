//! A worker's own balances: plain integers it alone touches, spent per
//! call with no atomics and no locks, and reported to the reconciler once
//! per tick. Small limits are the exception: their buckets are cells shared
//! by all workers (`shared`), spent here too.

use std::sync::Arc;

use super::catalog::{BucketId, Catalog, Level, MeterId};
use super::lease::Order;
use super::reconciler::{BucketReport, Instruction, MeterReport, Report};
use super::shared::Cells;

/// Why a call was refused, with the seconds a client should wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Throttled {
        retry_after: u32,
        level: Level,
    },
    QuotaExceeded {
        retry_after: u32,
    },
    /// This worker's quota lease is spent but the quota is not: try again
    /// after the next tick brings a lease.
    QuotaPending,
    /// A fleet bucket's balance is empty on this worker: Redis may still
    /// hold tokens for it, which reach the worker within a few ticks of
    /// the refusal being reported (an idle node has handed its tokens
    /// back, so without the wait a lone call after a quiet while would
    /// be refused whatever the limit). Refused as `Throttled` once the
    /// caller has waited long enough.
    Pending {
        retry_after: u32,
        level: Level,
    },
}

#[derive(Debug, Default, Clone)]
struct Bucket {
    balance: u64,
    spent: u64,
    refused: u64,
    returned: u64,
    dirty: bool,
    /// Seconds until the bucket refills one token: the Retry-After.
    retry_after: u32,
    level: Level,
    /// Spent from the shared cell, not from `balance`.
    shared: bool,
    /// Refilled from the fleet's Redis (`Instruction::Fleet`).
    fleet: bool,
    /// A fleet bucket Redis has no token left in: refuse at once.
    dry: bool,
}

#[derive(Debug, Default, Clone)]
struct Meter {
    /// The plan has a quota: calls need a leased unit each.
    limited: bool,
    balance: u64,
    /// The reconciler said the quota is used up this period.
    exhausted: bool,
    epoch: u32,
    period_end: i64,
    calls: u64,
    bytes: u64,
    refused: u64,
    returned: u64,
    dirty: bool,
}

#[derive(Debug, Default)]
pub struct Local {
    /// Which catalog the balances are numbered by: calls admitted against
    /// another (a request that began before a reload) are not counted.
    pub generation: u64,
    buckets: Vec<Bucket>,
    meters: Vec<Meter>,
    dirty_buckets: Vec<BucketId>,
    dirty_meters: Vec<MeterId>,
    /// A lease arrived since the last hurried report: the next refusal may
    /// report at once (so at most one extra report per lease).
    hurry: bool,
    /// The small limits' buckets, shared with every other worker.
    cells: Option<Arc<Cells>>,
}

impl Local {
    pub fn new(catalog: &Catalog) -> Local {
        Local::numbered(catalog, 0)
    }

    /// Balances for catalog `generation`, all empty until leases arrive.
    pub fn numbered(catalog: &Catalog, generation: u64) -> Local {
        let buckets = catalog
            .buckets
            .iter()
            .map(|b| Bucket {
                level: b.level,
                retry_after: if b.rate > 0.0 {
                    (1.0 / b.rate).ceil().clamp(1.0, 3600.0) as u32
                } else {
                    3600
                },
                ..Bucket::default()
            })
            .collect();
        let meters = catalog
            .meters
            .iter()
            .map(|m| Meter {
                limited: m.quota.is_some(),
                ..Meter::default()
            })
            .collect();
        Local {
            generation,
            buckets,
            meters,
            dirty_buckets: Vec::new(),
            dirty_meters: Vec::new(),
            hurry: true,
            cells: None,
        }
    }

    /// Whether a refusal now should be reported before the next tick.
    pub fn take_hurry(&mut self) -> bool {
        std::mem::replace(&mut self.hurry, false)
    }

    /// Admits a call that spends one token from each of `buckets` and one
    /// unit of `meter`'s quota, or refuses it spending nothing. Refusals
    /// are counted: they are the demand the reconciler leases by. `clock`
    /// (see `shared::monotonic_ns`) is read only if a bucket is a shared
    /// cell, once.
    pub fn admit(
        &mut self,
        buckets: &[BucketId],
        meter: Option<MeterId>,
        now_secs: i64,
        clock: impl Fn() -> u64,
    ) -> Result<(), Refusal> {
        self.admit_counting(buckets, meter, now_secs, clock, true)
    }

    /// `admit`, counting a refusal only if `count`: a call held after
    /// `Pending` or `QuotaPending` asks again, and its refusal was counted
    /// the first time. Counting it at every tick it waits would multiply
    /// the demand the node reports, and a fleet node keeps a tick of its
    /// demand out of what it tells Redis it holds.
    pub fn admit_counting(
        &mut self,
        buckets: &[BucketId],
        meter: Option<MeterId>,
        now_secs: i64,
        clock: impl Fn() -> u64,
        count: bool,
    ) -> Result<(), Refusal> {
        let mut now = None;
        for (i, &id) in buckets.iter().enumerate() {
            // Spent at once, in one pass, and given back if a later
            // bucket or the quota refuses.
            let b = &mut self.buckets[id as usize];
            let retry_after = match self.cells.as_deref() {
                Some(cells) if b.shared => {
                    let at = *now.get_or_insert_with(&clock);
                    match cells.take(id, at) {
                        Ok(()) => continue,
                        Err(retry_after) => retry_after,
                    }
                }
                _ if b.balance > 0 => {
                    b.balance -= 1;
                    b.spent += 1;
                    mark(&mut b.dirty, &mut self.dirty_buckets, id);
                    continue;
                }
                _ => {
                    if count {
                        b.refused += 1;
                        mark(&mut b.dirty, &mut self.dirty_buckets, id);
                    }
                    b.retry_after
                }
            };
            let (level, pending) = (b.level, b.fleet && !b.dry);
            self.give_back(&buckets[..i]);
            if pending && count {
                // The call waits for every empty fleet bucket it needs, so
                // each is asked for now: found one by one, at every retry,
                // their refusals would go uncounted and never be leased.
                for &later in &buckets[i + 1..] {
                    let l = &mut self.buckets[later as usize];
                    if l.fleet && !l.shared && l.balance == 0 {
                        l.refused += 1;
                        mark(&mut l.dirty, &mut self.dirty_buckets, later);
                    }
                }
            }
            return Err(match pending {
                true => Refusal::Pending { retry_after, level },
                false => Refusal::Throttled { retry_after, level },
            });
        }
        if let Some(id) = meter {
            let m = &mut self.meters[id as usize];
            if m.limited && m.balance == 0 {
                if count {
                    m.refused += 1;
                    mark(&mut m.dirty, &mut self.dirty_meters, id);
                }
                let refusal = if m.exhausted {
                    let retry_after = (m.period_end - now_secs).clamp(1, u32::MAX as i64) as u32;
                    Refusal::QuotaExceeded { retry_after }
                } else {
                    Refusal::QuotaPending
                };
                self.give_back(buckets);
                return Err(refusal);
            }
            if m.limited {
                m.balance -= 1;
            }
            m.calls += 1;
            mark(&mut m.dirty, &mut self.dirty_meters, id);
        }
        Ok(())
    }

    /// Returns the tokens a refused call took.
    fn give_back(&mut self, taken: &[BucketId]) {
        for &id in taken {
            let b = &mut self.buckets[id as usize];
            match self.cells.as_deref() {
                Some(cells) if b.shared => cells.give_back(id),
                _ => {
                    b.balance += 1;
                    b.spent -= 1;
                }
            }
        }
    }

    /// Bytes sent back for a metered call, for the usage record.
    pub fn sent(&mut self, meter: MeterId, bytes: u64) {
        let m = &mut self.meters[meter as usize];
        m.bytes += bytes;
        mark(&mut m.dirty, &mut self.dirty_meters, meter);
    }

    pub fn apply(&mut self, ins: Instruction) {
        match ins {
            Instruction::Cells(cells) => {
                for (id, b) in self.buckets.iter_mut().enumerate() {
                    b.shared = cells.is_shared(id as BucketId);
                }
                self.cells = Some(cells);
            }
            Instruction::Fleet(id) => self.buckets[id as usize].fleet = true,
            Instruction::Bucket(id, order) => {
                let b = &mut self.buckets[id as usize];
                match order {
                    Order::Grant(n) => {
                        b.balance += n;
                        self.hurry = true;
                    }
                    Order::Reclaim { keep } => {
                        let r = b.balance.saturating_sub(keep);
                        b.balance -= r;
                        b.returned += r;
                        mark(&mut b.dirty, &mut self.dirty_buckets, id);
                    }
                    Order::Exhausted => b.dry = true,
                    Order::Flowing => b.dry = false,
                }
            }
            Instruction::Meter {
                id,
                epoch,
                period_end,
                order,
            } => {
                let m = &mut self.meters[id as usize];
                if epoch != m.epoch {
                    // A new period: what was left of the old lease is void.
                    // Calls not yet reported count towards the new period
                    // (at most one tick's worth, once a period).
                    m.balance = 0;
                    m.returned = 0;
                    m.exhausted = false;
                    m.epoch = epoch;
                    m.period_end = period_end;
                }
                match order {
                    Order::Grant(n) => {
                        m.balance += n;
                        self.hurry = true;
                    }
                    Order::Reclaim { keep } => {
                        let r = m.balance.saturating_sub(keep);
                        m.balance -= r;
                        m.returned += r;
                        mark(&mut m.dirty, &mut self.dirty_meters, id);
                    }
                    Order::Exhausted => m.exhausted = true,
                    Order::Flowing => {}
                }
            }
        }
    }

    /// What changed since the last report; `None` if nothing did.
    pub fn report(&mut self, worker: usize) -> Option<Report> {
        if self.dirty_buckets.is_empty() && self.dirty_meters.is_empty() {
            return None;
        }
        let buckets = self
            .dirty_buckets
            .drain(..)
            .map(|id| {
                let b = &mut self.buckets[id as usize];
                b.dirty = false;
                BucketReport {
                    id,
                    spent: std::mem::take(&mut b.spent),
                    refused: std::mem::take(&mut b.refused),
                    returned: std::mem::take(&mut b.returned),
                }
            })
            .collect();
        let meters = self
            .dirty_meters
            .drain(..)
            .map(|id| {
                let m = &mut self.meters[id as usize];
                m.dirty = false;
                MeterReport {
                    id,
                    epoch: m.epoch,
                    calls: std::mem::take(&mut m.calls),
                    bytes: std::mem::take(&mut m.bytes),
                    refused: std::mem::take(&mut m.refused),
                    returned: std::mem::take(&mut m.returned),
                }
            })
            .collect();
        Some(Report {
            worker,
            generation: self.generation,
            buckets,
            meters,
        })
    }
}

fn mark(dirty: &mut bool, list: &mut Vec<u32>, id: u32) {
    if !*dirty {
        *dirty = true;
        list.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{QuotaConfig, QuotaPeriod, Throttle};
    use crate::throttle::Reconciler;

    fn catalog() -> Catalog {
        let mut c = Catalog::new(Throttle {
            rate: 10.0,
            burst: 5,
        });
        c.bucket(
            crate::throttle::Level::Stage,
            "stage".into(),
            Throttle {
                rate: 0.5,
                burst: 1,
            },
        );
        c.meter(
            "p",
            "k",
            Some(QuotaConfig {
                limit: 2,
                period: QuotaPeriod::Day,
                offset: 0,
            }),
        );
        c
    }

    #[test]
    fn spends_every_bucket_or_none() {
        let mut l = Local::new(&catalog());
        l.apply(Instruction::Bucket(0, Order::Grant(5)));
        l.apply(Instruction::Bucket(1, Order::Grant(1)));
        assert_eq!(l.admit(&[0, 1], None, 0, || 0), Ok(()));
        assert_eq!(
            l.admit(&[0, 1], None, 0, || 0),
            Err(Refusal::Throttled {
                retry_after: 2,
                level: Level::Stage
            }),
            "stage bucket empty; Retry-After = 1/rate"
        );
        let r = l.report(3).unwrap();
        assert_eq!(r.worker, 3);
        let b0 = r.buckets.iter().find(|b| b.id == 0).unwrap();
        assert_eq!(
            (b0.spent, b0.refused),
            (1, 0),
            "the refused call spent nothing"
        );
        let b1 = r.buckets.iter().find(|b| b.id == 1).unwrap();
        assert_eq!((b1.spent, b1.refused), (1, 1));
        assert!(l.report(3).is_none(), "nothing new");
    }

    #[test]
    fn an_empty_fleet_bucket_holds_the_call_unless_redis_said_it_is_dry() {
        let mut l = Local::new(&catalog());
        l.apply(Instruction::Fleet(0));
        let pending =
            |l: &mut Local| matches!(l.admit(&[0], None, 0, || 0), Err(Refusal::Pending { .. }));
        assert!(pending(&mut l), "tokens may be on their way");
        l.apply(Instruction::Bucket(0, Order::Exhausted));
        assert!(
            matches!(l.admit(&[0], None, 0, || 0), Err(Refusal::Throttled { .. })),
            "dry: refused at once"
        );
        l.apply(Instruction::Bucket(0, Order::Grant(0)));
        assert!(
            !pending(&mut l),
            "still dry: a grant is not news of the bucket"
        );
        l.apply(Instruction::Bucket(0, Order::Flowing));
        assert!(pending(&mut l), "tokens may come again");
        l.apply(Instruction::Bucket(0, Order::Grant(1)));
        assert_eq!(l.admit(&[0], None, 0, || 0), Ok(()));
    }

    #[test]
    fn a_held_call_asks_for_every_empty_fleet_bucket_at_once() {
        let mut l = Local::new(&catalog());
        l.apply(Instruction::Fleet(0));
        l.apply(Instruction::Fleet(1));
        assert!(matches!(
            l.admit(&[0, 1], None, 0, || 0),
            Err(Refusal::Pending { .. })
        ));
        let r = l.report(0).unwrap();
        let refused = |id| r.buckets.iter().find(|b| b.id == id).map(|b| b.refused);
        assert_eq!((refused(0), refused(1)), (Some(1), Some(1)), "{r:?}");
    }

    #[test]
    fn quota_refusal_says_when_the_period_ends() {
        let mut l = Local::new(&catalog());
        l.apply(Instruction::Bucket(0, Order::Grant(5)));
        l.apply(Instruction::Meter {
            id: 0,
            epoch: 1,
            period_end: 1000,
            order: Order::Grant(1),
        });
        assert_eq!(l.admit(&[0], Some(0), 900, || 0), Ok(()));
        assert_eq!(
            l.admit(&[0], Some(0), 900, || 0),
            Err(Refusal::QuotaPending),
            "lease spent, quota not: wait for the next lease"
        );
        l.apply(Instruction::Meter {
            id: 0,
            epoch: 1,
            period_end: 1000,
            order: Order::Exhausted,
        });
        assert_eq!(
            l.admit(&[0], Some(0), 900, || 0),
            Err(Refusal::QuotaExceeded { retry_after: 100 })
        );
        l.sent(0, 42);
        let r = l.report(0).unwrap();
        assert_eq!(r.meters[0].calls, 1);
        assert_eq!(r.meters[0].bytes, 42);
        assert_eq!(r.buckets[0].spent, 1, "a quota refusal spends no token");
    }

    #[test]
    fn reclaim_hands_back_above_keep() {
        let mut l = Local::new(&catalog());
        l.apply(Instruction::Bucket(0, Order::Grant(5)));
        l.apply(Instruction::Bucket(0, Order::Reclaim { keep: 1 }));
        let r = l.report(0).unwrap();
        assert_eq!(r.buckets[0].returned, 4);
        assert_eq!(l.admit(&[0], None, 0, || 0), Ok(()));
        assert!(l.admit(&[0], None, 0, || 0).is_err());
    }

    /// Each worker's balances as the reconciler starts them for `catalog`.
    fn workers(catalog: &Catalog, n: usize) -> Vec<Local> {
        let today = "2026-11-25".parse().unwrap();
        let tick = std::time::Duration::from_millis(10);
        let mut r = Reconciler::new(catalog.clone(), n, tick, today, |_| (today, 0));
        let mut out = vec![Vec::new(); n];
        r.tick(0.0, today, &mut out);
        out.into_iter()
            .map(|ins| {
                let mut l = Local::new(catalog);
                ins.into_iter().for_each(|i| l.apply(i));
                l
            })
            .collect()
    }

    #[test]
    fn a_refused_call_gives_back_what_it_took_from_shared_cells() {
        // A leased account; the stage's 0.5/1 is a shared cell.
        let mut c = catalog();
        c.buckets[0].rate = 1e6;
        c.buckets[0].burst = 1_000_000;
        let mut l = workers(&c, 1).remove(0);
        let now = 5_000_000_000;
        assert_eq!(l.admit(&[0, 1], Some(0), 900, || now), Ok(()));
        assert_eq!(
            l.admit(&[0, 1], None, 900, || now),
            Err(Refusal::Throttled {
                retry_after: 2,
                level: Level::Stage
            }),
            "the stage's cell is empty; its token comes in two seconds"
        );
        let later = now + 2_000_000_000;
        l.apply(Instruction::Meter {
            id: 0,
            epoch: 99,
            period_end: 1000,
            order: Order::Exhausted,
        });
        assert_eq!(
            l.admit(&[0, 1], Some(0), 900, || later),
            Err(Refusal::QuotaExceeded { retry_after: 100 })
        );
        assert_eq!(
            l.admit(&[0, 1], None, 900, || later),
            Ok(()),
            "the quota's refusal gave the stage's token back"
        );
        let r = l.report(0).unwrap();
        assert_eq!(r.buckets.len(), 1, "only the leased account reports");
        assert_eq!((r.buckets[0].spent, r.buckets[0].refused), (2, 0));
    }

    /// A token bucket counted in token-nanoseconds: `level` of `capacity`,
    /// refilled one a nanosecond, a call costs `cost`.
    struct Reference {
        level: u64,
        capacity: u64,
        cost: u64,
        at: u64,
    }

    impl Reference {
        fn new(emission_ns: u64, burst: u64) -> Reference {
            Reference {
                level: burst * emission_ns,
                capacity: burst * emission_ns,
                cost: emission_ns,
                at: 0,
            }
        }

        /// Refills to `t`; the seconds until a token is there (0: one is).
        fn wait(&mut self, t: u64) -> u32 {
            self.level = (self.level + (t - self.at)).min(self.capacity);
            self.at = t;
            match self.cost.checked_sub(self.level) {
                _ if self.capacity < self.cost => 3600,
                Some(ns) if ns > 0 => ns.div_ceil(1_000_000_000).clamp(1, 3600) as u32,
                _ => 0,
            }
        }
    }

    proptest::proptest! {
        /// Small limits on any number of workers, calls landing on any
        /// worker at any time: every call is admitted or refused (with its
        /// Retry-After) exactly as one token bucket per limit would, with a
        /// large leased account bucket spent alongside.
        #[test]
        fn small_limits_admit_what_one_bucket_would_on_any_worker(
            n in 1usize..16,
            limits in proptest::collection::vec((2_000_000u64..10_000_000_000, 0u64..200), 1..3),
            calls in proptest::collection::vec((0u64..4, 0u64..400_000, 0usize..16), 1..200),
        ) {
            let mut c = Catalog::new(Throttle { rate: 1e6, burst: 1_000_000_000 });
            let mut ids = vec![crate::throttle::ACCOUNT];
            let mut reference = Vec::new();
            for &(emission_ns, burst) in &limits {
                let t = Throttle { rate: 1e9 / emission_ns as f64, burst };
                ids.push(c.bucket(Level::Route, "route".into(), t));
                reference.push(Reference::new(emission_ns, burst));
            }
            let mut locals = workers(&c, n);
            let mut t = 0;
            for (i, &(spread, gap_us, w)) in calls.iter().enumerate() {
                // Mostly short gaps (bursts), some long ones (idle).
                t += if spread == 0 { gap_us * 1000 } else { gap_us };
                let waits: Vec<u32> = reference.iter_mut().map(|r| r.wait(t)).collect();
                let expected = match waits.iter().position(|&w| w > 0) {
                    None => {
                        reference.iter_mut().for_each(|r| r.level -= r.cost);
                        Ok(())
                    }
                    Some(k) => Err(Refusal::Throttled { retry_after: waits[k], level: Level::Route }),
                };
                let got = locals[w % n].admit(&ids, None, 0, || t);
                proptest::prop_assert_eq!(got, expected, "call {} at {} ns on worker {}", i, t, w % n);
            }
        }
    }
}
