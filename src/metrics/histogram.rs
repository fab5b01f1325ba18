//! A latency histogram with fixed log-linear buckets (1, 2.5, 5 per decade,
//! 100 µs to 10 s): the same bounds on every worker, so merging is adding,
//! and recording is a search over 16 numbers with no allocation.

/// Upper bounds in microseconds; a last, unbounded bucket follows.
pub const BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Per bucket (not cumulative), the last one for values above every bound.
    pub counts: [u64; BOUNDS_US.len() + 1],
    pub sum_us: u64,
}

impl Histogram {
    #[inline]
    pub fn record(&mut self, micros: u64) {
        let i = BOUNDS_US.partition_point(|&b| b < micros);
        self.counts[i] += 1;
        self.sum_us += micros;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }

    /// Cumulative counts per bound, as Prometheus's `le` buckets are.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<u64>, u64)> + '_ {
        let mut total = 0;
        self.counts.iter().enumerate().map(move |(i, c)| {
            total += c;
            (BOUNDS_US.get(i).copied(), total)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_bucket_whose_bound_is_not_below_them() {
        let mut h = Histogram::default();
        for v in [0, 100, 101, 10_000_000, 10_000_001] {
            h.record(v);
        }
        assert_eq!(h.counts[0], 2, "0 and 100 are <= 100");
        assert_eq!(h.counts[1], 1, "101 is <= 250");
        assert_eq!(h.counts[15], 1, "10 s is the last bound");
        assert_eq!(h.counts[16], 1, "above every bound");
        assert_eq!(h.sum_us, 20_000_202);
        let cum: Vec<_> = h.cumulative().collect();
        assert_eq!(cum[0], (Some(100), 2));
        assert_eq!(cum[16], (None, 5));
        let mut m = h.clone();
        m.merge(&h);
        assert_eq!(m.count(), 10);
        assert_eq!(m.sum_us, 2 * h.sum_us);
    }
}
