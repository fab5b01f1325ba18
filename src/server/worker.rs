//! A worker: one thread, pinned to one core, with its own io_uring (or
//! epoll) runtime, listener, upstream pool and snapshot. Nothing here is
//! shared with another worker; the control plane talks to it through its
//! mailbox, which it reads on a timer (and when a throttle runs dry, so a
//! busy worker whose timer fires late still gets its next lease promptly),
//! never per request.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::TcpListener as StdListener;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use monoio::io::Canceller;
use monoio::net::TcpListener;
use monoio::{FusionDriver, IoUringDriver, LegacyDriver, RuntimeBuilder};

use super::catch_unwind::CatchUnwind;
use super::conn;
use super::idle::Idle;
use crate::cache::Caches;
use crate::config::Driver;
use crate::integration::Pool;
use crate::metrics::{Batch, Buffers, WorkerCounts};
use crate::snapshot::Snapshot;
use crate::throttle::{Instruction, Local, Report};
use crate::tls::acme::challenges::{self, Challenges};

/// Control plane → worker.
pub enum Msg {
    /// Serve new requests with this snapshot, then say so; with leases when
    /// its throttle catalog is new (the balances start over with them).
    Snapshot(Arc<Snapshot>, Sender<()>, Option<Vec<Instruction>>),
    /// Token and quota leases from the reconciler.
    Leases(Vec<Instruction>),
    /// Empty this worker's shard of a stage cache, then say so.
    FlushCache(usize, Sender<()>),
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

pub struct Settings {
    pub id: usize,
    pub cpu: Option<usize>,
    pub driver: Driver,
    pub max_connections: usize,
    /// How often the worker reads its mailbox, reports its spending and
    /// refreshes its clock: the reconcile interval.
    pub tick: Duration,
    /// Leases to start with, so the first calls need not wait for a tick.
    pub initial_leases: Vec<Instruction>,
    pub reports: Sender<Report>,
    /// How many workers share each stage cache's capacity.
    pub workers: usize,
    /// The access log writer's queue, and how many destinations it has.
    pub access_log: Sender<Batch>,
}
/// io_uring submission queue entries.
const RING_ENTRIES: u32 = 4096;

pub struct Worker {
    pub id: usize,
    /// `Rc` around the shared `Arc`: requests clone the `Rc`, so the shared
    /// reference count is touched once per publish, not once per request.
    #[allow(clippy::redundant_allocation)]
    snapshot: RefCell<Rc<Arc<Snapshot>>>,
    pub pool: RefCell<Pool>,
    /// This worker's token and quota balances; only this thread touches them.
    pub throttle: RefCell<Local>,
    /// This worker's shard of every stage cache.
    pub caches: RefCell<Caches>,
    /// This worker's fetched JWKS and kept Lambda authorizer decisions.
    pub auth: RefCell<crate::auth::WorkerAuth>,
    /// This worker's counts; only this thread writes them.
    pub metrics: RefCell<WorkerCounts>,
    /// Access log lines waiting for the next hand-over to the writer.
    pub access_log: RefCell<Buffers>,
    /// The ACME challenges this worker answers.
    pub acme: challenges::Local,
    reports: Sender<Report>,
    /// Replaced by a closed one when the worker ends, so that senders
    /// (a scrape) learn at once that it is gone.
    mailbox: RefCell<Receiver<Msg>>,
    tick_every: Duration,
    date: Cell<[u8; 29]>,
    clf_date: Cell<[u8; 26]>,
    date_secs: Cell<u64>,
    now_ms: Cell<u64>,
    rng: Cell<u64>,
    connections: Cell<usize>,
    max_connections: usize,
    /// Connections that can be closed to admit a new one.
    pub idle: Idle,
    /// Connections being answered 503 for want of room.
    refusing: Cell<usize>,
    busy: Cell<usize>,
    /// Connections accepted whose first request has not begun: the drain
    /// waits for them (a little), since their client has sent, or is about
    /// to send, a request that no other process will see.
    fresh: Cell<usize>,
    /// What each request in flight is (`GET /prod/x`), by connection slot,
    /// for the log when the drain cuts them; reused, so no allocation per
    /// request once a slot has served one.
    requests: RefCell<Vec<String>>,
    draining: Cell<bool>,
    /// Set by [`Msg::StopNow`]: the drain ends at once.
    stop_now: Cell<bool>,
    /// Cancels every accept loop's pending accept at shutdown. A cancelled
    /// io_uring accept that had already taken a connection still returns
    /// it (merely dropping the accept would leak it unanswered): on a socket
    /// handed over to a new process, that connection is served here.
    cancel: RefCell<Canceller>,
}

type Ready = Sender<Result<&'static str, (usize, String)>>;

/// `listeners`: the plain ones and the HTTPS ones (usually one each, or
/// none for HTTPS; more when more were handed over than there are workers).
pub fn spawn(
    settings: Settings,
    listeners: (Vec<StdListener>, Vec<StdListener>),
    snapshot: Arc<Snapshot>,
    mailbox: Receiver<Msg>,
    ready: Ready,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("portico-w{}", settings.id))
        .spawn(move || {
            let id = settings.id;
            if let Some(cpu) = settings.cpu {
                if let Err(e) = monoio::utils::bind_to_cpu_set([cpu]) {
                    crate::log!(warn, worker = id, "cannot pin to CPU {cpu}: {e}");
                }
            }
            let drain = Duration::from_millis(snapshot.timeouts.drain_ms);
            let worker = Rc::new(Worker::new(&settings, snapshot, mailbox));
            let ready2 = ready.clone();
            let run = move || serve(worker, listeners, drain, ready2);
            if let Err(e) = block_on(settings.driver, run) {
                let _ = ready.send(Err((
                    id,
                    format!("cannot start the {:?} runtime: {e}", settings.driver),
                )));
            }
        })
        .expect("spawn worker thread")
}

