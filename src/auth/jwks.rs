//! JSON Web Key Sets: the keys a JWT authorizer verifies signatures with.
//! A set from a file is read with the config; one from a URL is fetched by
//! each worker on first use (shard-nothing: no key state shared between
//! cores), kept for an hour, and fetched again at once when a token names
//! a key the set does not have (the issuer rotated its keys), at most once
//! per key per `REFETCH_SAME_KID`.

use std::rc::Rc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::DecodingKey;

use crate::integration::call::call;
use crate::integration::{Endpoint, Resolve};
use crate::model::Snapshot;
use crate::server::Worker;
use crate::tls::upstream::TlsConfigFn;

/// How long a fetched set is used before it is fetched again.
const KEEP_FOR: Duration = Duration::from_secs(3600);
/// A token naming an unknown key fetches the set again, but not more often than this per key.
const REFETCH_SAME_KID: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

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
        })
    }

    async fn fetch(&self, w: &Worker, snap: &Snapshot) -> Result<KeySet, String> {
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

/// One worker's fetched key sets, by URL.
#[derive(Default)]
pub struct JwksCache {
    sets: HashMap<String, Fetched>,
}

struct Fetched {
    set: Rc<KeySet>,
    at: Instant,
    /// Unknown kids that made us fetch, and when.
    refetched_for: HashMap<String, Instant>,
}

/// The set to verify `kid` with: the cached one if it has the key, else
/// a fresh one. `None`: no set could be had.
pub async fn keys_for(
    w: &Worker,
    snap: &Snapshot,
    source: &JwksUrl,
    kid: Option<&str>,
) -> Option<Rc<KeySet>> {
    let now = Instant::now();
    let stale = {
        let cache = w.auth.borrow();
        match cache.jwks.sets.get(&source.url) {
            Some(f) if now.duration_since(f.at) < KEEP_FOR => {
                if f.set.find(kid).is_some() {
                    return Some(f.set.clone());
                }
                // An unknown key: fetch again, unless this kid just did.
                let recently = kid
                    .and_then(|k| f.refetched_for.get(k))
                    .is_some_and(|t| now.duration_since(*t) < REFETCH_SAME_KID);
                if recently {
                    return Some(f.set.clone());
                }
                true
            }
            _ => false,
        }
    };
    match source.fetch(w, snap).await {
        Ok(set) => {
            let set = Rc::new(set);
            let mut cache = w.auth.borrow_mut();
            let entry = cache
                .jwks
                .sets
                .entry(source.url.clone())
                .or_insert_with(|| Fetched {
                    set: set.clone(),
                    at: now,
                    refetched_for: HashMap::new(),
                });
            entry.set = set.clone();
            entry.at = now;
            if let (true, Some(k)) = (stale, kid) {
                if entry.refetched_for.len() > 64 {
                    entry.refetched_for.clear();
                }
                entry.refetched_for.insert(k.to_string(), now);
            }
            Some(set)
        }
        Err(e) => {
            crate::log!(warn, worker = w.id, "JWKS {}: {e}", source.url);
            // Keep using what we had, if anything.
            let cache = w.auth.borrow();
            cache.jwks.sets.get(&source.url).map(|f| f.set.clone())
        }
    }
}
