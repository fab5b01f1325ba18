//! One listening socket per worker on the same address (SO_REUSEPORT): the
//! kernel spreads connections across workers with no shared accept lock.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Binds `n` listeners; port 0 picks one free port that all of them share.
pub fn bind_all(
    addr: SocketAddr,
    n: usize,
    backlog: u32,
) -> io::Result<(SocketAddr, Vec<TcpListener>)> {
    let first = bind(addr, backlog)?;
    let actual = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..n {
        all.push(bind(actual, backlog)?);
    }
    Ok((actual, all))
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
pub fn stop_accepting(l: &TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: shutdown on a descriptor we own; failure is harmless here.
    unsafe {
        libc::shutdown(l.as_raw_fd(), libc::SHUT_RD);
    }
}
