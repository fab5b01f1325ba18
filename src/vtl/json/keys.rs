//! Object keys repeat from one element of an array to the next, so a parse
//! shares them through a small cache instead of allocating each again.

use std::sync::Arc;

/// Keys up to this long are shared; longer ones are rarely repeated.
const SHARED_KEY_LEN: usize = 32;
const KEY_SLOTS: usize = 32;

/// The keys this parse has allocated, in a direct-mapped cache: a lookup
/// is one comparison, and a miss replaces the slot, so hostile keys cost
/// no more than without it.
#[derive(Default)]
pub(super) struct Keys {
    slots: [Option<Arc<str>>; KEY_SLOTS],
}

impl Keys {
    pub(super) fn get(&mut self, s: &str) -> Arc<str> {
        let b = s.as_bytes();
        let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
            return Arc::from(s);
        };
        if b.len() > SHARED_KEY_LEN {
            return Arc::from(s);
        }
        let h = b
            .len()
            .wrapping_mul(31)
            .wrapping_add(usize::from(first).wrapping_mul(7))
            .wrapping_add(usize::from(last));
        let slot = &mut self.slots[h % KEY_SLOTS];
        match slot {
            Some(k) if **k == *s => k.clone(),
            _ => slot.insert(Arc::from(s)).clone(),
        }
    }
}
