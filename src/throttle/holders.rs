//! The reconciler's per-worker books for one limit, shared by token and
//! quota leases: what each worker may still hold, how much it wanted lately,
//! whether it refused calls since the last tick, and pending reclaims.

use super::lease::Order;

#[derive(Debug, Clone)]
pub struct Holders {
    /// Granted and not yet reported spent or returned: an upper bound of
    /// what the worker holds (reports lag spending).
    out: Vec<u64>,
    /// Recent demand (spent + refused), halving every tick.
    demand: Vec<f64>,
    /// Refused a call since the last tick.
    hungry: Vec<bool>,
    /// A reclaim was sent and not yet answered.
    reclaiming: Vec<bool>,
    /// Granted since the worker last reported a refused call: a worker
    /// that refused had spent everything granted before, however late its
    /// report of the spending comes.
    since_short: Vec<u64>,
}

impl Holders {
    pub fn new(workers: usize) -> Holders {
        let n = workers.max(1);
        Holders {
            out: vec![0; n],
            demand: vec![0.0; n],
            hungry: vec![false; n],
            reclaiming: vec![false; n],
            since_short: vec![0; n],
        }
    }

    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Calls a worker served or refused: its demand.
    pub fn wanted(&mut self, w: usize, spent: u64, refused: u64) {
        self.demand[w] += (spent + refused) as f64;
        if refused > 0 {
            self.hungry[w] = true;
            self.since_short[w] = 0;
        }
    }

    /// Units a worker spent or handed back: no longer held.
    pub fn settle(&mut self, w: usize, spent: u64, returned: u64) {
        self.out[w] = self.out[w].saturating_sub(spent + returned);
        if returned > 0 {
            self.reclaiming[w] = false;
        }
    }

    pub fn held(&self) -> u64 {
        self.out.iter().sum()
    }

    pub fn holds(&self, w: usize) -> u64 {
        self.out[w]
    }

    pub fn demand(&self, w: usize) -> f64 {
        self.demand[w]
    }

    pub fn total_demand(&self) -> f64 {
        self.demand.iter().sum()
    }

    /// Workers, those refusing calls first, then by demand: a short supply
    /// goes where calls are being refused.
    pub fn by_need(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| {
            (self.hungry[b], self.demand[b])
                .partial_cmp(&(self.hungry[a], self.demand[a]))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        order
    }

    pub fn grant(&mut self, w: usize, n: u64, order: &mut impl FnMut(usize, Order)) {
        self.out[w] += n;
        self.since_short[w] += n;
        order(w, Order::Grant(n));
    }

    /// Asks an idle worker to hand back what it holds above `keep`, when
    /// another worker is refusing calls and no reclaim is pending.
    pub fn reclaim_if_idle(&mut self, w: usize, keep: u64, order: &mut impl FnMut(usize, Order)) {
        let someone_short = self.hungry.iter().any(|&h| h);
        if someone_short
            && !self.hungry[w]
            && self.demand[w] < 1.0
            && self.out[w] > keep
            && !self.reclaiming[w]
        {
            self.reclaiming[w] = true;
            order(w, Order::Reclaim { keep });
        }
    }

    /// Asks an idle worker to hand back everything it holds (a fleet node
    /// with no demand at all). Asked again each tick until its report
    /// settles it: a worker that had spent it all hands back nothing, and
    /// a repeated ask costs one message.
    pub fn reclaim_idle(&mut self, w: usize, order: &mut impl FnMut(usize, Order)) {
        if self.demand[w] == 0.0 && self.out[w] > 0 {
            order(w, Order::Reclaim { keep: 0 });
        }
    }

    /// What the workers may still hold unspent: a tighter bound than
    /// [`Holders::held`] while they refuse calls.
    pub fn unspent(&self) -> u64 {
        self.out
            .iter()
            .zip(&self.since_short)
            .map(|(&o, &s)| o.min(s))
            .sum()
    }

    pub fn end_tick(&mut self) {
        for d in &mut self.demand {
            // Halving, and zero once negligible so an idle limit costs nothing.
            *d = if *d < 0.01 { 0.0 } else { *d * 0.5 };
        }
        self.hungry.fill(false);
    }

    /// A new quota period: every old lease is void.
    pub fn forget_leases(&mut self) {
        self.out.fill(0);
        self.since_short.fill(0);
        self.reclaiming.fill(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_refused_had_spent_what_it_was_granted_before() {
        let mut h = Holders::new(2);
        let mut orders = Vec::new();
        h.grant(0, 5, &mut |w, o| orders.push((w, o)));
        h.grant(1, 4, &mut |w, o| orders.push((w, o)));
        // Worker 0 refused a call; its spending of the 5 is not reported yet.
        h.wanted(0, 0, 1);
        assert_eq!((h.held(), h.unspent()), (9, 4));
        // What it is granted after that may still be unspent.
        h.grant(0, 2, &mut |w, o| orders.push((w, o)));
        assert_eq!((h.held(), h.unspent()), (11, 6));
        // The late report of the 5: the 2 may still be unspent.
        h.settle(0, 5, 0);
        assert_eq!((h.held(), h.unspent()), (6, 6));
    }
}
