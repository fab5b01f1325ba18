//! Mutual TLS is decided by the handshake's SNI, the API by the Host
//! header: a client could ask for another name (or none) in the handshake,
//! present no certificate, and name a mutual-TLS domain in `Host`. So a
//! request whose Host is a mutual-TLS domain is served only on a TLS
//! connection whose SNI chose that same domain (so its truststore verified
//! the client's certificate); otherwise 421 Misdirected Request, as nginx
//! answers a Host that does not match the SNI of a client-certificate
//! server. Never over plain HTTP.

use crate::http::{ErrorResponse, Head};
use crate::snapshot::Snapshot;

use super::resolve::lower_host;

use crate::dataplane::errors::MISDIRECTED;

/// The connection's side: whether it is TLS, the SNI it asked for, and
/// whether a (verified) client certificate came with it.
pub struct Connection<'c> {
    pub https: bool,
    pub sni: Option<&'c str>,
    pub client_cert: bool,
}

pub fn check(
    snap: &Snapshot,
    head: &Head,
    buf: &[u8],
    conn: Connection<'_>,
) -> Result<(), ErrorResponse> {
    let Some(tls) = snap.tls.as_deref().filter(|t| t.by_name) else {
        return Ok(());
    };
    let mut host_buf = [0u8; 256];
    let host = head
        .host
        .map(|h| lower_host(h.get(buf), &mut host_buf))
        .unwrap_or(&[]);
    let Some(domain) = std::str::from_utf8(host)
        .ok()
        .and_then(|h| tls.mutual_domain(h))
    else {
        return Ok(());
    };
    let mut sni_buf = [0u8; 256];
    let sni_domain = conn
        .sni
        .map(|s| lower_host(s.as_bytes(), &mut sni_buf))
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| tls.mutual_domain(s));
    if conn.https && conn.client_cert && sni_domain == Some(domain) {
        Ok(())
    } else {
        Err(MISDIRECTED)
    }
}
