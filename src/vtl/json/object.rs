//! An object as both parsers build it: later duplicates win in the first
//! one's place (as Jackson), found by a scan while the object is small
//! (most are), by an index only once it is large enough for a hostile one
//! to make the scan quadratic.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::value::{Map, Value};

/// Objects up to this many keys look for a duplicate by a scan.
const SCAN_KEYS: usize = 16;

#[derive(Default)]
pub(super) struct Object {
    m: Map,
    index: Option<HashMap<Arc<str>, usize>>,
}

impl Object {
    pub(super) fn put(&mut self, k: Arc<str>, v: Value) {
        let m = &mut self.m;
        m.depth = m.depth.max(v.depth());
        let found = match &self.index {
            Some(ix) => ix.get(&k).copied(),
            None => m.entries.iter().position(|(ek, _)| *ek == k),
        };
        if let Some(i) = found {
            m.entries[i].1 = v;
            return;
        }
        if let Some(ix) = &mut self.index {
            ix.insert(k.clone(), m.entries.len());
        }
        m.entries.push((k, v));
        if self.index.is_none() && m.entries.len() > SCAN_KEYS {
            let ix = m.entries.iter().enumerate();
            self.index = Some(ix.map(|(i, (k, _))| (k.clone(), i)).collect());
        }
    }

    pub(super) fn finish(self) -> Value {
        Value::Map(Arc::new(self.m))
    }
}
