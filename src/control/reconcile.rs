//! Starting the throttle's control-plane half (`throttle::Reconciler`,
//! which lives with the throttle it serves): seeded with the quota each key
//! used so far this period, read from the usage store, and beside it the
//! store thread that records the usage it hands over. The reconciler
//! reaches the workers only through their mailboxes (`Msg::Leases`); they
//! reach it through the reports channel.

use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::NaiveDate;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::error::ServerError;
use super::state::Store;
use crate::cluster::usage::FleetUsage;
use crate::cluster::UsageBacklog;
use crate::config::{ClusterConfig, OnRedisDown};
use crate::dataplane::Msg;
use crate::snapshot::Snapshot;
use crate::throttle::{
    period_of, Calendar, Fallback, Fleet, FleetQuotas, FleetState, Recatalog, Reconciler, Report,
    SetRemaining, UsageDelta,
};

/// The reconciler's thread and the store's, stopped together once the
/// workers are gone.
pub struct Reconciling {
    stop: Sender<()>,
    reconciler: JoinHandle<()>,
    store: Option<JoinHandle<()>>,
    /// In a fleet: what the recorder holds for Redis, for /metrics.
    backlog: Option<Arc<UsageBacklog>>,
}

/// The channels the reconciler listens on.
pub struct Inputs {
    pub reports: Receiver<Report>,
    pub recatalogs: Receiver<Recatalog>,
    /// UpdateUsage's changes of a key's remaining quota.
    pub sets: Receiver<SetRemaining>,
}

/// Where usage goes: nowhere (no state directory), this node's store, or
/// the fleet's Redis (`[cluster]`), through this node's recorder.
pub enum UsageSink {
    None,
    Node(Store),
    Fleet {
        cluster: ClusterConfig,
        node: String,
    },
}

