//! Steady load on one route of several nodes while a test changes the
//! world around them (deployments, a Redis outage): one client thread per
//! node calling back to back on a keep-alive connection, recording every
//! call's latency under the test's current phase, every answer that is not
//! a 200, every connection error, and each change of the body served.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{get, poll_until, Client, POLL_FOR};

/// What one node's client saw.
#[derive(Debug, Default)]
pub struct Record {
    /// (phase, latency) of each answered call.
    pub latencies: Vec<(usize, Duration)>,
    /// Answers other than 200 and connection errors (refused, reset, timed
    /// out; each ends the connection and a new one is made).
    pub failures: u64,
    /// The first few failures, described.
    pub failed: Vec<String>,
    /// The bodies of the 200s, each time it changed.
    pub bodies: Vec<String>,
}

impl Record {
    fn fail(&mut self, what: String) {
        self.failures += 1;
        if self.failed.len() < 10 {
            self.failed.push(what);
        }
    }

    /// The latencies of the calls made in `phase`.
    pub fn in_phase(&self, phase: usize) -> impl Iterator<Item = Duration> + '_ {
        self.latencies
            .iter()
            .filter(move |(p, _)| *p == phase)
            .map(|(_, d)| *d)
    }
}

/// The running clients, one per port.
pub struct SteadyLoad {
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicUsize>,
    calls: Vec<Arc<AtomicU64>>,
    threads: Vec<JoinHandle<Record>>,
}

/// A client gives up after this many failures in a row (a node that is
/// gone), so a broken node fails the test instead of spinning.
const GIVE_UP_AFTER: u64 = 1_000;

impl SteadyLoad {
    /// Starts calling `GET path` on each of `ports`, in phase 0.
    pub fn start(ports: &[u16], path: &str) -> SteadyLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicUsize::new(0));
        let calls: Vec<Arc<AtomicU64>> = ports.iter().map(|_| Arc::default()).collect();
        let threads = ports
            .iter()
            .zip(&calls)
            .map(|(&port, calls)| {
                let (stop, phase, calls) = (stop.clone(), phase.clone(), calls.clone());
                let req = get(path);
                std::thread::spawn(move || {
                    call_steadily(port, req.as_bytes(), &stop, &phase, &calls)
                })
            })
            .collect();
        SteadyLoad {
            stop,
            phase,
            calls,
            threads,
        }
    }

    /// Calls made from now on are recorded under `phase`.
    pub fn set_phase(&self, phase: usize) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Waits (bounded) until every client has made `n` more calls.
    pub fn wait_calls(&self, n: u64) {
        let from: Vec<u64> = self
            .calls
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .collect();
        let made = || -> Vec<u64> {
            self.calls
                .iter()
                .zip(&from)
                .map(|(c, f)| c.load(Ordering::SeqCst) - f)
                .collect()
        };
        poll_until(
            POLL_FOR,
            made,
            |m| m.iter().all(|&m| m >= n),
            |m| format!("the load clients made {m:?} of {n} calls each"),
        );
    }

    /// Stops the clients; what each saw, in the order of the ports.
    pub fn stop(self) -> Vec<Record> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("load client"))
            .collect()
    }
}

fn call_steadily(
    port: u16,
    req: &[u8],
    stop: &AtomicBool,
    phase: &AtomicUsize,
    calls: &AtomicU64,
) -> Record {
    let mut rec = Record::default();
    let mut conn: Option<Client> = None;
    let mut failed_in_a_row = 0;
    while !stop.load(Ordering::SeqCst) && failed_in_a_row < GIVE_UP_AFTER {
        let p = phase.load(Ordering::SeqCst);
        let started = Instant::now();
        let answer = match conn.take() {
            Some(c) => Ok(c),
            None => Client::try_connect(port),
        }
        .and_then(|mut c| {
            c.r.inner.write_all(req)?;
            let r = c.try_read_response(false)?;
            Ok((c, r))
        });
        calls.fetch_add(1, Ordering::SeqCst);
        match answer {
            Ok((c, r)) => {
                rec.latencies.push((p, started.elapsed()));
                let body = r.body_str();
                if r.status != 200 {
                    failed_in_a_row += 1;
                    rec.fail(format!("phase {p}: {} {body:?}", r.status));
                } else {
                    failed_in_a_row = 0;
                    if rec.bodies.last() != Some(&body) {
                        rec.bodies.push(body);
                    }
                }
                if !r.closes() {
                    conn = Some(c);
                }
            }
            Err(e) => {
                failed_in_a_row += 1;
                rec.fail(format!("phase {p}: connection error: {e}"));
            }
        }
    }
    rec
}

/// The `q` quantile (0..=1) of `samples` (nearest rank); zero when empty.
pub fn quantile(samples: impl Iterator<Item = Duration>, q: f64) -> Duration {
    let mut v: Vec<Duration> = samples.collect();
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
