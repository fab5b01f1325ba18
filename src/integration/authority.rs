//! Where an upstream is: `host[:port]` as written in a URI, resolved once
//! when the config is compiled (never per request).

use std::io;
use std::net::SocketAddr;

pub type Resolve<'a> = &'a mut dyn FnMut(&str) -> io::Result<Vec<SocketAddr>>;

/// The addresses of `authority` (`host`, `host:port`, `[v6]:port`; port 80 by default).
pub fn resolve_authority(authority: &str, resolve: Resolve<'_>) -> Result<Vec<SocketAddr>, String> {
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("`{authority}` is not a host[:port]"));
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'));
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    resolve(&target).map_err(|e| format!("cannot resolve `{target}`: {e}"))
}
