//! Fetching a JWT authorizer's key set from its `jwks_uri`, on a worker:
//! this worker's set if it has the key, else the newest any worker
//! fetched, else a fetch, bounded as `jwks` describes. Apart from the key
//! material (`jwks`), which the snapshot holds, because it takes the
//! worker's shard and calls the upstream.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dataplane::shard::Shard;
use crate::snapshot::Snapshot;
use crate::upstream::call;

use super::jwks::{since_epoch_ms, JwksUrl, KeySet};

/// How long a fetched set is used before it is fetched again.
const KEEP_FOR: Duration = Duration::from_secs(3600);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a worker without any set looks for the one another worker is fetching.
const WAIT_STEP: Duration = Duration::from_millis(5);

impl JwksUrl {
    async fn fetch(&self, w: &Shard, snap: &Snapshot) -> Result<KeySet, String> {
        let mut request = format!(
            "GET {} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\n\r\n",
            self.path, self.endpoint.authority
        )
        .into_bytes();
        let reply = call(w, snap, &self.endpoint, &mut request, FETCH_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if reply.status != 200 {
            return Err(format!("answered {}", reply.status));
        }
        KeySet::parse(&reply.body)
    }
}

/// The set to verify `kid` with: this worker's if it has the key, else
/// the newest any worker fetched, else a fresh one if this authorizer
/// may fetch now. `None`: no set could be had.
pub async fn keys_for(
    w: &Shard,
    snap: &Snapshot,
    source: &JwksUrl,
    kid: Option<&str>,
) -> Option<Arc<KeySet>> {
    let now = Instant::now();
    let fresh = |at: Instant| now.saturating_duration_since(at) < KEEP_FOR;
    let mine = w.auth.borrow().jwks.get(&source.url);
    if let Some((set, at)) = &mine {
        if fresh(*at) && set.find(kid).is_some() {
            return Some(set.clone());
        }
    }
    // A miss: another worker may have fetched a newer set.
    let mut have = mine;
    if let Some((set, at)) = source.shared.newest() {
        if have.as_ref().is_none_or(|(_, mine_at)| at > *mine_at) {
            keep(w, source, &set, at);
            if fresh(at) && set.find(kid).is_some() {
                return Some(set);
            }
            have = Some((set, at));
        }
    }
    // A token without a kid names no key a new set could add.
    let worth_fetching = match &have {
        None => true,
        Some((_, at)) => !fresh(*at) || kid.is_some(),
    };
    if worth_fetching && source.shared.claim(now) {
        match source.fetch(w, snap).await {
            Ok(set) => {
                let set = Arc::new(set);
                let at = Instant::now();
                keep(w, source, &set, at);
                let first = source.shared.publish(&set, at);
                if first && kid.is_some() && set.find(kid).is_some() {
                    // An issuer's own token: its next rotation need not wait.
                    source.shared.last_fetch_ms.store(0, Ordering::Release);
                }
                return Some(set);
            }
            Err(e) => crate::log!(warn, worker = w.id, "JWKS {}: {e}", source.url),
        }
    } else if have.is_none() {
        // Another worker may be fetching the first set: wait while it can be.
        let until =
            source.shared.last_fetch_ms.load(Ordering::Acquire) + FETCH_TIMEOUT.as_millis() as u64;
        while since_epoch_ms(Instant::now()) < until {
            monoio::time::sleep(WAIT_STEP).await;
            if let Some((set, at)) = source.shared.newest() {
                keep(w, source, &set, at);
                return Some(set);
            }
        }
    }
    have.map(|(set, _)| set)
}

/// Keeps `set` as this worker's for `source`.
fn keep(w: &Shard, source: &JwksUrl, set: &Arc<KeySet>, at: Instant) {
    w.auth
        .borrow_mut()
        .jwks
        .insert(source.url.clone(), set.clone(), at);
}
