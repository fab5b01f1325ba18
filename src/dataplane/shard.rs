//! What one worker owns, and all a request's steps may touch: the snapshot
//! it serves, its upstream pool, throttle balances, cache shards, auth
//! caches, counts, access-log buffer and clock. Only its own thread reaches
//! it, so nothing here is locked; the control plane changes it only through
//! the mailbox, which the worker reads on its tick (and when a throttle
//! runs dry), never per request. The thread, its listeners and its
//! connections are the runtime's (`runtime.rs`), which steps never see.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use monoio::io::Canceller;

use super::clock::Clock;
use crate::cache::Caches;
use crate::metrics::{Batch, Buffers, WorkerCounts};
use crate::snapshot::Snapshot;
use crate::throttle::{Instruction, Local, Report};
use crate::tls::acme::challenges::{self, Challenges};
use crate::upstream::Pool;

/// Control plane → worker.
pub enum Msg {
    /// Serve new requests with this snapshot, then say so; with leases when
    /// its throttle catalog is new (the balances start over with them).
    Snapshot(Arc<Snapshot>, Sender<()>, Option<Vec<Instruction>>),
    /// Token and quota leases from the reconciler.
    Leases(Vec<Instruction>),
    /// Report what was spent now, apply these leases, then say so
    /// (UpdateUsage: before and after the reconciler sets a quota).
    Sync(Option<Vec<Instruction>>, Sender<()>),
    /// Empty this worker's shard of a stage cache, then say so.
    FlushCache(usize, Sender<()>),
    /// Forget the Lambda authorizer decisions of this API id, then say so.
    FlushAuthorizers(String, Sender<()>),
    /// Answer these ACME challenges from now on (instead of the last
    /// ones), then say so.
    Challenges(Arc<Challenges>, Sender<()>),
    /// Send a copy of this worker's counts and gauges.
    Scrape(Sender<(usize, WorkerCounts)>),
    /// Stop accepting and drain: end once no request is in flight, or at
    /// the drain deadline.
    Shutdown,
    /// During the drain: end now, cutting the requests still in flight.
    StopNow,
}

/// How a shard is wired to the control plane.
pub struct Settings {
    pub id: usize,
    /// How often the worker reads its mailbox, reports its spending and
    /// refreshes its clock: the reconcile interval.
    pub tick: Duration,
    /// Leases to start with, so the first calls need not wait for a tick.
    pub initial_leases: Vec<Instruction>,
    pub reports: Sender<Report>,
    /// How many workers share each stage cache's capacity.
    pub workers: usize,
    /// The access log writer's queue.
    pub access_log: Sender<Batch>,
}

pub struct Shard {
    pub id: usize,
    /// `Rc` around the shared `Arc`: requests clone the `Rc`, so the shared
    /// reference count is touched once per publish, not once per request.
    #[allow(clippy::redundant_allocation)]
    snapshot: RefCell<Rc<Arc<Snapshot>>>,
    pub pool: RefCell<Pool>,
    /// This worker's token and quota balances.
    pub throttle: RefCell<Local>,
    /// This worker's shard of every stage cache.
    pub caches: RefCell<Caches>,
    /// This worker's fetched JWKS and kept Lambda authorizer decisions.
    pub auth: RefCell<crate::auth::caches::WorkerAuth>,
    /// This worker's counts.
    pub metrics: RefCell<WorkerCounts>,
    /// Access log lines waiting for the next hand-over to the writer.
    pub access_log: RefCell<Buffers>,
    /// The ACME challenges this worker answers.
    pub acme: challenges::Local,
    pub clock: Clock,
    /// Open connections (the runtime counts them; a gauge here).
    pub connections: Cell<usize>,
    /// Of those, waiting for a request with no buffer held (see `serve`).
    pub quiet: Cell<usize>,
    reports: Sender<Report>,
    /// Replaced by a closed one when the worker ends, so that senders
    /// (a scrape) learn at once that it is gone.
    mailbox: RefCell<Receiver<Msg>>,
    tick_every: Duration,
    rng: Cell<u64>,
    draining: Cell<bool>,
    /// Set by [`Msg::StopNow`]: the drain ends at once.
    stop_now: Cell<bool>,
    /// Cancels every accept loop's pending accept at shutdown. A cancelled
    /// io_uring accept that had already taken a connection still returns
    /// it (merely dropping the accept would leak it unanswered): on a socket
    /// handed over to a new process, that connection is served here.
    cancel: RefCell<Canceller>,
}

impl Shard {
    pub fn new(s: &Settings, snapshot: Arc<Snapshot>, mailbox: Receiver<Msg>) -> Shard {
        let up = snapshot.upstream.clone();
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ ((s.id as u64 + 1) << 48)
            ^ u64::from(std::process::id());
        // Numbered as the snapshot it starts with (deployed stages may have
        // renumbered the file's limits before any worker ran).
        let mut throttle = Local::numbered(&snapshot.catalog, snapshot.catalog_gen);
        for l in &s.initial_leases {
            throttle.apply(l.clone());
        }
        Shard {
            id: s.id,
            throttle: RefCell::new(throttle),
            caches: RefCell::new(Caches::new(s.workers)),
            auth: RefCell::new(crate::auth::caches::WorkerAuth::default()),
            metrics: RefCell::new(WorkerCounts::default()),
            access_log: RefCell::new(Buffers::new(&snapshot.access_logs, s.access_log.clone())),
            acme: challenges::Local::default(),
            clock: Clock::new(),
            connections: Cell::new(0),
            quiet: Cell::new(0),
            reports: s.reports.clone(),
            mailbox: RefCell::new(mailbox),
            tick_every: s.tick,
            snapshot: RefCell::new(Rc::new(snapshot)),
            pool: RefCell::new(Pool::new(
                up.max_idle_per_upstream,
                Duration::from_millis(up.idle_timeout_ms),
            )),
            rng: Cell::new(seed | 1),
            draining: Cell::new(false),
            stop_now: Cell::new(false),
            cancel: RefCell::new(Canceller::new()),
        }
    }

