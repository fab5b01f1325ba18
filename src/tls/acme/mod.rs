//! Automatic certificates (RFC 8555) for `[[tls.certificates]]` marked
//! `acme = true`: on its own thread (instant-acme on a small tokio
//! runtime, off the workers), the account key and certificates kept in the
//! state directory, challenges answered by the workers (`challenges`),
//! renewal `renew_before_days` before expiry with doubling backoff on
//! failure. The current certificate serves until the new one is written;
//! then the same reload as a changed file publishes it.

pub mod challenges;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, Order, OrderStatus, RetryPolicy,
};

use crate::config::{AcmeChallenge, CertificateConfig, Config};
use challenges::Challenges;

/// What to do next for one certificate.
pub enum Due {
    /// Missing or within the renewal window.
    Now,
    /// Seconds until it enters the renewal window.
    In(u64),
}

/// When the certificate in `cert_file` needs renewing.
pub fn due(cert_file: &Path, renew_before_days: u64, now: i64) -> Due {
    let Ok(pem) = std::fs::read(cert_file) else {
        return Due::Now;
    };
    use rustls::pki_types::pem::PemObject;
    let Some(Ok(der)) = rustls::pki_types::CertificateDer::pem_slice_iter(&pem).next() else {
        return Due::Now;
    };
    let Ok((_, x509)) = x509_parser::parse_x509_certificate(&der) else {
        return Due::Now;
    };
    let renew_at = x509.validity().not_after.timestamp() - (renew_before_days as i64) * 86_400;
    if renew_at <= now {
        Due::Now
    } else {
        Due::In((renew_at - now) as u64)
    }
}

/// How the ACME thread hands challenges to the workers: returns once every
/// worker answers `challenges` (and no longer what they replaced).
pub type Publish<'a> = &'a dyn Fn(Arc<Challenges>) -> Result<(), String>;

/// Obtains a certificate for `cert`'s hosts and writes it (and its new key)
/// to its files.
pub fn issue(
    config: &Config,
    cert: &CertificateConfig,
    publish: Publish<'_>,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(issue_async(config, cert, publish))
}

async fn issue_async(
    config: &Config,
    cert: &CertificateConfig,
    publish: Publish<'_>,
) -> Result<(), String> {
    let dir = config.state.dir.join("acme");
    crate::control::state::private::create_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let account = account(config, &dir).await?;
    let identifiers: Vec<Identifier> = cert
        .hosts
        .iter()
        .map(|h| Identifier::Dns(h.clone()))
        .collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let mut pending = Challenges::default();
    let outcome = async {
        validate(config, &mut order, &mut pending, publish).await?;
        finalize(config, cert, &mut order).await
    }
    .await;
    // Withdrawn however the order ended, a failure half-way too.
    if !pending.is_empty() {
        if let Err(e) = publish(Arc::default()) {
            crate::log!(warn, "ACME: challenges withdrawn late: {e}");
        }
    }
    outcome
}

/// Answers each authorization's challenge and waits for the CA to find
/// them valid. A challenge is published to every worker before the CA is
/// told it is ready, so whichever worker the CA reaches answers it.
async fn validate(
    config: &Config,
    order: &mut Order,
    pending: &mut Challenges,
    publish: Publish<'_>,
) -> Result<(), String> {
    let kind = match config.acme.challenge {
        AcmeChallenge::Http01 => ChallengeType::Http01,
        AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    let mut authorizations = order.authorizations();
    while let Some(a) = authorizations.next().await {
        let mut authz = a.map_err(|e| format!("authorization: {e}"))?;
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        let host = match authz.identifier().identifier {
            Identifier::Dns(h) => h.clone(),
            other => return Err(format!("cannot validate {other:?}")),
        };
        let mut challenge = authz
            .challenge(kind.clone())
            .ok_or_else(|| format!("the CA offers no {kind:?} challenge"))?;
        let key_authorization = challenge.key_authorization();
        match kind {
            ChallengeType::TlsAlpn01 => pending.add_cert(
                &host,
                alpn_cert(&host, key_authorization.digest().as_ref())?,
            ),
            _ => pending.add_token(&challenge.token, key_authorization.as_str()),
        }
        publish(Arc::new(pending.clone())).map_err(|e| format!("challenge not published: {e}"))?;
        challenge
            .set_ready()
            .await
            .map_err(|e| format!("challenge: {e}"))?;
    }
    let status = order
        .poll_ready(&retry())
        .await
        .map_err(|e| format!("validation: {e}"))?;
    if status != OrderStatus::Ready {
        return Err(format!("the order is {status:?}, not ready"));
    }
    Ok(())
}

/// Sends a new key's CSR for a validated order and writes the certificate.
async fn finalize(
    config: &Config,
    cert: &CertificateConfig,
    order: &mut Order,
) -> Result<(), String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let csr = rcgen::CertificateParams::new(cert.hosts.clone())
        .and_then(|p| p.serialize_request(&key))
        .map_err(|e| format!("CSR: {e}"))?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    let chain = order
        .poll_certificate(&retry())
        .await
        .map_err(|e| format!("certificate: {e}"))?;
    let (cert_file, key_file) = cert.files(&config.state.dir);
    // Key first, then the certificate: the watcher reloads on the certificate.
    write_atomically(&key_file, key.serialize_pem().as_bytes())?;
    write_atomically(&cert_file, chain.as_bytes())
}

fn retry() -> RetryPolicy {
    RetryPolicy::default().timeout(Duration::from_secs(60))
}

/// The self-signed certificate a TLS-ALPN-01 validation expects: the
/// name, and the key authorization's digest in the acmeIdentifier extension.
fn alpn_cert(host: &str, digest: &[u8]) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let mut params =
        rcgen::CertificateParams::new(vec![host.to_string()]).map_err(|e| e.to_string())?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    super::certs::generated(params)
}

/// The account of `state/acme/account.json`, or a new one saved there.
async fn account(config: &Config, dir: &Path) -> Result<Account, String> {
    let saved = dir.join("account.json");
    let builder = || match &config.acme.ca_file {
        Some(ca) => Account::builder_with_root(ca).map_err(|e| format!("ACME client: {e}")),
        None => Account::builder().map_err(|e| format!("ACME client: {e}")),
    };
    if let Ok(text) = std::fs::read(&saved) {
        let credentials: AccountCredentials =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", saved.display()))?;
        return builder()?
            .from_credentials(credentials)
            .await
            .map_err(|e| format!("account: {e}"));
    }
    let contact: Vec<String> = config
        .acme
        .email
        .iter()
        .map(|e| format!("mailto:{e}"))
        .collect();
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.acme.directory.clone(),
            None,
        )
        .await
        .map_err(|e| format!("new account at {}: {e}", config.acme.directory))?;
    let text = serde_json::to_vec(&credentials).map_err(|e| e.to_string())?;
    write_atomically(&saved, &text)?;
    Ok(account)
}

/// Owner-only, as everything in the state directory (certificates too).
fn write_atomically(path: &PathBuf, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = crate::control::state::private::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()).map(|()| f))
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    let _ = f.flush();
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
