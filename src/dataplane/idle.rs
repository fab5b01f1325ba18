//! The worker's reusable connections, in nginx's sense: those waiting for
//! the first byte of their next request, or lingering after their last
//! answer. When the worker is at its connection cap, the one reusable for
//! longest is closed to admit a newcomer; a connection mid-request is never
//! taken. A quiet connection (`serve.rs`) is also closed here when its
//! wait is over: its deadline is on the worker's timing wheel, not a timer
//! of its own. An intrusive doubly-linked list over a slab indexed by each
//! connection's slot, oldest first: parking, unparking and evicting are
//! O(1) and, the list being the worker's own, need no lock.

use std::cell::RefCell;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::wheel::Wheel;

const NIL: u32 = u32::MAX;

/// The precision of a quiet connection's deadline: it closes within a
/// tick after it (the worker expires the wheel once a tick).
pub const TICK: Duration = Duration::from_millis(10);

/// A turn of the wheel, 41 s: a keep-alive wait (75 s by default) waits
/// in its slot for a turn or two, a few checks in all.
const SLOTS: usize = 4096;

struct Node {
    prev: u32,
    next: u32,
    parked: bool,
    /// Chosen to make room, or its deadline passed; the connection closes
    /// when it next looks.
    evicted: bool,
    waker: Option<Waker>,
}

struct List {
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Parked longest.
    oldest: Option<u32>,
    newest: Option<u32>,
    /// Deadlines of parked connections, in ticks since `origin`.
    wheel: Wheel,
    origin: Instant,
    /// Reused by `expire`.
    expired: Vec<u32>,
}

pub struct Idle(RefCell<List>);

impl Default for Idle {
    fn default() -> Idle {
        Idle(RefCell::new(List {
            nodes: Vec::new(),
            free: Vec::new(),
            oldest: None,
            newest: None,
            wheel: Wheel::new(SLOTS),
            origin: Instant::now(),
            expired: Vec::new(),
        }))
    }
}

impl Idle {
    /// A node for a new connection, held until `release`.
    pub fn register(&self) -> u32 {
        let l = &mut *self.0.borrow_mut();
        let node = Node {
            prev: NIL,
            next: NIL,
            parked: false,
            evicted: false,
            waker: None,
        };
        match l.free.pop() {
            Some(i) => {
                l.nodes[i as usize] = node;
                i
            }
            None => {
                l.nodes.push(node);
                (l.nodes.len() - 1) as u32
            }
        }
    }

    pub fn release(&self, i: u32) {
        let l = &mut *self.0.borrow_mut();
        l.unlink(i);
        l.nodes[i as usize].waker = None;
        l.free.push(i);
    }

    /// The connection became reusable: it goes to the back of the queue.
    pub fn park(&self, i: u32) {
        let l = &mut *self.0.borrow_mut();
        l.unlink(i);
        let prev = l.newest.unwrap_or(NIL);
        let n = &mut l.nodes[i as usize];
        (n.prev, n.next, n.parked) = (prev, NIL, true);
        match l.newest {
            Some(p) => l.nodes[p as usize].next = i,
            None => l.oldest = Some(i),
        }
        l.newest = Some(i);
    }

    /// The connection is busy again (a request began): not to be taken.
    /// `false` if it was taken meanwhile: then it must close.
    pub fn unpark(&self, i: u32) -> bool {
        let l = &mut *self.0.borrow_mut();
        l.unlink(i);
        !l.nodes[i as usize].evicted
    }

    /// Closes the connection reusable for longest, if any; `false` when
    /// every connection is mid-request.
    pub fn evict_oldest(&self) -> bool {
        let l = &mut *self.0.borrow_mut();
        let Some(i) = l.oldest else {
            return false;
        };
        l.evict(i);
        true
    }

    /// Parked connection `i` is closed at `at` (within a [`TICK`] after it),
    /// unless it is unparked first.
    pub fn close_at(&self, i: u32, at: Instant) {
        let l = &mut *self.0.borrow_mut();
        debug_assert!(
            l.nodes[i as usize].parked,
            "only a parked connection has a deadline"
        );
        let due = at
            .saturating_duration_since(l.origin)
            .as_nanos()
            .div_ceil(TICK.as_nanos());
        l.wheel.arm(i, due as u64);
    }

