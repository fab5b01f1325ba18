//! Choosing by the server name a client sent (SNI): exactly, else by a
//! `*.` wildcard one label deep, else the default. Used for certificates
//! and, for domains with mutual TLS, for whole server configs.

use std::sync::Arc;

use hashbrown::HashMap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug)]
pub struct Names<T> {
    exact: HashMap<String, T>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<String, T>,
    default: T,
}

impl<T: Clone> Names<T> {
    /// `entries`: each value with its (lower-case) names; the first to name a host wins it.
    pub fn new(entries: impl IntoIterator<Item = (T, Vec<String>)>, default: T) -> Names<T> {
        let (mut exact, mut wildcard) = (HashMap::new(), HashMap::new());
        for (value, hosts) in entries {
            for host in hosts {
                match host.strip_prefix("*.") {
                    Some(suffix) => wildcard.entry(suffix.to_string()),
                    None => exact.entry(host),
                }
                .or_insert_with(|| value.clone());
            }
        }
        Names {
            exact,
            wildcard,
            default,
        }
    }

    pub fn pick(&self, name: Option<&str>) -> &T {
        match name {
            Some(name) => self.pick_lower(&name.to_ascii_lowercase()),
            None => &self.default,
        }
    }

    /// `pick` for a name already in lower case (no allocation).
    pub fn pick_lower(&self, name: &str) -> &T {
        if let Some(v) = self.exact.get(name) {
            return v;
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.wildcard.get(parent))
            .unwrap_or(&self.default)
    }
}

/// The certificate for a handshake.
#[derive(Debug)]
pub struct Sni(pub Names<Arc<CertifiedKey>>);

impl ResolvesServerCert for Sni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.pick(hello.server_name()).clone())
    }
}
