//! Challenge answers the ACME thread publishes: HTTP-01 key
//! authorizations every worker serves on the plain listener at
//! `/.well-known/acme-challenge/{token}`, and TLS-ALPN-01 certificates
//! presented to a client that asks for `acme-tls/1`. Shared across
//! threads, but read only for those requests.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use rustls::sign::CertifiedKey;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS: &[u8] = b"acme-tls/1";

fn certs() -> &'static RwLock<HashMap<String, Arc<CertifiedKey>>> {
    static CERTS: OnceLock<RwLock<HashMap<String, Arc<CertifiedKey>>>> = OnceLock::new();
    CERTS.get_or_init(Default::default)
}

/// Presents `cert` to `acme-tls/1` clients asking for `host`.
pub fn publish_cert(host: &str, cert: Arc<CertifiedKey>) {
    if let Ok(mut t) = certs().write() {
        t.insert(host.to_ascii_lowercase(), cert);
    }
}

pub fn withdraw_cert(host: &str) {
    if let Ok(mut t) = certs().write() {
        t.remove(&host.to_ascii_lowercase());
    }
}

/// The challenge certificate for a TLS-ALPN-01 validation of `host`.
pub fn cert_for(host: &str) -> Option<Arc<CertifiedKey>> {
    certs()
        .read()
        .ok()?
        .get(&host.to_ascii_lowercase())
        .cloned()
}

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
