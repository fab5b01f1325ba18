//! The reconciler: a control-plane thread that hears every worker's spending
//! once per tick, re-leases each bucket and quota in proportion to demand,
//! and hands usage to the store every flush interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossbeam_channel::{select, Receiver};

use super::calendar::Calendar;
use super::catalog::{BucketId, Catalog, MeterId};
use super::fleet::{self, Fleet};
use super::fleet_quota::FleetQuotas;
use super::lease::{Lease, Order};
use super::quota::{midnight_secs, QuotaLease};
use super::shared::{self, Cells};

/// Reconciler → worker.
#[derive(Debug, Clone)]
pub enum Instruction {
    /// The small limits' cells of a new catalog, first of its instructions.
    Cells(Arc<Cells>),
    /// A fleet node's bucket refilled from Redis: an empty balance is not
    /// yet a refusal (see `Refusal::Pending`).
    Fleet(BucketId),
    Bucket(BucketId, Order),
    /// A quota lease of the period `epoch`, which ends at `period_end` (Unix seconds).
    Meter {
        id: MeterId,
        epoch: u32,
        period_end: i64,
        order: Order,
    },
}

/// Worker → reconciler, once per tick when anything changed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub worker: usize,
    /// The catalog the ids are numbered by.
    pub generation: u64,
    pub buckets: Vec<BucketReport>,
    pub meters: Vec<MeterReport>,
}

#[derive(Debug, Clone, Copy)]
pub struct BucketReport {
    pub id: BucketId,
    pub spent: u64,
    pub refused: u64,
    pub returned: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct MeterReport {
    pub id: MeterId,
    pub epoch: u32,
    pub calls: u64,
    pub bytes: u64,
    pub refused: u64,
    pub returned: u64,
}

/// A new catalog for the reconciler; it answers with each worker's leases.
pub struct Recatalog {
    pub catalog: Catalog,
    pub generation: u64,
    pub reply: crossbeam_channel::Sender<Vec<Vec<Instruction>>>,
}

/// UpdateUsage: what remains of `key_id`'s quota in `plan` this period is
/// set to `remaining`. Answered with the period's first day, the adjustment
/// to store and each worker's new leases (`None`: no such quota).
pub struct SetRemaining {
    pub plan: String,
    pub key_id: String,
    pub remaining: u64,
    pub reply: crossbeam_channel::Sender<Option<RemainingSet>>,
}

pub struct RemainingSet {
    pub period: NaiveDate,
    pub adjust: i64,
    pub leases: Vec<Vec<Instruction>>,
}

/// Calls and bytes of one key in one plan on one UTC day, to add to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub plan: String,
    pub key_id: String,
    pub day: NaiveDate,
    pub calls: u64,
    pub bytes: u64,
}

pub struct Reconciler {
    catalog: Catalog,
    generation: u64,
    /// The catalog before the last change, to read reports numbered by it.
    previous: Option<(u64, Catalog)>,
    /// Usage of keys heard under an earlier catalog, not yet stored.
    carried: Vec<UsageDelta>,
    workers: usize,
    /// Leased buckets; `None` for those spent from a shared cell.
    buckets: Vec<Option<Lease>>,
    /// Cells of a new catalog, handed out with its first leases.
    cells: Option<Arc<Cells>>,
    quotas: Vec<Option<QuotaLease>>,
    /// Usage heard since the last flush, by meter and day.
    pending: BTreeMap<(MeterId, NaiveDate), (u64, u64)>,
    /// Where "today" comes from.
    calendar: Calendar,
    /// In a fleet: the exchange with Redis that refills the buckets.
    fleet: Option<Fleet>,
    /// In a fleet: the exchange with Redis that grants quotas.
    fleet_quotas: Option<FleetQuotas>,
}

