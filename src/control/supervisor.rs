//! The supervisor: start-up, the wait, and the drain, in the order they
//! must happen. Every address is bound (or handed over) before any worker
//! starts, so a taken one stops the start-up before anything says
//! "listening"; signals are caught before any worker accepts; the workers
//! run before the admin listener answers that they are ready; on the way
//! out, the workers drain before the threads that serve them stop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Sender};
use signal_hook::consts::SIGUSR1;

use super::admin::audit::Audit;
use super::admin::{Admin, AdminError};
use super::api::ControlPlane;
use super::error::ServerError;
use super::events::{Events, Stop};
use super::listen::bind::stop_accepting;
use super::listen::sockets::{self, Sockets};
use super::listen::takeover::{Guard, Offer};
use super::publisher::Deployed;
use super::reconcile::{self, Inputs, Reconciling};
use super::scrape::{scrape, total};
use super::state::Store;
use super::thread::Stoppable;
use super::workers::{Shared, Workers};
use super::{certificates, dns};
use crate::cluster::membership::{self, Me};
use crate::cluster::{Health, Revision, UsageBacklog};
use crate::config::Config;
use crate::metrics::Batch;
use crate::snapshot::{system_resolve, Snapshot};
use crate::throttle::FleetState;

/// How to run, beyond the config.
#[derive(Debug, Default)]
pub struct Options {
    /// The config file, re-read on SIGHUP (`None`: the embedded default,
    /// which cannot change).
    pub source: Option<PathBuf>,
    /// Take the listening sockets over from the portico running on the same
    /// state directory, serve, then tell it to drain
    /// ([`super::listen::takeover`]).
    pub takeover: bool,
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

/// Runs until SIGTERM or SIGINT (or until a new portico takes over), then
/// drains and returns. `store` keeps usage and quotas; without one (no
/// usage plans) nothing is persisted.
pub fn run_with(
    config: Config,
    snapshot: Snapshot,
    store: Option<Store>,
    options: Options,
) -> Result<(), ServerError> {
    crate::log::set_level(config.log.level);
    let mut sockets = Sockets::open(&config, worker_count(&config), options.takeover)?;
    let events = Events::install()?;
    let (control, revision) = super::fleet::open_control(&config)?;
    let (control, deployed) = publish_first(&config, snapshot, control);
    let serving = start_workers(&config, &mut sockets, &deployed, store)?;
    deployed.set_data_addr(sockets.addr);
    let mut threads = Threads::start(
        &config,
        &mut sockets,
        &serving,
        control,
        &deployed,
        revision.clone(),
    )?;
    threads.fleet = super::fleet::follow(
        &config,
        threads.admin.as_ref(),
        revision,
        serving.pool.mailboxes.clone(),
        deployed.clone(),
    );
    let (offer, guard) = hand_over(&config, &mut sockets, &events, options.takeover);
    // Last: a `--takeover` started once this line is out finds the offer.
    announce(&serving, &sockets);
    let stop = events.wait_for_stop(&deployed, options.source.as_deref(), &guard);
    drain(stop, serving, threads, events, offer, sockets.stoppers);
    crate::log!(info, "stopped");
    Ok(())
}

/// `[server] workers`, where 0 means one per CPU.
fn worker_count(config: &Config) -> usize {
    match config.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// The management store opened and the stages it deployed compiled with
/// the file into the first snapshot, so workers start serving them.
/// A fleet node's store is the fleet's Redis (`[cluster]`).
fn publish_first(
    config: &Config,
    snapshot: Snapshot,
    control: Option<ControlPlane>,
) -> (Option<ControlPlane>, Arc<Deployed>) {
    let deployed = Deployed::new(config.clone(), snapshot);
    if let Some(c) = &control {
        if let Err(e) = deployed.reload_control(c, &mut system_resolve) {
            crate::log!(error, "deployed stages not served: {e}");
        }
    }
    (control, deployed)
}

/// The workers, on their sockets, with the snapshot and their first
/// leases; the reconciler and the access log writer they report to.
/// Returns once every worker serves.
fn start_workers(
    config: &Config,
    sockets: &mut Sockets,
    deployed: &Deployed,
    store: Option<Store>,
) -> Result<Serving, ServerError> {
    let snapshot = &deployed.current();
    let per_worker = std::mem::take(&mut sockets.per_worker);
    let tick = Duration::from_millis(config.throttle.reconcile_ms.max(1));
    let (reconciler, leases) = reconcile::reconciler(
        snapshot,
        per_worker.len(),
        tick,
        store.as_ref(),
        config.cluster.as_ref(),
    )?;
    let port = sockets.addr.port();
    let (reconciler, leases, limits) =
        reconcile::join_fleet(config, port, tick, reconciler, leases);
    let (reports, reports_rx) = unbounded();
    let (access_log, log_writer) = start_access_log(snapshot)?;
    let shared = Shared {
        tick,
        leases,
        reports,
        access_log,
    };
    let pool = Workers::start(config, per_worker, snapshot, shared);
    let (recatalogs, recatalogs_rx) = unbounded();
    deployed.attach(pool.mailboxes.clone(), recatalogs);
    let (sets, sets_rx) = unbounded();
    deployed.attach_quota(sets);
    let flush_every = Duration::from_millis(config.state.flush_ms.max(1));
    let inputs = Inputs {
        reports: reports_rx,
        recatalogs: recatalogs_rx,
        sets: sets_rx,
    };
    let mailboxes = pool.mailboxes.clone();
    let sink = match (&config.cluster, store) {
        (Some(cluster), _) => reconcile::UsageSink::Fleet {
            cluster: cluster.clone(),
            node: crate::cluster::membership::node_id(cluster, port),
        },
        (None, Some(store)) => reconcile::UsageSink::Node(store),
        (None, None) => reconcile::UsageSink::None,
    };
    let usage = reconcile::start(reconciler, tick, flush_every, inputs, mailboxes, sink);
    let driver = pool.ready()?;
    Ok(Serving {
        pool,
        usage,
        log_writer,
        driver,
        snapshot: snapshot.clone(),
        limits,
    })
}

/// The access log writer, fed by every worker; SIGUSR1 asks it to reopen
/// its files (logrotate).
fn start_access_log(snapshot: &Snapshot) -> Result<(Sender<Batch>, JoinHandle<()>), ServerError> {
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(SIGUSR1, reopen.clone()).map_err(ServerError::Signals)?;
    let (log_tx, log_rx) = bounded(crate::metrics::QUEUE);
    let writer = crate::metrics::spawn_access_writer(&snapshot.access_logs, log_rx, reopen)?;
    Ok((log_tx, writer))
}

fn announce(serving: &Serving, sockets: &Sockets) {
    let workers = serving.pool.mailboxes.len();
    crate::log!(info, "driver {}", serving.driver);
    crate::log!(
        info,
        "listening on http://{} ({workers} workers)",
        sockets.addr
    );
    if let Some(a) = sockets.tls_addr {
        crate::log!(info, "listening on https://{a} ({workers} workers)");
    }
}

/// The EMF thread, when configured: it scrapes the workers through their
/// mailboxes every interval.
fn start_emf(
    config: &Config,
    pool: &Workers,
    snapshot: &Snapshot,
) -> Result<Option<Stoppable>, ServerError> {
    let Some(e) = &config.metrics.emf else {
        return Ok(None);
    };
    let (stop, stopped) = bounded::<()>(0);
    let mailboxes = pool.mailboxes.clone();
    let settings = crate::metrics::EmfSettings {
        destination: crate::metrics::Destination::parse(&e.destination),
        interval: Duration::from_secs(e.interval_s.max(1)),
        namespace: e.namespace.clone(),
    };
    let scrape = move || total(&scrape(&mailboxes));
    let slots = snapshot.metric_slots.clone();
    let handle = crate::metrics::spawn_emf(settings, slots, scrape, stopped).map_err(|source| {
        ServerError::Emf {
            path: e.destination.clone(),
            source,
        }
    })?;
    Ok(Some(Stoppable::from_parts(stop, handle)))
}

/// The audit log of management calls; on a fleet node it names the node
/// (as its heartbeat does) and feeds the fleet's stream too.
fn open_audit(config: &Config, deployed: &Deployed) -> std::io::Result<Audit> {
    let audit = Audit::open(&config.state.dir)?;
    let Some(cluster) = &config.cluster else {
        return Ok(audit);
    };
    let port = deployed.data_addr().map_or(0, |a| a.port());
    audit.in_fleet(cluster, membership::node_id(cluster, port))
}

/// The admin listener, when enabled; a failure to start it stops the
/// workers.
fn start_admin(
    config: &Config,
    listener: Option<TcpListener>,
    serving: &Serving,
    ready: &Arc<AtomicBool>,
    control: Option<ControlPlane>,
    deployed: &Arc<Deployed>,
    cluster: Option<Arc<Health>>,
) -> Result<Option<Admin>, ServerError> {
    let Some(listener) = listener else {
        return Ok(None);
    };
    // Whatever the config left out was generated before start (main).
    let configured =
        super::admin::credentials::configured(&config.admin).map_err(AdminError::from)?;
    let ctx = super::admin::Context {
        token: configured.token,
        credentials: configured.key_pair,
        mailboxes: serving.pool.mailboxes.clone(),
        ready: ready.clone(),
        driver: serving.driver,
        audit: match open_audit(config, deployed) {
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
        cluster,
        fleet_flush: config.cluster.as_ref().map(|c| {
            let port = deployed.data_addr().map_or(0, |a| a.port());
            super::fleet_flush::Announcer::new(c, port)
        }),
    };
    match super::admin::start(listener, ctx) {
        Ok(admin) => {
            crate::log!(info, "admin listening on http://{}", admin.addr);
            Ok(Some(admin))
        }
        Err(e) => {
            serving.pool.shutdown();
            Err(e.into())
        }
    }
}

/// The workers and what they report to.
struct Serving {
    pool: Workers,
    usage: Reconciling,
    log_writer: JoinHandle<()>,
    /// The I/O driver the workers run on (the admin listener reports it).
    driver: &'static str,
    /// What they started serving.
    snapshot: Arc<Snapshot>,
    /// In a fleet: what the limits run on (Redis or a fallback).
    limits: Option<Arc<FleetState>>,
}

/// The control plane's other threads.
struct Threads {
    /// What /readyz says.
    ready: Arc<AtomicBool>,
    emf: Option<Stoppable>,
    admin: Option<Admin>,
    dns: Stoppable,
    certs: Option<Stoppable>,
    acme: Option<Stoppable>,
    /// The fleet's heartbeat (`[cluster]`).
    cluster: Option<Stoppable>,
    /// Follows the fleet's revision (`[cluster]`).
    fleet: Option<Stoppable>,
}

impl Threads {
    /// Once the workers serve: EMF, the admin listener (ready from now on),
    /// the DNS refresh and the certificate threads.
    fn start(
        config: &Config,
        sockets: &mut Sockets,
        serving: &Serving,
        control: Option<ControlPlane>,
        deployed: &Arc<Deployed>,
        revision: Option<Arc<Revision>>,
    ) -> Result<Threads, ServerError> {
        let ready = Arc::new(AtomicBool::new(true));
        let emf = start_emf(config, &serving.pool, &serving.snapshot)?;
        let listener = sockets.admin.take();
        let fleet = (serving.limits.clone(), serving.usage.backlog());
        let (cluster, health) = start_cluster(config, sockets.addr, revision, fleet).unzip();
        let admin = start_admin(config, listener, serving, &ready, control, deployed, health)?;
        Ok(Threads {
            ready,
            emf,
            admin,
            dns: dns::start(deployed),
            certs: certificates::watch(config, deployed),
            acme: certificates::acme(config, deployed),
            cluster,
            fleet: None,
        })
    }
}

/// The fleet's heartbeat, only with `[cluster]` (without it portico never
/// opens a Redis connection), and what it learns for /readyz and /metrics.
/// The revision it reports is the one the control thread sets once it
/// serves the fleet's state (`revision`, from `fleet::open_control`);
/// `fleet` is what the limits run on and what usage waits for Redis.
fn start_cluster(
    config: &Config,
    listen: std::net::SocketAddr,
    revision: Option<Arc<Revision>>,
    fleet: (Option<Arc<FleetState>>, Option<Arc<UsageBacklog>>),
) -> Option<(Stoppable, Arc<Health>)> {
    let cfg = config.cluster.clone()?;
    let (limits, usage) = fleet;
    let health = Arc::new(Health::new(revision.unwrap_or_default(), limits, usage));
    let me = Me::new(&cfg, listen);
    crate::log!(
        info,
        "cluster: node {}, Redis {}",
        me.id,
        cfg.redis.join(", ")
    );
    let reported = health.clone();
    let thread = Stoppable::spawn("portico-cluster", move |stop| {
        membership::run(cfg, me, reported, stop)
    });
    Some((thread, health))
}

/// Once this portico serves: the one it took over from drains, and this
/// one offers its sockets to the next (`guard` says whether another
/// process holds them too).
fn hand_over(
    config: &Config,
    sockets: &mut Sockets,
    events: &Events,
    took_over: bool,
) -> (Option<Offer>, Arc<Guard>) {
    sockets::drain_previous(sockets.handover.take());
    let guard = Arc::new(Guard::default());
    let offered = std::mem::take(&mut sockets.offered);
    let on_handed_over = events.on_handed_over();
    let offer = sockets::offer(config, offered, guard.clone(), took_over, on_handed_over);
    (offer, guard)
}

/// Stops accepting, lets the workers finish what they hold, then stops
/// what served them, each after what still needs it.
fn drain(
    stop: Stop,
    serving: Serving,
    threads: Threads,
    events: Events,
    offer: Option<Offer>,
    stoppers: Vec<TcpListener>,
) {
    // A later --takeover finds nothing here rather than a stopping process.
    drop(offer);
    threads.ready.store(false, Ordering::Relaxed);
    // The last interval's EMF lines, while every worker still answers
    // its scrape: a worker whose listener is shut down drains and stops
    // answering.
    if let Some(t) = threads.emf {
        t.stop_and_join();
    }
    if stop.shut_sockets {
        for l in &stoppers {
            stop_accepting(l);
        }
    }
    match stop.signal {
        Some(s) => crate::log!(info, "signal {s}: stopped accepting, draining"),
        None if stop.handed_over => {
            crate::log!(info, "a new portico took over: stopped accepting, draining")
        }
        None => {}
    }
    serving.pool.shutdown();
    // The admin socket is the new process's now: its answers come from there.
    let admin = if stop.handed_over {
        None
    } else {
        threads.admin
    };
    let dns = threads.dns.stop();
    let cluster = threads.cluster.map(Stoppable::stop);
    if let Some(t) = threads.certs {
        t.stop_and_join();
    }
    if let Some(t) = threads.acme {
        t.stop_and_join();
    }
    if let Some(t) = threads.fleet {
        t.stop_and_join();
    }
    // After a hand-over, the first signal is the first: it changes nothing.
    let Workers {
        mailboxes, handles, ..
    } = serving.pool;
    events.drain_workers(handles, &mailboxes, !stop.handed_over);
    // Up while draining, so /readyz says 503 until the workers are gone.
    drop(admin);
    let _ = serving.log_writer.join();
    let _ = dns.join();
    if let Some(t) = cluster {
        let _ = t.join();
    }
    serving.usage.stop();
}
