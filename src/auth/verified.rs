//! Tokens a worker has already verified, so a client that sends the same
//! JWT on every call pays for its signature once (RS256 and ES256
//! verification cost tens of microseconds; see the README's bench table).
//! An entry is the whole token, signature included, so only the very
//! bytes that were verified can hit; it is used only by the authorizer
//! that verified it, and never past the token's `exp` (plus leeway) or
//! `KEEP_FOR` after verification, so a key removed from the JWKS stops
//! being honoured within that time.

use std::rc::Rc;

use hashbrown::HashMap;
use serde_json::Value;

use super::Authorized;

/// Longest an entry is used after its signature was checked.
const KEEP_FOR_SECS: u64 = 300;
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    authorizer: u64,
    authorized: Rc<Authorized>,
    /// Unix seconds: usable while `nbf <= now <= until`.
    nbf: u64,
    until: u64,
}

#[derive(Default)]
pub struct Verified {
    tokens: HashMap<Box<str>, Entry>,
}

impl Verified {
    /// The caller `token` proved to be, if `authorizer` verified it and it is still good at `now`.
    pub fn get(&self, authorizer: u64, token: &str, now: u64) -> Option<Rc<Authorized>> {
        let e = self.tokens.get(token)?;
        (e.authorizer == authorizer && e.nbf <= now && now <= e.until).then(|| e.authorized.clone())
    }

    /// Keeps a token `authorizer` just verified at `now`, allowing `leeway` seconds.
    pub fn insert(
        &mut self,
        authorizer: u64,
        token: &str,
        authorized: Rc<Authorized>,
        now: u64,
        leeway: u64,
    ) {
        let Authorized::Jwt { claims, .. } = &*authorized else {
            return;
        };
        let secs = |name| claims.get(name).and_then(Value::as_u64);
        let Some(exp) = secs("exp") else { return };
        let nbf = secs("nbf").map_or(0, |n| n.saturating_sub(leeway));
        let until = (exp + leeway).min(now + KEEP_FOR_SECS);
        if self.tokens.len() >= MAX_ENTRIES {
            self.tokens.retain(|_, e| e.until >= now);
            if self.tokens.len() >= MAX_ENTRIES {
                self.tokens.clear();
            }
        }
        self.tokens.insert(
            token.into(),
            Entry {
                authorizer,
                authorized,
                nbf,
                until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(claims: Value) -> Rc<Authorized> {
        Rc::new(Authorized::Jwt {
            claims: claims.as_object().unwrap().clone(),
            scopes: vec![],
        })
    }

    #[test]
    fn hits_only_the_same_token_authorizer_and_time() {
        let mut v = Verified::default();
        v.insert(1, "t.o.k", jwt(json!({"exp": 1_000, "nbf": 500})), 900, 5);
        assert!(v.get(1, "t.o.k", 600).is_some());
        assert!(v.get(1, "t.o.k", 1_005).is_some(), "leeway past exp");
        assert!(v.get(1, "t.o.k", 1_006).is_none(), "expired");
        assert!(v.get(1, "t.o.k", 400).is_none(), "not yet valid");
        assert!(v.get(2, "t.o.k", 600).is_none(), "another authorizer");
        assert!(v.get(1, "t.o.x", 600).is_none(), "another signature");
        v.insert(1, "long", jwt(json!({"exp": 100_000})), 600, 5);
        assert!(v.get(1, "long", 600 + KEEP_FOR_SECS).is_some());
        assert!(
            v.get(1, "long", 601 + KEEP_FOR_SECS).is_none(),
            "kept 5 minutes at most"
        );
    }
}
