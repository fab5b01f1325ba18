//! Route matching within the resolved API.

use crate::http::{ErrorResponse, Method};
use crate::router::RouteMatch;
use crate::snapshot::{Api, Stage};

use super::resolve::Target;
use crate::dataplane::errors::MISSING_AUTHENTICATION_TOKEN as MISSING_TOKEN;

/// The API, stage and matched route; an unknown route gets API Gateway's
/// 403 "Missing Authentication Token", which hides what exists.
pub fn find<'s, 'b>(
    t: Target<'s, 'b>,
    method: Method,
) -> Result<(&'s Api, &'s Stage, RouteMatch<'s, 'b>), ErrorResponse> {
    let path = std::str::from_utf8(t.path).map_err(|_| MISSING_TOKEN)?;
    let m = t
        .api
        .routes
        .find(method, path)
        .or_else(|| head_of_cached_get(t.stage, method, path, t.api))
        .ok_or(MISSING_TOKEN)?;
    Ok((t.api, t.stage, m))
}

/// A HEAD with no route of its own is served by a cached GET route's
/// entry, as the cache holds its headers (not in AWS; see the README).
fn head_of_cached_get<'s, 'b>(
    stage: &Stage,
    method: Method,
    path: &'b str,
    api: &'s Api,
) -> Option<RouteMatch<'s, 'b>> {
    if method != Method::Head {
        return None;
    }
    let m = api.routes.find(Method::Get, path)?;
    matches!(stage.route_cache.get(m.route), Some(Some(_))).then_some(m)
}
