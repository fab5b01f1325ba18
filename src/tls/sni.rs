//! Which certificate a connection gets: the one naming the server name
//! the client sent (exactly, else by a `*.` wildcard one label deep), else
//! the default one.

use std::sync::Arc;

use hashbrown::HashMap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::CertInfo;

#[derive(Debug)]
pub struct Sni {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl Sni {
    /// The first certificate naming a host wins it.
    pub fn new(loaded: Vec<(Arc<CertifiedKey>, CertInfo)>, default: usize) -> Sni {
        let default = loaded[default].0.clone();
        let (mut exact, mut wildcard) = (HashMap::new(), HashMap::new());
        for (key, info) in loaded {
            for host in info.hosts {
                match host.strip_prefix("*.") {
                    Some(suffix) => wildcard.entry(suffix.to_string()),
                    None => exact.entry(host),
                }
                .or_insert_with(|| key.clone());
            }
        }
        Sni {
            exact,
            wildcard,
            default,
        }
    }

    fn pick(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = name else {
            return self.default.clone();
        };
        let name = name.to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return k.clone();
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.wildcard.get(parent))
            .unwrap_or(&self.default)
            .clone()
    }
}

impl ResolvesServerCert for Sni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}