impl Reconciler {
    /// `quota_state(meter)` gives, for each meter with a quota, the plan's
    /// first day and the calls already used this period (from the store).
    pub fn new(
        catalog: Catalog,
        workers: usize,
        tick: Duration,
        today: NaiveDate,
        mut quota_state: impl FnMut(&super::MeterSpec) -> (NaiveDate, u64),
    ) -> Reconciler {
        let (buckets, cells) = limits(&catalog, workers, tick, false);
        let quotas = catalog
            .meters
            .iter()
            .map(|m| {
                m.quota.map(|q| {
                    let (first_day, used) = quota_state(m);
                    QuotaLease::new(q, first_day, today, used, workers)
                })
            })
            .collect();
        Reconciler {
            catalog,
            generation: 0,
            previous: None,
            carried: Vec::new(),
            workers,
            buckets,
            cells,
            quotas,
            pending: BTreeMap::new(),
            calendar: Calendar::SYSTEM,
            fleet: None,
            fleet_quotas: None,
        }
    }

    /// A fleet node's quotas are leased from what remains cluster-wide,
    /// through `quotas`; every quota starts with nothing, and the initial
    /// `leases` of quotas are withdrawn.
    pub fn with_fleet_quotas(
        mut self,
        quotas: FleetQuotas,
        leases: &mut [Vec<Instruction>],
    ) -> Reconciler {
        for q in self.quotas.iter_mut().flatten() {
            q.in_fleet();
        }
        for w in leases.iter_mut() {
            w.retain(|i| !matches!(i, Instruction::Meter { .. }));
        }
        self.fleet_quotas = Some(quotas);
        self
    }

    /// A fleet node: every bucket but the account's is refilled by grants
    /// from Redis through `fleet`, so each starts empty.
    /// `leases` are the initial ones this reconciler handed out: those of
    /// its fleet buckets are withdrawn, as those buckets start afresh.
    pub fn in_fleet(
        mut self,
        mut fleet: Fleet,
        tick: Duration,
        leases: &mut [Vec<Instruction>],
    ) -> Reconciler {
        fleet.renumber(&self.catalog.buckets);
        let (mut fresh, cells) = limits(&self.catalog, self.workers, tick, true);
        empty_fleet_buckets(&self.catalog, &mut fresh, tick);
        for (id, spec) in self.catalog.buckets.iter().enumerate() {
            if fleet::is_fleet(spec) {
                self.buckets[id] = fresh[id].take();
            }
        }
        let catalog = &self.catalog;
        let withdrawn = |i: &Instruction| match i {
            Instruction::Cells(_) => true,
            Instruction::Bucket(id, _) => fleet::is_fleet(&catalog.buckets[*id as usize]),
            _ => false,
        };
        for w in leases.iter_mut() {
            w.retain(|i| !withdrawn(i));
            if let Some(c) = &cells {
                w.insert(0, Instruction::Cells(c.clone()));
            }
            w.extend(fleet_marks(catalog));
        }
        self.fleet = Some(fleet);
        self
    }

    /// Counts days by `calendar` (a test's, or the system's).
    pub fn on(mut self, calendar: Calendar) -> Reconciler {
        self.calendar = calendar;
        self
    }

