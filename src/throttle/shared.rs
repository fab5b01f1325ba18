//! Small limits: one token bucket that every worker spends from directly,
//! in a lock-free cell, instead of leases.
//!
//! Leases split a bucket's tokens over the workers and move them once a
//! tick, whole tokens at a time. That is exact in aggregate when each
//! worker's share is many tokens, but a small limit split N ways leaves
//! most workers with one token or none: the first call after idle lands
//! on a worker that holds nothing and is refused while the bucket is full.
//! Such a bucket is one GCRA cell (an `AtomicU64` theoretical arrival time,
//! advanced with compare-and-swap), shared by all workers, which admits
//! exactly what one token bucket would.
//!
//! This is the one atomic on the request path, and why it is cheap: the
//! cell is written only when it admits a call, so its cache line moves
//! between cores at most `rate` times a second (refused calls only read
//! it), and a bucket is shared only when `rate` is low compared with the
//! number of workers (see [`is_shared`]). Cells are packed, not padded:
//! the few on one line together still see a few thousand writes a second.

use std::sync::atomic::{AtomicU64, Ordering};

use super::catalog::{BucketId, BucketSpec};

/// Below this many tokens per worker, for a tick's refill or for the burst,
/// a bucket is shared rather than leased. A lease moves whole tokens once a
/// tick, so each transition (idle to busy, one worker to another) can strand
/// about a share per worker: a small error when a share is many tokens, a
/// refused call in every few when it is one token or none. At the bound a
/// cell is written at most `8 × workers / tick` times a second (1,600 for
/// two workers at the default 10 ms tick, 800 per worker): a few hundred
/// cache-line moves per worker per second, about 0.01 % of a core. A fast
/// bucket with a burst under the bound is shared too, though it is written
/// up to `rate` times a second: leases hand out at most `burst` tokens a
/// tick, so they could never admit its rate.
pub const SHARE_TOKENS: f64 = 8.0;

/// Time is the monotonic clock in nanoseconds; a bucket whose refill from
/// empty would take longer than this (146 years) is leased instead, so
/// arrival times never overflow.
const HORIZON_NS: f64 = (1u64 << 62) as f64;

/// Whether a bucket is spent from one shared cell rather than leased: the
/// one place this rule is decided.
pub fn is_shared(b: &BucketSpec, workers: usize, tick_s: f64) -> bool {
    let small = SHARE_TOKENS * workers.max(1) as f64;
    let low = b.rate * tick_s < small || (b.burst as f64) < small;
    // A rate of 0 never refills: the cell counts the burst down instead.
    let fits = b.rate == 0.0 || b.burst as f64 * 1e9 / b.rate < HORIZON_NS;
    low && fits
}

/// One token bucket as GCRA: `tat` is when the bucket would be full again,
/// on the monotonic clock in nanoseconds. A call at `now` is admitted when, after
/// spending its token, the bucket is still no more than `burst` tokens in
/// debt to the future: `max(tat, now) + emission <= now + limit`.
#[derive(Debug)]
struct Gcra {
    tat: AtomicU64,
    /// Nanoseconds to refill one token (1 for a rate of 0, whose time stands still).
    emission: u64,
    /// `burst × emission`.
    limit: u64,
    /// A rate of 0: the bucket never refills, so `tat` counts tokens spent.
    frozen: bool,
}

impl Gcra {
    fn new(rate: f64, burst: u64) -> Gcra {
        let frozen = rate == 0.0;
        let emission = if frozen {
            1
        } else {
            ((1e9 / rate).round() as u64).max(1)
        };
        Gcra {
            tat: AtomicU64::new(0),
            emission,
            limit: burst.saturating_mul(emission),
            frozen,
        }
    }

    /// Spends a token at `now`, or says how many nanoseconds until one is
    /// there (`None`: never).
    fn take(&self, now: u64) -> Result<(), Option<u64>> {
        let now = if self.frozen { 0 } else { now };
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now) + self.emission;
            if next > now + self.limit {
                if self.frozen || self.limit < self.emission {
                    return Err(None);
                }
                return Err(Some(next - self.limit - now));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Undoes a `take` of this call (another bucket refused it).
    fn give_back(&self) {
        self.tat.fetch_sub(self.emission, Ordering::Relaxed);
    }
}

/// The shared cells of one catalog, indexed by bucket (leased buckets have
/// none). Made by the reconciler with the catalog and handed to every
/// worker, so all spend from the same cells.
#[derive(Debug)]
pub struct Cells {
    cells: Box<[Option<Gcra>]>,
}

impl Cells {
    /// Full buckets for those of `buckets` that `shared` picks.
    pub fn new<'a>(
        buckets: impl IntoIterator<Item = &'a BucketSpec>,
        shared: impl Fn(&BucketSpec) -> bool,
    ) -> Cells {
        Cells {
            cells: buckets
                .into_iter()
                .map(|b| shared(b).then(|| Gcra::new(b.rate, b.burst)))
                .collect(),
        }
    }

