//! The central side of one token bucket: the reconciler's account of how
//! many tokens each worker holds, and how the bucket's refill is leased out.
//!
//! Tokens only come into existence here (refill at `rate`, capped so that
//! what is pooled plus what workers may still hold never exceeds `burst`),
//! and a worker can only spend tokens it was granted. So however the
//! grants are spread, the bucket never admits more than `burst + rate × t`:
//! exact in aggregate, with no sharing on the hot path.

use super::holders::Holders;
use super::waiting::Waiting;

/// What the reconciler tells one worker about one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Add this many tokens to the local balance.
    Grant(u64),
    /// Hand back everything above this many tokens (the worker is idle
    /// while another is short).
    Reclaim { keep: u64 },
    /// A quota is used up for this period, or Redis could not give a fleet
    /// bucket what its node asked for: refuse at once, don't wait for a lease.
    Exhausted,
    /// A fleet bucket that was `Exhausted` may get tokens again: an empty
    /// balance holds the call a few ticks before refusing it.
    Flowing,
}

/// What a fleet node asks Redis for beyond what it holds, in units of
/// recent demand (about two ticks of calls each): eight ticks.
pub const AHEAD: f64 = 4.0;

/// One bucket's books as a fleet node reports them to Redis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetBooks {
    pub demand: f64,
    pub want: u64,
    /// Held (pooled or leased to workers) beyond what a tick of the
    /// node's demand spends.
    pub held: u64,
    pub returned: u64,
    /// Spent in Redis per call ([`Lease::exact`]): Redis grants what it
    /// has of `want`, first come first served, and never splits it.
    pub exact: bool,
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
    /// A small fleet bucket's waiting calls ([`Lease::exact`]).
    waiting: Option<Waiting>,
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
            waiting: None,
        }
    }

    /// A fleet bucket too small to lease ahead (see `throttle::waiting`):
    /// its tokens are asked for the calls waiting, and go to them.
    pub fn exact(mut self) -> Lease {
        self.waiting = Some(Waiting::new(self.holders.len()));
        self
    }

    /// A worker's report since its last one.
    pub fn report(&mut self, worker: usize, spent: u64, refused: u64, returned: u64) {
        self.holders.wanted(worker, spent, refused);
        self.holders.settle(worker, spent, returned);
        self.pool += returned as f64;
        if let Some(w) = &mut self.waiting {
            w.refused(worker, refused);
        }
    }

    /// Refills for `dt_s` seconds and decides what each worker gets: a
    /// share of all tokens in proportion to its demand (at least the
    /// reserve), or an even share when nobody wants any.
    pub fn tick(&mut self, dt_s: f64, order: impl FnMut(usize, Order)) {
        self.tick_share(dt_s, 1.0, order);
    }

    /// [`Lease::tick`] for `share` of the bucket: refills at `rate × share`
    /// up to `burst × share`. A fleet node with Redis out of reach spends
    /// its recent share of the cluster's limit this way (`local_share`).
    pub fn tick_share(&mut self, dt_s: f64, share: f64, order: impl FnMut(usize, Order)) {
        let share = share.clamp(0.0, 1.0);
        let held = self.holders.held();
        let room = (self.burst * share - held as f64).max(0.0);
        self.pool = (self.pool + self.rate * share * dt_s).min(room);
        self.share_out(true, order);
    }

    /// Tokens granted to this node by the fleet's Redis, to lease to its workers.
    /// How many workers it leases to.
    pub fn workers(&self) -> usize {
        self.holders.len()
    }

    pub fn supply(&mut self, tokens: u64) {
        self.pool += tokens as f64;
        if let Some(w) = &mut self.waiting {
            w.answered();
        }
    }

    /// A fleet node's tick: no local refill (tokens come from [`Lease::supply`]);
    /// the pool goes to the workers that want it, and stays pooled while
    /// nobody does, to be handed back to the fleet ([`Lease::fleet_books`]).
    pub fn tick_fleet(&mut self, mut order: impl FnMut(usize, Order)) {
        let Some(waiting) = &mut self.waiting else {
            return self.share_out(false, order);
        };
        let holders = &mut self.holders;
        waiting.serve(&mut self.pool, |w, n| holders.grant(w, n, &mut order));
        for i in 0..holders.len() {
            holders.reclaim_idle(i, &mut order);
        }
        holders.end_tick();
    }

    /// What this node tells the fleet about the bucket, once a tick: its
    /// recent demand, how many more tokens it wants, how many it holds
    /// (pooled or leased to workers) and how many it hands back now. An
    /// idle node hands its whole pool back, so others are not starved.
    pub fn fleet_books(&mut self) -> FleetBooks {
        self.fleet_books_ahead(AHEAD)
    }

    /// The books, asking for `ahead` × recent demand (about twice as many
    /// ticks of calls) beyond what is held.
    pub fn fleet_books_ahead(&mut self, ahead: f64) -> FleetBooks {
        let demand = self.holders.total_demand();
        let returned = if demand == 0.0 {
            self.pool.floor()
        } else {
            0.0
        };
        self.pool -= returned;
        if let Some(waiting) = &mut self.waiting {
            // The pool has served every waiting call: what is left (handed
            // back by workers) went back to Redis above, once idle.
            let unspent = self.holders.unspent().saturating_sub(waiting.fresh());
            return FleetBooks {
                demand,
                want: waiting.ask(),
                held: (self.pool + unspent as f64).ceil() as u64,
                returned: returned as u64,
                exact: true,
            };
        }
        // Workers refusing calls spend tokens the moment they get them,
        // though their reports of it lag: counting those as held would keep
        // Redis from refilling under overload.
        let held = (self.pool + self.holders.unspent() as f64).ceil();
        // Recent demand halves every tick, so it is about two ticks of
        // calls: ask for `ahead` of them beyond what is held. A flood must
        // drain the cluster's bucket at once, as it would drain one
        // bucket: a full bucket left in Redis stops refilling.
        let want = ((demand * ahead).ceil() - held).max(0.0);
        // Redis caps its balance so that it and what every node reports
        // held stay within the burst. Tokens this node's calls spend
        // within the next tick are no reserve for a later burst: counted
        // as held, they stopped the refill of a small bucket under load
        // (a flooded node's grants, their spending reported a tick or two
        // late on a busy machine, filled the burst: 0.7 of the limit
        // admitted). What the node could still hold after a tick of its
        // demand is reported.
        let spare = (held - demand / 2.0).max(0.0).ceil();
        FleetBooks {
            demand,
            want: want as u64,
            held: spare as u64,
            returned: returned as u64,
            exact: false,
        }
    }

    /// Starts with no tokens: a fleet node's come from Redis.
    pub fn emptied(mut self) -> Lease {
        self.pool = 0.0;
        self
    }

    fn share_out(&mut self, split_when_idle: bool, mut order: impl FnMut(usize, Order)) {
        let held = self.holders.held();
        let total_demand = self.holders.total_demand();
        if total_demand == 0.0 && !split_when_idle {
            // An idle fleet node: what its workers hold comes back to the
            // pool, and from there to Redis, for busier nodes.
            for i in 0..self.holders.len() {
                self.holders.reclaim_idle(i, &mut order);
            }
            return;
        }
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
            Order::Exhausted | Order::Flowing => {}
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
        (0..ticks)
            .map(|t| step(lease, &mut sims, |i| calls(i, t), |l, o| l.tick(tick_s, o)))
            .collect()
    }

    /// One tick: `calls(i)` calls arrive at worker i, every worker
    /// reports, then `lease_out` runs and its orders reach the workers.
    /// Returns how many calls were admitted.
    fn step(
        lease: &mut Lease,
        sims: &mut [Sim],
        calls: impl Fn(usize) -> u64,
        lease_out: impl FnOnce(&mut Lease, &mut dyn FnMut(usize, Order)),
    ) -> u64 {
        let mut n = 0;
        for (i, s) in sims.iter_mut().enumerate() {
            for _ in 0..calls(i) {
                if s.balance > 0 {
                    s.balance -= 1;
                    s.spent += 1;
                    n += 1;
                } else {
                    s.refused += 1;
                }
            }
            lease.report(i, s.spent, s.refused, s.returned);
            (s.spent, s.refused, s.returned) = (0, 0, 0);
        }
        let mut orders = Vec::new();
        lease_out(lease, &mut |i, o| orders.push((i, o)));
        for (i, o) in orders {
            apply(&mut sims[i], o);
        }
        n
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

    /// A fleet node's side: Redis `supply`s tokens now and then, calls
    /// arrive, and each tick the node leases (`tick_fleet`) and reports
    /// (`fleet_books`). Returns (supplied, admitted, handed back, held at the end).
    fn run_fleet(workers: usize, ticks: &[(u64, Vec<u64>)]) -> (u64, u64, u64, u64) {
        let mut lease = Lease::new(100.0, 50, workers, 0.01).emptied();
        let mut sims = vec![Sim::default(); workers];
        let (mut supplied, mut admitted, mut back) = (0, 0, 0);
        for (supply, calls) in ticks {
            lease.supply(*supply);
            supplied += supply;
            let each = |i: usize| calls.get(i).copied().unwrap_or(0);
            admitted += step(&mut lease, &mut sims, each, |l, o| l.tick_fleet(o));
            back += lease.fleet_books().returned;
        }
        let held: u64 =
            sims.iter().map(|s| s.balance + s.returned).sum::<u64>() + lease.pool.round() as u64;
        (supplied, admitted, back, held)
    }

    proptest! {
        /// A fleet node creates no tokens: what Redis granted is admitted,
        /// handed back or still held, to the token.
        #[test]
        fn a_fleet_node_spends_only_what_redis_granted(
            workers in 1usize..4,
            ticks in proptest::collection::vec(
                (0u64..30, proptest::collection::vec(0u64..20, 0..4)),
                1..80,
            ),
        ) {
            let (supplied, admitted, back, held) = run_fleet(workers, &ticks);
            prop_assert_eq!(supplied, admitted + back + held);
        }
    }

    #[test]
    fn an_idle_fleet_node_hands_everything_back_and_reports_its_demand() {
        let mut lease = Lease::new(100.0, 50, 2, 0.01).emptied();
        let mut sims = vec![Sim::default(); 2];
        let tick = |lease: &mut Lease, sims: &mut Vec<Sim>| {
            step(lease, sims, |_| 0, |l, o| l.tick_fleet(o));
            lease.fleet_books()
        };
        // Busy: it wants more than it holds, and keeps what it has.
        sims[0].refused = 10;
        lease.supply(3);
        let busy = tick(&mut lease, &mut sims);
        assert!(busy.demand > 0.0 && busy.want > 0, "{busy:?}");
        // Granted after its worker refused: held until reported spent, less
        // what a tick of its demand (10 calls, halved at the tick's end:
        // 2.5) spends at once.
        assert_eq!(busy.demand, 5.0);
        assert_eq!((busy.held, busy.returned), (1, 0));
        assert_eq!(
            sims[0].balance, 3,
            "the worker with the demand has the tokens"
        );
        // Idle long enough for its demand to fade: the workers hand their
        // tokens to the node, the node to Redis.
        let mut back = 0;
        for _ in 0..30 {
            back += tick(&mut lease, &mut sims).returned;
        }
        let idle = lease.fleet_books();
        assert_eq!(idle.demand, 0.0);
        assert_eq!((back, idle.held, idle.want), (3, 0, 0));
    }

    #[test]
    fn a_small_fleet_bucket_asks_for_the_waiting_calls_and_gives_them_their_tokens() {
        let mut lease = Lease::new(10.0, 20, 3, 0.01).emptied().exact();
        let mut sims = vec![Sim::default(); 3];
        // Worker 2 holds two calls; nothing is asked for ahead of them.
        sims[2].refused = 2;
        step(&mut lease, &mut sims, |_| 0, |l, o| l.tick_fleet(o));
        let books = lease.fleet_books();
        assert_eq!((books.want, books.held, books.exact), (2, 0, true));
        // Redis grants both: they go to worker 2, and are not held (its
        // calls spend them at once).
        lease.supply(2);
        step(&mut lease, &mut sims, |_| 0, |l, o| l.tick_fleet(o));
        assert_eq!(
            sims.iter().map(|s| s.balance).collect::<Vec<_>>(),
            vec![0, 0, 2]
        );
        let books = lease.fleet_books();
        assert_eq!((books.want, books.held), (0, 0));
        // Spent: the next books ask for nothing and hold nothing.
        let admitted = step(
            &mut lease,
            &mut sims,
            |i| (i == 2) as u64 * 2,
            |l, o| l.tick_fleet(o),
        );
        assert_eq!(admitted, 2);
        let books = lease.fleet_books();
        assert_eq!((books.want, books.held, books.returned), (0, 0, 0));
    }

    #[test]
    fn local_share_refills_at_the_share_of_the_rate_and_burst() {
        let (rate, burst, tick) = (200.0, 50, 0.01);
        let mut lease = Lease::new(rate, burst, 1, tick).emptied();
        let mut sims = vec![Sim::default(); 1];
        let admitted: u64 = (0..500)
            .map(|_| {
                step(
                    &mut lease,
                    &mut sims,
                    |_| 10,
                    |l, o| l.tick_share(tick, 0.25, o),
                )
            })
            .sum();
        // 5 s at a quarter of 200/s, from empty.
        let expected = 0.25 * rate * 5.0;
        assert!(
            (admitted as f64 - expected).abs() <= expected * 0.02 + 2.0,
            "{admitted} vs {expected}"
        );
        assert!(lease.in_system() <= 0.25 * burst as f64 + 1e-9);
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
