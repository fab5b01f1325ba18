//! Authorization: the route's authorizer, if it has one, decides before
//! admission (a Lambda authorizer can name the API key the call is
//! metered against). Refusals are API Gateway's: 401 Unauthorized, 403
//! Forbidden, 403 with an explicit deny, 500 when the authorizer fails.
//! An identity given twice (two `Authorization` headers, a repeated
//! identity source) is 401 Unauthorized, as a missing one is: see `identity`.

use std::rc::Rc;

use crate::auth::jwks::KeySource;
use crate::auth::jwks_fetch::keys_for;
use crate::auth::jwt::{has_scope, JwtError};
use crate::auth::lambda_authorizer::{IdentitySource, Kind, Refusal};
use crate::auth::{Authorized, Authorizer, JwtAuthorizer, LambdaAuthorizer};
use crate::config::PayloadVersion;
use crate::dataplane::shard::Shard;
use crate::http::{ErrorResponse, Head};
use crate::integration::lambda::event;
use crate::integration::Routed;
use crate::snapshot::Snapshot;

use super::identity;

use crate::dataplane::errors::{
    ACCESS_DENIED as NOT_ALLOWED, AUTHORIZER_CONFIGURATION_ERROR as AUTHORIZER_UNREACHABLE,
    AUTHORIZER_FAILURE as AUTHORIZER_FAILED, EXPLICIT_DENY, NOT_AUTHORIZED, UNAUTHORIZED,
};

/// The caller as the route's authorizer found it; `None`: the route has none.
pub async fn check(
    w: &Shard,
    snap: &Snapshot,
    r: &Routed<'_>,
) -> Result<Option<Rc<Authorized>>, ErrorResponse> {
    let Some(route_auth) = &r.api.route_auth[r.route] else {
        return Ok(None);
    };
    let authorized = match &r.api.authorizers[route_auth.authorizer] {
        Authorizer::Jwt(jwt) => jwt_check(w, snap, jwt, r.head, r.buf).await?,
        Authorizer::Lambda(l) => Rc::new(lambda_check(w, snap, l, r).await?),
    };
    if !has_scope(&authorized, &route_auth.scopes) {
        return Err(NOT_AUTHORIZED);
    }
    Ok(Some(authorized))
}

async fn jwt_check(
    w: &Shard,
    snap: &Snapshot,
    jwt: &JwtAuthorizer,
    head: &Head,
    buf: &[u8],
) -> Result<Rc<Authorized>, ErrorResponse> {
    let value = identity::header(head, buf, jwt.header.as_bytes())
        .ok()
        .flatten()
        .ok_or(UNAUTHORIZED)?;
    let token = JwtAuthorizer::token(value).map_err(|_| UNAUTHORIZED)?;
    let now = w.now_secs().max(0) as u64;
    if let Some(a) = w.auth.borrow().verified.get(jwt.id, token, now) {
        return Ok(a);
    }
    // Refused before any key is looked for, let alone fetched.
    let (alg, kid) = jwt.precheck(token, now).map_err(|_| UNAUTHORIZED)?;
    let verified = match &jwt.keys {
        KeySource::File(set) => jwt.verify(token, (alg, kid.as_deref()), set),
        KeySource::Url(url) => match keys_for(w, snap, url, kid.as_deref()).await {
            Some(set) => jwt.verify(token, (alg, kid.as_deref()), &set),
            None => Err(JwtError::UnknownKey),
        },
    };
    let authorized = Rc::new(verified.map_err(|_| UNAUTHORIZED)?);
    w.auth
        .borrow_mut()
        .verified
        .insert(jwt.id, token, authorized.clone(), now, jwt.leeway_s);
    Ok(authorized)
}

async fn lambda_check(
    w: &Shard,
    snap: &Snapshot,
    l: &LambdaAuthorizer,
    r: &Routed<'_>,
) -> Result<Authorized, ErrorResponse> {
    let arn = method_arn(snap, r);
    let mut event_bytes = Vec::with_capacity(1024);
    let identity = match &l.kind {
        Kind::Token {
            header: name,
            validation,
        } => {
            let token = identity::header(r.head, r.buf, name.as_bytes())
                .ok()
                .flatten()
                .and_then(|v| std::str::from_utf8(v).ok())
                .filter(|v| !v.is_empty())
                .ok_or(UNAUTHORIZED)?;
            if validation.as_ref().is_some_and(|re| !re.is_match(token)) {
                return Err(UNAUTHORIZED);
            }
            serde_json::to_writer(
                &mut event_bytes,
                &serde_json::json!({
                    "type": "TOKEN",
                    "authorizationToken": token,
                    "methodArn": arn,
                }),
            )
            .expect("writing to a Vec cannot fail");
            token.to_string()
        }
        Kind::Request {
            sources, version, ..
        } => {
            let values = sources
                .iter()
                .map(|s| identity_value(r, s))
                .collect::<Option<Vec<String>>>()
                .ok_or(UNAUTHORIZED)?;
            // The key of the kept decision is exactly the identity the
            // function is shown (2.0's `identitySource`), unambiguously.
            let identity = serde_json::to_string(&values).expect("JSON");
            event::write_start(&mut event_bytes, *version, r);
            let tail = match version {
                PayloadVersion::V1 => serde_json::json!({"type": "REQUEST", "methodArn": arn}),
                PayloadVersion::V2 => serde_json::json!({
                    "type": "REQUEST",
                    "routeArn": arn,
                    "identitySource": values,
                }),
            };
            // The event so far ends with `,`: the tail's members follow.
            let tail = serde_json::to_string(&tail).expect("JSON");
            event_bytes.extend_from_slice(&tail.as_bytes()[1..]);
            identity
        }
    };
    let decision = l
        .decide(w, snap, &identity, &event_bytes)
        .await
        .map_err(refusal)?;
    decision.apply(&arn).map_err(refusal)
}

fn refusal(r: Refusal) -> ErrorResponse {
    match r {
        Refusal::Unauthorized => UNAUTHORIZED,
        Refusal::Forbidden => NOT_AUTHORIZED,
        Refusal::NotAllowed => NOT_ALLOWED,
        Refusal::ExplicitDeny => EXPLICIT_DENY,
        Refusal::Failed => AUTHORIZER_FAILED,
        Refusal::Unreachable => AUTHORIZER_UNREACHABLE,
    }
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`.
fn method_arn(snap: &Snapshot, r: &Routed<'_>) -> String {
    let method = String::from_utf8_lossy(r.head.method_span.get(r.buf));
    let path = String::from_utf8_lossy(r.routed_path);
    format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{method}/{}",
        snap.region,
        snap.account_id,
        r.api.id,
        r.stage.name,
        path.strip_prefix('/').unwrap_or(&path)
    )
}

/// `None`: missing, empty or repeated.
fn identity_value(r: &Routed<'_>, s: &IdentitySource) -> Option<String> {
    let v = match s {
        IdentitySource::Header(name) => {
            String::from_utf8_lossy(identity::header(r.head, r.buf, name.as_bytes()).ok()??)
                .into_owned()
        }
        IdentitySource::Query(name) => {
            let value = identity::query(r.head, r.buf, name.as_bytes()).ok()??;
            String::from_utf8_lossy(&value).into_owned()
        }
        IdentitySource::StageVariable(name) => r.stage.variables.get(name)?.clone(),
    };
    (!v.is_empty()).then_some(v)
}
