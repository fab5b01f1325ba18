//! Where an upstream is: `host[:port]` as written in a URI, resolved once
//! when the config is compiled (never per request).

use std::io;
use std::net::SocketAddr;

use super::tls::{TlsConfigFn, UpstreamTls};

pub type Resolve<'a> = &'a mut dyn FnMut(&str) -> io::Result<Vec<SocketAddr>>;

/// The addresses of `authority` (`host`, `host:port`, `[v6]:port`; `default_port` without one).
pub fn resolve_authority(
    authority: &str,
    default_port: u16,
    resolve: Resolve<'_>,
) -> Result<Vec<SocketAddr>, String> {
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("`{authority}` is not a host[:port]"));
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'));
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    resolve(&target).map_err(|e| format!("cannot resolve `{target}`: {e}"))
}

/// An `http://` or `https://` URL's host, resolved, with what TLS needs.
pub struct Endpoint {
    /// `host[:port]` as written: the `Host` header.
    pub authority: String,
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<UpstreamTls>,
}

impl Endpoint {
    /// Splits `url` into its endpoint and its path (`/` when it has none).
    pub fn parse<'u>(
        url: &'u str,
        tls: TlsConfigFn<'_>,
        resolve: Resolve<'_>,
    ) -> Result<(Endpoint, &'u str), String> {
        let (rest, https) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(r), _) => (r, false),
            (_, Some(r)) => (r, true),
            _ => return Err(format!("`{url}` is not an http:// or https:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addrs = resolve_authority(authority, if https { 443 } else { 80 }, resolve)?;
        let tls = if https {
            Some(UpstreamTls::new(tls()?, authority)?)
        } else {
            None
        };
        Ok((
            Endpoint {
                authority: authority.to_string(),
                addrs,
                tls,
            },
            path,
        ))
    }
}
