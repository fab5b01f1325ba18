//! The revision of the management API's state this node serves, shared
//! between the thread that applies changes (it sets it) and the heartbeat
//! that reports it to the fleet (it reads it). One atomic word: neither
//! side ever waits on the other.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Revision(AtomicU64);

impl Revision {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, revision: u64) {
        self.0.store(revision, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_what_was_set() {
        let r = super::Revision::default();
        assert_eq!(r.get(), 0);
        r.set(42);
        assert_eq!(r.get(), 42);
    }
}
