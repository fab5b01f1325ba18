//! A small fleet bucket's calls, spent in Redis one by one.
//!
//! A bucket whose refill is under a token a tick cannot be split between
//! nodes and workers without tokens sitting where no call needs them
//! (a 10 req/s key over 3 nodes measured 72 to 79 of one bucket's 80
//! leased that way). Such a bucket is never leased ahead: a worker holds a
//! call its empty balance cannot admit (`Refusal::Pending`), the
//! reconciler asks Redis for exactly the calls waiting, and hands what
//! Redis grants to the workers whose calls wait. Redis's balance is then
//! the only bucket, as on one node.

/// By worker: calls refused (waiting, or refused while Redis was dry)
/// not yet asked for, and those asked for whose answer has not come.
#[derive(Debug, Clone)]
pub struct Waiting {
    unasked: Vec<u64>,
    owed: Vec<u64>,
    /// Redis answered the last ask: what it granted is in the pool.
    answered: bool,
    /// Granted to waiting calls this tick: as good as spent.
    fresh: u64,
}

impl Waiting {
    pub fn new(workers: usize) -> Waiting {
        Waiting {
            unasked: vec![0; workers],
            owed: vec![0; workers],
            answered: false,
            fresh: 0,
        }
    }

    /// A worker's report: `calls` refused calls want a token each.
    pub fn refused(&mut self, w: usize, calls: u64) {
        self.unasked[w] += calls;
    }

    /// Redis's grant for the last ask has arrived.
    pub fn answered(&mut self) {
        self.answered = true;
    }

    /// Hands `pool` tokens to waiting calls: Redis's grant to the calls it
    /// was asked for (whatever it could not cover is refused: Redis said
    /// the fleet was dry), then tokens handed back by workers to calls not
    /// yet asked for. `give(w, n)` grants `n` to worker `w`.
    pub fn serve(&mut self, pool: &mut f64, mut give: impl FnMut(usize, u64)) {
        self.fresh = 0;
        if std::mem::take(&mut self.answered) {
            for w in 0..self.owed.len() {
                let n = std::mem::take(&mut self.owed[w]).min(pool.floor() as u64);
                self.hand(w, n, pool, &mut give);
            }
        }
        for w in 0..self.unasked.len() {
            let n = self.unasked[w].min(pool.floor() as u64);
            self.unasked[w] -= n;
            self.hand(w, n, pool, &mut give);
        }
    }

    fn hand(&mut self, w: usize, n: u64, pool: &mut f64, give: &mut impl FnMut(usize, u64)) {
        if n > 0 {
            *pool -= n as f64;
            self.fresh += n;
            give(w, n);
        }
    }

    /// The calls to ask Redis for now; from here on they are owed.
    pub fn ask(&mut self) -> u64 {
        let mut want = 0;
        for (u, o) in self.unasked.iter_mut().zip(&mut self.owed) {
            want += *u;
            *o += std::mem::take(u);
        }
        want
    }

    /// Tokens handed to waiting calls this tick.
    pub fn fresh(&self) -> u64 {
        self.fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_goes_to_the_workers_whose_calls_were_asked_for() {
        let mut w = Waiting::new(3);
        w.refused(0, 2);
        w.refused(2, 1);
        assert_eq!(w.ask(), 3);
        // Redis could cover two of the three.
        let mut pool = 2.0;
        w.answered();
        let mut given = Vec::new();
        w.serve(&mut pool, |w, n| given.push((w, n)));
        assert_eq!(given, vec![(0, 2)]);
        assert_eq!((pool, w.fresh()), (0.0, 2));
        // The uncovered call is not owed any more: it was refused as dry.
        w.answered();
        pool = 1.0;
        given.clear();
        w.serve(&mut pool, |w, n| given.push((w, n)));
        assert_eq!((given, pool), (vec![], 1.0));
    }

    #[test]
    fn tokens_handed_back_serve_calls_not_yet_asked_for() {
        let mut w = Waiting::new(2);
        w.refused(1, 3);
        let mut pool = 2.0;
        let mut given = Vec::new();
        w.serve(&mut pool, |w, n| given.push((w, n)));
        assert_eq!(given, vec![(1, 2)]);
        assert_eq!(w.ask(), 1, "only the call left is asked for");
    }
}
