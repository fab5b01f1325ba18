//! Reading a certificate chain and its key from PEM files, and refusing,
//! with the file's name, what cannot serve: unreadable files, a key that
//! does not match, an expired certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::config::CertificateConfig;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("an HTTPS listener needs at least one [[tls.certificates]]")]
    NoCertificate,
    #[error("{}: {why}", file.display())]
    File { file: PathBuf, why: String },
    #[error("{}: expired at {expired} (UTC)", file.display())]
    Expired { file: PathBuf, expired: String },
    #[error("TLS set-up: {0}")]
    Tls(String),
}

/// What the expiry metric and the SNI table need of a certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub file: PathBuf,
    /// Lower-case; `*.example.com` for a wildcard.
    pub hosts: Vec<String>,
    /// Unix seconds.
    pub not_after: i64,
}

/// The CA certificates clients of a mutual-TLS domain must chain to.
pub fn truststore(file: &Path) -> Result<rustls::RootCertStore, CertError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(file).map_err(|e| bad(file, format!("cannot read: {e}")))?
    {
        let cert = cert.map_err(|e| bad(file, format!("not PEM certificates: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(file, format!("not a CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad(file, "holds no certificate".into()));
    }
    Ok(roots)
}

fn bad(file: &Path, why: String) -> CertError {
    CertError::File {
        file: file.to_path_buf(),
        why,
    }
}

fn stand_in(
    c: &CertificateConfig,
    file: &Path,
) -> Result<(Arc<CertifiedKey>, CertInfo), CertError> {
    if c.hosts.is_empty() {
        return Err(CertError::Tls(
            "an `acme = true` certificate needs `hosts`".into(),
        ));
    }
    let params = rcgen::CertificateParams::new(c.hosts.clone())
        .map_err(|e| CertError::Tls(e.to_string()))?;
    Ok((
        generated(params).map_err(CertError::Tls)?,
        CertInfo {
            file: file.to_path_buf(),
            hosts: c.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            // Not a real certificate yet: already "expired" for the metric.
            not_after: 0,
        },
    ))
}

/// A self-signed certificate for `params` with a fresh key, ready to serve
/// (stand-ins, TLS-ALPN-01 challenge certificates).
pub fn generated(params: rcgen::CertificateParams) -> Result<Arc<CertifiedKey>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let der = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| e.to_string())?;
    let signing =
        rustls::crypto::aws_lc_rs::sign::any_supported_type(&der).map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// A PEM certificate chain and its private key, read.
pub fn read_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, format!("cannot read: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(bad(cert, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad(key, format!("no PEM private key: {e}")))?;
    Ok((chain, key))
}

/// A certificate chain and its key, from PEM texts.
pub fn parse_pair(
    cert: &str,
    key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate body holds no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| format!("no PEM private key: {e}"))?;
    Ok((chain, key))
}

/// A certificate uploaded as PEM text for `host` (CreateDomainName):
/// parsed, its key matched, its expiry checked.
pub fn from_pem(
    cert: &str,
    key: &str,
    host: &str,
    now: i64,
) -> Result<(Arc<CertifiedKey>, CertInfo), String> {
    let (chain, key) = parse_pair(cert, key)?;
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .map_err(|e| format!("unusable key: {e}"))?;
    let (_, x509) = x509_parser::parse_x509_certificate(&chain[0])
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let not_after = x509.validity().not_after.timestamp();
    if not_after < now {
        return Err(format!("expired at {} (UTC)", x509.validity().not_after));
    }
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| format!("the private key does not match the certificate: {e}"))?;
    Ok((
        Arc::new(certified),
        CertInfo {
            file: PathBuf::from(format!("domain name {host}")),
            hosts: vec![host.to_ascii_lowercase()],
            not_after,
        },
    ))
}

/// Loads a certificate entry. An ACME entry whose certificate has not been
/// obtained yet serves a self-signed stand-in until it is.
pub fn load(
    c: &CertificateConfig,
    state_dir: &Path,
    now: i64,
) -> Result<(Arc<CertifiedKey>, CertInfo), CertError> {
    let (cert_file, key_file) = c.files(state_dir);
    if !c.acme && (cert_file.as_os_str().is_empty() || key_file.as_os_str().is_empty()) {
        return Err(CertError::Tls(
            "a certificate needs `cert` and `key` (or `acme = true` with `hosts`)".into(),
        ));
    }
    if c.acme && !cert_file.exists() {
        return stand_in(c, &cert_file);
    }
    let (chain, key) = read_pair(&cert_file, &key_file)?;
    let leaf = &chain[0];
    let signing = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key)
        .map_err(|e| bad(&key_file, format!("unusable key: {e}")))?;
    let (_, x509) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| bad(&cert_file, format!("not an X.509 certificate: {e}")))?;
    let not_after = x509.validity().not_after.timestamp();
    if not_after < now {
        return Err(CertError::Expired {
            file: cert_file.clone(),
            expired: x509.validity().not_after.to_string(),
        });
    }
    let mut hosts: Vec<String> = c.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    if hosts.is_empty() {
        if let Ok(Some(san)) = x509.subject_alternative_name() {
            for name in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(d) = name {
                    hosts.push(d.to_ascii_lowercase());
                }
            }
        }
    }
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        bad(
            &key_file,
            format!("does not match {}: {e}", cert_file.display()),
        )
    })?;
    Ok((
        Arc::new(certified),
        CertInfo {
            file: cert_file.clone(),
            hosts,
            not_after,
        },
    ))
}
