//! One worker's share of a stage cache: entries bounded by bytes, evicted
//! by S3-FIFO (a small probationary queue, a main queue, and a ghost list of
//! recently evicted keys), which keeps one-hit wonders from a scan from
//! pushing out entries that are used again, unlike plain LRU.
//!
//! Entries live in a slab; the queues hold slab indices with a generation,
//! so an entry removed early (expired, replaced) leaves a stale queue slot
//! that eviction simply skips.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashSet, HashTable};

/// Bytes an entry costs beyond its key and stored response: the slab slot,
/// its index in the table and a queue, a ghost record when evicted, and
/// the allocator's rounding of its one allocation. Checked against the
/// layout in a test; the bench measures it with a counting allocator.
pub const ENTRY_OVERHEAD: usize = 112;

/// The small queue's share of the capacity, as S3-FIFO's paper suggests.
const SMALL_SHARE: f64 = 0.1;

impl Slot {
    fn key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }
}

#[derive(Debug)]
pub struct Slot {
    hash: u64,
    /// One allocation: the key, then the stored response (status line and
    /// headers, then the body).
    data: Box<[u8]>,
    key_len: u32,
    /// Where the body starts in `data`.
    body_at: u32,
    /// Unix milliseconds when stored, and when it stops being served.
    stored_at: u64,
    expires_at: u64,
    generation: u32,
    freq: u8,
    in_main: bool,
    live: bool,
}

/// A hit: the stored response and its age.
pub struct Hit<'a> {
    pub head: &'a [u8],
    pub body: &'a [u8],
    pub age: u64,
}

pub struct Shard {
    capacity: usize,
    used: usize,
    small_used: usize,
    slots: Vec<Slot>,
    free: Vec<u32>,
    table: HashTable<u32>,
    small: VecDeque<(u32, u32)>,
    main: VecDeque<(u32, u32)>,
    ghost: HashSet<u64>,
    ghost_order: VecDeque<u64>,
    hasher: DefaultHashBuilder,
}