/// Starts the store thread (with a store) and the reconciler, which leases
/// to `mailboxes` every `tick` and hands usage over every `flush_every`.
pub fn start(
    reconciler: Reconciler,
    tick: Duration,
    flush_every: Duration,
    inputs: Inputs,
    mailboxes: Vec<Sender<Msg>>,
    sink: UsageSink,
) -> Reconciling {
    let (usage_tx, usage_rx) = crossbeam_channel::unbounded::<Vec<UsageDelta>>();
    let mut backlog = None;
    let writer = match sink {
        UsageSink::None => None,
        UsageSink::Node(store) => Some(
            std::thread::Builder::new()
                .name("portico-store".into())
                .spawn(move || write_usage(store, usage_rx))
                .expect("spawn store thread"),
        ),
        UsageSink::Fleet { cluster, node } => {
            let counts = Arc::new(UsageBacklog::default());
            backlog = Some(counts.clone());
            Some(crate::cluster::start_usage_recorder(
                cluster, node, usage_rx, counts,
            ))
        }
    };
    let (stop, stopped) = bounded::<()>(1);
    let keep = writer.is_some();
    let thread = std::thread::Builder::new()
        .name("portico-reconciler".into())
        .spawn(move || {
            reconciler.run(
                tick,
                flush_every,
                inputs.reports,
                inputs.recatalogs,
                inputs.sets,
                stopped,
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
        .expect("spawn reconciler thread");
    Reconciling {
        stop,
        reconciler: thread,
        store: writer,
        backlog,
    }
}

impl Reconciling {
    pub fn backlog(&self) -> Option<Arc<UsageBacklog>> {
        self.backlog.clone()
    }

    /// Once the workers are gone and their last reports queued: the
    /// reconciler hears them and hands the store the last usage.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.reconciler.join();
        if let Some(w) = self.store {
            let _ = w.join();
        }
    }
}

/// The reconciler, with quota used so far this period read from the store,
/// and each worker's initial leases.
pub type InitialLeases = Vec<Vec<crate::throttle::Instruction>>;

pub fn reconciler(
    snapshot: &Snapshot,
    workers: usize,
    tick: Duration,
    store: Option<&Store>,
    cluster: Option<&ClusterConfig>,
) -> Result<(Reconciler, InitialLeases), ServerError> {
    let calendar = Calendar::from_env()?;
    let today = calendar.today();
    let mut state = Vec::new();
    let mut adjusts = Vec::new();
    let mut records = QuotaRecords::open(store, cluster);
    for m in &snapshot.catalog.meters {
        let Some(q) = m.quota else {
            state.push((today, 0));
            adjusts.push(0);
            continue;
        };
        let period = period_of(q.period, today).0;
        let (first_day, used, adjust) = records.read(&m.plan, &m.key_id, period, today)?;
        state.push((today.min(first_day), used));
        adjusts.push(adjust);
    }
    let mut i = 0;
    let mut r = Reconciler::new(snapshot.catalog.clone(), workers, tick, today, |_| {
        i += 1;
        state[i - 1]
    })
    .numbered(snapshot.catalog_gen)
    .on(calendar);
    let mut j = 0;
    r = r.adjusted(|_| {
        j += 1;
        adjusts[j - 1]
    });
    let mut leases = vec![Vec::new(); workers];
    r.tick(0.0, today, &mut leases);
    Ok((r, leases))
}

/// Where a quota's use so far this period is read at start: this node's
/// store, or in a fleet what every node recorded in Redis.
enum QuotaRecords<'a> {
    Node(Option<&'a Store>),
    Fleet(Option<FleetUsage>),
}

impl<'a> QuotaRecords<'a> {
    fn open(store: Option<&'a Store>, cluster: Option<&ClusterConfig>) -> QuotaRecords<'a> {
        let Some(cluster) = cluster else {
            return QuotaRecords::Node(store);
        };
        match FleetUsage::open(cluster) {
            Ok(f) => QuotaRecords::Fleet(Some(f)),
            Err(e) => {
                crate::log!(
                    warn,
                    "quotas start from nothing used: the fleet's usage cannot be read ({e})"
                );
                QuotaRecords::Fleet(None)
            }
        }
    }

    /// The plan's first day, the calls used since `period` and the
    /// period's adjustment (all nothing without records).
    fn read(
        &mut self,
        plan: &str,
        key: &str,
        period: NaiveDate,
        today: NaiveDate,
    ) -> Result<(NaiveDate, u64, i64), ServerError> {
        match self {
            QuotaRecords::Node(None) => Ok((today, 0, 0)),
            QuotaRecords::Node(Some(s)) => Ok((
                s.plan_first_day(plan, today)?,
                s.calls_since(plan, key, period)?,
                s.quota_adjust(plan, key, period)?,
            )),
            QuotaRecords::Fleet(None) => Ok((today, 0, 0)),
            QuotaRecords::Fleet(Some(f)) => {
                let read = |f: &mut FleetUsage| -> Result<_, crate::cluster::ClusterError> {
                    Ok((
                        f.plan_first_day(plan, today)?,
                        f.calls_between(plan, key, period, today)?,
                        f.quota_adjust(plan, key, period)?,
                    ))
                };
                match read(f) {
                    Ok(r) => Ok(r),
                    Err(e) => {
                        crate::log!(
                            warn,
                            "quotas start from nothing used: the fleet's usage cannot be read ({e})"
                        );
                        *self = QuotaRecords::Fleet(None);
                        Ok((today, 0, 0))
                    }
                }
            }
        }
    }
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

/// A reconciler with its workers' initial leases and, in a fleet, what
/// its limits run on (for `/readyz` and `/metrics`).
pub type Joined = (Reconciler, InitialLeases, Option<Arc<FleetState>>);

/// In a fleet (`[cluster]`): the reconciler leases every bucket but the
/// account's from Redis, through the cluster-limits thread started here,
/// and its initial leases of those buckets are withdrawn (they start
/// empty). Without `[cluster]`, both are returned as they are.
pub fn join_fleet(
    config: &crate::config::Config,
    port: u16,
    tick: Duration,
    reconciler: Reconciler,
    mut leases: InitialLeases,
) -> Joined {
    let Some(cluster) = &config.cluster else {
        return (reconciler, leases, None);
    };
    let (asks, asks_rx) = unbounded();
    let (answers, answers_rx) = unbounded();
    let node = crate::cluster::membership::node_id(cluster, port);
    // Ends by itself once the reconciler, and so `asks`, is gone.
    let _ = crate::cluster::start_limits(cluster.clone(), node.clone(), asks_rx, answers);
    let fallback = match cluster.on_redis_down {
        OnRedisDown::LocalShare => Fallback::LocalShare,
        OnRedisDown::FailClosed => Fallback::FailClosed,
    };
    let state = Arc::new(FleetState::new(fallback));
    let fleet = Fleet::new(asks, answers_rx, state.clone());
    let reconciler = reconciler.in_fleet(fleet, tick, &mut leases);
    // Quotas too (a later catalog may have them, so always): leased from
    // what remains cluster-wide by the cluster-quotas thread.
    let (asks, asks_rx) = unbounded();
    let (answers, answers_rx) = unbounded();
    let _ = crate::cluster::start_quotas(cluster.clone(), node, asks_rx, answers);
    let quotas = FleetQuotas::new(asks, answers_rx);
    let reconciler = reconciler.with_fleet_quotas(quotas, &mut leases);
    (reconciler, leases, Some(state))
}
