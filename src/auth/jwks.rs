//! JSON Web Key Sets: the keys a JWT authorizer verifies signatures with.
//! A set from a file is read with the config; one from a URL is fetched on
//! first use, kept by each worker for an hour, and fetched again when a
//! token names a key the set does not have (the issuer rotated its keys).
//!
//! Anyone can make up a token naming an unknown key, so those fetches are
//! bounded per authorizer, not per kid, across all workers: at most one
//! per `REFETCH_EVERY`, claimed through one atomic timestamp in the
//! snapshot (`Shared`), touched only on a miss, never on a call whose key
//! the worker has. The newest set any worker fetched is shared too, so a
//! worker that misses takes it instead of fetching. The first fetch of a
//! set does not count when it had the key the token named (an issuer's
//! real token, so a rotation right after start still fetches at once).
//! Malformed, expired or foreign tokens are refused before any of this
//! (`JwtAuthorizer::precheck`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::DecodingKey;

use crate::dataplane::shard::Shard;
use crate::snapshot::Snapshot;
use crate::upstream::tls::TlsConfigFn;
use crate::upstream::{call, Endpoint, Resolve};

/// How long a fetched set is used before it is fetched again.
const KEEP_FOR: Duration = Duration::from_secs(3600);
/// Fewest milliseconds between two fetches a token made, per authorizer.
const REFETCH_EVERY_MS: u64 = 10_000;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a worker without any set looks for the one another worker is fetching.
const WAIT_STEP: Duration = Duration::from_millis(5);

pub struct KeySet {
    keys: Vec<(Option<String>, DecodingKey)>,
}

impl KeySet {
    /// Keys of a kind jsonwebtoken cannot use are skipped; a set with none is an error.
    pub fn parse(json: &[u8]) -> Result<KeySet, String> {
        #[derive(serde::Deserialize)]
        struct Raw {
            keys: Vec<serde_json::Value>,
        }
        let raw: Raw =
            serde_json::from_slice(json).map_err(|e| format!("not a JWKS document: {e}"))?;
        let keys: Vec<_> = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| {
                let key = DecodingKey::from_jwk(&jwk).ok()?;
                Some((jwk.common.key_id.clone(), key))
            })
            .collect();
        if keys.is_empty() {
            return Err("the JWKS holds no RSA, EC or symmetric key portico can use".into());
        }
        Ok(KeySet { keys })
    }

    /// The key a token's `kid` names; a token without one uses the only key.
    pub fn find(&self, kid: Option<&str>) -> Option<&DecodingKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, key)| key),
            None if self.keys.len() == 1 => Some(&self.keys[0].1),
            None => None,
        }
    }
}

/// Where a JWT authorizer's keys come from.
pub enum KeySource {
    File(KeySet),
    Url(JwksUrl),
}

pub struct JwksUrl {
    pub url: String,
    endpoint: Endpoint,
    path: String,
    shared: Shared,
}

/// What all workers share of one authorizer's set.
#[derive(Default)]
struct Shared {
    /// When a token last made a fetch: milliseconds since `epoch()`, 0 for never.
    last_fetch_ms: AtomicU64,
    /// The newest set any worker fetched, and when.
    newest: Mutex<Option<(Arc<KeySet>, Instant)>>,
}

impl Shared {
    /// Whether this caller may fetch now; if so, the window starts now.
    fn claim(&self, now: Instant) -> bool {
        let now_ms = since_epoch_ms(now);
        let last = self.last_fetch_ms.load(Ordering::Acquire);
        if last != 0 && now_ms < last + REFETCH_EVERY_MS {
            return false;
        }
        self.last_fetch_ms
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn newest(&self) -> Option<(Arc<KeySet>, Instant)> {
        self.newest.lock().ok()?.clone()
    }

    /// Publishes a fetched set; true if it is this authorizer's first.
    fn publish(&self, set: &Arc<KeySet>, at: Instant) -> bool {
        let Ok(mut newest) = self.newest.lock() else {
            return false;
        };
        let first = newest.is_none();
        *newest = Some((set.clone(), at));
        first
    }
}

/// Milliseconds since the first call, plus one (0 means never).
fn since_epoch_ms(now: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    now.saturating_duration_since(epoch).as_millis() as u64 + 1
}

impl JwksUrl {
    pub fn compile(
        url: &str,
        tls: TlsConfigFn<'_>,
        resolve: Resolve<'_>,
    ) -> Result<JwksUrl, String> {
        let (endpoint, path) =
            Endpoint::parse(url, tls, resolve).map_err(|e| format!("jwks_uri: {e}"))?;
        Ok(JwksUrl {
            url: url.to_string(),
            path: path.to_string(),
            endpoint,
            shared: Shared::default(),
        })
    }

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

/// One worker's sets, by URL, each with when it was fetched.
#[derive(Default)]
pub struct JwksCache {
    sets: HashMap<String, (Arc<KeySet>, Instant)>,
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
    let mine = w.auth.borrow().jwks.sets.get(&source.url).cloned();
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
        .sets
        .insert(source.url.clone(), (set.clone(), at));
}
