//! Gathering the workers' counts: each gets a request in its mailbox and
//! answers with a copy at its next tick; the copies are added up here,
//! off every worker's thread.

use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Sender};

use crate::dataplane::Msg;
use crate::metrics::WorkerCounts;

/// How long a scrape waits for the workers: many ticks.
const WAIT: Duration = Duration::from_secs(2);

/// Each answering worker's counts, by worker id.
pub fn scrape(mailboxes: &[Sender<Msg>]) -> Vec<(usize, WorkerCounts)> {
    let (tx, rx) = unbounded();
    let asked = mailboxes
        .iter()
        .filter(|m| m.send(Msg::Scrape(tx.clone())).is_ok())
        .count();
    drop(tx);
    let deadline = Instant::now() + WAIT;
    let mut got: Vec<(usize, WorkerCounts)> = Vec::with_capacity(asked);
    while got.len() < asked {
        match rx.recv_deadline(deadline) {
            Ok(c) => got.push(c),
            Err(_) => break,
        }
    }
    got.sort_by_key(|(id, _)| *id);
    got
}

/// The workers' counts added up.
pub fn total(per_worker: &[(usize, WorkerCounts)]) -> WorkerCounts {
    let mut t = WorkerCounts::default();
    for (_, c) in per_worker {
        t.merge(c);
    }
    t
}
