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
    /// A Cognito user pool's: any audience when `audience` is empty, and
    /// only ID or access tokens (`token_use`).
    cognito: bool,
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
            cognito: false,
            validations,
        }
    }

    /// As a COGNITO_USER_POOLS authorizer checks tokens.
    pub fn cognito(mut self) -> JwtAuthorizer {
        self.cognito = true;
        self
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

    /// What can be checked of a token without its key, so that a token
    /// that cannot pass costs no key lookup, and no JWKS fetch: three
    /// base64url parts, a JSON header with an accepted `alg`, JSON claims
    /// from this issuer for one of the audiences, within `exp`/`nbf` at
    /// `now` (Unix seconds). Gives the algorithm and the `kid` it names.
    pub fn precheck(&self, token: &str, now: u64) -> Result<(Algorithm, Option<String>), JwtError> {
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        if signature.is_empty() {
            return Err(JwtError::Malformed);
        }
        let header = decode_header(token).map_err(|_| JwtError::Malformed)?;
        if !self.validations.iter().any(|(a, _)| *a == header.alg) {
            return Err(JwtError::Invalid);
        }
        use base64::Engine;
        let claims: Map<String, Value> = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(JwtError::Malformed)?;
        let secs = |name| claims.get(name).map(Value::as_u64);
        let on_time = match (secs("exp"), secs("nbf")) {
            (Some(Some(exp)), None) => now <= exp.saturating_add(self.leeway_s),
            (Some(Some(exp)), Some(Some(nbf))) => {
                now <= exp.saturating_add(self.leeway_s) && nbf <= now + self.leeway_s
            }
            _ => false,
        };
        let issuer_ok = claims.get("iss").and_then(Value::as_str) == Some(&self.issuer);
        if !(on_time && issuer_ok && self.audience_ok(&claims)) {
            return Err(JwtError::Invalid);
        }
        Ok((header.alg, header.kid))
    }

    /// `aud` (else `client_id`, as AWS allows) names one of the audiences.
    fn audience_ok(&self, claims: &Map<String, Value>) -> bool {
        if self.cognito {
            let token_use = claims.get("token_use").and_then(Value::as_str);
            if !matches!(token_use, Some("id" | "access")) {
                return false;
            }
            if self.audience.is_empty() {
                return true;
            }
        }
        match claims.get("aud").or_else(|| claims.get("client_id")) {
            Some(Value::String(a)) => self.audience.iter().any(|x| x == a),
            Some(Value::Array(list)) => list.iter().any(|a| {
                a.as_str()
                    .is_some_and(|a| self.audience.iter().any(|x| x == a))
            }),
            _ => false,
        }
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
        if !self.audience_ok(&claims) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn authorizer() -> JwtAuthorizer {
        let set =
            KeySet::parse(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#).unwrap();
        JwtAuthorizer::new(
            1,
            "authorization".into(),
            super::super::jwks::KeySource::File(set),
            "https://issuer.example".into(),
            vec!["aud-1".into()],
            5,
        )
    }

    fn token(header: Value, claims: Value) -> String {
        let b64 = |v: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!("{}.{}.c2ln", b64(header), b64(claims))
    }

    const NOW: u64 = 1_000_000;

    fn claims(extra: Value) -> Value {
        let mut c = json!({"iss": "https://issuer.example", "aud": "aud-1", "exp": NOW + 60});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn precheck_refuses_what_no_key_could_make_valid() {
        let a = authorizer();
        let hs = json!({"alg": "HS256", "kid": "k1"});
        assert_eq!(
            a.precheck(&token(hs.clone(), claims(json!({}))), NOW),
            Ok((Algorithm::HS256, Some("k1".into())))
        );
        let bad = |t: &str| a.precheck(t, NOW).is_err();
        assert!(bad("garbage"));
        assert!(bad("a.b"));
        assert!(bad("a.b.c.d"));
        assert!(bad(&format!("{}.", token(hs.clone(), claims(json!({}))))));
        let good = token(hs.clone(), claims(json!({})));
        assert!(bad(good.rsplit_once('.').unwrap().0), "no signature part");
        assert!(
            bad(&format!("{}.", good.rsplit_once('.').unwrap().0)),
            "empty signature"
        );
        assert!(bad(&token(json!({"alg": "none"}), claims(json!({})))));
        assert!(bad(&token(json!({"alg": "HS512"}), claims(json!({})))));
        assert!(bad(&token(json!({"alg": "PS256"}), claims(json!({})))));
        assert!(
            bad(&token(hs.clone(), claims(json!({"exp": NOW - 6})))),
            "expired"
        );
        assert!(
            !bad(&token(hs.clone(), claims(json!({"exp": NOW - 5})))),
            "leeway"
        );
        assert!(
            bad(&token(
                hs.clone(),
                json!({"iss": "https://issuer.example", "aud": "aud-1"})
            )),
            "no exp"
        );
        assert!(
            bad(&token(hs.clone(), claims(json!({"nbf": NOW + 6})))),
            "not yet"
        );
        assert!(bad(&token(
            hs.clone(),
            claims(json!({"iss": "https://other.example"}))
        )));
        assert!(bad(&token(
            hs.clone(),
            claims(json!({"aud": "someone-else"}))
        )));
        let mut payload_not_json = token(hs, claims(json!({})));
        payload_not_json = payload_not_json.replacen('.', ".bm90IGpzb24.", 1);
        let parts: Vec<&str> = payload_not_json.split('.').collect();
        assert!(bad(&format!("{}.{}.{}", parts[0], parts[1], parts[3])));
    }
}
