//! The workers as the control plane holds them: a mailbox and a thread
//! each. The supervisor starts them (pinned, each with its sockets, the
//! first snapshot and its first leases) and from then on only writes to
//! their mailboxes; nothing else of a worker is reachable from here.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};

use super::error::ServerError;
use super::listen::sockets::PerWorker;
use super::reconcile::InitialLeases;
use crate::config::Config;
use crate::dataplane::{allowed_cpus, spawn as spawn_worker, Msg, Settings, ShardSettings};
use crate::metrics::Batch;
use crate::snapshot::Snapshot;
use crate::throttle::Report;

pub struct Workers {
    pub mailboxes: Vec<Sender<Msg>>,
    pub handles: Vec<JoinHandle<()>>,
    /// Each worker's start: its I/O driver, or why it failed.
    ready: Receiver<Result<&'static str, (usize, String)>>,
}

/// What every worker is started with besides its sockets.
pub struct Shared {
    pub tick: Duration,
    pub leases: InitialLeases,
    pub reports: Sender<Report>,
    pub access_log: Sender<Batch>,
}

impl Workers {
    /// One worker per element of `sockets`; the senders in `shared` are
    /// dropped here, so the reconciler and the access log writer end once
    /// every worker has.
    pub fn start(
        config: &Config,
        sockets: Vec<PerWorker>,
        snapshot: &Arc<Snapshot>,
        mut shared: Shared,
    ) -> Workers {
        let workers = sockets.len();
        let cpus = if config.server.pin_workers {
            allowed_cpus()
        } else {
            Vec::new()
        };
        let (ready_tx, ready) = unbounded();
        let mut mailboxes = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for (id, listeners) in sockets.into_iter().enumerate() {
            let (tx, rx) = unbounded();
            mailboxes.push(tx);
            let cpu = (!cpus.is_empty()).then(|| cpus[id % cpus.len()]);
            let settings = Settings {
                cpu,
                driver: config.server.driver,
                max_connections: config.server.max_connections_per_worker,
                shard: ShardSettings {
                    id,
                    tick: shared.tick,
                    initial_leases: std::mem::take(&mut shared.leases[id]),
                    reports: shared.reports.clone(),
                    workers,
                    access_log: shared.access_log.clone(),
                },
            };
            let ready_tx = ready_tx.clone();
            handles.push(spawn_worker(
                settings,
                listeners,
                snapshot.clone(),
                rx,
                ready_tx,
            ));
        }
        Workers {
            mailboxes,
            handles,
            ready,
        }
    }

    /// Waits until every worker serves; the I/O driver they run on. When
    /// one fails, all are told to stop.
    pub fn ready(&self) -> Result<&'static str, ServerError> {
        let mut driver = "";
        for _ in 0..self.mailboxes.len() {
            match self.ready.recv() {
                Ok(Ok(d)) => driver = d,
                Ok(Err((id, message))) => {
                    self.shutdown();
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
        Ok(driver)
    }

    /// Drain and stop.
    pub fn shutdown(&self) {
        for m in &self.mailboxes {
            let _ = m.send(Msg::Shutdown);
        }
    }
}
