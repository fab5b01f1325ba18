//! JSON Web Key Sets: the keys a JWT authorizer verifies signatures with.
//! A set from a file is read with the config; one from a URL is fetched on
//! first use, kept by each worker for an hour, and fetched again when a
//! token names a key the set does not have (the issuer rotated its keys).
//! This file holds the key material and where it comes from, as the
//! snapshot holds it; fetching, on a worker, is `jwks_fetch`.
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
use std::time::Instant;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::DecodingKey;

use crate::upstream::tls::TlsConfigFn;
use crate::upstream::{Endpoint, Resolve};

/// Fewest milliseconds between two fetches a token made, per authorizer.
const REFETCH_EVERY_MS: u64 = 10_000;

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
    pub(super) endpoint: Endpoint,
    pub(super) path: String,
    pub(super) shared: Shared,
}

/// What all workers share of one authorizer's set.
#[derive(Default)]
pub(super) struct Shared {
    /// When a token last made a fetch: milliseconds since `epoch()`, 0 for never.
    pub(super) last_fetch_ms: AtomicU64,
    /// The newest set any worker fetched, and when.
    newest: Mutex<Option<(Arc<KeySet>, Instant)>>,
}

impl Shared {
    /// Whether this caller may fetch now; if so, the window starts now.
    pub(super) fn claim(&self, now: Instant) -> bool {
        let now_ms = since_epoch_ms(now);
        let last = self.last_fetch_ms.load(Ordering::Acquire);
        if last != 0 && now_ms < last + REFETCH_EVERY_MS {
            return false;
        }
        self.last_fetch_ms
            .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(super) fn newest(&self) -> Option<(Arc<KeySet>, Instant)> {
        self.newest.lock().ok()?.clone()
    }

    /// Publishes a fetched set; true if it is this authorizer's first.
    pub(super) fn publish(&self, set: &Arc<KeySet>, at: Instant) -> bool {
        let Ok(mut newest) = self.newest.lock() else {
            return false;
        };
        let first = newest.is_none();
        *newest = Some((set.clone(), at));
        first
    }
}

/// Milliseconds since the first call, plus one (0 means never).
pub(super) fn since_epoch_ms(now: Instant) -> u64 {
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
}