impl Shard {
    pub fn new(capacity: usize) -> Shard {
        Shard {
            capacity,
            used: 0,
            small_used: 0,
            slots: Vec::new(),
            free: Vec::new(),
            table: HashTable::new(),
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: HashSet::new(),
            ghost_order: VecDeque::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    pub fn used(&self) -> usize {
        self.used
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.table
            .find(hash, |&i| {
                let s = &self.slots[i as usize];
                s.hash == hash && s.key() == key
            })
            .copied()
    }

    /// The entry for `key` if it is fresh at `now_ms` (Unix milliseconds);
    /// its age is in whole seconds.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<Hit<'_>> {
        let hash = self.hash(key);
        let i = self.find(hash, key)?;
        if self.slots[i as usize].expires_at <= now_ms {
            self.remove(i);
            return None;
        }
        let s = &mut self.slots[i as usize];
        s.freq = (s.freq + 1).min(3);
        let (head, body) = s.data[s.key_len as usize..].split_at((s.body_at - s.key_len) as usize);
        Some(Hit {
            head,
            body,
            age: now_ms.saturating_sub(s.stored_at) / 1000,
        })
    }

    /// Stores a response for `ttl` seconds from `now_ms`; `false` if it is
    /// larger than the whole shard.
    pub fn insert(&mut self, key: &[u8], head: &[u8], body: &[u8], now_ms: u64, ttl: u32) -> bool {
        let cost = key.len() + head.len() + body.len() + ENTRY_OVERHEAD;
        if cost > self.capacity {
            return false;
        }
        let hash = self.hash(key);
        if let Some(old) = self.find(hash, key) {
            self.remove(old);
        }
        let in_main = self.ghost.remove(&hash);
        let mut data = Vec::with_capacity(key.len() + head.len() + body.len());
        data.extend_from_slice(key);
        data.extend_from_slice(head);
        data.extend_from_slice(body);
        let slot = Slot {
            hash,
            data: data.into_boxed_slice(),
            key_len: key.len() as u32,
            body_at: (key.len() + head.len()) as u32,
            stored_at: now_ms,
            expires_at: now_ms + u64::from(ttl) * 1000,
            generation: 0,
            freq: 0,
            in_main,
            live: true,
        };
        let i = match self.free.pop() {
            Some(i) => {
                let generation = self.slots[i as usize].generation.wrapping_add(1);
                self.slots[i as usize] = Slot { generation, ..slot };
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let generation = self.slots[i as usize].generation;
        let slots = &self.slots;
        self.table
            .insert_unique(hash, i, |&j| slots[j as usize].hash);
        if in_main {
            self.main.push_back((i, generation));
        } else {
            self.small.push_back((i, generation));
            self.small_used += cost;
        }
        self.used += cost;
        while self.used > self.capacity {
            self.evict_one();
        }
        true
    }

    fn cost(s: &Slot) -> usize {
        s.data.len() + ENTRY_OVERHEAD
    }

    fn remove(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        if !s.live {
            return;
        }
        let cost = Self::cost(s);
        s.live = false;
        let (hash, in_main) = (s.hash, s.in_main);
        s.data = Box::default();
        self.used -= cost;
        if !in_main {
            self.small_used -= cost;
        }
        if let Ok(e) = self.table.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        self.free.push(i);
    }

    fn live(&self, (i, generation): (u32, u32)) -> bool {
        let s = &self.slots[i as usize];
        s.live && s.generation == generation
    }

    /// S3-FIFO: from the small queue, an entry used again moves to main and
    /// one never used is evicted (its hash remembered as a ghost); from main,
    /// a used entry gets another round with its count lowered.
    fn evict_one(&mut self) {
        let from_small = !self.small.is_empty()
            && (self.small_used as f64 >= self.capacity as f64 * SMALL_SHARE
                || self.main.is_empty());
        if from_small {
            let Some(at) = self.small.pop_front() else {
                return;
            };
            if !self.live(at) {
                return;
            }
            let s = &mut self.slots[at.0 as usize];
            if s.freq > 0 {
                s.freq = 0;
                s.in_main = true;
                self.small_used -= Self::cost(s);
                self.main.push_back(at);
            } else {
                let hash = s.hash;
                self.remove(at.0);
                self.remember(hash);
            }
        } else {
            let Some(at) = self.main.pop_front() else {
                return;
            };
            if !self.live(at) {
                return;
            }
            let s = &mut self.slots[at.0 as usize];
            if s.freq > 0 {
                s.freq -= 1;
                self.main.push_back(at);
            } else {
                self.remove(at.0);
            }
        }
    }

    /// Ghosts are bounded by the number of live entries.
    fn remember(&mut self, hash: u64) {
        if self.ghost.insert(hash) {
            self.ghost_order.push_back(hash);
        }
        while self.ghost_order.len() > self.table.len().max(16) {
            if let Some(old) = self.ghost_order.pop_front() {
                self.ghost.remove(&old);
            }
        }
    }

    pub fn flush(&mut self) {
        *self = Shard::new(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stores_serves_and_expires() {
        let mut s = Shard::new(10_000);
        // Times are Unix milliseconds, the TTL seconds.
        assert!(s.insert(b"k", b"HEAD", b"body", 100_000, 10));
        let hit = s.get(b"k", 105_500).expect("fresh");
        assert_eq!(
            (hit.head, hit.body, hit.age),
            (&b"HEAD"[..], &b"body"[..], 5)
        );
        assert!(s.get(b"k", 109_999).is_some(), "fresh until stored + ttl");
        assert!(s.get(b"k", 110_000).is_none(), "expired at stored + ttl");
        assert!(s.is_empty(), "an expired entry is dropped");
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn replacing_an_entry_keeps_one() {
        let mut s = Shard::new(10_000);
        s.insert(b"k", b"H", b"one", 0, 60);
        s.insert(b"k", b"H", b"two", 1, 60);
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(b"k", 2).unwrap().body, b"two");
    }

    #[test]
    fn too_large_for_the_shard_is_not_stored() {
        let mut s = Shard::new(200);
        assert!(!s.insert(b"k", b"", &[0u8; 300], 0, 60));
        assert!(s.is_empty());
    }

    #[test]
    fn a_scan_does_not_evict_entries_in_use() {
        let entry = 100 + ENTRY_OVERHEAD;
        let mut s = Shard::new(entry * 20);
        let hot: Vec<Vec<u8>> = (0..5).map(|i| format!("hot{i}").into_bytes()).collect();
        for k in &hot {
            s.insert(k, b"", &[0; 96], 0, 3600);
        }
        for _ in 0..3 {
            for k in &hot {
                assert!(s.get(k, 1).is_some());
            }
        }
        // A scan of 200 keys read once each.
        for i in 0..200 {
            s.insert(format!("scan{i}").as_bytes(), b"", &[0; 96], 1, 3600);
            for k in &hot {
                let _ = s.get(k, 1);
            }
        }
        for k in &hot {
            assert!(s.get(k, 2).is_some(), "hot key {k:?} survived the scan");
        }
    }

    #[test]
    fn flush_empties() {
        let mut s = Shard::new(10_000);
        s.insert(b"a", b"", b"x", 0, 60);
        s.flush();
        assert!(s.get(b"a", 1).is_none());
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn overhead_constant_covers_the_layout() {
        // Slot + table index (u32 and a control byte at 7/8 load) + queue
        // slot + ghost record (set slot and order slot); the rest of the
        // constant is left for the allocator's rounding of the one allocation.
        let per_entry = std::mem::size_of::<Slot>() + 6 + 8 + 18;
        assert!(
            per_entry <= ENTRY_OVERHEAD,
            "{per_entry} > {ENTRY_OVERHEAD}"
        );
    }

    proptest! {
        /// Under any churn of inserts, reads and sizes, the bytes held never
        /// exceed the capacity, and the count of bytes stays exact.
        #[test]
        fn capacity_bound_holds_under_churn(
            cap in 500usize..20_000,
            ops in proptest::collection::vec((0u16..300, 0usize..2000, any::<bool>()), 1..400),
        ) {
            let mut s = Shard::new(cap);
            for (t, (k, size, read)) in ops.into_iter().enumerate() {
                let key = k.to_be_bytes();
                if read {
                    let _ = s.get(&key, t as u64);
                } else {
                    s.insert(&key, b"H", &vec![1u8; size], t as u64, 50);
                }
                prop_assert!(s.used() <= cap);
                let counted: usize = s.slots.iter().filter(|x| x.live).map(Shard::cost).sum();
                prop_assert_eq!(counted, s.used());
                prop_assert_eq!(s.slots.iter().filter(|x| x.live).count(), s.len());
            }
        }
    }
}
