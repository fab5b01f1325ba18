//! The worker's reusable connections, in nginx's sense: those waiting for
//! the first byte of their next request, or lingering after their last
//! answer. When the worker is at its connection cap, the one reusable for
//! longest is closed to admit a newcomer; a connection mid-request is never
//! taken. An intrusive doubly-linked list over a slab indexed by each
//! connection's slot, oldest first: parking, unparking and evicting are
//! O(1) and, the list being the worker's own, need no lock.

use std::cell::RefCell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

const NIL: u32 = u32::MAX;

struct Node {
    prev: u32,
    next: u32,
    parked: bool,
    /// Chosen to make room; the connection closes when it next looks.
    evicted: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct List {
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Parked longest.
    oldest: Option<u32>,
    newest: Option<u32>,
}

#[derive(Default)]
pub struct Idle(RefCell<List>);

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
        l.unlink(i);
        let n = &mut l.nodes[i as usize];
        n.evicted = true;
        if let Some(w) = n.waker.take() {
            w.wake();
        }
        true
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
    fn unlink(&mut self, i: u32) {
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
