//! TLS to `https://` upstreams: rustls as a client, checking the
//! upstream's certificate against the system's CAs or `[upstream] ca_file`,
//! with SNI; each worker's pool keeps these connections apart from plain
//! ones and per server name.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use crate::tls::{certs, CertError};

/// Gives the client config of a snapshot (or of a stage presenting its
/// own client certificate), made on first need.
pub type TlsConfigFn<'a> = &'a dyn Fn() -> Result<ClientTls, String>;

/// A client config and the client certificate it presents, if any.
#[derive(Clone)]
pub struct ClientTls {
    pub config: Arc<ClientConfig>,
    /// The certificate's id (a stage's `clientCertificateId`): connections
    /// made with it are pooled apart, so no other stage's call reuses one.
    pub identity: Option<Arc<str>>,
}

/// The client certificate a config presents.
pub enum Identity<'a> {
    /// `[upstream] client_cert` and `client_key`: PEM files.
    Files(&'a Path, &'a Path),
    /// A management-API client certificate: its id and PEM texts.
    Pem {
        id: &'a str,
        cert: &'a str,
        key: &'a str,
    },
}

/// How to reach one `https://` upstream.
#[derive(Clone)]
pub struct UpstreamTls {
    pub config: Arc<ClientConfig>,
    pub name: ServerName<'static>,
    /// What the pool keys connections by: the server name, and the client
    /// certificate's id when one is presented.
    pub pool_name: Arc<str>,
}

impl UpstreamTls {
    /// For the host of `authority` (`host[:port]`).
    pub fn new(tls: ClientTls, authority: &str) -> Result<UpstreamTls, String> {
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => h,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("`{host}` is not a TLS server name: {e}"))?;
        let pool_name = match &tls.identity {
            // A space never occurs in a server name.
            Some(id) => format!("{host} {id}").into(),
            None => host.into(),
        };
        Ok(UpstreamTls {
            config: tls.config,
            name,
            pool_name,
        })
    }
}

/// The client config `https://` upstreams share; `identity`: the client
/// certificate and key for upstreams that ask.
pub fn client_config(
    ca_file: Option<&Path>,
    identity: Option<Identity<'_>>,
) -> Result<ClientTls, CertError> {
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
    let mut config = match &identity {
        None => builder.with_no_client_auth(),
        Some(Identity::Files(cert, key)) => {
            let (chain, key) = certs::read_pair(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| CertError::File {
                    file: cert.to_path_buf(),
                    why: format!("unusable client certificate: {e}"),
                })?
        }
        Some(Identity::Pem { id, cert, key }) => {
            let (chain, key) = certs::parse_pair(cert, key)
                .map_err(|e| CertError::Tls(format!("client certificate {id}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| CertError::Tls(format!("client certificate {id}: {e}")))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ClientTls {
        config: Arc::new(config),
        identity: match identity {
            Some(Identity::Pem { id, .. }) => Some(id.into()),
            _ => None,
        },
    })
}
