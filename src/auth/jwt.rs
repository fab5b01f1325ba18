//! The JWT authorizer, as HTTP APIs have it: a token signed by one of the
//! issuer's keys (RS256, ES256 or HS256), from the issuer, for one of the
//! audiences (`aud`, else `client_id`), within `exp`/`nbf` give or take the
//! leeway; and, per route, at least one of the route's scopes.

use jsonwebtoken::{decode, decode_header, Algorithm, Validation};
use serde_json::{Map, Value};

use super::jwks::KeySet;
use super::Authorized;

pub struct JwtAuthorizer {
    /// Tells this authorizer's verified tokens from another's (a hash of
    /// its settings and keys): see `verified`.
    pub id: u64,
    pub leeway_s: u64,
    /// Lower-case: where the token is.
    pub header: String,
    pub keys: super::jwks::KeySource,
    issuer: String,
    audience: Vec<String>,
    /// One per accepted algorithm: jsonwebtoken checks a token against a
    /// key of the algorithm's family only (no RSA/HMAC confusion).
    validations: [(Algorithm, Validation); 3],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("no token")]
    Missing,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token names no key the issuer has")]
    UnknownKey,
    #[error("the signature, issuer, audience or time is wrong")]
    Invalid,
}

impl JwtAuthorizer {
    pub fn new(
        id: u64,
        header: String,
        keys: super::jwks::KeySource,
        issuer: String,
        audience: Vec<String>,
        leeway_s: u64,
    ) -> JwtAuthorizer {
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.leeway = leeway_s;
            v.validate_nbf = true;
            // The audience is checked here, with `client_id` as AWS allows.
            v.validate_aud = false;
            v.set_issuer(&[&issuer]);
            v.set_required_spec_claims(&["exp", "iss"]);
            (alg, v)
        };
        let validations = [
            validation(Algorithm::RS256),
            validation(Algorithm::ES256),
            validation(Algorithm::HS256),
        ];
        JwtAuthorizer {
            id,
            leeway_s,
            header,
            keys,
            issuer,
            audience,
            validations,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token in a header's value: `Bearer x` or just `x`.
    pub fn token(value: &[u8]) -> Result<&str, JwtError> {
        let v = std::str::from_utf8(value)
            .map_err(|_| JwtError::Malformed)?
            .trim();
        let token = match v.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim_start(),
            _ => v,
        };
        if token.is_empty() {
            return Err(JwtError::Missing);
        }
        Ok(token)
    }

    /// The token's header: its algorithm and the `kid` it names, if any.
    pub fn header(token: &str) -> Result<(Algorithm, Option<String>), JwtError> {
        let h = decode_header(token).map_err(|_| JwtError::Malformed)?;
        Ok((h.alg, h.kid))
    }

    /// Checks the token against `keys`.
    pub fn verify(
        &self,
        token: &str,
        (alg, kid): (Algorithm, Option<&str>),
        keys: &KeySet,
    ) -> Result<Authorized, JwtError> {
        let (_, validation) = self
            .validations
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(JwtError::Invalid)?;
        let key = keys.find(kid).ok_or(JwtError::UnknownKey)?;
        let data =
            decode::<Map<String, Value>>(token, key, validation).map_err(|_| JwtError::Invalid)?;
        let claims = data.claims;
        let audience_ok = match claims.get("aud").or_else(|| claims.get("client_id")) {
            Some(Value::String(a)) => self.audience.iter().any(|x| x == a),
            Some(Value::Array(list)) => list.iter().any(|a| {
                a.as_str()
                    .is_some_and(|a| self.audience.iter().any(|x| x == a))
            }),
            _ => false,
        };
        if !audience_ok {
            return Err(JwtError::Invalid);
        }
        let scopes = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Authorized::Jwt { claims, scopes })
    }
}

/// A route with scopes admits a token holding at least one of them.
pub fn has_scope(authorized: &Authorized, required: &[String]) -> bool {
    match authorized {
        Authorized::Jwt { scopes, .. } => {
            required.is_empty() || required.iter().any(|r| scopes.contains(r))
        }
        Authorized::Lambda { .. } => true,
    }
}
