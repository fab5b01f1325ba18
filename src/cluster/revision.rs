//! The fleet's revision this node serves: the `{prefix}:rev` counter's
//! value as of the last snapshot the control thread published, shared
//! with the threads that report or compare it.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Revision(AtomicU64);

impl Revision {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn set(&self, revision: u64) {
        self.0.store(revision, Ordering::Release)
    }
}