    /// Starts at `generation` (the snapshot the workers start with).
    pub fn numbered(mut self, generation: u64) -> Reconciler {
        self.generation = generation;
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The limits changed (a reload or a deployment): buckets start afresh
    /// in the new numbering, a key's quota in the same plan keeps what it
    /// used, and usage heard but not stored is kept. The workers' initial
    /// leases in the new numbering, by worker.
    pub fn recatalog(
        &mut self,
        catalog: Catalog,
        generation: u64,
        tick: Duration,
        today: NaiveDate,
    ) -> Vec<Vec<Instruction>> {
        let usage = self.take_usage();
        self.carried.extend(usage);
        let (mut buckets, cells) = limits(&catalog, self.workers, tick, self.fleet.is_some());
        if let Some(fleet) = &mut self.fleet {
            fleet.renumber(&catalog.buckets);
            empty_fleet_buckets(&catalog, &mut buckets, tick);
        }
        let quotas = catalog
            .meters
            .iter()
            .map(|m| {
                let q = m.quota?;
                // The same key in the same plan, counted over the same kind
                // of period: what it used still counts, whatever the new limit.
                let old = self
                    .catalog
                    .meters
                    .iter()
                    .zip(&self.quotas)
                    .find_map(|(o, l)| {
                        let same_period = o.quota.is_some_and(|oq| oq.period == q.period);
                        (o.plan == m.plan && o.key_id == m.key_id && same_period)
                            .then_some(l.as_ref())
                            .flatten()
                    });
                let (first_day, used, adjust) =
                    old.map_or((today, 0, 0), |l| (l.first_day(), l.used, l.adjust));
                let mut lease = QuotaLease::new(q, first_day, today, used, self.workers);
                lease.adjust = adjust;
                if self.fleet_quotas.is_some() {
                    lease.in_fleet();
                }
                Some(lease)
            })
            .collect();
        let old = std::mem::replace(&mut self.catalog, catalog);
        self.previous = Some((self.generation, old));
        self.generation = generation;
        self.buckets = buckets;
        self.cells = cells;
        self.quotas = quotas;
        let mut out = vec![Vec::new(); self.workers];
        self.tick(0.0, today, &mut out);
        if self.fleet.is_some() {
            for w in out.iter_mut() {
                w.extend(fleet_marks(&self.catalog));
            }
        }
        out
    }

    /// Adjustments read from the store at start, by meter.
    pub fn adjusted(mut self, mut adjust: impl FnMut(&super::MeterSpec) -> i64) -> Reconciler {
        for (m, q) in self.catalog.meters.iter().zip(&mut self.quotas) {
            if let Some(q) = q {
                q.adjust = adjust(m);
            }
        }
        self
    }

    /// Sets what remains of a key's quota this period (UpdateUsage); the
    /// workers' reports up to now must have been heard. Every lease of that
    /// quota is void; the new ones are in the answer.
    pub fn set_remaining(
        &mut self,
        plan: &str,
        key_id: &str,
        remaining: u64,
        today: NaiveDate,
    ) -> Option<RemainingSet> {
        let i = self
            .catalog
            .meters
            .iter()
            .position(|m| m.plan == plan && m.key_id == key_id && m.quota.is_some())?;
        let q = self.quotas[i].as_mut()?;
        q.roll(today);
        let adjust = q.set_remaining(remaining);
        let period = q.period.0;
        let mut leases = vec![Vec::new(); self.workers];
        self.tick(0.0, today, &mut leases);
        Some(RemainingSet {
            period,
            adjust,
            leases,
        })
    }

    pub fn handle(&mut self, r: &Report, today: NaiveDate) {
        if r.generation != self.generation {
            // Numbered by an earlier catalog: only its usage still counts.
            if let Some((_, old)) = self.previous.as_ref().filter(|(g, _)| *g == r.generation) {
                for m in &r.meters {
                    if let Some(spec) = old.meters.get(m.id as usize) {
                        // Spent from a lease of the old numbering after the
                        // change: it still counts against the key's quota.
                        let now =
                            self.catalog
                                .meters
                                .iter()
                                .zip(&mut self.quotas)
                                .find_map(|(n, q)| {
                                    (n.plan == spec.plan && n.key_id == spec.key_id).then_some(q)
                                });
                        if let Some(Some(q)) = now {
                            q.used += m.calls;
                            if let Some(f) = &mut self.fleet_quotas {
                                f.spend(spec, q.period.0, m.calls);
                            }
                        }
                        if m.calls > 0 || m.bytes > 0 {
                            self.carried.push(UsageDelta {
                                plan: spec.plan.clone(),
                                key_id: spec.key_id.clone(),
                                day: today,
                                calls: m.calls,
                                bytes: m.bytes,
                            });
                        }
                    }
                }
            }
            return;
        }
        let w = r.worker.min(self.workers - 1);
        for b in &r.buckets {
            if let Some(Some(lease)) = self.buckets.get_mut(b.id as usize) {
                lease.report(w, b.spent, b.refused, b.returned);
            }
        }
        for m in &r.meters {
            if let Some(Some(q)) = self.quotas.get_mut(m.id as usize) {
                let counted = q.report(w, m.epoch, m.calls, m.refused, m.returned);
                if let (true, Some(f)) = (counted, &mut self.fleet_quotas) {
                    f.spend(&self.catalog.meters[m.id as usize], q.period.0, m.calls);
                }
            }
            if m.calls > 0 || m.bytes > 0 {
                let e = self.pending.entry((m.id, today)).or_default();
                e.0 += m.calls;
                e.1 += m.bytes;
            }
        }
    }

    /// One tick: refill and lease every bucket, roll and lease every quota.
    /// The first tick (with `dt_s` 0) hands out the initial leases.
    pub fn tick(&mut self, dt_s: f64, today: NaiveDate, out: &mut [Vec<Instruction>]) {
        if let Some(cells) = self.cells.take() {
            for w in out.iter_mut() {
                w.push(Instruction::Cells(cells.clone()));
            }
        }
        if let Some(fleet) = &mut self.fleet {
            fleet.hear(self.generation, &mut self.buckets);
        }
        for (id, lease) in self.buckets.iter_mut().enumerate() {
            let Some(lease) = lease else { continue };
            let order = |w: usize, order| out[w].push(Instruction::Bucket(id as BucketId, order));
            match &mut self.fleet {
                Some(f) if fleet::is_fleet(&self.catalog.buckets[id]) => {
                    f.tick(id, lease, dt_s, order)
                }
                _ => lease.tick(dt_s, order),
            }
        }
        if let Some(fleet) = &mut self.fleet {
            fleet.ask(self.generation, &self.catalog.buckets, &mut self.buckets);
        }
        if let Some(f) = &mut self.fleet_quotas {
            f.hear(self.generation, &mut self.quotas);
        }
        for (id, q) in self.quotas.iter_mut().enumerate() {
            let Some(q) = q else { continue };
            q.roll(today);
            let period_end = self.calendar.system_secs(midnight_secs(q.period.1));
            let epoch = q.epoch;
            q.tick(|w, order| {
                out[w].push(Instruction::Meter {
                    id: id as MeterId,
                    epoch,
                    period_end,
                    order,
                })
            });
        }
        if let Some(f) = &mut self.fleet_quotas {
            let calendar = self.calendar;
            f.ask(self.generation, &self.catalog.meters, &self.quotas, |end| {
                calendar.system_secs(midnight_secs(end))
            });
        }
    }

    /// Usage heard since the last call, for the store.
    pub fn take_usage(&mut self) -> Vec<UsageDelta> {
        let carried = std::mem::take(&mut self.carried);
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|((id, day), (calls, bytes))| {
                let m = &self.catalog.meters[id as usize];
                UsageDelta {
                    plan: m.plan.clone(),
                    key_id: m.key_id.clone(),
                    day,
                    calls,
                    bytes,
                }
            })
            .chain(carried)
            .collect()
    }

