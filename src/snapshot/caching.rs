//! Compiling stage and route cache settings into the snapshot.

use std::time::Duration;

use crate::cache::{RouteCache, StageCache};
use crate::config::{ApiConfig, MethodSpec, StageConfig};
use crate::http::Method;

/// A stage cache's number: the same for the same API and stage in every
/// snapshot, so a worker's shard survives a reload or a deployment (as an
/// AWS stage cache survives a redeploy) and never serves another stage.
pub fn stable_id(api_id: &str, api_name: &str, stage: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (api_id, api_name, stage).hash(&mut h);
    h.finish() as usize
}

/// The stage's cache, numbered `id`, and per route its cache settings
/// (`None`: not cached: not a GET route, disabled, or a TTL of 0).
pub fn compile(
    api: &ApiConfig,
    stage: &StageConfig,
    id: usize,
) -> (Option<StageCache>, Vec<Option<RouteCache>>) {
    let Some(c) = &stage.cache else {
        return (None, api.routes.iter().map(|_| None).collect());
    };
    let routes = api
        .routes
        .iter()
        .map(|r| {
            let gets = matches!(r.method, MethodSpec::Any | MethodSpec::One(Method::Get));
            let rc = r.cache.as_ref();
            let ttl = rc.and_then(|rc| rc.ttl_s).unwrap_or(c.ttl_s).0;
            if !gets || ttl == 0 || rc.is_some_and(|rc| !rc.enabled) {
                return None;
            }
            let names = |list: Option<&Vec<String>>, lower: bool| -> Vec<Box<[u8]>> {
                list.map(|l| {
                    l.iter()
                        .map(|n| {
                            let n = if lower {
                                n.to_ascii_lowercase()
                            } else {
                                n.clone()
                            };
                            n.into_bytes().into_boxed_slice()
                        })
                        .collect()
                })
                .unwrap_or_default()
            };
            Some(RouteCache {
                ttl,
                key_query: names(rc.map(|rc| &rc.key_query), false),
                key_headers: names(rc.map(|rc| &rc.key_headers), true),
                allow_set_cookie: rc.is_some_and(|rc| rc.allow_set_cookie),
            })
        })
        .collect();
    let stage_cache = StageCache {
        id,
        capacity: c.capacity.0,
        statuses: c.statuses.clone(),
        max_item_bytes: c.max_item_bytes.0 as usize,
        require_authorization: c.require_authorization,
        unauthorized: c.unauthorized_strategy,
        coalesce_wait: Duration::from_millis(c.coalesce_wait_ms),
    };
    (Some(stage_cache), routes)
}