    /// The snapshot a new request uses; it keeps it to the end even if a
    /// newer one is published meanwhile.
    #[allow(clippy::redundant_allocation)]
    pub fn snapshot(&self) -> Rc<Arc<Snapshot>> {
        self.snapshot.borrow().clone()
    }

    pub fn draining(&self) -> bool {
        self.draining.get()
    }

    /// A second signal said to end the drain now.
    pub fn stop_now(&self) -> bool {
        self.stop_now.get()
    }

    /// What the accept loops watch to stop at shutdown.
    pub fn accept_canceller(&self) -> monoio::io::CancelHandle {
        self.cancel.borrow().handle()
    }

    pub fn tick_every(&self) -> Duration {
        self.tick_every
    }

    /// Resolves after the next tick has applied the reconciler's leases.
    pub async fn next_tick(&self) {
        monoio::time::sleep(self.tick_every).await;
    }

    /// The tick: report spending, read the mailbox, refresh the clock,
    /// hand the access log lines over.
    pub fn tick(&self) {
        self.report();
        self.read_mailbox();
        self.clock.refresh();
        self.access_log.borrow_mut().flush();
    }

    /// The worker ends: the last spending and log lines, so a clean stop
    /// loses neither; then let the log writer and any scrape know.
    pub fn close(&self) {
        self.report();
        self.access_log.borrow_mut().close();
        *self.mailbox.borrow_mut() = crossbeam_channel::never();
    }

    /// Tells the reconciler what was spent and refused since the last report.
    fn report(&self) {
        if let Some(r) = self.throttle.borrow_mut().report(self.id) {
            let _ = self.reports.send(r);
        }
    }

    fn read_mailbox(&self) {
        loop {
            let Ok(msg) = self.mailbox.borrow().try_recv() else {
                break;
            };
            match msg {
                Msg::Snapshot(s, done, leases) => {
                    let old = self.snapshot.borrow().clone();
                    if old.metric_slots != s.metric_slots {
                        self.metrics
                            .borrow_mut()
                            .renumber(&old.metric_slots, &s.metric_slots);
                    }
                    if let Some(leases) = leases {
                        // Report what the old numbering spent, then start over.
                        self.report();
                        let mut local = Local::numbered(&s.catalog, s.catalog_gen);
                        for l in leases {
                            local.apply(l);
                        }
                        *self.throttle.borrow_mut() = local;
                        self.metrics.borrow_mut().keys.clear();
                    }
                    self.access_log.borrow_mut().retarget(&s.access_logs);
                    *self.snapshot.borrow_mut() = Rc::new(s);
                    let _ = done.send(());
                }
                Msg::Leases(leases) => {
                    let mut local = self.throttle.borrow_mut();
                    for l in leases {
                        local.apply(l);
                    }
                }
                Msg::Sync(leases, done) => {
                    self.report();
                    let mut local = self.throttle.borrow_mut();
                    for l in leases.into_iter().flatten() {
                        local.apply(l);
                    }
                    let _ = done.send(());
                }
                Msg::FlushCache(stage, done) => {
                    self.caches.borrow_mut().flush(stage);
                    let _ = done.send(());
                }
                Msg::FlushAuthorizers(api, done) => {
                    self.auth.borrow_mut().results.flush(&api);
                    let _ = done.send(());
                }
                Msg::Challenges(c, done) => {
                    self.acme.replace(c);
                    let _ = done.send(());
                }
                Msg::Scrape(reply) => {
                    let _ = reply.send((self.id, self.counts()));
                }
                Msg::Shutdown => {
                    self.draining.set(true);
                    std::mem::take(&mut *self.cancel.borrow_mut()).cancel();
                }
                Msg::StopNow => self.stop_now.set(true),
            }
        }
    }

    /// A copy of this worker's counts with its gauges filled in.
    fn counts(&self) -> WorkerCounts {
        let mut c = self.metrics.borrow().clone();
        c.connections = self.connections.get() as u64;
        c.quiet = self.quiet.get() as u64;
        c.pool_idle = self.pool.borrow().idle_total() as u64;
        let log = self.access_log.borrow();
        c.access_log_lines = log.lines;
        c.access_log_dropped = log.dropped;
        c
    }

    /// A call was refused for want of a token or lease: report at once
    /// (at most once per lease received) and take any lease already sent,
    /// instead of waiting for a timer that a busy loop may run late.
    pub fn ran_dry(&self) {
        if self.throttle.borrow_mut().take_hurry() {
            self.report();
        }
        self.read_mailbox();
    }

    /// The `Date` header value, as of the last tick.
    pub fn date(&self) -> [u8; 29] {
        self.clock.date()
    }

    /// Unix milliseconds, as of the last tick (cache ages and expiry).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Unix seconds, as of the last tick.
    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// splitmix64: fast, good enough for request ids, and per-worker.
    pub fn random_u64(&self) -> u64 {
        let mut z = self.rng.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn random_u128(&self) -> u128 {
        (u128::from(self.random_u64()) << 64) | u128::from(self.random_u64())
    }
}