    /// Closes the parked connections whose deadline has passed by `now`.
    pub fn expire(&self, now: Instant) {
        let l = &mut *self.0.borrow_mut();
        let tick = now.saturating_duration_since(l.origin).as_nanos() / TICK.as_nanos();
        let mut expired = std::mem::take(&mut l.expired);
        l.wheel.advance(tick as u64, &mut expired);
        for i in expired.drain(..) {
            l.evict(i);
        }
        l.expired = expired;
    }

    /// Resolves once connection `i` has been evicted.
    pub async fn evicted(&self, i: u32) {
        poll_fn(|cx| {
            let n = &mut self.0.borrow_mut().nodes[i as usize];
            if n.evicted {
                return Poll::Ready(());
            }
            match &n.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => n.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    #[cfg(test)]
    fn parked(&self) -> Vec<u32> {
        let l = self.0.borrow();
        let mut out = Vec::new();
        let mut at = l.oldest;
        while let Some(i) = at {
            out.push(i);
            at = Some(l.nodes[i as usize].next).filter(|&n| n != NIL);
        }
        out
    }
}

impl List {
    fn evict(&mut self, i: u32) {
        self.unlink(i);
        let n = &mut self.nodes[i as usize];
        n.evicted = true;
        if let Some(w) = n.waker.take() {
            w.wake();
        }
    }

    /// Out of the list, and without a deadline: one applies to one wait.
    fn unlink(&mut self, i: u32) {
        self.wheel.disarm(i);
        let n = &mut self.nodes[i as usize];
        if !n.parked {
            return;
        }
        let (prev, next) = (n.prev, n.next);
        (n.prev, n.next, n.parked) = (NIL, NIL, false);
        match prev {
            NIL => self.oldest = Some(next).filter(|&x| x != NIL),
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => self.newest = Some(prev).filter(|&x| x != NIL),
            x => self.nodes[x as usize].prev = prev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_longest_parked_first_and_never_a_busy_one() {
        let idle = Idle::default();
        let [a, b, c] = [idle.register(), idle.register(), idle.register()];
        idle.park(a);
        idle.park(b);
        idle.park(c);
        // `a` took a request and is reusable again: now the newest.
        assert!(idle.unpark(a));
        idle.park(a);
        assert_eq!(idle.parked(), [b, c, a]);
        idle.unpark(c);
        assert!(idle.evict_oldest());
        assert_eq!(idle.parked(), [a]);
        assert!(
            !idle.unpark(b),
            "an evicted connection learns it must close"
        );
        assert!(idle.evict_oldest());
        // `c` is mid-request: nothing left to take.
        assert!(!idle.evict_oldest());
        assert!(!idle.0.borrow().nodes[c as usize].evicted);
    }

    #[test]
    fn a_parked_connection_closes_at_its_deadline_unless_it_wakes_first() {
        let idle = Idle::default();
        let [a, b] = [idle.register(), idle.register()];
        let evicted = |i: u32| idle.0.borrow().nodes[i as usize].evicted;
        idle.park(a);
        idle.park(b);
        let start = idle.0.borrow().origin;
        idle.close_at(a, start + TICK * 3);
        idle.close_at(b, start + TICK * 3);
        // `b`'s request came: its deadline went with its wait.
        assert!(idle.unpark(b));
        idle.expire(start + TICK * 2);
        assert!(!evicted(a));
        idle.expire(start + TICK * 3);
        assert!(evicted(a));
        assert_eq!(idle.parked(), Vec::<u32>::new());
        idle.park(b);
        idle.expire(start + TICK * 10);
        assert!(!evicted(b));
        assert_eq!(idle.parked(), [b]);
    }

    #[test]
    fn released_nodes_are_reused_fresh() {
        let idle = Idle::default();
        let a = idle.register();
        idle.park(a);
        assert!(idle.evict_oldest());
        idle.release(a);
        let b = idle.register();
        assert_eq!(a, b);
        assert!(!idle.0.borrow().nodes[b as usize].evicted);
        idle.park(b);
        idle.release(b);
        assert_eq!(idle.parked(), Vec::<u32>::new());
    }
}
