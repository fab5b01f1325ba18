//! A worker's runtime: one thread, pinned to one core, with its own
//! io_uring (or epoll) driver and listeners. It accepts connections (at the
//! cap, closing the longest-idle one or answering 503), runs each one's
//! exchanges (`serve.rs`) on its [`Shard`], ticks the shard's clock and
//! mailbox, and drains at shutdown. A panic in one connection ends only
//! that connection (`catch_unwind`).

use std::cell::{Cell, RefCell};
use std::net::TcpListener as StdListener;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use monoio::net::TcpListener;

use super::catch_unwind::CatchUnwind;
use super::driver::{self, Running};
use super::idle::{self, Idle};
use super::serve;
use super::shard::{self, Msg, Shard};
use crate::config::Driver;
use crate::snapshot::Snapshot;

pub struct Settings {
    pub cpu: Option<usize>,
    pub driver: Driver,
    pub max_connections: usize,
    pub shard: shard::Settings,
}

pub struct Worker {
    pub shard: Shard,
    max_connections: usize,
    /// Connections that can be closed to admit a new one.
    pub idle: Idle,
    /// Connections being answered 503 for want of room.
    refusing: Cell<usize>,
    /// Accept failures logged (the first ten), across the accept loops.
    accept_errors_logged: Cell<u32>,
    busy: Cell<usize>,
    /// Connections accepted whose first request has not begun: the drain
    /// waits for them (a little), since their client has sent, or is about
    /// to send, a request that no other process will see.
    fresh: Cell<usize>,
    /// What each request in flight is (`GET /prod/x`), by connection slot,
    /// for the log when the drain cuts them; reused, so no allocation per
    /// request once a slot has served one.
    requests: RefCell<Vec<String>>,
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
        .name(format!("portico-w{}", settings.shard.id))
        .spawn(move || {
            let id = settings.shard.id;
            if let Some(cpu) = settings.cpu {
                if let Err(e) = monoio::utils::bind_to_cpu_set([cpu]) {
                    crate::log!(warn, worker = id, "cannot pin to CPU {cpu}: {e}");
                }
            }
            let drain = Duration::from_millis(snapshot.timeouts.drain_ms);
            let worker = Rc::new(Worker::new(&settings, snapshot, mailbox));
            let ready2 = ready.clone();
            let run = move |running| serve(worker, listeners, drain, running, ready2);
            if let Err(e) = driver::block_on(id, settings.driver, run) {
                let _ = ready.send(Err((
                    id,
                    format!("cannot start the {:?} runtime: {e}", settings.driver),
                )));
            }
        })
        .expect("spawn worker thread")
}

async fn serve(
    w: Rc<Worker>,
    (plain, tls): (Vec<StdListener>, Vec<StdListener>),
    drain: Duration,
    running: Running,
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
                let _ = ready.send(Err((w.shard.id, format!("cannot register listener: {e}"))));
                return;
            }
        }
    }
    let driver = match running {
        Running::IoUring => "io_uring",
        Running::Epoll => "epoll (io_uring unavailable or disabled)",
    };
    let _ = ready.send(Ok(driver));
    monoio::spawn(tick(w.clone()));
    monoio::spawn(expire(w.clone()));
    let pending = match running {
        Running::IoUring => ACCEPTS_PENDING,
        Running::Epoll => 1,
    };
    let mut loops = Vec::new();
    for (l, tls) in listeners {
        let l = Rc::new(l);
        for _ in 0..pending {
            loops.push(monoio::spawn(accept(w.clone(), l.clone(), tls)));
        }
    }
    for l in loops {
        l.await;
    }
    let start = Instant::now();
    let deadline = start + drain;
    let fresh_until = start + FIRST_REQUEST_GRACE.min(drain);
    loop {
        let now = Instant::now();
        let waiting = w.busy.get() > 0 || (w.fresh.get() > 0 && now < fresh_until);
        if !waiting || now >= deadline || w.shard.stop_now() {
            break;
        }
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
    w.log_cut(drain);
    // The last spending and log lines, so a clean stop loses neither; then
    // let the log writer and any scrape know this worker is done.
    w.shard.close();
}

/// Accepts kept pending on each listener on io_uring. A worker's loop turn
/// runs every completion that came since the last (at 4,000 busy
/// connections, thousands: tens of milliseconds), and a pending accept
/// completes at most once a turn; with one, connections arriving together
/// waited in the kernel's accept queue for one turn each, and their first
/// requests made the p99 (portico proxy at 4,000 connections: 0.12-1.9 s,
/// against nginx's 111-140 ms). On epoll monoio's accept calls accept(2)
/// until the queue is empty, so one is enough there.
const ACCEPTS_PENDING: usize = 64;

