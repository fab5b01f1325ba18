//! The stage response cache: one shard per worker per cached stage (no
//! sharing between cores), S3-FIFO eviction by bytes, AWS-style cache keys,
//! TTLs, invalidation by `Cache-Control: max-age=0`, flushes that reach
//! every shard, and coalescing of concurrent misses on a worker.

mod gate;
mod key;
mod shard;
mod stored;

pub use gate::Gate;
pub use key::build as build_key;
pub use shard::{Hit, Shard, ENTRY_OVERHEAD};
pub use stored::{storable, Storable, StorePolicy};

use std::rc::Rc;
use std::time::Duration;

use hashbrown::HashMap;

use crate::config::UnauthorizedStrategy;

/// A stage's cache settings, compiled.
pub struct StageCache {
    /// Unique among the snapshot's cached stages: the shard's name on a worker.
    pub id: usize,
    pub capacity: u64,
    pub statuses: Vec<u16>,
    pub max_item_bytes: usize,
    pub require_authorization: bool,
    pub unauthorized: UnauthorizedStrategy,
    pub coalesce_wait: Duration,
}

/// A cached route's settings, compiled.
pub struct RouteCache {
    pub ttl: u32,
    pub key_query: Vec<Box<[u8]>>,
    pub key_headers: Vec<Box<[u8]>>,
    pub allow_set_cookie: bool,
}

/// A worker's caches: its shard of each cached stage, created on first use,
/// and the fills in flight.
pub struct Caches {
    workers: usize,
    shards: HashMap<usize, Shard>,
    fills: HashMap<(usize, Box<[u8]>), Rc<Gate>>,
}

impl Caches {
    pub fn new(workers: usize) -> Caches {
        Caches {
            workers: workers.max(1),
            shards: HashMap::new(),
            fills: HashMap::new(),
        }
    }

    pub fn shard(&mut self, stage: &StageCache) -> &mut Shard {
        let per_worker = (stage.capacity / self.workers as u64) as usize;
        self.shards
            .entry(stage.id)
            .or_insert_with(|| Shard::new(per_worker))
    }

    /// The gate of a fill in flight for this key, or `None` after opening
    /// one (the caller is then the filler and must call `end_fill`).
    pub fn join_fill(&mut self, stage: usize, key: &[u8]) -> Option<Rc<Gate>> {
        if let Some(g) = self.fills.get(&(stage, Box::from(key))) {
            return Some(g.clone());
        }
        self.fills
            .insert((stage, key.into()), Rc::new(Gate::default()));
        None
    }

    pub fn end_fill(&mut self, stage: usize, key: &[u8]) {
        if let Some(g) = self.fills.remove(&(stage, Box::from(key))) {
            g.open();
        }
    }

    pub fn flush(&mut self, stage: usize) {
        if let Some(s) = self.shards.get_mut(&stage) {
            s.flush();
        }
    }
}

/// Whether the client's `Cache-Control` asks to bypass and refresh.
pub fn wants_refresh(cache_control: &[u8]) -> bool {
    crate::http::header_has_token(cache_control, b"max-age=0")
}
