//! A hashed timing wheel: one deadline each for many keys (a worker's
//! connections, by slot), armed, disarmed and expired in O(1), in place of
//! a runtime timer per connection. monoio's timer is 640 bytes, cache
//! padding included, and it sat in every quiet connection's task, which is
//! most of what an idle connection costs (ARCHITECTURE.md, "Connection").
//!
//! Time is counted in ticks; the caller says what a tick is. A deadline
//! further away than the wheel's turn waits in its slot for the turns in
//! between, so any deadline fits; only its precision is the tick.

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    due: u64,
    armed: bool,
}

const UNARMED: Link = Link {
    prev: NIL,
    next: NIL,
    due: 0,
    armed: false,
};

pub struct Wheel {
    /// Each slot's first key: a doubly-linked list through `links`.
    heads: Box<[u32]>,
    /// By key.
    links: Vec<Link>,
    /// Every tick up to this one has expired.
    now: u64,
    armed: usize,
}

impl Wheel {
    /// `slots`: a power of two; a turn of the wheel is that many ticks.
    pub fn new(slots: usize) -> Wheel {
        assert!(
            slots.is_power_of_two(),
            "a wheel's slots are a power of two"
        );
        Wheel {
            heads: vec![NIL; slots].into_boxed_slice(),
            links: Vec::new(),
            now: 0,
            armed: 0,
        }
    }

    /// The last tick expired.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Keys armed.
    pub fn len(&self) -> usize {
        self.armed
    }

    pub fn is_empty(&self) -> bool {
        self.armed == 0
    }

    /// `key` expires at tick `due`, replacing any deadline it had. A tick
    /// already expired means the next.
    pub fn arm(&mut self, key: u32, due: u64) {
        self.disarm(key);
        let i = key as usize;
        if self.links.len() <= i {
            self.links.resize(i + 1, UNARMED);
        }
        let due = due.max(self.now + 1);
        let slot = self.slot(due);
        let head = self.heads[slot];
        self.links[i] = Link {
            prev: NIL,
            next: head,
            due,
            armed: true,
        };
        if head != NIL {
            self.links[head as usize].prev = key;
        }
        self.heads[slot] = key;
        self.armed += 1;
    }

    /// `key` no longer expires; `false` if it was not armed.
    pub fn disarm(&mut self, key: u32) -> bool {
        let Some(&link) = self.links.get(key as usize) else {
            return false;
        };
        if !link.armed {
            return false;
        }
        match link.prev {
            NIL => {
                let slot = self.slot(link.due);
                self.heads[slot] = link.next;
            }
            p => self.links[p as usize].next = link.next,
        }
        if link.next != NIL {
            self.links[link.next as usize].prev = link.prev;
        }
        self.links[key as usize] = UNARMED;
        self.armed -= 1;
        true
    }

    /// Expires every tick up to `to`: the keys whose deadline has come are
    /// disarmed and pushed onto `expired`.
    pub fn advance(&mut self, to: u64, expired: &mut Vec<u32>) {
        if to <= self.now {
            return;
        }
        // After a long pause each slot is seen once: every key is in one.
        let ticks = (to - self.now).min(self.heads.len() as u64);
        for tick in self.now + 1..=self.now + ticks {
            let mut at = self.heads[self.slot(tick)];
            while at != NIL {
                let link = self.links[at as usize];
                if link.due <= to {
                    self.disarm(at);
                    expired.push(at);
                }
                at = link.next;
            }
        }
        self.now = to;
    }

    fn slot(&self, tick: u64) -> usize {
        (tick & (self.heads.len() as u64 - 1)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advance(w: &mut Wheel, to: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.advance(to, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn keys_expire_at_their_tick_and_not_before() {
        let mut w = Wheel::new(8);
        w.arm(1, 3);
        w.arm(2, 3);
        w.arm(3, 5);
        assert_eq!(advance(&mut w, 2), Vec::<u32>::new());
        assert_eq!(advance(&mut w, 3), [1, 2]);
        assert_eq!(w.len(), 1);
        assert_eq!(advance(&mut w, 4), Vec::<u32>::new());
        assert_eq!(advance(&mut w, 5), [3]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_deadline_beyond_a_turn_waits_for_its_turn() {
        let mut w = Wheel::new(4);
        // Same slot as tick 2, two turns later.
        w.arm(7, 10);
        w.arm(8, 2);
        assert_eq!(advance(&mut w, 2), [8]);
        assert_eq!(advance(&mut w, 9), Vec::<u32>::new());
        assert_eq!(advance(&mut w, 10), [7]);
    }

    #[test]
    fn a_long_pause_expires_everything_due_once() {
        let mut w = Wheel::new(4);
        for k in 0..10 {
            w.arm(k, u64::from(k) + 1);
        }
        w.arm(10, 100);
        assert_eq!(advance(&mut w, 50), (0..10).collect::<Vec<_>>());
        assert_eq!(w.len(), 1);
        assert_eq!(advance(&mut w, 100), [10]);
    }

    #[test]
    fn disarmed_and_rearmed_keys_expire_once_at_their_last_deadline() {
        let mut w = Wheel::new(8);
        w.arm(1, 2);
        w.arm(2, 2);
        w.arm(3, 2);
        // The middle, the head and a missing key of a slot's list.
        assert!(w.disarm(2));
        assert!(w.disarm(3));
        assert!(!w.disarm(3));
        assert!(!w.disarm(40));
        w.arm(1, 6);
        assert_eq!(advance(&mut w, 5), Vec::<u32>::new());
        assert_eq!(advance(&mut w, 6), [1]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_deadline_already_past_expires_at_the_next_tick() {
        let mut w = Wheel::new(8);
        advance(&mut w, 20);
        w.arm(4, 3);
        assert_eq!(advance(&mut w, 21), [4]);
    }
}
