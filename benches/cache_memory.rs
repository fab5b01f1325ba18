//! Memory an entry of the stage cache costs beyond its key and stored
//! response, measured with a counting allocator (issue target: ≤ 150 bytes).
//! Run: `cargo bench --bench cache_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use portico::cache::{Shard, ENTRY_OVERHEAD};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

const KEY: usize = 40;
const HEAD: usize = 120;
const BODY: usize = 200;

fn key(i: usize) -> Vec<u8> {
    let mut k = format!("{i:020}").into_bytes();
    k.resize(KEY, b'k');
    k
}

/// Bytes per entry beyond key + head + body, with `n` entries in a shard
/// of `capacity` bytes (evicting when it is full, so ghosts are counted).
fn overhead(n: usize, capacity: usize) -> (f64, usize) {
    let head = vec![b'h'; HEAD];
    let body = vec![b'b'; BODY];
    let before = LIVE.load(Ordering::Relaxed);
    let mut shard = Shard::new(capacity);
    for i in 0..n {
        shard.insert(&key(i), &head, &body, 0, 300);
    }
    let used = (LIVE.load(Ordering::Relaxed) - before) as f64;
    let entries = shard.len();
    let payload = (entries * (KEY + HEAD + BODY)) as f64;
    ((used - payload) / entries as f64, entries)
}

fn main() {
    let (no_evict, n1) = overhead(100_000, usize::MAX / 2);
    let per = KEY + HEAD + BODY + ENTRY_OVERHEAD;
    let (evicting, n2) = overhead(200_000, per * 50_000);
    println!("cache entry overhead beyond key + head + body (key {KEY} B, head {HEAD} B, body {BODY} B):");
    println!("  {no_evict:.1} bytes/entry with {n1} entries, nothing evicted");
    println!(
        "  {evicting:.1} bytes/entry with {n2} entries after evicting (ghost records included)"
    );
    println!("  charged against capacity: ENTRY_OVERHEAD = {ENTRY_OVERHEAD} bytes; target <= 150");
}
