//! The usage recorder: a fleet node's store thread. It adds the usage the
//! reconciler hands over (every flush interval) into Redis, one script call
//! per batch (`usage.lua`), so the fleet's totals are the sum of every
//! node's. While Redis cannot be reached, usage waits here in memory,
//! merged per plan, key and day (bounded: besides the batch being
//! written, once `[cluster] usage_max_pending` of those are waiting,
//! usage of any other is dropped, counted and logged), and is written
//! when Redis answers again, so calls counted during an outage
//! still arrive. What waits and what was dropped are also counted in a
//! [`Backlog`] for /metrics, so a loss is seen without reading logs. A
//! node killed with -9 loses what it had not written: at most its last
//! flush interval while Redis is up.
//!
//! Every batch carries a sequence number of this run of the node; Redis
//! keeps the last one it added, so a batch sent again after a call that
//! timed out (but ran, late) is not added twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::usage::UsageKeys;
use super::Connection;
use crate::config::ClusterConfig;
use crate::throttle::UsageDelta;

/// How long after a failed write the next is tried.
const RETRY: Duration = Duration::from_millis(250);
/// How long Redis keeps a run's last sequence number (s): longer than any
/// retry of its batches.
const MARKER_TTL_S: u64 = 86_400;

/// Starts the recorder; it ends once the reconciler drops its end of
/// `batches`, after a last attempt to write what waits. It counts into
/// `backlog` what waits for Redis and what it dropped.
pub fn start(
    cfg: ClusterConfig,
    node: String,
    batches: Receiver<Vec<UsageDelta>>,
    backlog: Arc<Backlog>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("portico-usage".into())
        .spawn(move || {
            let max_pending = cfg.usage_max_pending;
            Recorder::new(cfg, node, max_pending, backlog).run(batches)
        })
        .expect("spawn usage recorder thread")
}

/// What the recorder holds for Redis and what it dropped at its bound,
/// read by /metrics. Atomics only: a scrape never waits on the recorder,
/// which may itself be waiting on a Redis that stopped answering.
#[derive(Debug, Default)]
pub struct Backlog {
    pending_keys: AtomicU64,
    dropped_calls: AtomicU64,
    dropped_bytes: AtomicU64,
}

impl Backlog {
    /// (plan, key, day) entries waiting to be written to Redis.
    pub fn pending_keys(&self) -> u64 {
        self.pending_keys.load(Ordering::Relaxed)
    }

    /// Calls and bytes dropped at the bound since this node started
    /// (never reset, as Prometheus counters are not).
    pub fn dropped(&self) -> (u64, u64) {
        (
            self.dropped_calls.load(Ordering::Relaxed),
            self.dropped_bytes.load(Ordering::Relaxed),
        )
    }
}

/// Plan, key and day.
type Entry = (String, String, NaiveDate);
/// A batch: its sequence number and its rows (calls, bytes).
type Batch = (u64, Vec<(Entry, (u64, u64))>);

struct Recorder {
    cfg: ClusterConfig,
    /// Distinct entries `next` may hold (`[cluster] usage_max_pending`).
    max_pending: usize,
    backlog: Arc<Backlog>,
    script: redis::Script,
    keys: UsageKeys,
    /// This run's marker key.
    marker: String,
    conn: Option<Connection>,
    seq: u64,
    /// The batch being written, resent as it is until Redis has it.
    in_flight: Option<Batch>,
    /// Usage heard since, merged.
    next: BTreeMap<Entry, (u64, u64)>,
    /// Calls (and bytes) dropped at the bound since the last report.
    dropped: (u64, u64),
    reachable: bool,
    next_try: Instant,
}

impl Recorder {
    fn new(
        cfg: ClusterConfig,
        node: String,
        max_pending: usize,
        backlog: Arc<Backlog>,
    ) -> Recorder {
        let keys = UsageKeys::new(&cfg.key_prefix);
        let marker = keys.applied(&node, &boot_id());
        Recorder {
            cfg,
            max_pending,
            backlog,
            script: redis::Script::new(include_str!("usage.lua")),
            keys,
            marker,
            conn: None,
            seq: 0,
            in_flight: None,
            next: BTreeMap::new(),
            dropped: (0, 0),
            reachable: true,
            next_try: Instant::now(),
        }
    }