/// Accepts on one listener until shutdown (one of `ACCEPTS_PENDING`);
/// `tls`: the HTTPS listener, whose connections use the current
/// snapshot's certificates. At the connection
/// cap a newcomer closes the longest-idle connection, or gets 503 when
/// every connection is mid-request: waiting in the kernel's accept queue
/// instead would let idle keep-alive connections lock everyone out.
async fn accept(w: Rc<Worker>, listener: Rc<TcpListener>, tls: bool) {
    let cancel = w.shard.accept_canceller();
    while !w.shard.draining() {
        {
            match listener.cancelable_accept(cancel.clone()).await {
                Ok((io, peer)) => {
                    let config = if tls {
                        match &w.shard.snapshot().tls {
                            Some(t) => Some(t.clone()),
                            // HTTPS was configured at start; a snapshot without it closes.
                            None => continue,
                        }
                    } else {
                        None
                    };
                    if w.shard.connections.get() >= w.max_connections && !w.idle.evict_oldest() {
                        // At most as many refusals as connections: past that, just close.
                        if w.refusing.get() < w.max_connections {
                            w.refusing.set(w.refusing.get() + 1);
                            let r = Refusal(w.clone());
                            monoio::spawn(CatchUnwind(Box::pin(serve::refuse(r, io, config))));
                        }
                        continue;
                    }
                    w.shard.connections.set(w.shard.connections.get() + 1);
                    w.fresh.set(w.fresh.get() + 1);
                    let slot = Slot {
                        idle: w.idle.register(),
                        w: w.clone(),
                        fresh: Cell::new(true),
                    };
                    monoio::spawn(CatchUnwind(Box::pin(serve::serve(slot, io, peer, config))));
                }
                // The control plane shut the listener (EINVAL) or the
                // worker cancelled the accept (ECANCELED): shutdown has begun.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ECANCELED)) => break,
                Err(e) => {
                    // Out of descriptors: back off instead of spinning.
                    let logged = &w.accept_errors_logged;
                    if logged.get() < 10 {
                        logged.set(logged.get() + 1);
                        crate::log!(warn, worker = w.shard.id, "accept: {e}");
                    }
                    monoio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

async fn tick(w: Rc<Worker>) {
    let mut collected = Instant::now();
    loop {
        monoio::time::sleep(w.shard.tick_every()).await;
        w.shard.tick();
        if collected.elapsed() >= COLLECT_EVERY {
            collected = Instant::now();
            // SAFETY: mimalloc's own call for the calling thread's heap; it
            // only frees what that heap no longer uses.
            unsafe { libmimalloc_sys::mi_collect(false) };
        }
    }
}

/// Closes quiet connections whose wait is over (their deadlines are on
/// the worker's wheel, in `idle`). Not the shard's tick: that one's period
/// is the throttle's `reconcile_ms`, which is no keep-alive precision.
async fn expire(w: Rc<Worker>) {
    loop {
        monoio::time::sleep(idle::TICK).await;
        w.idle.expire(Instant::now());
    }
}

/// How often a worker asks mimalloc to hand memory it has freed back to
/// the OS. mimalloc does that only during later allocations, so a worker
/// whose connections had all gone quiet kept their freed buffers:
/// 15,000 idle connections measured 5.4 KiB each without this, 4.0 with
/// memory returned at once (`MIMALLOC_PURGE_DELAY=0`, which would cost a
/// system call per freed page on the busy path instead).
const COLLECT_EVERY: Duration = Duration::from_secs(1);

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
        w.shard.connections.set(w.shard.connections.get() - 1);
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
        Worker {
            shard: Shard::new(&s.shard, snapshot, mailbox),
            max_connections: s.max_connections,
            idle: Idle::default(),
            refusing: Cell::new(0),
            accept_errors_logged: Cell::new(0),
            busy: Cell::new(0),
            fresh: Cell::new(0),
            requests: RefCell::new(Vec::new()),
        }
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
        let why = if self.shard.stop_now() {
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
            worker = self.shard.id,
            "{why}: cut {cut} request(s) in flight [{}], closing {} connection(s)",
            which.join(", "),
            self.shard.connections.get()
        );
    }
}
