//! Quotas leased from what remains cluster-wide: the reconciler's side.
//! Each tick it sends every active quota's books (`QuotaAsk`: calls this
//! node spent this period, what it holds, what it wants) to the thread
//! that talks to Redis, and takes the grants that came back since, never
//! waiting. Redis counts every node's holding, so the fleet never admits
//! more than a quota (bound 0, as one node). While Redis does not answer,
//! a node spends only what it holds: a quota never falls back to a share.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use crossbeam_channel::{Receiver, Sender};

use super::catalog::{MeterId, MeterSpec};
use super::quota::QuotaLease;

/// One quota's line of an ask.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaAsk {
    pub id: MeterId,
    pub plan: String,
    pub key_id: String,
    /// The period's first day.
    pub period: NaiveDate,
    /// The period's end (Unix seconds): the books may go after it.
    pub period_end: i64,
    pub limit: u64,
    pub want: u64,
    /// Calls this node spent this period (cumulative).
    pub spent: u64,
    /// Granted to this node and not spent.
    pub held: u64,
    /// Calls used at start, for books Redis does not have yet.
    pub used: u64,
}

#[derive(Debug, Clone)]
pub struct QuotaAskBatch {
    pub generation: u64,
    /// Rising with every ask of this run.
    pub seq: u64,
    pub quotas: Vec<QuotaAsk>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaGrant {
    pub id: MeterId,
    pub tokens: u64,
    /// Nothing remains cluster-wide.
    pub dry: bool,
}

/// `None`: Redis did not answer.
#[derive(Debug, Clone)]
pub struct QuotaAnswer {
    pub generation: u64,
    pub grants: Option<Vec<QuotaGrant>>,
}

pub struct FleetQuotas {
    asks: Sender<QuotaAskBatch>,
    answers: Receiver<QuotaAnswer>,
    in_flight: bool,
    seq: u64,
    /// Calls spent this run per plan, key and period, across catalogs.
    spent: BTreeMap<Books, u64>,
    /// What was last sent of each quota (want, spent, held) and the
    /// ticks since: an unchanged quota is sent again only now and then,
    /// so Redis keeps counting what this node holds.
    sent: BTreeMap<Books, ((u64, u64, u64), u32)>,
}

/// Plan, key and period.
type Books = (String, String, NaiveDate);

/// An unchanged quota holding tokens is sent again this often (ticks),
/// well within the time after which Redis forgets a silent node.
const REFRESH_TICKS: u32 = 50;

impl FleetQuotas {
    pub fn new(asks: Sender<QuotaAskBatch>, answers: Receiver<QuotaAnswer>) -> FleetQuotas {
        FleetQuotas {
            asks,
            answers,
            in_flight: false,
            seq: 0,
            spent: BTreeMap::new(),
            sent: BTreeMap::new(),
        }
    }

    /// Calls spent against `spec`'s quota in the period starting `period`.
    pub fn spend(&mut self, spec: &MeterSpec, period: NaiveDate, calls: u64) {
        if calls > 0 {
            *self
                .spent
                .entry((spec.plan.clone(), spec.key_id.clone(), period))
                .or_default() += calls;
        }
    }

    /// Takes the grants that came since the last tick.
    pub fn hear(&mut self, generation: u64, quotas: &mut [Option<QuotaLease>]) {
        for a in self.answers.try_iter() {
            self.in_flight = false;
            let Some(grants) = a.grants.filter(|_| a.generation == generation) else {
                // Redis did not answer, or the grants were for quotas of an
                // earlier catalog: dropped, which only ever admits less.
                continue;
            };
            for g in grants {
                if let Some(Some(q)) = quotas.get_mut(g.id as usize) {
                    q.supply(g.tokens, g.dry);
                }
            }
        }
    }

    /// Sends the books of every quota, unless an ask is outstanding.
    pub fn ask(
        &mut self,
        generation: u64,
        specs: &[MeterSpec],
        quotas: &[Option<QuotaLease>],
        period_end: impl Fn(NaiveDate) -> i64,
    ) {
        if self.in_flight {
            return;
        }
        let mut lines = Vec::new();
        for (i, (spec, q)) in specs.iter().zip(quotas).enumerate() {
            let Some(q) = q else { continue };
            let (want, held) = q.fleet_books();
            let period = q.period.0;
            let books = (spec.plan.clone(), spec.key_id.clone(), period);
            let spent = self.spent.get(&books).copied().unwrap_or(0);
            let now = (want, spent, held);
            let (last, age) = self.sent.entry(books).or_insert(((0, 0, 0), 0));
            *age += 1;
            let due = want > 0 || now != *last || (held > 0 && *age >= REFRESH_TICKS);
            if !due {
                continue;
            }
            (*last, *age) = (now, 0);
            lines.push(QuotaAsk {
                id: i as MeterId,
                plan: spec.plan.clone(),
                key_id: spec.key_id.clone(),
                period,
                period_end: period_end(q.period.1),
                limit: q.limit(),
                want,
                spent,
                held,
                used: q.used,
            });
        }
        if lines.is_empty() {
            return;
        }
        self.seq += 1;
        let batch = QuotaAskBatch {
            generation,
            seq: self.seq,
            quotas: lines,
        };
        if self.asks.try_send(batch).is_ok() {
            self.in_flight = true;
        }
    }
}
