//! The fleet's audit log: each node adds the management calls it records
//! (the very lines of its own `audit.jsonl`) to one Redis stream,
//! `{prefix}:audit`, so `portico audit` on any node lists the whole
//! fleet's calls. The stream is capped by length and age
//! (`audit_max_entries`, `audit_max_age_days`, approximate trimming).
//!
//! A thread of its own adds them, so a management call never waits on the
//! stream: the node's file, written and fsynced before the call answers,
//! is the record of each call; the stream is the fleet's view of those
//! records. While Redis is unreachable the events wait in memory, bounded
//! ([`QUEUE`] events, [`QUEUE_BYTES`]), and are added in order once it
//! answers again (the stream's ids are then later than their
//! `eventTime`); beyond the bound they are dropped from the stream
//! (counted and logged, never from the file). A node stopped before Redis
//! came back has them only in its file (`portico audit --local`). Each
//! event is added once: a batch whose answer timed out is sent again, and
//! the script skips what an earlier sending already added (events are
//! numbered per node process; Redis keeps the last number added).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use super::{connect, ClusterError, Connection, Keys};
use crate::config::ClusterConfig;

const SCRIPT: &str = include_str!("audit.lua");
/// Events waiting for Redis, at most.
pub const QUEUE: usize = 10_000;
/// Their JSON, at most (a PutRestApi's document can be megabytes).
pub const QUEUE_BYTES: usize = 64 << 20;
/// Events per script call.
const BATCH: usize = 100;
/// How long an unreachable Redis is left alone before the next try.
const RETRY: Duration = Duration::from_secs(1);

/// The stream's key.
pub fn stream_key(cfg: &ClusterConfig) -> String {
    Keys::new(&cfg.key_prefix).key("audit")
}

/// What is waiting for Redis, shared by the control thread (which adds)
/// and the stream's thread (which removes once Redis has it).
#[derive(Default)]
struct Waiting {
    events: AtomicUsize,
    bytes: AtomicUsize,
}

/// The control thread's end of the stream.
pub struct AuditStream {
    events: Option<Sender<String>>,
    waiting: Arc<Waiting>,
    /// Events the bound kept out of the stream since the last log line.
    dropped: u64,
    thread: Option<JoinHandle<()>>,
}

impl AuditStream {
    /// The thread that adds this node's (`node`) events to the stream.
    pub fn start(cfg: ClusterConfig, node: String) -> std::io::Result<AuditStream> {
        let (tx, rx) = unbounded();
        let waiting = Arc::new(Waiting::default());
        let shared = waiting.clone();
        let thread = std::thread::Builder::new()
            .name("portico-audit".into())
            .spawn(move || Shipper::new(cfg, node, shared).run(&rx))?;
        Ok(AuditStream {
            events: Some(tx),
            waiting,
            dropped: 0,
            thread: Some(thread),
        })
    }

    /// Hands one event (a JSON line, no newline) to the stream's thread;
    /// never waits. False when the bound is reached: the event is then in
    /// the node's file only.
    pub fn send(&mut self, event: String) -> bool {
        let len = event.len();
        let full = self.waiting.events.load(Ordering::Relaxed) >= QUEUE
            || self.waiting.bytes.load(Ordering::Relaxed) + len > QUEUE_BYTES;
        let sent = !full
            && self.events.as_ref().is_some_and(|tx| {
                self.waiting.events.fetch_add(1, Ordering::Relaxed);
                self.waiting.bytes.fetch_add(len, Ordering::Relaxed);
                tx.send(event).is_ok()
            });
        if !sent {
            if self.dropped == 0 {
                crate::log!(
                    warn,
                    "fleet audit stream: {QUEUE} events or {QUEUE_BYTES} bytes wait for Redis; \
                     newer calls are recorded in this node's file only"
                );
            }
            self.dropped += 1;
        } else if self.dropped > 0 {
            crate::log!(
                warn,
                "fleet audit stream: calls left out of it (they are in this node's file): {}",
                self.dropped
            );
            self.dropped = 0;
        }
        sent
    }
}

