//! Warnings about what is served, logged once each: the config is compiled
//! again on every management change and every DNS refresh, and a warning
//! repeated on each of them buries the one line that matters.

use std::collections::BTreeMap;
use std::sync::Mutex;

pub struct Warnings {
    /// What the warnings are about, as the log line starts.
    what: &'static str,
    /// Which warnings hold now, by key, with their last text.
    active: Mutex<BTreeMap<String, String>>,
}

impl Warnings {
    pub const fn new(what: &'static str) -> Warnings {
        Warnings {
            what,
            active: Mutex::new(BTreeMap::new()),
        }
    }

    /// `now` holds (key, text): each key not held before is logged as a
    /// warning, and each held before but gone now once as fixed.
    pub fn update(&self, now: impl IntoIterator<Item = (String, String)>) {
        let now: BTreeMap<String, String> = now.into_iter().collect();
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        for (key, text) in &now {
            if !active.contains_key(key) {
                crate::log!(warn, "{}: {text}", self.what);
            }
        }
        for (key, text) in active.iter() {
            if !now.contains_key(key) {
                crate::log!(info, "warning cleared: {}: {text}", self.what);
            }
        }
        *active = now;
    }
}
