//! TLS to `https://` upstreams: rustls as a client, checking the
//! upstream's certificate against the system's CAs or `[upstream] ca_file`,
//! with SNI; each worker's pool keeps these connections apart from plain
//! ones and per server name.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use crate::tls::{certs, CertError};

/// Gives the snapshot's client config, made on first need.
pub type TlsConfigFn<'a> = &'a dyn Fn() -> Result<Arc<ClientConfig>, String>;

/// How to reach one `https://` upstream.
#[derive(Clone)]
pub struct UpstreamTls {
    pub config: Arc<ClientConfig>,
    pub name: ServerName<'static>,
    /// The name as the pool keys connections by it.
    pub sni: Arc<str>,
}

impl UpstreamTls {
    /// For the host of `authority` (`host[:port]`).
    pub fn new(config: Arc<ClientConfig>, authority: &str) -> Result<UpstreamTls, String> {
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => h,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("`{host}` is not a TLS server name: {e}"))?;
        Ok(UpstreamTls {
            config,
            name,
            sni: host.into(),
        })
    }
}

/// The client config every `https://` upstream of a snapshot shares;
/// `identity`: the client certificate and key for upstreams that ask.
pub fn client_config(
    ca_file: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, CertError> {
    let roots = match ca_file {
        Some(file) => certs::truststore(file)?,
        None => {
            // Certificates the system has that rustls cannot use are skipped.
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots
        }
    };
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let (chain, key) = certs::read_pair(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| CertError::File {
                    file: cert.to_path_buf(),
                    why: format!("unusable client certificate: {e}"),
                })?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