impl Drop for AuditStream {
    /// What waits is tried once more (bounded by the timeouts), so a clean
    /// stop with Redis up loses nothing from the stream.
    fn drop(&mut self) {
        self.events = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Shipper {
    cfg: ClusterConfig,
    node: String,
    key: String,
    /// `{prefix}:audit:sent:NODE:PID:START`: the last number added.
    sent_key: String,
    script: redis::Script,
    conn: Option<Connection>,
    waiting: Arc<Waiting>,
    /// Numbered events, oldest first.
    batch: VecDeque<(u64, String)>,
    /// The next event's number.
    next: u64,
    /// Whether Redis took the last batch (logged once per change).
    up: bool,
}

impl Shipper {
    fn new(cfg: ClusterConfig, node: String, waiting: Arc<Waiting>) -> Shipper {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let process = format!("{node}:{}:{started}", std::process::id());
        Shipper {
            key: stream_key(&cfg),
            sent_key: Keys::new(&cfg.key_prefix).key(&format!("audit:sent:{process}")),
            cfg,
            node,
            script: redis::Script::new(SCRIPT),
            conn: None,
            waiting,
            batch: VecDeque::new(),
            next: 1,
            up: true,
        }
    }

    /// Until the control thread's end is gone: takes events, adds them,
    /// and while Redis does not answer tries again every [`RETRY`].
    fn run(mut self, events: &Receiver<String>) {
        loop {
            let wait = if self.batch.is_empty() {
                None
            } else {
                Some(RETRY)
            };
            let next = match wait {
                None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => events.recv_timeout(d),
            };
            match next {
                Ok(e) => self.push(e),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.ship();
                    if !self.batch.is_empty() {
                        crate::log!(
                            warn,
                            "fleet audit stream: calls not added at stop \
                             (they are in this node's file): {}",
                            self.batch.len()
                        );
                    }
                    return;
                }
            }
            for e in events.try_iter() {
                self.push(e);
            }
            self.ship();
        }
    }

    fn push(&mut self, event: String) {
        self.batch.push_back((self.next, event));
        self.next += 1;
    }

    /// Adds what waits, a batch per script call, until Redis fails.
    fn ship(&mut self) {
        while !self.batch.is_empty() {
            let n = self.batch.len().min(BATCH);
            let added = self.add(n);
            self.note(added.as_ref().err());
            if added.is_err() {
                self.conn = None;
                return;
            }
            let bytes: usize = self.batch.drain(..n).map(|(_, e)| e.len()).sum();
            self.waiting.events.fetch_sub(n, Ordering::Relaxed);
            self.waiting.bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Logs whether Redis took the last batch, once per change.
    fn note(&mut self, failed: Option<&ClusterError>) {
        if self.up == failed.is_none() {
            return;
        }
        self.up = failed.is_none();
        match failed {
            None => crate::log!(info, "fleet audit stream: Redis answers again"),
            Some(e) => crate::log!(
                warn,
                "fleet audit stream: {e}; calls wait in memory until Redis answers"
            ),
        }
    }

    /// The first `n` waiting events, added in one call.
    fn add(&mut self, n: usize) -> Result<(), ClusterError> {
        let failed = |source| ClusterError::Redis {
            addr: self.cfg.redis.join(","),
            source,
        };
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => self.conn.insert(connect(&self.cfg)?),
        };
        let max_age_ms = self.cfg.audit_max_age_days.saturating_mul(86_400_000);
        let first = self.batch.front().map_or(0, |(seq, _)| *seq);
        let mut inv = self.script.prepare_invoke();
        inv.key(&self.key)
            .key(&self.sent_key)
            .arg(self.cfg.audit_max_entries)
            .arg(max_age_ms)
            .arg(&self.node)
            .arg(first);
        for (_, e) in self.batch.iter().take(n) {
            inv.arg(e);
        }
        inv.invoke::<i64>(&mut **conn).map(drop).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing listens on port 1: every try is refused at once, so events
    /// stay waiting.
    fn unreachable() -> ClusterConfig {
        ClusterConfig {
            redis: vec!["redis://127.0.0.1:1".into()],
            ..ClusterConfig::default()
        }
    }

    #[test]
    fn while_redis_is_unreachable_what_waits_is_bounded_by_count_and_bytes() {
        let mut s = AuditStream::start(unreachable(), "n".into()).unwrap();
        for i in 0..QUEUE {
            assert!(s.send(format!("{{\"i\":{i}}}")), "event {i} refused");
        }
        assert!(!s.send("{}".into()), "one more than the bound was taken");
        assert_eq!(s.dropped, 1);

        let mut s = AuditStream::start(unreachable(), "n".into()).unwrap();
        assert!(!s.send("x".repeat(QUEUE_BYTES + 1)));
        assert!(s.send("x".repeat(QUEUE_BYTES)));
        assert!(!s.send("x".into()), "over the byte bound");
    }
}
