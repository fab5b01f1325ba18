//! The HTTPS front door: certificates loaded and checked with the config
//! (`certs`), chosen per connection by SNI (`sni`), in rustls server
//! configs built once per snapshot that every worker reads and none
//! changes; a reload publishes new ones. Session tickets use one key set
//! for the process, so a client resumes on any worker and across reloads.
//! A domain with a `client_ca` has its own config that requires a client
//! certificate from that truststore (mutual TLS, as AWS's custom domains).

pub mod acme;
pub(crate) mod certs;
pub mod client_cert;
pub mod self_signed;
mod sni;

use std::sync::{Arc, OnceLock};

use rustls::server::{NoServerSessionStorage, ProducesTickets, WebPkiClientVerifier};
use rustls::ServerConfig;

pub use certs::{CertError, CertInfo};

/// Whether `cert` (PEM chain) and `key` (PEM) can serve `host` now: why not.
pub fn check_pem_pair(cert: &str, key: &str, host: &str) -> Result<(), String> {
    certs::from_pem(cert, key, host, chrono::Utc::now().timestamp()).map(|_| ())
}

use crate::config::{CertificateConfig, TlsConfig};
use sni::{Names, Sni};

/// What a snapshot holds of TLS.
pub struct Tls {
    /// The server config for a client's SNI name: a mutual-TLS domain's, else the common one.
    configs: Names<Arc<ServerConfig>>,
    /// Whether any domain has mutual TLS: then the config is chosen after
    /// reading the ClientHello, else the common one is used from the start.
    pub by_name: bool,
    /// Names of mutual-TLS domains → which one (its certificate entry among
    /// those with a `client_ca`); other names → `None`.
    mutual_domains: Names<Option<usize>>,
    /// Each certificate's names, file and expiry (the expiry metric).
    pub certs: Vec<CertInfo>,
    /// The ACME certificates the management API's domain names need (see
    /// `TlsConfig::wanted`), for the ACME thread to obtain and renew.
    pub acme_wanted: Vec<CertificateConfig>,
}

impl Tls {
    pub fn config_for(&self, server_name: Option<&str>) -> Arc<ServerConfig> {
        self.configs.pick(server_name).clone()
    }

    /// The mutual-TLS domain `name` (lower case, no port) belongs to, if any:
    /// the same for a Host and the SNI that chose its config.
    pub fn mutual_domain(&self, name: &str) -> Option<usize> {
        *self.mutual_domains.pick_lower(name)
    }
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
pub fn compile(
    c: &TlsConfig,
    state_dir: &std::path::Path,
    now: i64,
) -> Result<Option<Tls>, (usize, CertError)> {
    if c.listen.is_none() {
        return Ok(None);
    }
    if c.certificates.is_empty() && c.uploaded.is_empty() {
        return Err((0, CertError::NoCertificate));
    }
    let mut loaded = Vec::with_capacity(c.certificates.len() + c.uploaded.len());
    for spanned in &c.certificates {
        let at = spanned.span().start;
        loaded.push(certs::load(spanned.get_ref(), state_dir, now).map_err(|e| (at, e))?);
    }
    // The management API's uploads (checked when uploaded; one that has
    // expired since is left out rather than failing the whole snapshot).
    for u in &c.uploaded {
        if let Ok(pair) = certs::from_pem(&u.cert, &u.key, &u.host, now) {
            loaded.push(pair);
        }
    }
    if loaded.is_empty() {
        return Err((0, CertError::NoCertificate));
    }
    let acme_wanted = wanted_by_acme(&c.wanted, &loaded);
    for w in &acme_wanted {
        // Served by a stand-in until the ACME thread has obtained it; one
        // that no longer loads (expired, unrenewed) leaves the name to the
        // default certificate rather than failing the snapshot.
        if let Ok(pair) = certs::load(w, state_dir, now) {
            loaded.push(pair);
        }
    }
    let default = c
        .certificates
        .iter()
        .position(|s| s.get_ref().default)
        .unwrap_or(0);
    let infos: Vec<CertInfo> = loaded.iter().map(|(_, info)| info.clone()).collect();
    let resolver = Arc::new(Sni(Names::new(
        loaded.iter().map(|(k, i)| (k.clone(), i.hosts.clone())),
        loaded[default].0.clone(),
    )));
    let build = |verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>| {
        let builder = ServerConfig::builder();
        let builder = match verifier {
            Some(v) => builder.with_client_cert_verifier(v),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(resolver.clone());
        // `acme-tls/1` is spoken only by a pending TLS-ALPN-01 challenge's own config.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Stateless resumption only: no session cache shared between workers.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.ticketer = ticketer()?;
        Ok::<_, CertError>(Arc::new(config))
    };
    let common = build(None).map_err(|e| (0, e))?;
    let mut mutual = Vec::new();
    for (spanned, (_, info)) in c.certificates.iter().zip(&loaded) {
        let Some(ca) = &spanned.get_ref().client_ca else {
            continue;
        };
        let at = spanned.span().start;
        let roots = certs::truststore(ca).map_err(|e| (at, e))?;
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| {
                (
                    at,
                    CertError::File {
                        file: ca.clone(),
                        why: e.to_string(),
                    },
                )
            })?;
        mutual.push((
            build(Some(verifier)).map_err(|e| (at, e))?,
            info.hosts.clone(),
        ));
    }
    let by_name = !mutual.is_empty();
    let mutual_domains = Names::new(
        mutual
            .iter()
            .enumerate()
            .map(|(i, (_, hosts))| (Some(i), hosts.clone())),
        None,
    );
    Ok(Some(Tls {
        configs: Names::new(mutual, common),
        by_name,
        mutual_domains,
        certs: infos,
        acme_wanted,
    }))
}

/// An ACME certificate for each wanted name no loaded certificate covers
/// (exactly or by a wildcard), so a name listed in `[[tls.certificates]]`
/// is never ordered twice.
fn wanted_by_acme(
    wanted: &[String],
    loaded: &[(Arc<rustls::sign::CertifiedKey>, CertInfo)],
) -> Vec<CertificateConfig> {
    let covered = Names::new(loaded.iter().map(|(_, i)| (true, i.hosts.clone())), false);
    let mut out: Vec<CertificateConfig> = Vec::new();
    for name in wanted.iter().map(|n| n.to_ascii_lowercase()) {
        if !*covered.pick_lower(&name) && !out.iter().any(|c| c.hosts[0] == name) {
            out.push(CertificateConfig {
                acme: true,
                hosts: vec![name],
                ..CertificateConfig::default()
            });
        }
    }
    out
}
