//! One worker's counts. Only the worker writes them, as plain integers;
//! a scrape gets a copy through the worker's mailbox and adds the copies
//! up, so counting costs a request no atomic operation.

use super::histogram::Histogram;
use crate::throttle::{Level, MeterId};

/// Why request validation refused a call (AWS's BAD_REQUEST_PARAMETERS and
/// BAD_REQUEST_BODY), counted apart from other 400s so a client sending
/// bad requests is told from a broken route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Parameters = 0,
    Body = 1,
}

impl Invalid {
    pub const ALL: [Invalid; 2] = [Invalid::Parameters, Invalid::Body];

    pub fn name(self) -> &'static str {
        match self {
            Invalid::Parameters => "parameters",
            Invalid::Body => "body",
        }
    }
}

/// What a request did, as the last pipeline step records it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exchange {
    /// Index into `Snapshot::metric_slots`.
    pub slot: usize,
    pub status: u16,
    pub latency_us: u64,
    pub integration_us: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// `Some(true)` served from the stage cache, `Some(false)` a cache miss.
    pub cache: Option<bool>,
    pub throttled: Option<Level>,
    /// Request validation refused the call.
    pub invalid: Option<Invalid>,
    pub meter: Option<MeterId>,
}

/// Counts for one (API, stage, route); CloudWatch's names in comments.
#[derive(Debug, Clone, Default)]
pub struct RouteCounts {
    /// Count.
    pub requests: u64,
    /// 4XXError and 5XXError, by status.
    pub errors: Vec<(u16, u64)>,
    /// Latency.
    pub latency: Histogram,
    /// IntegrationLatency.
    pub integration_latency: Histogram,
    pub bytes_in: u64,
    /// DataProcessed / data transferred out.
    pub bytes_out: u64,
    /// CacheHitCount, CacheMissCount.
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub throttled: [u64; Level::ALL.len()],
    /// Validation refusals, by `Invalid`.
    pub invalid: [u64; Invalid::ALL.len()],
}

/// Calls and bytes of one API key in one usage plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounts {
    pub requests: u64,
    pub bytes_out: u64,
}

/// Everything one worker counted, plus its gauges at the time of the copy.
#[derive(Debug, Clone, Default)]
pub struct WorkerCounts {
    pub routes: Vec<RouteCounts>,
    /// By meter (API key in a plan).
    pub keys: Vec<KeyCounts>,
    pub connections: u64,
    /// Of those, waiting for a request with no buffer held.
    pub quiet: u64,
    pub pool_idle: u64,
    pub access_log_lines: u64,
    pub access_log_dropped: u64,
}

impl WorkerCounts {
    pub fn record(&mut self, e: &Exchange) {
        if self.routes.len() <= e.slot {
            self.routes.resize_with(e.slot + 1, RouteCounts::default);
        }
        let r = &mut self.routes[e.slot];
        r.requests += 1;
        if e.status >= 400 {
            match r.errors.iter_mut().find(|(s, _)| *s == e.status) {
                Some((_, n)) => *n += 1,
                None => r.errors.push((e.status, 1)),
            }
        }
        r.latency.record(e.latency_us);
        if let Some(us) = e.integration_us {
            r.integration_latency.record(us);
        }
        r.bytes_in += e.bytes_in;
        r.bytes_out += e.bytes_out;
        match e.cache {
            Some(true) => r.cache_hits += 1,
            Some(false) => r.cache_misses += 1,
            None => {}
        }
        if let Some(l) = e.throttled {
            r.throttled[l as usize] += 1;
        }
        if let Some(v) = e.invalid {
            r.invalid[v as usize] += 1;
        }
        if let Some(m) = e.meter {
            let m = m as usize;
            if self.keys.len() <= m {
                self.keys.resize(m + 1, KeyCounts::default());
            }
            self.keys[m].requests += 1;
            self.keys[m].bytes_out += e.bytes_out;
        }
    }

    /// The slots were renumbered (a management change or reload): counts
    /// follow their labels; slots that are gone are dropped.
    pub fn renumber<L: PartialEq>(&mut self, old: &[L], new: &[L]) {
        let mut routes = vec![RouteCounts::default(); new.len()];
        for (i, counts) in std::mem::take(&mut self.routes).into_iter().enumerate() {
            let Some(label) = old.get(i) else { continue };
            if let Some(j) = new.iter().position(|l| l == label) {
                routes[j] = counts;
            }
        }
        self.routes = routes;
    }

    /// Adds another worker's counts to these.
    pub fn merge(&mut self, o: &WorkerCounts) {
        if self.routes.len() < o.routes.len() {
            self.routes
                .resize_with(o.routes.len(), RouteCounts::default);
        }
        for (a, b) in self.routes.iter_mut().zip(&o.routes) {
            a.requests += b.requests;
            for &(status, n) in &b.errors {
                match a.errors.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, m)) => *m += n,
                    None => a.errors.push((status, n)),
                }
            }
            a.latency.merge(&b.latency);
            a.integration_latency.merge(&b.integration_latency);
            a.bytes_in += b.bytes_in;
            a.bytes_out += b.bytes_out;
            a.cache_hits += b.cache_hits;
            a.cache_misses += b.cache_misses;
            for (x, y) in a.throttled.iter_mut().zip(b.throttled) {
                *x += y;
            }
            for (x, y) in a.invalid.iter_mut().zip(b.invalid) {
                *x += y;
            }
        }
        if self.keys.len() < o.keys.len() {
            self.keys.resize(o.keys.len(), KeyCounts::default());
        }
        for (a, b) in self.keys.iter_mut().zip(&o.keys) {
            a.requests += b.requests;
            a.bytes_out += b.bytes_out;
        }
        self.connections += o.connections;
        self.quiet += o.quiet;
        self.pool_idle += o.pool_idle;
        self.access_log_lines += o.access_log_lines;
        self.access_log_dropped += o.access_log_dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_merges() {
        let mut a = WorkerCounts::default();
        let ok = Exchange {
            slot: 2,
            status: 200,
            latency_us: 300,
            integration_us: Some(200),
            bytes_in: 10,
            bytes_out: 100,
            cache: Some(false),
            meter: Some(1),
            ..Exchange::default()
        };
        a.record(&ok);
        a.record(&Exchange {
            status: 429,
            throttled: Some(Level::Key),
            ..ok
        });
        let mut b = WorkerCounts::default();
        b.record(&Exchange {
            status: 429,
            cache: Some(true),
            ..ok
        });
        b.merge(&a);
        let r = &b.routes[2];
        assert_eq!(r.requests, 3);
        assert_eq!(r.errors, vec![(429, 2)]);
        assert_eq!((r.cache_hits, r.cache_misses), (1, 2));
        assert_eq!(r.throttled[Level::Key as usize], 1);
        assert_eq!(r.latency.count(), 3);
        assert_eq!(r.integration_latency.sum_us, 600);
        assert_eq!(
            b.keys[1],
            KeyCounts {
                requests: 3,
                bytes_out: 300
            }
        );
    }
}
