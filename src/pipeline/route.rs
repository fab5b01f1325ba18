//! Route matching within the resolved API.

use crate::http::{ErrorResponse, Method};
use crate::model::{Api, Stage};
use crate::router::RouteMatch;

use super::resolve::{Target, MISSING_TOKEN};

/// The API, stage and matched route; an unknown route gets API Gateway's
/// 403 "Missing Authentication Token", which hides what exists.
pub fn find<'s, 'b>(
    t: Target<'s, 'b>,
    method: Method,
) -> Result<(&'s Api, &'s Stage, RouteMatch<'s, 'b>), ErrorResponse> {
    let path = std::str::from_utf8(t.path).map_err(|_| MISSING_TOKEN)?;
    let m = t.api.routes.find(method, path).ok_or(MISSING_TOKEN)?;
    Ok((t.api, t.stage, m))
}
