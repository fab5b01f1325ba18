//! The central side of one token bucket: the reconciler's account of how
//! many tokens each worker holds, and how the bucket's refill is leased out.
//!
//! Tokens only come into existence here (refill at `rate`, capped so that
//! what is pooled plus what workers may still hold never exceeds `burst`),
//! and a worker can only spend tokens it was granted. So however the
//! grants are spread, the bucket never admits more than `burst + rate × t`:
//! exact in aggregate, with no sharing on the hot path.

use super::holders::Holders;

/// What the reconciler tells one worker about one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Add this many tokens to the local balance.
    Grant(u64),
    /// Hand back everything above this many tokens (the worker is idle
    /// while another is short).
    Reclaim { keep: u64 },
    /// A quota is used up for this period: refuse at once, don't wait for a lease.
    Exhausted,
}

#[derive(Debug, Clone)]
pub struct Lease {
    rate: f64,
    burst: f64,
    /// Tokens not leased to any worker.
    pool: f64,
    holders: Holders,
    /// Tokens an idle worker keeps at hand.
    reserve: u64,
}

impl Lease {
    /// A full bucket; `tick_s` is the reconcile interval, which sets how many
    /// tokens an idle worker keeps at hand (about two ticks of its share).
    pub fn new(rate: f64, burst: u64, workers: usize, tick_s: f64) -> Lease {
        let n = workers.max(1);
        let per_worker_burst = burst / n as u64;
        let reserve =
            ((rate * tick_s * 2.0 / n as f64).ceil() as u64).clamp(1, per_worker_burst.max(1));
        Lease {
            rate: rate.max(0.0),
            burst: burst as f64,
            pool: burst as f64,
            holders: Holders::new(n),
            reserve: if burst == 0 { 0 } else { reserve },
        }
    }

    /// A worker's report since its last one.
    pub fn report(&mut self, worker: usize, spent: u64, refused: u64, returned: u64) {
        self.holders.wanted(worker, spent, refused);
        self.holders.settle(worker, spent, returned);
        self.pool += returned as f64;
    }

    /// Refills for `dt_s` seconds and decides what each worker gets: a
    /// share of all tokens in proportion to its demand (at least the
    /// reserve), or an even share when nobody wants any.
    pub fn tick(&mut self, dt_s: f64, mut order: impl FnMut(usize, Order)) {
        let held = self.holders.held();
        let room = (self.burst - held as f64).max(0.0);
        self.pool = (self.pool + self.rate * dt_s).min(room);
        let total_demand = self.holders.total_demand();
        if total_demand == 0.0 && self.pool < 1.0 {
            // Idle and already handed out: nothing to decide.
            return;
        }
        let in_system = self.pool + held as f64;
        let n = self.holders.len();
        for i in self.holders.by_need() {
            let target = if total_demand > 0.0 {
                (in_system * self.holders.demand(i) / total_demand).max(self.reserve as f64)
            } else {
                in_system / n as f64
            };
            let want = (target - self.holders.holds(i) as f64)
                .min(self.pool)
                .floor();
            if want >= 1.0 {
                self.pool -= want;
                self.holders.grant(i, want as u64, &mut order);
            } else {
                self.holders.reclaim_if_idle(i, self.reserve, &mut order);
            }
        }
        self.holders.end_tick();
    }

