//! The HTTPS front door: certificates loaded and checked with the config
//! (`certs`), chosen per connection by SNI (`sni`), in one rustls server
//! config per snapshot that every worker reads and none changes; a reload
//! publishes a new one. Session tickets use one key set for the process,
//! so a client resumes on any worker and across reloads.

mod certs;
pub mod self_signed;
mod sni;
pub mod upstream;

use std::sync::{Arc, OnceLock};

use rustls::server::{NoServerSessionStorage, ProducesTickets};

pub use certs::{CertError, CertInfo};

use crate::config::TlsConfig;

/// What a snapshot holds of TLS.
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// Each certificate's names, file and expiry (the expiry metric).
    pub certs: Vec<CertInfo>,
}

/// The ticket keys of this process (rotated by rustls every 6 hours).
fn ticketer() -> Result<Arc<dyn ProducesTickets>, CertError> {
    static TICKETER: OnceLock<Arc<dyn ProducesTickets>> = OnceLock::new();
    if let Some(t) = TICKETER.get() {
        return Ok(t.clone());
    }
    let t =
        rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| CertError::Tls(e.to_string()))?;
    Ok(TICKETER.get_or_init(|| t).clone())
}

/// Loads every certificate; `Ok(None)` without an HTTPS listener. `now`: Unix seconds.
pub fn compile(c: &TlsConfig, now: i64) -> Result<Option<Tls>, (usize, CertError)> {
    if c.listen.is_none() {
        return Ok(None);
    }
    if c.certificates.is_empty() {
        return Err((0, CertError::NoCertificate));
    }
    let mut loaded = Vec::with_capacity(c.certificates.len());
    for spanned in &c.certificates {
        let at = spanned.span().start;
        loaded.push(certs::load(spanned.get_ref(), now).map_err(|e| (at, e))?);
    }
    let default = c
        .certificates
        .iter()
        .position(|s| s.get_ref().default)
        .unwrap_or(0);
    let infos = loaded.iter().map(|(_, info)| info.clone()).collect();
    let resolver = sni::Sni::new(loaded, default);
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Stateless resumption only: no session cache shared between workers.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.ticketer = ticketer().map_err(|e| (0, e))?;
    Ok(Some(Tls {
        config: Arc::new(config),
        certs: infos,
    }))
}
