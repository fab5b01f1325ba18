//! What one worker keeps between calls to authorizers: fetched key sets,
//! verified tokens, Lambda decisions. The `Shard` owns one; it is apart
//! from the authorizer types so that the shard can hold it without
//! depending on the code that fills it (which takes the shard).

use std::sync::Arc;
use std::time::Instant;

use hashbrown::HashMap;

use super::jwks::KeySet;
use super::lambda_authorizer::Results;
use super::verified::Verified;

/// What one worker keeps between calls: fetched keys, Lambda decisions.
#[derive(Default)]
pub struct WorkerAuth {
    pub jwks: JwksCache,
    pub verified: Verified,
    pub results: Results,
}

/// One worker's sets, by URL, each with when it was fetched.
#[derive(Default)]
pub struct JwksCache {
    sets: HashMap<String, (Arc<KeySet>, Instant)>,
}

impl JwksCache {
    /// The set this worker has for `url`, and when it was fetched.
    pub fn get(&self, url: &str) -> Option<(Arc<KeySet>, Instant)> {
        self.sets.get(url).cloned()
    }

    pub fn insert(&mut self, url: String, set: Arc<KeySet>, at: Instant) {
        self.sets.insert(url, (set, at));
    }
}
