//! Listening sockets. Each worker has its own on the same address
//! (SO_REUSEPORT): the kernel spreads connections across workers with no
//! shared accept lock. SO_REUSEPORT would also let a second portico of the
//! same user join the group and silently take half the traffic, so an
//! address is first probed without it: only an explicit hand-over
//! (`--takeover`, [`super::takeover`]) may share it.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Why a listener could not be had. The OS error is kept as a field, not
/// as a `source`, so that a chain printer does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("{what} {addr} is already in use by {holder}: to hand over from a running portico, start the new one with --takeover")]
    InUse {
        /// The config key, e.g. `[server] listen`.
        what: &'static str,
        addr: SocketAddr,
        /// `portico (pid 1234)`, or `another process (another portico?)`.
        holder: String,
    },
    #[error("{what} {addr}: cannot listen: {error}")]
    Io {
        what: &'static str,
        addr: SocketAddr,
        error: io::Error,
    },
}

impl ListenError {
    fn new(what: &'static str, addr: SocketAddr, error: io::Error) -> ListenError {
        if error.kind() == io::ErrorKind::AddrInUse {
            let holder = super::holder::holder(addr)
                .unwrap_or_else(|| "another process (another portico?)".into());
            ListenError::InUse { what, addr, holder }
        } else {
            ListenError::Io { what, addr, error }
        }
    }
}

/// `n` listeners on `addr` (port 0: one free port they all share), or, on
/// a hand-over, the `inherited` ones, joined by new ones up to `n`. There
/// may then be more than `n`: every inherited socket is kept, since closing
/// one would drop the connections queued on it.
pub fn bind_all(
    what: &'static str,
    addr: SocketAddr,
    n: usize,
    backlog: u32,
    inherited: Vec<TcpListener>,
) -> Result<(SocketAddr, Vec<TcpListener>), ListenError> {
    let err = |a, e| ListenError::new(what, a, e);
    let mut all = inherited;
    if all.is_empty() {
        probe(addr).map_err(|e| err(addr, e))?;
        all.push(bind(addr, backlog).map_err(|e| err(addr, e))?);
    }
    let actual = all[0].local_addr().map_err(|e| err(addr, e))?;
    for l in &all {
        // Inherited ones too: the flag is on the shared file description.
        l.set_nonblocking(true).map_err(|e| err(actual, e))?;
    }
    while all.len() < n {
        all.push(bind(actual, backlog).map_err(|e| err(actual, e))?);
    }
    Ok((actual, all))
}

/// A plain listener (no SO_REUSEPORT: the admin listener), or the inherited one.
pub fn bind_one(
    what: &'static str,
    addr: SocketAddr,
    inherited: Option<TcpListener>,
) -> Result<TcpListener, ListenError> {
    let l = match inherited {
        Some(l) => l,
        None => TcpListener::bind(addr).map_err(|e| ListenError::new(what, addr, e))?,
    };
    l.set_nonblocking(true)
        .map_err(|e| ListenError::new(what, addr, e))?;
    Ok(l)
}

/// Fails with `AddrInUse` when any socket is bound to `addr`, SO_REUSEPORT
/// group or not: the probe has no SO_REUSEPORT, so it cannot join one.
/// SO_REUSEADDR lets it past connections of a previous run in TIME_WAIT.
/// Port 0 picks a free port, so there is nothing to probe.
fn probe(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())
}

fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(socket.into())
}

/// Refuses new connections at once: a shut-down listening socket fails
/// pending and future accepts (EINVAL), and the kernel refuses new SYNs.
/// Never on a socket handed to another process: it would stop there too.
pub fn stop_accepting(l: &TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: shutdown on a descriptor we own; failure is harmless here.
    unsafe {
        libc::shutdown(l.as_raw_fd(), libc::SHUT_RD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_address_is_refused_with_its_name() {
        let (addr, _held) = bind_all(
            "[server] listen",
            "127.0.0.1:0".parse().unwrap(),
            2,
            16,
            vec![],
        )
        .unwrap();
        let e = bind_all("[server] listen", addr, 2, 16, vec![]).unwrap_err();
        assert!(matches!(e, ListenError::InUse { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&addr.to_string()) && text.contains("--takeover"),
            "{text}"
        );
    }

    #[test]
    fn an_os_error_is_named_once() {
        // Binding a non-local address fails with EADDRNOTAVAIL.
        let addr: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let e = bind_all("[server] listen", addr, 1, 16, vec![]).unwrap_err();
        let text = e.to_string();
        let os = text.matches("os error").count();
        assert_eq!(os, 1, "{text}");
        assert!(std::error::Error::source(&e).is_none());
    }
}