fn block_on<F: Future<Output = ()>>(
    driver: Driver,
    fut: impl FnOnce() -> F,
) -> std::io::Result<()> {
    match driver {
        Driver::Auto => RuntimeBuilder::<FusionDriver>::new()
            .uring_builder(uring_setup())
            .with_entries(RING_ENTRIES)
            .enable_timer()
            .build()?
            .block_on(fut()),
        Driver::IoUring => RuntimeBuilder::<IoUringDriver>::new()
            .uring_builder(uring_setup())
            .with_entries(RING_ENTRIES)
            .enable_timer()
            .build()?
            .block_on(fut()),
        Driver::Epoll => RuntimeBuilder::<LegacyDriver>::new()
            .with_entries(RING_ENTRIES)
            .enable_timer()
            .build()?
            .block_on(fut()),
    }
    Ok(())
}

/// Ring set-up: cooperative task running (completions are run when the
/// worker next enters the kernel instead of interrupting it) and a single
/// issuer (only this thread submits, so the kernel skips its locking).
/// Both need Linux 6.0; older kernels get a plain ring.
fn uring_setup() -> io_uring::Builder {
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun().setup_single_issuer();
    if tuned.build(8).is_ok() {
        tuned
    } else {
        io_uring::IoUring::builder()
    }
}

async fn serve(
    w: Rc<Worker>,
    (plain, tls): (Vec<StdListener>, Vec<StdListener>),
    drain: Duration,
    ready: Ready,
) {
    let all = plain
        .into_iter()
        .map(|l| (l, false))
        .chain(tls.into_iter().map(|l| (l, true)));
    let mut listeners = Vec::new();
    for (l, tls) in all {
        match TcpListener::from_std(l) {
            Ok(l) => listeners.push((l, tls)),
            Err(e) => {
                let _ = ready.send(Err((w.id, format!("cannot register listener: {e}"))));
                return;
            }
        }
    }
    let driver = if monoio::utils::is_legacy() {
        "epoll (io_uring unavailable or disabled)"
    } else {
        "io_uring"
    };
    let _ = ready.send(Ok(driver));
    monoio::spawn(tick(w.clone()));
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|(l, tls)| monoio::spawn(accept(w.clone(), l, tls)))
        .collect();
    for l in loops {
        l.await;
    }
    let start = Instant::now();
    let deadline = start + drain;
    let fresh_until = start + FIRST_REQUEST_GRACE.min(drain);
    loop {
        let now = Instant::now();
        let waiting = w.busy.get() > 0 || (w.fresh.get() > 0 && now < fresh_until);
        if !waiting || now >= deadline || w.stop_now.get() {
            break;
        }
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
    w.log_cut(drain);
    // The last spending and log lines, so a clean stop loses neither; then
    // let the log writer and any scrape know this worker is done.
    w.report();
    w.access_log.borrow_mut().close();
    *w.mailbox.borrow_mut() = crossbeam_channel::never();
}

