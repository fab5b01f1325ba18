//! Cores lease from their node, nodes lease from Redis: the reconciler's
//! side of a fleet's cluster-wide buckets. Each tick the reconciler sends
//! the books of every active bucket (`Ask`) to the thread that talks to
//! Redis and, without ever waiting for it, takes whatever grants came back
//! since (`Answer`). Only that thread touches the network, so a slow or
//! frozen Redis never delays a worker's leases.
//!
//! While Redis does not answer (an error, or no answer within the command
//! timeout), a bucket refills locally at its last known share of the
//! cluster's demand (`local_share`) or not at all (`fail_closed`); the
//! first answer after that puts it back on Redis. A slow answer is waited
//! for (without refilling) rather than taken for an outage: refilling
//! locally while Redis refills too would admit up to twice the limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::catalog::{BucketId, BucketSpec, Level};
use super::lease::{FleetBooks, Lease, AHEAD};

/// A bucket that has not changed is still reported this often (in ticks),
/// so Redis keeps counting the tokens its workers hold; an idle node asks
/// for nothing this often, to know whether Redis answers.
const REFRESH_TICKS: u32 = 50;

/// While Redis says a bucket is slack, a node asks for six times as much
/// ahead ([`AHEAD`]: about 48 ticks of calls), and skips its asks while
/// what it holds beyond a tick of its calls still covers this much of its
/// recent demand (about 20 ticks of calls): a few asks a second at a
/// steady load. The margin is wide because what the node believes its
/// workers hold lags their spending, and a grant reaches a worker two or
/// three ticks after the ask: with 3 to 5 ticks of margin a worker ran
/// dry now and then and held its calls for a tick or two (p99 10-22 ms at
/// 1,000 req/s against 0.3 ms on a single node); with about 20, 0.32-1.0 ms.
const SLACK_AHEAD: f64 = 6.0 * AHEAD;
const SLACK_COVER: f64 = 10.0;

/// What a bucket does while the fleet's Redis is out of reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Refill at the limit × this node's recent share of the cluster's demand.
    LocalShare,
    /// No refill: calls are refused once what is held is spent.
    FailClosed,
}

impl Fallback {
    /// As `[cluster] on_redis_down` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::LocalShare => "local_share",
            Fallback::FailClosed => "fail_closed",
        }
    }
}

/// What this node's limits run on, as the reconciler last learned it,
/// for `/readyz` and `/metrics`: atomics, so a scrape never waits on the
/// reconciler (nor it on a scrape).
#[derive(Debug)]
pub struct FleetState {
    fallback: Fallback,
    down: AtomicBool,
    buckets: AtomicU64,
}

impl FleetState {
    pub fn new(fallback: Fallback) -> FleetState {
        FleetState {
            fallback,
            down: AtomicBool::new(false),
            buckets: AtomicU64::new(0),
        }
    }

    /// Whether the last lease exchange failed, so limits run on their
    /// fallback. It changes only when an exchange ends: a node with no
    /// traffic asks Redis nothing, and keeps what it last learned.
    pub fn on_fallback(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// `fleet` (leased from Redis), or the fallback in force.
    pub fn mode(&self) -> &'static str {
        if self.on_fallback() {
            self.fallback.as_str()
        } else {
            "fleet"
        }
    }

    /// How many of the catalog's buckets are leased from Redis.
    pub fn buckets(&self) -> u64 {
        self.buckets.load(Ordering::Relaxed)
    }
}

/// One bucket's line of an ask: its name in Redis, its limit, its books.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketAsk {
    pub id: BucketId,
    /// Which limit (`stage api/prod`), the same on every node.
    pub what: String,
    pub rate: f64,
    pub burst: u64,
    pub books: FleetBooks,
}

/// Reconciler → Redis thread.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The catalog the ids are numbered by.
    pub generation: u64,
    pub buckets: Vec<BucketAsk>,
}

/// One bucket's grant: tokens for this node, its share of the cluster's
/// demand (for `local_share`), whether it was less than asked for with
/// nothing left, and whether half the burst is left after it (slack).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grant {
    pub id: BucketId,
    pub tokens: u64,
    pub share: f64,
    pub dry: bool,
    pub slack: bool,
}

/// Redis thread → reconciler: the grants, or `None` when Redis did not answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub generation: u64,
    pub grants: Option<Vec<Grant>>,
}

/// The reconciler's end of the exchange with Redis.
pub struct Fleet {
    asks: Sender<Ask>,
    answers: Receiver<Answer>,
    fallback: Fallback,
    /// What the admin listener reports of it.
    state: Arc<FleetState>,
    /// An ask is outstanding.
    in_flight: bool,
    /// By bucket id: the last share heard, the tokens reported held, and
    /// ticks since the bucket was last reported.
    shares: Vec<f64>,
    reported: Vec<(u64, u32)>,
    /// By bucket id: Redis gave less than this node asked for; and what the
    /// workers were last told of it (`None`: nothing yet).
    dry: Vec<bool>,
    told: Vec<Option<bool>>,
    /// By bucket id: Redis said half its burst was left after the last grant.
    slack: Vec<bool>,
    /// Ticks since the last ask.
    quiet: u32,
}

/// Whether a bucket is leased from Redis: every level but the account's,
/// which stays per node (AWS's account limit is per region).
pub fn is_fleet(b: &BucketSpec) -> bool {
    b.level != Level::Account
}

/// Whether a fleet bucket is spent in Redis per call (`throttle::waiting`)
/// rather than leased ahead: under one token a tick across the fleet. The
/// same on every node (rate and tick only), so a bucket is one or the
/// other fleet-wide.
pub fn is_exact(b: &BucketSpec, tick_s: f64) -> bool {
    is_fleet(b) && b.rate * tick_s < 1.0
}