    /// Tokens pooled plus tokens workers may hold: never above `burst`.
    pub fn in_system(&self) -> f64 {
        self.pool + self.holders.held() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A worker's side, as `throttle::local` keeps it.
    #[derive(Default, Clone)]
    struct Sim {
        balance: u64,
        spent: u64,
        refused: u64,
        returned: u64,
    }

    fn apply(w: &mut Sim, o: Order) {
        match o {
            Order::Grant(g) => w.balance += g,
            Order::Reclaim { keep } => {
                let r = w.balance.saturating_sub(keep);
                w.balance -= r;
                w.returned += r;
            }
            Order::Exhausted => {}
        }
    }

    /// Runs `ticks` ticks of `tick_s`; `calls(worker, tick)` is how many calls
    /// arrive at that worker in that tick. Returns admitted per tick.
    fn run(
        lease: &mut Lease,
        workers: usize,
        ticks: usize,
        tick_s: f64,
        calls: impl Fn(usize, usize) -> u64,
    ) -> Vec<u64> {
        let mut sims = vec![Sim::default(); workers];
        // The initial leases, handed out before workers start.
        lease.tick(0.0, |i, o| apply(&mut sims[i], o));
        let mut admitted = Vec::new();
        for t in 0..ticks {
            let mut n = 0;
            for (i, s) in sims.iter_mut().enumerate() {
                for _ in 0..calls(i, t) {
                    if s.balance > 0 {
                        s.balance -= 1;
                        s.spent += 1;
                        n += 1;
                    } else {
                        s.refused += 1;
                    }
                }
                lease.report(i, s.spent, s.refused, s.returned);
                s.spent = 0;
                s.refused = 0;
                s.returned = 0;
            }
            admitted.push(n);
            let mut orders = Vec::new();
            lease.tick(tick_s, |i, o| orders.push((i, o)));
            for (i, o) in orders {
                apply(&mut sims[i], o);
            }
        }
        admitted
    }

    proptest! {
        /// Never more than burst + rate × t, whatever the load and spread.
        #[test]
        fn never_admits_more_than_rate_times_t_plus_burst(
            rate in 0.0f64..5000.0,
            burst in 0u64..2000,
            workers in 1usize..8,
            load in proptest::collection::vec(0u64..200, 1..64),
        ) {
            let tick = 0.01;
            let mut lease = Lease::new(rate, burst, workers, tick);
            let per_tick = run(&mut lease, workers, load.len(), tick, |i, t| load[(t + i * 7) % load.len()]);
            let mut total = 0u64;
            for (t, n) in per_tick.iter().enumerate() {
                total += n;
                // Calls in tick t spend tokens refilled over t ticks.
                let bound = burst as f64 + rate * tick * t as f64;
                prop_assert!(total as f64 <= bound + 1e-6, "tick {t}: {total} > {bound}");
            }
            prop_assert!(lease.in_system() <= burst as f64 + 1e-6);
        }
    }

    #[test]
    fn all_load_on_one_worker_gets_the_whole_rate() {
        let (rate, burst, tick) = (200.0, 10, 0.01);
        let mut lease = Lease::new(rate, burst, 4, tick);
        // 1000 ticks = 10 s, worker 2 offered far more than the limit.
        let admitted: u64 = run(
            &mut lease,
            4,
            1000,
            tick,
            |i, _| if i == 2 { 50 } else { 0 },
        )
        .iter()
        .sum();
        let expected = rate * 10.0 + burst as f64;
        assert!(
            (admitted as f64 - expected).abs() <= expected * 0.02,
            "{admitted} vs {expected}"
        );
    }

    #[test]
    fn spread_load_gets_the_whole_rate() {
        let mut lease = Lease::new(200.0, 10, 4, 0.01);
        let admitted: u64 = run(&mut lease, 4, 1000, 0.01, |i, t| ((i + t) % 3) as u64 * 5)
            .iter()
            .sum();
        assert!((admitted as f64 - 2010.0).abs() <= 40.0, "{admitted}");
    }

    #[test]
    fn a_burst_on_one_worker_is_whole_within_a_few_ticks() {
        let (burst, tick) = (100, 0.01);
        let mut lease = Lease::new(1.0, burst, 4, tick);
        let admitted = run(&mut lease, 4, 5, tick, |i, _| if i == 0 { 1000 } else { 0 });
        let total: u64 = admitted.iter().sum();
        assert!((95..=101).contains(&total), "{admitted:?}");
        assert!(
            admitted[0] >= 25,
            "a worker starts with its share at hand: {admitted:?}"
        );
    }

    #[test]
    fn zero_rate_and_burst_block_everything() {
        let mut lease = Lease::new(0.0, 0, 2, 0.01);
        let admitted: u64 = run(&mut lease, 2, 100, 0.01, |_, _| 10).iter().sum();
        assert_eq!(admitted, 0);
    }
}