    /// The reconciler thread: ticks every `tick`, hands usage to `flush`
    /// every `flush_every`. `stop` comes once the workers have exited, so
    /// their last reports are queued: it hears them, then flushes a last time.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        mut self,
        tick: Duration,
        flush_every: Duration,
        reports: Receiver<Report>,
        recatalogs: Receiver<Recatalog>,
        sets: Receiver<SetRemaining>,
        stop: Receiver<()>,
        send: impl Fn(usize, Vec<Instruction>),
        mut flush: impl FnMut(Vec<UsageDelta>),
    ) {
        let mut out: Vec<Vec<Instruction>> = vec![Vec::new(); self.workers];
        let mut last_tick = Instant::now();
        let mut next_tick = last_tick + tick;
        let mut next_flush = last_tick + flush_every;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            select! {
                recv(reports) -> r => match r {
                    Ok(r) => self.handle(&r, self.calendar.today()),
                    Err(_) => break,
                },
                recv(recatalogs) -> r => if let Ok(r) = r {
                    let leases = self.recatalog(r.catalog, r.generation, tick, self.calendar.today());
                    let _ = r.reply.send(leases);
                },
                recv(sets) -> r => if let Ok(r) = r {
                    // Reports the workers sent before this came count first.
                    for report in reports.try_iter() {
                        self.handle(&report, self.calendar.today());
                    }
                    let today = self.calendar.today();
                    let _ = r.reply.send(self.set_remaining(&r.plan, &r.key_id, r.remaining, today));
                },
                recv(stop) -> _ => break,
                default(wait) => {}
            }
            let now = Instant::now();
            if now >= next_tick {
                let dt = now.duration_since(last_tick).as_secs_f64();
                last_tick = now;
                next_tick = now + tick;
                self.tick(dt, self.calendar.today(), &mut out);
                for (w, ins) in out.iter_mut().enumerate() {
                    if !ins.is_empty() {
                        send(w, std::mem::take(ins));
                    }
                }
            }
            if now >= next_flush {
                next_flush = now + flush_every;
                let usage = self.take_usage();
                if !usage.is_empty() {
                    flush(usage);
                }
            }
        }
        for r in reports.try_iter() {
            self.handle(&r, self.calendar.today());
        }
        let usage = self.take_usage();
        if !usage.is_empty() {
            flush(usage);
        }
    }
}