/// Accepts on one listener until shutdown; `tls`: the HTTPS listener, whose
/// connections use the current snapshot's certificates. At the connection
/// cap a newcomer closes the longest-idle connection, or gets 503 when
/// every connection is mid-request: waiting in the kernel's accept queue
/// instead would let idle keep-alive connections lock everyone out.
async fn accept(w: Rc<Worker>, listener: TcpListener, tls: bool) {
    let cancel = w.cancel.borrow().handle();
    let mut accept_errors_logged = 0u32;
    while !w.draining.get() {
        {
            match listener.cancelable_accept(cancel.clone()).await {
                Ok((io, peer)) => {
                    let config = if tls {
                        match &w.snapshot().tls {
                            Some(t) => Some(t.clone()),
                            // HTTPS was configured at start; a snapshot without it closes.
                            None => continue,
                        }
                    } else {
                        None
                    };
                    if w.connections.get() >= w.max_connections && !w.idle.evict_oldest() {
                        // At most as many refusals as connections: past that, just close.
                        if w.refusing.get() < w.max_connections {
                            w.refusing.set(w.refusing.get() + 1);
                            let r = Refusal(w.clone());
                            monoio::spawn(CatchUnwind(Box::pin(conn::refuse(r, io, config))));
                        }
                        continue;
                    }
                    w.connections.set(w.connections.get() + 1);
                    w.fresh.set(w.fresh.get() + 1);
                    let slot = Slot {
                        idle: w.idle.register(),
                        w: w.clone(),
                        fresh: Cell::new(true),
                    };
                    monoio::spawn(CatchUnwind(Box::pin(conn::serve(slot, io, peer, config))));
                }
                // The control plane shut the listener (EINVAL) or the
                // worker cancelled the accept (ECANCELED): shutdown has begun.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ECANCELED)) => break,
                Err(e) => {
                    // Out of descriptors: back off instead of spinning.
                    if accept_errors_logged < 10 {
                        accept_errors_logged += 1;
                        crate::log!(warn, worker = w.id, "accept: {e}");
                    }
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

async fn tick(w: Rc<Worker>) {
    loop {
        monoio::time::sleep(w.tick_every).await;
        w.report();
        w.read_mailbox();
        w.refresh_date();
        w.access_log.borrow_mut().flush();
    }
}

/// A connection's claim on the worker's capacity, released on drop.
pub struct Slot {
    pub w: Rc<Worker>,
    /// Its node in the worker's reusable connections.
    pub idle: u32,
    /// No request has begun on it yet.
    fresh: Cell<bool>,
}

impl Slot {
    /// A request (`method`, `target`) begins on this connection.
    pub fn begin_request(&self, method: &[u8], target: &[u8]) -> Busy<'_> {
        if self.fresh.replace(false) {
            self.w.fresh.set(self.w.fresh.get() - 1);
        }
        self.w.begin_request(self.idle, method, target)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let w = &self.w;
        if self.fresh.get() {
            w.fresh.set(w.fresh.get() - 1);
        }
        w.connections.set(w.connections.get() - 1);
        w.idle.release(self.idle);
    }
}

/// A connection being refused, counted until it is gone.
pub struct Refusal(pub Rc<Worker>);

impl Drop for Refusal {
    fn drop(&mut self) {
        self.0.refusing.set(self.0.refusing.get() - 1);
    }
}

/// Marks a request in flight (on its connection's slot), for the shutdown drain.
pub struct Busy<'w>(&'w Worker, u32);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.set(self.0.busy.get() - 1);
        if let Some(r) = self.0.requests.borrow_mut().get_mut(self.1 as usize) {
            r.clear();
        }
    }
}

/// How long the drain waits for the first request of a connection accepted
/// just before it began (one that sends nothing is closed after it).
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// How much of a request's path the drain's log line names.
const LOGGED_PATH: usize = 200;
/// How many cut requests the drain's log line names.
const LOGGED_REQUESTS: usize = 20;

impl Worker {
    fn new(s: &Settings, snapshot: Arc<Snapshot>, mailbox: Receiver<Msg>) -> Worker {
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
        let w = Worker {
            id: s.id,
            throttle: RefCell::new(throttle),
            caches: RefCell::new(Caches::new(s.workers)),
            auth: RefCell::new(crate::auth::WorkerAuth::default()),
            metrics: RefCell::new(WorkerCounts::default()),
            access_log: RefCell::new(Buffers::new(&snapshot.access_logs, s.access_log.clone())),
            acme: challenges::Local::default(),
            reports: s.reports.clone(),
            mailbox: RefCell::new(mailbox),
            tick_every: s.tick,
            snapshot: RefCell::new(Rc::new(snapshot)),
            pool: RefCell::new(Pool::new(
                up.max_idle_per_upstream,
                Duration::from_millis(up.idle_timeout_ms),
            )),
            date: Cell::new([b' '; 29]),
            clf_date: Cell::new([b' '; 26]),
            date_secs: Cell::new(0),
            now_ms: Cell::new(0),
            rng: Cell::new(seed | 1),
            connections: Cell::new(0),
            max_connections: s.max_connections,
            idle: Idle::default(),
            refusing: Cell::new(0),
            busy: Cell::new(0),
            fresh: Cell::new(0),
            requests: RefCell::new(Vec::new()),
            draining: Cell::new(false),
            stop_now: Cell::new(false),
            cancel: RefCell::new(Canceller::new()),
        };
        w.refresh_date();
        w
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

    /// A request (`method`, `target`) begins on the connection in `slot`.
    fn begin_request(&self, slot: u32, method: &[u8], target: &[u8]) -> Busy<'_> {
        self.busy.set(self.busy.get() + 1);
        let mut requests = self.requests.borrow_mut();
        let i = slot as usize;
        if requests.len() <= i {
            requests.resize(i + 1, String::new());
        }
        let path = target.split(|&b| b == b'?').next().unwrap_or_default();
        let r = &mut requests[i];
        r.clear();
        r.push_str(&String::from_utf8_lossy(method));
        r.push(' ');
        r.push_str(&String::from_utf8_lossy(
            &path[..path.len().min(LOGGED_PATH)],
        ));
        Busy(self, slot)
    }

    /// After the drain: says which requests it cut (the deadline passed, or
    /// a second signal said stop now) and how many connections close.
    fn log_cut(&self, drain: Duration) {
        let cut = self.busy.get();
        let why = if self.stop_now.get() {
            "stopping now".to_string()
        } else if cut > 0 {
            format!("drain deadline ({} ms) passed", drain.as_millis())
        } else {
            return;
        };
        let requests = self.requests.borrow();
        let mut which: Vec<&str> = requests
            .iter()
            .filter(|r| !r.is_empty())
            .map(String::as_str)
            .take(LOGGED_REQUESTS)
            .collect();
        if cut > which.len() {
            which.push("...");
        }
        crate::log!(
            warn,
            worker = self.id,
            "{why}: cut {cut} request(s) in flight [{}], closing {} connection(s)",
            which.join(", "),
            self.connections.get()
        );
    }

    /// Resolves after the next tick has applied the reconciler's leases.
    pub async fn next_tick(&self) {
        monoio::time::sleep(self.tick_every).await;
    }

    /// Unix seconds, as of the last tick.
    pub fn now_secs(&self) -> i64 {
        self.date_secs.get() as i64
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
                Msg::FlushCache(stage, done) => {
                    self.caches.borrow_mut().flush(stage);
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

    /// The `Date` header value, refreshed by the tick, not per request.
    pub fn date(&self) -> [u8; 29] {
        self.date.get()
    }

    /// The time for access logs, `25/Nov/2026:12:03:21 +0000`, as of the last tick.
    pub fn clf_date(&self) -> [u8; 26] {
        self.clf_date.get()
    }

    /// Unix milliseconds, as of the last tick (cache ages and expiry).
    pub fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn refresh_date(&self) {
        let now = SystemTime::now();
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.now_ms.set(since.as_millis() as u64);
        let secs = since.as_secs();
        if secs != self.date_secs.get() {
            self.date_secs.set(secs);
            let text = httpdate::fmt_http_date(now);
            let mut d = [b' '; 29];
            let n = text.len().min(29);
            d[..n].copy_from_slice(&text.as_bytes()[..n]);
            self.date.set(d);
            let clf = chrono::DateTime::<chrono::Utc>::from(now)
                .format("%d/%b/%Y:%H:%M:%S +0000")
                .to_string();
            let mut c = [b' '; 26];
            let n = clf.len().min(26);
            c[..n].copy_from_slice(&clf.as_bytes()[..n]);
            self.clf_date.set(c);
        }
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