    pub fn is_shared(&self, id: BucketId) -> bool {
        matches!(self.cells.get(id as usize), Some(Some(_)))
    }

    pub fn any(&self) -> bool {
        self.cells.iter().any(Option::is_some)
    }

    /// Spends a token of bucket `id` at `now` (see [`monotonic_ns`]), or
    /// refuses with the seconds until one is there: the Retry-After.
    pub fn take(&self, id: BucketId, now: u64) -> Result<(), u32> {
        match &self.cells[id as usize] {
            Some(cell) => cell.take(now).map_err(retry_after),
            None => Err(RETRY_NEVER),
        }
    }

    pub fn give_back(&self, id: BucketId) {
        if let Some(cell) = &self.cells[id as usize] {
            cell.give_back();
        }
    }
}

/// The monotonic clock (`CLOCK_MONOTONIC`, as `Instant`) in nanoseconds:
/// the cells' time. Read directly, as `Instant`'s arithmetic would cost as
/// much again as the admission itself.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The longest Retry-After, also for a bucket that never refills.
pub const RETRY_NEVER: u32 = 3600;

fn retry_after(wait_ns: Option<u64>) -> u32 {
    wait_ns.map_or(RETRY_NEVER, |ns| {
        ns.div_ceil(1_000_000_000).clamp(1, RETRY_NEVER as u64) as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::Level;

    fn spec(rate: f64, burst: u64) -> BucketSpec {
        BucketSpec {
            level: Level::Route,
            what: "route".into(),
            rate,
            burst,
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn small_limits_are_shared_large_ones_leased() {
        let tick = 0.01;
        assert!(is_shared(&spec(1.0, 1), 2, tick));
        assert!(is_shared(&spec(10.0, 20), 64, tick));
        // 200 rps on 2 workers: one token per worker per tick.
        assert!(is_shared(&spec(200.0, 10), 2, tick));
        // 10 tokens a worker a tick, 50 of burst: leased (tests/throttle.rs
        // measures its accuracy).
        assert!(!is_shared(&spec(2000.0, 100), 2, tick));
        // AWS's account default on 2 workers: 50 tokens a tick, 2,500 of burst each.
        assert!(!is_shared(&spec(10_000.0, 5_000), 2, tick));
        // A fast bucket with a tiny burst: leases could never move its refill.
        assert!(is_shared(&spec(1e6, 4), 2, tick));
        // Never refilling from empty within the horizon: leased.
        assert!(!is_shared(&spec(1e-9, 10), 2, tick));
        assert!(is_shared(&spec(0.0, 3), 2, tick));
    }

    #[test]
    fn a_cell_is_a_token_bucket_with_its_retry_after() {
        let cells = Cells::new(&[spec(1.0, 2), spec(0.0, 1), spec(5.0, 0)], |_| true);
        assert_eq!(cells.take(0, 10 * S), Ok(()));
        assert_eq!(cells.take(0, 10 * S), Ok(()));
        // Empty: the next token is a second away.
        assert_eq!(cells.take(0, 10 * S), Err(1));
        assert_eq!(cells.take(0, 11 * S - 1), Err(1));
        assert_eq!(cells.take(0, 11 * S), Ok(()));
        // A rate of 0 spends its burst once.
        assert_eq!(cells.take(1, 0), Ok(()));
        assert_eq!(cells.take(1, 100 * S), Err(RETRY_NEVER));
        // A burst of 0 admits nothing.
        assert_eq!(cells.take(2, 100 * S), Err(RETRY_NEVER));
    }

    #[test]
    fn a_token_given_back_is_there_again() {
        let cells = Cells::new(&[spec(0.5, 1)], |_| true);
        assert_eq!(cells.take(0, S), Ok(()));
        cells.give_back(0);
        assert_eq!(cells.take(0, S), Ok(()));
        assert_eq!(cells.take(0, S), Err(2), "two seconds a token");
    }
}
