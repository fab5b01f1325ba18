//! Start-up and the control plane: bind one SO_REUSEPORT listener per
//! worker (or take them over from a running portico), start the pinned
//! workers, publish snapshots to them, and stop them gracefully on
//! SIGTERM/SIGINT (a second one: at once) or when a new portico takes over.

mod catch_unwind;
mod conn;
mod cpus;
mod idle;
mod linger;
mod worker;

pub use conn::Connection;
pub use worker::{Msg, Worker};

use crate::control::listen::{bind as listener, takeover, ListenError, TakeoverError};
use crate::control::publisher::Deployed;
use crate::control::scrape::{scrape, total};

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

use crate::config::Config;
use crate::control::state::{Store, StoreError};
use crate::snapshot::{system_resolve, Snapshot};
use crate::throttle::{period_of, Calendar, CalendarError, Reconciler, UsageDelta};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Takeover(#[from] TakeoverError),
    #[error("worker {id} failed to start: {message}")]
    Worker { id: usize, message: String },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Admin(#[from] crate::control::admin::AdminError),
    #[error(transparent)]
    AccessLog(#[from] crate::metrics::OpenError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("EMF output `{path}`: {source}")]
    Emf {
        path: String,
        source: std::io::Error,
    },
}

/// How to run, beyond the config.
#[derive(Debug, Default)]
pub struct Options {
    /// The config file, re-read on SIGHUP (`None`: the embedded default,
    /// which cannot change).
    pub source: Option<PathBuf>,
    /// Take the listening sockets over from the portico running on the same
    /// state directory, serve, then tell it to drain ([`takeover`]).
    pub takeover: bool,
}

/// What the control plane waits for.
enum Event {
    Signal(i32),
    /// A new portico serves on this one's sockets and asked it to drain.
    HandedOver,
    /// Every worker has ended.
    Drained,
}

/// [`run_with`] without a hand-over.
pub fn run(
    config: Config,
    snapshot: Snapshot,
    store: Option<Store>,
    source: Option<PathBuf>,
) -> Result<(), ServerError> {
    let options = Options {
        source,
        takeover: false,
    };
    run_with(config, snapshot, store, options)
}

/// The sockets a hand-over brought for `kind` on `addr` (none without one).
fn inherited(
    handover: &mut Option<takeover::Handover>,
    kind: takeover::Kind,
    addr: std::net::SocketAddr,
) -> Vec<TcpListener> {
    handover
        .as_mut()
        .map_or_else(Vec::new, |h| h.take(kind, addr))
}

/// Copies of `listeners` to offer to a later `--takeover`.
fn offered(
    kind: takeover::Kind,
    listeners: &[TcpListener],
) -> Vec<(takeover::Kind, std::net::SocketAddr, TcpListener)> {
    listeners
        .iter()
        .filter_map(|l| Some((kind, l.local_addr().ok()?, l.try_clone().ok()?)))
        .collect()
}

/// Runs until SIGTERM or SIGINT (or until a new portico takes over), then
/// drains and returns. `store` keeps usage and quotas; without one (no
/// usage plans) nothing is persisted.
pub fn run_with(
    config: Config,
    snapshot: Snapshot,
    store: Option<Store>,
    options: Options,
) -> Result<(), ServerError> {
    use takeover::Kind;
    let source = options.source;
    crate::log::set_level(config.log.level);
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Every address is bound (or handed over) before any worker starts, so
    // a taken one stops the start-up before anything says "listening".
    let mut handover = match options.takeover {
        true => Some(takeover::request(&config.state.dir)?),
        false => None,
    };
    let backlog = config.server.backlog;
    let listen = config.server.listen.0;
    let inherit = inherited(&mut handover, Kind::Http, listen);
    let (addr, listeners) =
        listener::bind_all("[server] listen", listen, workers, backlog, inherit)?;
    let (tls_addr, tls_listeners) = match config.tls.listen {
        Some(l) => {
            let inherit = inherited(&mut handover, Kind::Https, l.0);
            let (a, ls) = listener::bind_all("[tls] listen", l.0, workers, backlog, inherit)?;
            (Some(a), ls)
        }
        None => (None, Vec::new()),
    };
    let admin_listener = match config.admin.enabled {
        true => {
            let a = config.admin.listen.0;
            let inherit = inherited(&mut handover, Kind::Admin, a).pop();
            Some(listener::bind_one("[admin] listen", a, inherit)?)
        }
        false => None,
    };
    let mut offer_sockets = offered(Kind::Http, &listeners);
    offer_sockets.extend(offered(Kind::Https, &tls_listeners));
    offer_sockets.extend(offered(Kind::Admin, admin_listener.as_slice()));
    // Kept to stop accepting the moment a signal arrives, before workers see their mailbox.
    let stoppers: Vec<_> = listeners
        .iter()
        .chain(&tls_listeners)
        .filter_map(|l| l.try_clone().ok())
        .collect();
    // Worker i accepts on sockets i, i + workers, ...: there are more than
    // workers only when more were handed over, and each must be served.
    let mut per_worker: Vec<(Vec<TcpListener>, Vec<TcpListener>)> =
        (0..workers).map(|_| Default::default()).collect();
    for (i, l) in listeners.into_iter().enumerate() {
        per_worker[i % workers].0.push(l);
    }
    for (i, l) in tls_listeners.into_iter().enumerate() {
        per_worker[i % workers].1.push(l);
    }
    // Installed before any worker accepts, so a signal is never missed.
    let signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(ServerError::Signals)?;
    let (events_tx, events) = unbounded::<Event>();
    let signals_handle = signals.handle();
    {
        let events_tx = events_tx.clone();
        let mut signals = signals;
        std::thread::Builder::new()
            .name("portico-signals".into())
            .spawn(move || {
                for s in signals.forever() {
                    if events_tx.send(Event::Signal(s)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn signal thread");
    }
    let cpus = if config.server.pin_workers {
        cpus::allowed()
    } else {
        Vec::new()
    };
    let control = match crate::control::api::ControlPlane::open(&config.state.dir) {
        Ok(c) => Some(c),
        Err(e) => {
            crate::log!(
                error,
                "management API off: cannot open the control store: {e}"
            );
            None
        }
    };
    let deployed = Deployed::new(config.clone(), snapshot);
    if let Some(c) = &control {
        if let Err(e) = deployed.reload_control(c, &mut system_resolve) {
            crate::log!(error, "deployed stages not served: {e}");
        }
    }
    let snapshot = deployed.current();
    let tick = Duration::from_millis(config.throttle.reconcile_ms.max(1));
    let (reconciler, mut initial_leases) = reconciler(&snapshot, workers, tick, store.as_ref())?;
    let (reports_tx, reports_rx) = unbounded();
    let (ready_tx, ready_rx) = unbounded();
    // SIGUSR1 asks the access log writer to reopen its files (logrotate).
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(SIGUSR1, reopen.clone()).map_err(ServerError::Signals)?;
    let (log_tx, log_rx) = bounded(crate::metrics::QUEUE);
    let log_writer = crate::metrics::spawn_access_writer(&snapshot.access_logs, log_rx, reopen)?;
    let mut mailboxes: Vec<Sender<Msg>> = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for (id, listeners) in per_worker.into_iter().enumerate() {
        let (tx, rx) = unbounded();
        mailboxes.push(tx);
        let cpu = (!cpus.is_empty()).then(|| cpus[id % cpus.len()]);
        let settings = worker::Settings {
            id,
            cpu,
            driver: config.server.driver,
            max_connections: config.server.max_connections_per_worker,
            tick,
            initial_leases: std::mem::take(&mut initial_leases[id]),
            reports: reports_tx.clone(),
            workers,
            access_log: log_tx.clone(),
        };
        handles.push(worker::spawn(
            settings,
            listeners,
            snapshot.clone(),
            rx,
            ready_tx.clone(),
        ));
    }
    drop(reports_tx);
    // The writer ends once every worker has dropped its sender.
    drop(log_tx);
    let (usage_tx, usage_rx) = unbounded::<Vec<UsageDelta>>();
    let writer = store.map(|store| {
        std::thread::Builder::new()
            .name("portico-store".into())
            .spawn(move || write_usage(store, usage_rx))
            .expect("spawn store thread")
    });
    let (recatalog_tx, recatalog_rx) = unbounded();
    deployed.attach(mailboxes.clone(), recatalog_tx);
    let (stop_reconciler, reconciler_stop) = bounded::<()>(1);
    let reconciler = {
        let mailboxes = mailboxes.clone();
        let flush_every = Duration::from_millis(config.state.flush_ms.max(1));
        let keep = writer.is_some();
        std::thread::Builder::new()
            .name("portico-reconciler".into())
            .spawn(move || {
                reconciler.run(
                    tick,
                    flush_every,
                    reports_rx,
                    recatalog_rx,
                    reconciler_stop,
                    |w, leases| {
                        let _ = mailboxes[w].send(Msg::Leases(leases));
                    },
                    |usage| {
                        if keep {
                            let _ = usage_tx.send(usage);
                        }
                    },
                )
            })
            .expect("spawn reconciler thread")
    };
    let mut driver = "";
    for _ in 0..workers {
        match ready_rx.recv() {
            Ok(Ok(d)) => driver = d,
            Ok(Err((id, message))) => {
                for m in &mailboxes {
                    let _ = m.send(Msg::Shutdown);
                }
                return Err(ServerError::Worker { id, message });
            }
            Err(_) => {
                return Err(ServerError::Worker {
                    id: 0,
                    message: "exited during start-up".into(),
                })
            }
        }
    }
    crate::log!(info, "driver {driver}");
    crate::log!(info, "listening on http://{addr} ({workers} workers)");
    if let Some(a) = tls_addr {
        crate::log!(info, "listening on https://{a} ({workers} workers)");
    }
    let ready = Arc::new(AtomicBool::new(true));
    let (stop_emf, emf_stop) = bounded::<()>(0);
    let emf = match &config.metrics.emf {
        Some(e) => {
            let mailboxes = mailboxes.clone();
            let settings = crate::metrics::EmfSettings {
                destination: crate::metrics::Destination::parse(&e.destination),
                interval: Duration::from_secs(e.interval_s.max(1)),
                namespace: e.namespace.clone(),
            };
            let scrape = move || total(&scrape(&mailboxes));
            let slots = snapshot.metric_slots.clone();
            Some(
                crate::metrics::spawn_emf(settings, slots, scrape, emf_stop).map_err(|source| {
                    ServerError::Emf {
                        path: e.destination.clone(),
                        source,
                    }
                })?,
            )
        }
        None => None,
    };
    let admin = if let Some(admin_listener) = admin_listener {
        // Whatever the config left out was generated before start (main).
        let configured = crate::control::admin::credentials::configured(&config.admin)
            .map_err(crate::control::admin::AdminError::from)?;
        let ctx = crate::control::admin::Context {
            token: configured.token,
            credentials: configured.key_pair,
            mailboxes: mailboxes.clone(),
            ready: ready.clone(),
            driver,
            audit: match crate::control::admin::audit::Audit::open(&config.state.dir) {
                Ok(a) => Some(a),
                Err(e) => {
                    crate::log!(
                        error,
                        "audit log unavailable ({e}): management calls refused"
                    );
                    None
                }
            },
            control,
            calls: 0,
            deployed: deployed.clone(),
            header_timeout: Duration::from_millis(config.timeouts.header_ms),
            body_timeout: Duration::from_millis(config.timeouts.body_ms),
            replay_grace: Duration::from_millis(config.admin.replay_grace_ms),
        };
        let admin = match crate::control::admin::start(admin_listener, ctx) {
            Ok(a) => a,
            Err(e) => {
                for m in &mailboxes {
                    let _ = m.send(Msg::Shutdown);
                }
                return Err(e.into());
            }
        };
        crate::log!(info, "admin listening on http://{}", admin.addr);
        Some(admin)
    } else {
        None
    };

    let (stop_tx, stop_rx) = bounded::<()>(0);
    // Always: a management change may bring upstream names later.
    let refresher = {
        let deployed = deployed.clone();
        std::thread::Builder::new()
            .name("portico-dns".into())
            .spawn(move || refresh_dns(deployed, stop_rx))
            .expect("spawn DNS refresh thread")
    };

    let (stop_watch, watch_stop) = bounded::<()>(0);
    let watcher = config.tls.listen.is_some().then(|| {
        let deployed = deployed.clone();
        std::thread::Builder::new()
            .name("portico-certs".into())
            .spawn(move || watch_certificates(deployed, watch_stop))
            .expect("spawn certificate watcher thread")
    });

    let (stop_acme, acme_stop) = bounded::<()>(0);
    let acme = config
        .tls
        .certificates
        .iter()
        .any(|c| c.get_ref().acme)
        .then(|| {
            let deployed = deployed.clone();
            std::thread::Builder::new()
                .name("portico-acme".into())
                .spawn(move || run_acme(deployed, acme_stop))
                .expect("spawn ACME thread")
        });

    if let Some(h) = handover {
        match h.drain_old() {
            Ok(pid) => crate::log!(
                info,
                "took over from portico (pid {pid}), which drains and exits"
            ),
            Err(e) => crate::log!(warn, "{e}; serving anyway"),
        }
    }
    let guard = Arc::new(takeover::Guard::default());
    let handed = events_tx.clone();
    let offer = match takeover::offer(
        &config.state.dir,
        offer_sockets,
        guard.clone(),
        options.takeover,
        move || {
            let _ = handed.send(Event::HandedOver);
        },
    ) {
        Ok(Some(o)) => Some(o),
        Ok(None) => {
            crate::log!(
                warn,
                "another portico runs on the state directory {}: this one cannot be taken over",
                config.state.dir.display()
            );
            None
        }
        Err(e) => {
            crate::log!(
                warn,
                "cannot offer the sockets for --takeover ({e}): this process cannot be taken over"
            );
            None
        }
    };

    // (handed over, the stopping signal, whether to shut the sockets down)
    let (handed_over, signal, shut_sockets) = loop {
        match events.recv() {
            Ok(Event::Signal(SIGHUP)) => reload(&deployed, source.as_deref()),
            // Sockets another process also holds must not be shut down:
            // they would stop accepting there too.
            Ok(Event::Signal(s)) => break (false, Some(s), guard.stop()),
            Ok(Event::HandedOver) => break (true, None, false),
            Ok(Event::Drained) | Err(_) => break (false, None, false),
        }
    };
    // A later --takeover finds nothing here rather than a stopping process.
    drop(offer);
    ready.store(false, Ordering::Relaxed);
    // The last interval's EMF lines, while every worker still answers its
    // scrape: a worker whose listener is shut down drains and stops
    // answering.
    drop(stop_emf);
    if let Some(t) = emf {
        let _ = t.join();
    }
    if shut_sockets {
        for l in &stoppers {
            listener::stop_accepting(l);
        }
    }
    match signal {
        Some(s) => crate::log!(info, "signal {s}: stopped accepting, draining"),
        None if handed_over => {
            crate::log!(info, "a new portico took over: stopped accepting, draining")
        }
        None => {}
    }
    for m in &mailboxes {
        let _ = m.send(Msg::Shutdown);
    }
    // The admin socket is the new process's now: its answers come from there.
    let admin = if handed_over { None } else { admin };
    drop(stop_tx);
    drop(stop_watch);
    if let Some(t) = watcher {
        let _ = t.join();
    }
    drop(stop_acme);
    if let Some(t) = acme {
        let _ = t.join();
    }
    // After a hand-over, the first signal is the first: it changes nothing.
    wait_for_workers(handles, &events, events_tx, &mailboxes, !handed_over);
    signals_handle.close();
    // Up while draining, so /readyz says 503 until the workers are gone.
    drop(admin);
    let _ = log_writer.join();
    let _ = refresher.join();
    // The workers are gone and their last reports queued: the reconciler
    // hears them and hands the store the last usage.
    let _ = stop_reconciler.send(());
    let _ = reconciler.join();
    if let Some(w) = writer {
        let _ = w.join();
    }
    crate::log!(info, "stopped");
    Ok(())
}

/// Waits for the workers to drain; a second SIGTERM or SIGINT (`signalled`:
/// the drain began with the first) tells them to stop now (each logs what
/// it cut).
fn wait_for_workers(
    handles: Vec<std::thread::JoinHandle<()>>,
    events: &Receiver<Event>,
    events_tx: Sender<Event>,
    mailboxes: &[Sender<Msg>],
    mut signalled: bool,
) {
    std::thread::Builder::new()
        .name("portico-drain".into())
        .spawn(move || {
            for h in handles {
                if h.join().is_err() {
                    crate::log!(error, "a worker panicked during shutdown");
                }
            }
            let _ = events_tx.send(Event::Drained);
        })
        .expect("spawn drain thread");
    let mut stopping_now = false;
    loop {
        match events.recv() {
            Ok(Event::Drained) | Err(_) => return,
            Ok(Event::Signal(s)) if s != SIGHUP && !signalled => {
                signalled = true;
                crate::log!(info, "signal {s}: already draining");
            }
            Ok(Event::Signal(s)) if s != SIGHUP && !stopping_now => {
                stopping_now = true;
                crate::log!(
                    warn,
                    "signal {s} again: stopping now, cutting the requests still in flight"
                );
                for m in mailboxes {
                    let _ = m.send(Msg::StopNow);
                }
            }
            Ok(_) => {}
        }
    }
}

/// The reconciler, with quota used so far this period read from the store,
/// and each worker's initial leases.
type InitialLeases = Vec<Vec<crate::throttle::Instruction>>;

fn reconciler(
    snapshot: &Snapshot,
    workers: usize,
    tick: Duration,
    store: Option<&Store>,
) -> Result<(Reconciler, InitialLeases), ServerError> {
    let calendar = Calendar::from_env()?;
    let today = calendar.today();
    let mut state = Vec::new();
    for m in &snapshot.catalog.meters {
        let (Some(q), Some(store)) = (m.quota, store) else {
            state.push((today, 0));
            continue;
        };
        let first_day = store.plan_first_day(&m.plan, today)?;
        let used = store.calls_since(&m.plan, &m.key_id, period_of(q.period, today).0)?;
        state.push((today.min(first_day), used));
    }
    let mut i = 0;
    let mut r = Reconciler::new(snapshot.catalog.clone(), workers, tick, today, |_| {
        i += 1;
        state[i - 1]
    })
    .numbered(snapshot.catalog_gen)
    .on(calendar);
    let mut leases = vec![Vec::new(); workers];
    r.tick(0.0, today, &mut leases);
    Ok((r, leases))
}

/// The store thread: commits usage as the reconciler hands it over, so a
/// slow disk never delays leasing. Ends when the reconciler does.
fn write_usage(mut store: Store, usage: Receiver<Vec<UsageDelta>>) {
    for batch in usage {
        if let Err(e) = store.add_usage(&batch) {
            crate::log!(error, "cannot record usage: {e}");
        }
    }
}

/// SIGHUP: re-reads the config file and publishes it; a file with errors
/// (or a change that needs a restart) is logged and the running config
/// keeps serving.
fn reload(deployed: &Deployed, source: Option<&std::path::Path>) {
    let Some(path) = source else {
        crate::log!(
            warn,
            "SIGHUP: running on the embedded config, nothing to reload"
        );
        return;
    };
    let file = match crate::config::load_file(path) {
        Ok((c, _)) => c,
        Err(e) => {
            crate::log!(error, "SIGHUP: config not reloaded: {e}");
            return;
        }
    };
    match deployed.reload_file(file, &mut system_resolve) {
        Ok(()) => crate::log!(info, "SIGHUP: config reloaded from {}", path.display()),
        Err(e) => crate::log!(error, "SIGHUP: config not reloaded: {e}"),
    }
}

/// Obtains and renews the `acme = true` certificates: each when it is
/// missing or due, retrying failures after 1 minute, doubling up to 6 hours.
fn run_acme(deployed: Arc<Deployed>, stop: Receiver<()>) {
    use crate::tls::acme::{due, issue, Due};
    let mut backoff = Duration::from_secs(60);
    loop {
        let config = deployed.file_config();
        let now = chrono::Utc::now().timestamp();
        let mut wait = Duration::from_secs(3600);
        for c in config
            .tls
            .certificates
            .iter()
            .map(|c| c.get_ref())
            .filter(|c| c.acme)
        {
            let (cert_file, _) = c.files(&config.state.dir);
            match due(&cert_file, config.acme.renew_before_days, now) {
                Due::In(secs) => wait = wait.min(Duration::from_secs(secs)),
                Due::Now => match issue(&config, c, &|ch| deployed.publish_challenges(ch)) {
                    Ok(()) => {
                        crate::log!(info, "ACME: certificate for {:?} obtained", c.hosts);
                        backoff = Duration::from_secs(60);
                        if let Err(e) = deployed.reload_certificates(&mut system_resolve) {
                            crate::log!(error, "ACME: the new certificate did not load: {e}");
                        }
                    }
                    Err(e) => {
                        crate::log!(warn, "ACME: certificate for {:?} not obtained ({e}); next try in {backoff:?}", c.hosts);
                        wait = wait.min(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(6 * 3600));
                    }
                },
            }
        }
        select! {
            recv(stop) -> _ => return,
            default(wait) => {}
        }
    }
}

/// How often the certificate files are looked at.
const CERT_WATCH: Duration = Duration::from_secs(1);

/// Publishes the certificates again when their files change (renewed by
/// certbot, an ACME client or by hand); SIGHUP does the same at once.
fn watch_certificates(deployed: Arc<Deployed>, stop: Receiver<()>) {
    let stamp = |files: &[std::path::PathBuf]| -> Vec<Option<(std::time::SystemTime, u64)>> {
        files
            .iter()
            .map(|f| {
                let m = std::fs::metadata(f).ok()?;
                Some((m.modified().ok()?, m.len()))
            })
            .collect()
    };
    let mut files = deployed.certificate_files();
    let mut seen = stamp(&files);
    loop {
        select! {
            recv(stop) -> _ => return,
            default(CERT_WATCH) => {}
        }
        let now_files = deployed.certificate_files();
        let now = stamp(&now_files);
        if now_files != files {
            // The config named other files (SIGHUP): it loaded them itself.
            (files, seen) = (now_files, now);
            continue;
        }
        if now == seen {
            continue;
        }
        seen = now;
        match deployed.reload_certificates(&mut system_resolve) {
            Ok(()) => crate::log!(info, "certificate files changed: reloaded"),
            Err(e) => crate::log!(error, "certificate files changed but not reloaded: {e}"),
        }
    }
}

/// Re-resolves upstream names off the workers (resolution blocks) and
/// publishes a new snapshot when an address changed or a name that did not
/// resolve does now.
fn refresh_dns(deployed: Arc<Deployed>, stop: Receiver<()>) {
    let every = Duration::from_millis(deployed.dns_refresh_ms().max(100));
    loop {
        select! {
            recv(stop) -> _ => return,
            default(every) => {}
        }
        match deployed.refresh_dns(&mut system_resolve) {
            Ok(true) => crate::log!(info, "upstream addresses changed; published a new snapshot"),
            Ok(false) => {}
            Err(e) => crate::log!(warn, "DNS refresh failed, keeping the last addresses: {e}"),
        }
    }
}
