//! Who may call the management API: the admin Bearer token, or AWS
//! Signature V4 with the configured access key. Decided in two steps so
//! that nobody unauthenticated gets a body read: from the head (the token
//! wholly; a signature's shape, key id and freshness), then, once the body
//! is in, the signature over the body's own hash and its first use.

use std::time::Instant;

use super::refusal::Refusal;
use super::replay::Seen;
use crate::aws::sigv4;

/// The credentials the admin listener accepts.
pub struct Keys {
    pub token: Option<String>,
    /// Access key id and secret.
    pub credentials: Option<(String, String)>,
}

/// Who the head says is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Token,
    /// Still to be verified over the body.
    Signed,
}

/// What the signature covers, from the request as it arrived.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Lower-case names.
    pub headers: &'a [(String, String)],
}

impl Request<'_> {
    fn authorization(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str())
    }
}

impl Keys {
    /// `authorization` is exactly `Bearer TOKEN` with the admin token.
    pub fn bearer(&self, authorization: Option<&str>) -> bool {
        let (Some(token), Some(a)) = (&self.token, authorization) else {
            return false;
        };
        a.strip_prefix("Bearer ").map(str::trim) == Some(token.as_str())
    }

    /// Everything that can be decided before reading the body.
    pub fn check_head(&self, r: &Request<'_>, now: i64) -> Result<Caller, Refusal> {
        match r.authorization() {
            Some(a) if a.starts_with("AWS4-HMAC-SHA256") => {
                let (id, _) = self.credentials.as_ref().ok_or(Refusal::NoAccessKey)?;
                sigv4::check_head(a, r.headers, id, now)?;
                Ok(Caller::Signed)
            }
            Some(a) if self.bearer(Some(a)) => Ok(Caller::Token),
            Some(_) => Err(Refusal::BadToken),
            None => Err(Refusal::MissingToken),
        }
    }

    /// The rest, with the body: a signature must verify over the body's
    /// own hash, and a state-changing call's signature must be new.
    pub fn with_body(
        &self,
        caller: Caller,
        r: &Request<'_>,
        body: &[u8],
        seen: &mut Seen,
        (now, received): (i64, Instant),
    ) -> Result<(), Refusal> {
        if caller == Caller::Token {
            return Ok(());
        }
        let (id, secret) = self.credentials.as_ref().ok_or(Refusal::NoAccessKey)?;
        let authorization = r.authorization().ok_or(Refusal::MissingToken)?;
        let signed = sigv4::Signed {
            method: r.method,
            path: r.path,
            query: r.query,
            headers: r.headers,
            body,
        };
        let verified = sigv4::verify_signed(authorization, &signed, id, secret, now)?;
        if changes_state(r.method) {
            seen.admit(&verified, now, received)?;
        }
        Ok(())
    }
}

/// Only these are refused when repeated: botocore re-sends identical
/// reads (same signature) when it polls.
fn changes_state(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}