/// Tells a worker which of its buckets Redis refills.
fn fleet_marks(catalog: &Catalog) -> impl Iterator<Item = Instruction> + '_ {
    (catalog.buckets.iter().enumerate())
        .filter(|(_, spec)| fleet::is_fleet(spec))
        .map(|(id, _)| Instruction::Fleet(id as BucketId))
}

/// A fleet node's buckets (all leased ones but the account's) start with
/// no tokens: every token they lease comes from Redis.
/// The small ones are spent in Redis per call (`fleet::is_exact`).
fn empty_fleet_buckets(catalog: &Catalog, buckets: &mut [Option<Lease>], tick: Duration) {
    for (spec, lease) in catalog.buckets.iter().zip(buckets.iter_mut()) {
        if fleet::is_fleet(spec) {
            let exact = fleet::is_exact(spec, tick.as_secs_f64());
            *lease = lease.take().map(Lease::emptied).map(|l| match exact {
                true => l.exact(),
                false => l,
            });
        }
    }
}

/// Each bucket of `catalog` as a lease or, for a small limit, a shared cell
/// (`None` when no bucket is small). In a fleet every bucket that Redis
/// refills is leased, however small: a cell refills on this node's clock.
fn limits(
    catalog: &Catalog,
    workers: usize,
    tick: Duration,
    in_fleet: bool,
) -> (Vec<Option<Lease>>, Option<Arc<Cells>>) {
    let tick_s = tick.as_secs_f64();
    let small = |b: &super::BucketSpec| {
        shared::is_shared(b, workers, tick_s) && !(in_fleet && fleet::is_fleet(b))
    };
    let leases = catalog
        .buckets
        .iter()
        .map(|b| (!small(b)).then(|| Lease::new(b.rate, b.burst, workers, tick_s)))
        .collect();
    let cells = Cells::new(&catalog.buckets, small);
    (leases, cells.any().then(|| Arc::new(cells)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{QuotaConfig, QuotaPeriod, Throttle};

    fn catalog(limit: u64) -> Catalog {
        let mut c = Catalog::new(Throttle {
            rate: 100.0,
            burst: 100,
        });
        let quota = QuotaConfig {
            limit,
            period: QuotaPeriod::Day,
            offset: 0,
        };
        c.meter("gold", "alice-id", Some(quota));
        c
    }

    fn spent(generation: u64, worker: usize, calls: u64) -> Report {
        Report {
            worker,
            generation,
            buckets: Vec::new(),
            meters: vec![MeterReport {
                id: 0,
                epoch: 1,
                calls,
                bytes: 0,
                refused: 0,
                returned: 0,
            }],
        }
    }

    fn remaining(r: &Reconciler) -> u64 {
        r.quotas[0].as_ref().expect("a quota").remaining()
    }

    #[test]
    fn a_reload_keeps_what_a_key_used_and_counts_calls_reported_late() {
        let today: NaiveDate = "2026-11-25".parse().unwrap();
        let tick = Duration::from_millis(10);
        let mut r = Reconciler::new(catalog(10), 2, tick, today, |_| (today, 0)).numbered(1);
        r.tick(0.0, today, &mut [Vec::new(), Vec::new()]);
        r.handle(&spent(1, 0, 4), today);
        assert_eq!(remaining(&r), 6);

        // The limit is raised: the 4 calls still count.
        r.recatalog(catalog(20), 2, tick, today);
        assert_eq!(remaining(&r), 16);
        // Worker 1 spent 3 from its old lease before it heard of the change.
        r.handle(&spent(1, 1, 3), today);
        assert_eq!(remaining(&r), 13);
        let stored: u64 = r.take_usage().iter().map(|u| u.calls).sum();
        assert_eq!(stored, 7, "every call is usage");
    }
}
