//! TLS for the tests: certificates made with rcgen, and a rustls client
//! that records what the server presented (which certificate, protocol
//! version, ALPN, whether the session resumed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, HandshakeKind, ProtocolVersion, SignatureScheme,
};

use super::{Server, IO_TIMEOUT};

/// A certificate for `hosts` written as `{dir}/{name}.crt` and `.key`;
/// `expired`: valid only in 2000–2001.
pub fn make_cert(dir: &Path, name: &str, hosts: &[&str], expired: bool) -> (PathBuf, PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    std::fs::create_dir_all(dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// The DER of the first certificate in a PEM file.
pub fn cert_der(pem: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_file_iter(pem)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// Accepts any certificate (these are self-signed test certificates); the
/// tests compare what was presented with the files.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client config: `versions` (empty: both), ALPN offers `alpn`.
pub fn client_config(
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&str],
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let versions = if versions.is_empty() {
        rustls::ALL_VERSIONS
    } else {
        versions
    };
    let mut c = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|a| a.as_bytes().to_vec()).collect();
    Arc::new(c)
}

/// `client_config(&[], &[])` that never resumes: each connection sees
/// the certificate the server presents now.
pub fn no_resumption_config() -> Arc<ClientConfig> {
    let mut c = (*client_config(&[], &[])).clone();
    c.resumption = rustls::client::Resumption::disabled();
    Arc::new(c)
}

/// What one TLS exchange saw.
#[derive(Debug)]
pub struct TlsSeen {
    /// DER of the certificate the server presented.
    pub cert: Vec<u8>,
    pub version: Option<ProtocolVersion>,
    pub alpn: Option<Vec<u8>>,
    pub resumed: bool,
    /// The raw HTTP answer.
    pub answer: String,
}

/// Connects to `port` (`sni`: the name sent; an IP address sends none),
/// sends `GET path` with `Connection: close` and reads the whole answer.
pub fn tls_get(
    config: &Arc<ClientConfig>,
    port: u16,
    sni: &str,
    path: &str,
) -> Result<TlsSeen, String> {
    tls_get_host(config, port, sni, sni, path)
}

/// `tls_get` with a `Host` header other than the name sent in the handshake.
pub fn tls_get_host(
    config: &Arc<ClientConfig>,
    port: u16,
    sni: &str,
    host: &str,
    path: &str,
) -> Result<TlsSeen, String> {
    let name = ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let c = &s.conn;
    Ok(TlsSeen {
        cert: c
            .peer_certificates()
            .and_then(|p| p.first())
            .map(|d| d.to_vec())
            .unwrap_or_default(),
        version: c.protocol_version(),
        alpn: c.alpn_protocol().map(<[u8]>::to_vec),
        resumed: c.handshake_kind() == Some(HandshakeKind::Resumed),
        answer: String::from_utf8_lossy(&answer).into_owned(),
    })
}

impl Server {
    /// The HTTPS listener's port, from its `listening on https://` line.
    pub fn https_port(&mut self) -> u16 {
        const MARK: &str = "listening on https://127.0.0.1:";
        if let Some(p) = self.startup.iter().find_map(|l| port_after(l, MARK)) {
            return p;
        }
        let deadline = std::time::Instant::now() + super::STARTUP_TIMEOUT;
        while std::time::Instant::now() < deadline {
            if let Some(line) = self.next_line(super::STARTUP_TIMEOUT) {
                self.startup.push(line.clone());
                if let Some(p) = port_after(&line, MARK) {
                    return p;
                }
            }
        }
        panic!("no `{MARK}PORT` line; got {:#?}", self.startup)
    }
}

fn port_after(line: &str, mark: &str) -> Option<u16> {
    let i = line.find(mark)?;
    line[i + mark.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Shared by load threads: counts of successes and failures.
#[derive(Default)]
pub struct Tally {
    pub ok: usize,
    pub failed: Vec<String>,
}

pub type SharedTally = Arc<Mutex<Tally>>;

/// An HTTPS upstream: answers every request `200 ok` (keep-alive) and
/// sends the SNI name and request head of each on `rx`.
pub struct TlsUpstream {
    pub port: u16,
    pub rx: std::sync::mpsc::Receiver<(Option<String>, String)>,
}

impl TlsUpstream {
    pub fn start(cert: &Path, key: &Path) -> TlsUpstream {
        TlsUpstream::start_with(cert, key, None)
    }

    /// `client_ca`: clients must present a certificate from it (mutual TLS).
    pub fn start_with(cert: &Path, key: &Path, client_ca: Option<&Path>) -> TlsUpstream {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
        let builder = rustls::ServerConfig::builder();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca).unwrap() {
                    roots.add(c.unwrap()).unwrap();
                }
                builder.with_client_cert_verifier(
                    rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                        .build()
                        .unwrap(),
                )
            }
        };
        let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(tcp) = s else { continue };
                let (config, tx) = (config.clone(), tx.clone());
                std::thread::spawn(move || {
                    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut s = rustls::StreamOwned::new(conn, tcp);
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = s.read(&mut chunk) else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                            buf.drain(..end + 4);
                            let sni = s.conn.server_name().map(str::to_string);
                            let _ = tx.send((sni, head));
                            if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                });
            }
        });
        TlsUpstream { port, rx }
    }
}

/// A CA (its certificate written to `{dir}/{name}.crt`) that can sign client certificates.
pub fn make_ca(
    dir: &Path,
    name: &str,
) -> (PathBuf, rcgen::CertifiedIssuer<'static, rcgen::KeyPair>) {
    std::fs::create_dir_all(dir).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let path = dir.join(format!("{name}.crt"));
    std::fs::write(&path, ca.pem()).unwrap();
    (path, ca)
}

/// A client certificate `ca` signs for `cn`, and its key.
pub fn client_cert(
    ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    cn: &str,
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert, key)
}

/// A client config presenting a certificate `ca` signs for `cn`.
pub fn client_config_with_cert(
    ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    cn: &str,
) -> Arc<ClientConfig> {
    let (cert, key) = client_cert(ca, cn);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let c = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_client_auth_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    Arc::new(c)
}
