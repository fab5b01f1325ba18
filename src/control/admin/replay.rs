//! Refusing a state-changing signed call whose signature was already
//! accepted. AWS gets this from TLS (nobody sees a signature to replay it);
//! the admin listener speaks plain HTTP, so whoever sees one signed call
//! could otherwise repeat it for as long as the signature is valid.
//!
//! A signature covers its `X-Amz-Date` to the second, so a client that
//! makes the same call twice within one second (botocore does, for a
//! create expected to conflict) sends the same signature twice. A repeat
//! that arrives within a short grace of the first use is therefore
//! accepted; any later one is a replay.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::refusal::Refusal;
use crate::aws::sigv4::Verified;

/// How many signatures may be remembered at once: a few MB at most. A
/// client past it (over 100 state-changing calls a second, sustained) is
/// told to retry later rather than let a replay through.
pub const CAPACITY: usize = 100_000;

/// How often expired signatures are forgotten when under capacity.
const SWEEP_EVERY_SECS: i64 = 60;

/// A signature accepted and still valid.
struct Use {
    /// Unix seconds after which verification refuses it anyway.
    expires: i64,
    /// When the call that first used it arrived.
    first: Instant,
}

pub struct Seen {
    used: HashMap<[u8; 32], Use>,
    capacity: usize,
    grace: Duration,
    next_sweep: i64,
}

impl Seen {
    pub fn new(capacity: usize, grace: Duration) -> Seen {
        Seen {
            used: HashMap::new(),
            capacity,
            grace,
            next_sweep: 0,
        }
    }

    /// Admits a verified signature: its first use, or a repeat less than
    /// the grace after it (none when the grace is zero). `now`: Unix seconds; `arrived`: when this call's head was read.
    pub fn admit(&mut self, v: &Verified, now: i64, arrived: Instant) -> Result<(), Refusal> {
        if self.used.len() >= self.capacity || now >= self.next_sweep {
            self.used.retain(|_, u| u.expires >= now);
            self.next_sweep = now + SWEEP_EVERY_SECS;
        }
        if let Some(u) = self.used.get(&v.signature).filter(|u| u.expires >= now) {
            return if arrived.saturating_duration_since(u.first) < self.grace {
                Ok(())
            } else {
                Err(Refusal::Replayed)
            };
        }
        if self.used.len() >= self.capacity {
            return Err(Refusal::ReplayCacheFull);
        }
        self.used.insert(
            v.signature,
            Use {
                expires: v.expires,
                first: arrived,
            },
        );
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(n: u8, expires: i64) -> Verified {
        Verified {
            signature: [n; 32],
            expires,
        }
    }

    #[test]
    fn a_signature_is_admitted_once_while_valid() {
        let t0 = Instant::now();
        let mut s = Seen::new(10, Duration::ZERO);
        assert_eq!(s.admit(&sig(1, 1_000), 100, t0), Ok(()));
        assert_eq!(s.admit(&sig(1, 1_000), 999, t0), Err(Refusal::Replayed));
        assert_eq!(s.admit(&sig(2, 1_000), 999, t0), Ok(()));
        // Past their expiry signatures are forgotten at the next sweep
        // (verification refuses them anyway).
        assert_eq!(s.admit(&sig(3, 2_000), 1_001, t0), Ok(()));
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.admit(&sig(4, 2_000), 1_001 + SWEEP_EVERY_SECS, t0),
            Ok(())
        );
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn a_repeat_within_the_grace_is_admitted_a_later_one_refused() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(2);
        let mut s = Seen::new(10, grace);
        assert_eq!(s.admit(&sig(1, 1_000), 100, t0), Ok(()));
        let just_in = t0 + grace - Duration::from_millis(1);
        assert_eq!(s.admit(&sig(1, 1_000), 101, just_in), Ok(()));
        let late = t0 + grace;
        assert_eq!(s.admit(&sig(1, 1_000), 102, late), Err(Refusal::Replayed));
        // The grace runs from the first use, not the latest.
        assert_eq!(s.admit(&sig(1, 1_000), 102, late), Err(Refusal::Replayed));
    }

    #[test]
    fn memory_is_bounded_and_a_full_set_refuses() {
        let t0 = Instant::now();
        let mut s = Seen::new(3, Duration::ZERO);
        for n in 0..3 {
            assert_eq!(s.admit(&sig(n, 500 + i64::from(n)), 100, t0), Ok(()));
        }
        assert_eq!(
            s.admit(&sig(9, 900), 100, t0),
            Err(Refusal::ReplayCacheFull)
        );
        assert_eq!(s.len(), 3);
        // Expired entries make room.
        assert_eq!(s.admit(&sig(9, 900), 501, t0), Ok(()));
        assert_eq!(s.len(), 3);
        assert_eq!(s.admit(&sig(2, 502), 501, t0), Err(Refusal::Replayed));
    }
}