impl Fleet {
    pub fn new(asks: Sender<Ask>, answers: Receiver<Answer>, state: Arc<FleetState>) -> Fleet {
        Fleet {
            asks,
            answers,
            fallback: state.fallback,
            state,
            in_flight: false,
            shares: Vec::new(),
            reported: Vec::new(),
            dry: Vec::new(),
            told: Vec::new(),
            slack: Vec::new(),
            quiet: 0,
        }
    }

    /// A new catalog: shares and books start afresh (answers to asks of
    /// the old numbering are dropped by their generation).
    pub fn renumber(&mut self, specs: &[BucketSpec]) {
        self.shares = vec![1.0; specs.len()];
        self.reported = vec![(0, 0); specs.len()];
        self.dry = vec![false; specs.len()];
        self.told = vec![None; specs.len()];
        self.slack = vec![false; specs.len()];
        let leased = specs.iter().filter(|b| is_fleet(b)).count();
        self.state.buckets.store(leased as u64, Ordering::Relaxed);
    }

    /// Whether limits run on their fallback now.
    pub fn is_down(&self) -> bool {
        self.state.on_fallback()
    }

    /// Takes the answers that came since the last tick into `leases`.
    pub fn hear(&mut self, generation: u64, leases: &mut [Option<Lease>]) {
        for a in self.answers.try_iter() {
            self.in_flight = false;
            let Some(grants) = a.grants else {
                self.state.down.store(true, Ordering::Relaxed);
                continue;
            };
            self.state.down.store(false, Ordering::Relaxed);
            if a.generation != generation {
                // Granted to buckets of an earlier catalog: dropped, which
                // only ever admits less.
                continue;
            }
            for g in grants {
                let i = g.id as usize;
                if let Some(Some(lease)) = leases.get_mut(i) {
                    lease.supply(g.tokens);
                    self.shares[i] = g.share;
                    self.dry[i] = g.dry;
                    self.slack[i] = g.slack;
                }
            }
        }
    }

    /// Refills (only while Redis is out of reach, as configured) and leases
    /// one fleet bucket to the workers.
    ///
    /// Workers hold a call their empty balance cannot admit for a few
    /// ticks, as tokens may be on their way from Redis (an idle node gave
    /// its own back), unless told the bucket is dry: Redis gave less than
    /// this node asked for (the fleet is at its limit), or is out of reach
    /// (then the fallback alone refills).
    pub fn tick(
        &mut self,
        id: usize,
        lease: &mut Lease,
        dt_s: f64,
        mut order: impl FnMut(usize, super::lease::Order),
    ) {
        let down = self.is_down();
        match (down, self.fallback) {
            (true, Fallback::LocalShare) => {
                let share = self.shares.get(id).copied().unwrap_or(1.0);
                lease.tick_share(dt_s, share, &mut order)
            }
            _ => lease.tick_fleet(&mut order),
        }
        let dry = down || self.dry.get(id).copied().unwrap_or(false);
        if let Some(told) = self.told.get_mut(id).filter(|t| **t != Some(dry)) {
            *told = Some(dry);
            let say = match dry {
                true => super::lease::Order::Exhausted,
                false => super::lease::Order::Flowing,
            };
            for w in 0..lease.workers() {
                order(w, say);
            }
        }
    }

    /// Sends the books of every active bucket, unless an ask is still
    /// outstanding. Never blocks.
    pub fn ask(&mut self, generation: u64, specs: &[BucketSpec], leases: &mut [Option<Lease>]) {
        if self.in_flight {
            return;
        }
        let mut buckets = Vec::new();
        for (i, (spec, lease)) in specs.iter().zip(leases.iter_mut()).enumerate() {
            let Some(lease) = lease.as_mut().filter(|_| is_fleet(spec)) else {
                continue;
            };
            let (last_held, age) = &mut self.reported[i];
            *age += 1;
            let slack = self.slack[i];
            let books = lease.fleet_books_ahead(if slack { SLACK_AHEAD } else { AHEAD });
            // Far from its limit, with enough at hand: nothing to ask yet
            // (and nothing handed back, which only an idle node does).
            let covered = slack
                && books.returned == 0
                && books.held as f64 >= books.demand * SLACK_COVER
                && *age < REFRESH_TICKS;
            if covered {
                continue;
            }
            let active = books.demand > 0.0 || books.returned > 0;
            let changed = books.held != *last_held;
            let refresh = books.held > 0 && *age >= REFRESH_TICKS;
            if !(active || changed || refresh) {
                // Idle: whether Redis was dry when last asked says nothing
                // of the next call, which waits for a lease as after a
                // quiet while.
                self.dry[i] = false;
                continue;
            }
            *last_held = books.held;
            *age = 0;
            buckets.push(BucketAsk {
                id: i as BucketId,
                what: spec.what.clone(),
                rate: spec.rate,
                burst: spec.burst,
                books,
            });
        }
        // A node with nothing to lease still asks (for nothing) now and
        // then: it learns that Redis went away before its first call
        // needs a lease (that call falls back at once rather than waits
        // out the command timeout), and /readyz tells the truth while idle.
        self.quiet += 1;
        if buckets.is_empty() && self.quiet < REFRESH_TICKS {
            return;
        }
        self.quiet = 0;
        match self.asks.try_send(Ask {
            generation,
            buckets,
        }) {
            Ok(()) => self.in_flight = true,
            // The Redis thread is gone (shutting down): nothing to ask.
            Err(TrySendError::Disconnected(_)) | Err(TrySendError::Full(_)) => {}
        }
    }
}