    fn run(mut self, batches: Receiver<Vec<UsageDelta>>) {
        loop {
            let wait = if self.waiting() {
                self.next_try.saturating_duration_since(Instant::now())
            } else {
                Duration::from_secs(3600)
            };
            match batches.recv_timeout(wait) {
                Ok(b) => {
                    self.add(b);
                    for b in batches.try_iter() {
                        self.add(b);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= self.next_try {
                self.write();
            }
        }
        self.write();
        if self.waiting() {
            let calls: u64 = self
                .in_flight
                .iter()
                .flat_map(|(_, rows)| rows.iter().map(|(_, (c, _))| *c))
                .chain(self.next.values().map(|(c, _)| *c))
                .sum();
            crate::log!(
                error,
                "usage: {calls} calls not written to Redis at shutdown (Redis unreachable)"
            );
        }
    }

    fn waiting(&self) -> bool {
        self.in_flight.is_some() || !self.next.is_empty()
    }

    /// Merges `batch` into what waits. The bound holds only behind a
    /// batch that Redis did not take: with none in flight, Redis answered
    /// the last write and this usage goes out whole at once (a flush holds
    /// at most one entry per plan, key and day it heard of), so a flush
    /// with more entries than the bound is never cut while Redis is up.
    fn add(&mut self, batch: Vec<UsageDelta>) {
        let bounded = self.in_flight.is_some();
        for u in batch {
            let entry = (u.plan, u.key_id, u.day);
            let full = bounded && self.next.len() >= self.max_pending;
            match self.next.get_mut(&entry) {
                Some(e) => {
                    e.0 = e.0.saturating_add(u.calls);
                    e.1 = e.1.saturating_add(u.bytes);
                }
                None if full => {
                    if self.dropped == (0, 0) {
                        crate::log!(
                            error,
                            "usage: {} keys' usage waits for Redis; usage of others is dropped (counted) until it answers",
                            self.max_pending
                        );
                    }
                    self.dropped.0 = self.dropped.0.saturating_add(u.calls);
                    self.dropped.1 = self.dropped.1.saturating_add(u.bytes);
                    self.backlog
                        .dropped_calls
                        .fetch_add(u.calls, Ordering::Relaxed);
                    self.backlog
                        .dropped_bytes
                        .fetch_add(u.bytes, Ordering::Relaxed);
                }
                None => {
                    self.next.insert(entry, (u.calls, u.bytes));
                }
            }
        }
        self.count_pending();
    }

    /// Publishes how many entries wait, in flight or heard since.
    fn count_pending(&self) {
        let in_flight = self.in_flight.as_ref().map_or(0, |(_, rows)| rows.len());
        let n = u64::try_from(in_flight + self.next.len()).unwrap_or(u64::MAX);
        self.backlog.pending_keys.store(n, Ordering::Relaxed);
    }

    /// Writes every batch waiting, in order, until one fails.
    fn write(&mut self) {
        self.write_batches();
        self.count_pending();
    }

    fn write_batches(&mut self) {
        loop {
            if self.in_flight.is_none() {
                if self.next.is_empty() {
                    return;
                }
                self.seq += 1;
                let rows = std::mem::take(&mut self.next).into_iter().collect();
                self.in_flight = Some((self.seq, rows));
            }
            match self.send() {
                Ok(()) => {
                    self.in_flight = None;
                    if !self.reachable {
                        self.reachable = true;
                        crate::log!(
                            info,
                            "usage: Redis reachable again; the usage kept meanwhile is written"
                        );
                    }
                    if self.dropped != (0, 0) {
                        crate::log!(
                            error,
                            "usage: {} calls ({} bytes) were dropped while Redis was unreachable",
                            self.dropped.0,
                            self.dropped.1
                        );
                        self.dropped = (0, 0);
                    }
                }
                Err(why) => {
                    self.conn = None;
                    self.next_try = Instant::now() + RETRY;
                    if self.reachable {
                        self.reachable = false;
                        crate::log!(
                            warn,
                            "usage: Redis unreachable ({why}); usage is kept in memory until it answers"
                        );
                    }
                    return;
                }
            }
        }
    }

    /// One script call for the batch in flight.
    fn send(&mut self) -> Result<(), String> {
        let Some((seq, rows)) = &self.in_flight else {
            return Ok(());
        };
        let mut by_hash: BTreeMap<String, Vec<(&str, u64, u64)>> = BTreeMap::new();
        for ((plan, key, day), (calls, bytes)) in rows {
            by_hash
                .entry(self.keys.day(plan, *day))
                .or_default()
                .push((key, *calls, *bytes));
        }
        let mut call = self.script.prepare_invoke();
        call.key(&self.marker).arg(*seq).arg(MARKER_TTL_S);
        for (hash, entries) in &by_hash {
            call.key(hash).arg(entries.len());
            for (key, calls, bytes) in entries {
                call.arg(*key).arg(*calls).arg(*bytes);
            }
        }
        super::connect::call(&self.cfg, &mut self.conn, |c| call.invoke::<u8>(c)).map(|_| ())
    }
}

/// An id of this run of the node: its batches' sequence numbers start
/// afresh at each start, so each run has its own marker.
pub(super) fn boot_id() -> String {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // No random source: the time still tells two runs apart.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b = t.to_be_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(key: &str, calls: u64) -> UsageDelta {
        UsageDelta {
            plan: "gold".into(),
            key_id: key.into(),
            day: "2026-11-25".parse().unwrap(),
            calls,
            bytes: calls * 10,
        }
    }

    #[test]
    fn usage_waiting_behind_a_failed_write_merges_and_is_bounded_with_drops_counted() {
        let backlog = Arc::new(Backlog::default());
        let mut r = Recorder::new(ClusterConfig::default(), "n".into(), 3, backlog.clone());
        // Nothing in flight: Redis took the last write (or none was tried
        // yet), so a flush wider than the bound is kept whole.
        r.add(vec![
            delta("a", 1),
            delta("a", 2),
            delta("b", 1),
            delta("c", 1),
            delta("d", 1),
        ]);
        assert_eq!(r.next.len(), 4);
        assert_eq!(r.next.values().next(), Some(&(3, 30)), "a, merged");
        assert_eq!((backlog.pending_keys(), backlog.dropped()), (4, (0, 0)));
        // No Redis to reach (no address): the batch stays in flight and
        // still counts as waiting; what comes after it is bounded.
        r.write();
        assert_eq!(r.in_flight.as_ref().map(|(_, rows)| rows.len()), Some(4));
        assert!(r.next.is_empty());
        r.add(vec![
            delta("a", 1),
            delta("e", 1),
            delta("f", 1),
            delta("g", 5),
            delta("h", 2),
        ]);
        assert_eq!(r.next.len(), 3);
        assert_eq!(r.dropped, (7, 70), "g and h, past the bound");
        assert_eq!((backlog.pending_keys(), backlog.dropped()), (7, (7, 70)));
        r.add(vec![delta("a", 4), delta("g", 1)]);
        assert_eq!(
            r.next.values().next(),
            Some(&(5, 50)),
            "a waiting key still adds up"
        );
        assert_eq!(backlog.dropped(), (8, 80), "g is still past the bound");
        // Retried and failed again: the batch in flight stays as it was.
        r.write();
        assert_eq!(r.in_flight.as_ref().map(|(_, rows)| rows.len()), Some(4));
        assert_eq!((backlog.pending_keys(), backlog.dropped()), (7, (8, 80)));
    }

    #[test]
    fn every_run_has_its_own_marker() {
        assert_ne!(boot_id(), boot_id());
        assert_eq!(boot_id().len(), 16);
    }
}
