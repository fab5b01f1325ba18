//! Challenge answers for a CA validating an order: HTTP-01 key
//! authorizations every worker serves on the plain listener at
//! `/.well-known/acme-challenge/{token}`, and TLS-ALPN-01 certificates
//! presented to a client that asks for `acme-tls/1`. The ACME thread builds
//! one immutable [`Challenges`] value and publishes it to every worker's
//! mailbox, as a snapshot is published; each worker answers from its own
//! copy ([`Local`]), so no request or handshake reads a lock that another
//! thread writes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use rustls::server::{ClientHello, NoServerSessionStorage};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::ServerConfig;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS: &[u8] = b"acme-tls/1";

const PATH: &[u8] = b"/.well-known/acme-challenge/";

/// The challenges of the order under way.
#[derive(Clone, Default)]
pub struct Challenges {
    /// HTTP-01: token → key authorization.
    tokens: HashMap<String, String>,
    /// TLS-ALPN-01: host (lower case) → a server config that presents
    /// its challenge certificate and speaks only `acme-tls/1`.
    certs: HashMap<String, Arc<ServerConfig>>,
}

impl Challenges {
    pub fn add_token(&mut self, token: &str, key_authorization: &str) {
        self.tokens
            .insert(token.to_string(), key_authorization.to_string());
    }

    /// Presents `cert` to `acme-tls/1` clients asking for `host`.
    pub fn add_cert(&mut self, host: &str, cert: Arc<CertifiedKey>) {
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(cert)));
        config.alpn_protocols = vec![ACME_TLS.to_vec()];
        // The CA's one handshake resumes nothing (RFC 8737 §3), and rustls's
        // default session cache is a lock the workers would share.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        self.certs
            .insert(host.to_ascii_lowercase(), Arc::new(config));
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.certs.is_empty()
    }
}

/// One worker's copy of the challenges: replaced from its mailbox, read by
/// its requests and handshakes. A TLS connection waiting for its
/// ClientHello shares it (`Rc`), so it sees a withdrawal that came after
/// the connection was accepted.
#[derive(Clone, Default)]
pub struct Local(Rc<RefCell<Arc<Challenges>>>);

impl Local {
    pub fn replace(&self, challenges: Arc<Challenges>) {
        *self.0.borrow_mut() = challenges;
    }

    /// The key authorization for a plain-HTTP request path, if it names a
    /// pending challenge; any other path costs one prefix comparison.
    pub fn answer(&self, path: &[u8]) -> Option<String> {
        let token = std::str::from_utf8(path.strip_prefix(PATH)?).ok()?;
        self.0.borrow().tokens.get(token).cloned()
    }

    /// Whether a TLS-ALPN-01 challenge is pending: only then does a TLS
    /// connection read its ClientHello before its config is chosen.
    pub fn alpn_pending(&self) -> bool {
        !self.0.borrow().certs.is_empty()
    }

    /// The challenge's config for a ClientHello that asks for `acme-tls/1`
    /// and names a host with a pending challenge.
    pub fn config_for(&self, hello: &ClientHello<'_>) -> Option<Arc<ServerConfig>> {
        if !hello.alpn()?.any(|p| p == ACME_TLS) {
            return None;
        }
        let host = hello.server_name()?.to_ascii_lowercase();
        self.0.borrow().certs.get(&host).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_tokens_under_the_challenge_path_are_answered() {
        let local = Local::default();
        let path = b"/.well-known/acme-challenge/tok";
        assert_eq!(local.answer(path), None, "nothing published yet");
        let mut c = Challenges::default();
        c.add_token("tok", "tok.thumb");
        local.replace(Arc::new(c));
        assert_eq!(local.answer(path).as_deref(), Some("tok.thumb"));
        assert_eq!(local.answer(b"/tok"), None, "outside the challenge path");
        assert_eq!(local.answer(b"/.well-known/acme-challenge/other"), None);
        local.replace(Arc::default());
        assert_eq!(local.answer(path), None, "withdrawn");
    }
}
