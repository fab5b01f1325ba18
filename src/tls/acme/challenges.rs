//! HTTP-01 challenge answers the ACME thread publishes and every worker
//! serves on the plain listener at `/.well-known/acme-challenge/{token}`.
//! Shared across threads, but read only for requests on that path.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

fn table() -> &'static RwLock<HashMap<String, String>> {
    static TABLE: OnceLock<RwLock<HashMap<String, String>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

pub const PATH: &[u8] = b"/.well-known/acme-challenge/";

pub fn publish(token: &str, key_authorization: &str) {
    if let Ok(mut t) = table().write() {
        t.insert(token.to_string(), key_authorization.to_string());
    }
}

pub fn withdraw(token: &str) {
    if let Ok(mut t) = table().write() {
        t.remove(token);
    }
}

/// The key authorization for a request path, if it is a published challenge's.
pub fn answer(path: &[u8]) -> Option<String> {
    let token = std::str::from_utf8(path.strip_prefix(PATH)?).ok()?;
    table().read().ok()?.get(token).cloned()
}
