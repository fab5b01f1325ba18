//! Hand-over to a new portico (`--takeover`), as nginx's binary upgrade
//! and Envoy's hot restart do: the running process passes its listening
//! sockets (data plane, HTTPS and admin) to the new one over a unix socket
//! in the state directory (SCM_RIGHTS), so the new one accepts from the very
//! same sockets: no connection queued in the kernel is lost, and no
//! SO_REUSEPORT migration (a root-only sysctl) is needed. Once the new
//! process serves, it tells the old one to drain; the old one stops
//! accepting (without shutting the shared sockets down) and ends after its
//! requests in flight.
//!
//! The protocol, one SOCK_SEQPACKET message each: the new process sends
//! `listeners`; the old answers `KIND ADDR` lines with their descriptors
//! (up to [`PER_MESSAGE`] per message), then `end PID` (or `refused WHY`);
//! the new one, serving, sends `drain`; the old answers `draining`.

use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

/// In the state directory: where a running portico offers its sockets.
pub const SOCKET: &str = "takeover.sock";
/// Descriptors per message, under the kernel's SCM_MAX_FD (253).
const PER_MESSAGE: usize = 200;
/// How long the old process may take to answer a request (it answers from
/// its own thread, at once).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long the old process waits for the new one to serve (config
/// compiled, workers started) before giving up on it.
const SERVE_WITHIN: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Http,
    Https,
    Admin,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Https => "https",
            Kind::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Http, Kind::Https, Kind::Admin]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TakeoverError {
    #[error("--takeover: no running portico to take over: nothing answers on {} ({error}); start without --takeover", path.display())]
    NoneRunning { path: PathBuf, error: io::Error },
    #[error("--takeover: the running portico refused: {0}")]
    Refused(String),
    #[error("--takeover: {what}: {error}")]
    Io {
        what: &'static str,
        error: io::Error,
    },
    #[error("--takeover: unexpected answer from the running portico: {0:?}")]
    Protocol(String),
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> TakeoverError {
    move |error| TakeoverError::Io { what, error }
}

/// One socket received from the old process.
struct Received {
    kind: Kind,
    addr: SocketAddr,
    socket: TcpListener,
}

/// The new process's side: the old process's sockets, and the line to it.
pub struct Handover {
    line: Socket,
    received: Vec<Received>,
    pub pid: u32,
}

/// Asks the portico running on `state_dir` for its listening sockets; it
/// keeps serving on them until [`Handover::drain_old`].
pub fn request(state_dir: &Path) -> Result<Handover, TakeoverError> {
    let path = state_dir.join(SOCKET);
    let line = Socket::new(Domain::UNIX, Type::SEQPACKET, None).map_err(io_err("socket"))?;
    let to = SockAddr::unix(&path).map_err(io_err("socket path"))?;
    line.connect(&to)
        .map_err(|error| TakeoverError::NoneRunning { path, error })?;
    line.set_read_timeout(Some(ANSWER_WITHIN))
        .map_err(io_err("socket"))?;
    send(&line, b"listeners", &[]).map_err(io_err("asking for the sockets"))?;
    let mut received = Vec::new();
    loop {
        let (text, fds) = recv(&line).map_err(io_err("receiving the sockets"))?;
        if let Some(why) = text.strip_prefix("refused ") {
            return Err(TakeoverError::Refused(why.to_string()));
        }
        if let Some(pid) = text.strip_prefix("end ") {
            let pid = pid
                .parse()
                .map_err(|_| TakeoverError::Protocol(text.clone()))?;
            return Ok(Handover {
                line,
                received,
                pid,
            });
        }
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() != fds.len() {
            return Err(TakeoverError::Protocol(text));
        }
        for (l, fd) in lines.into_iter().zip(fds) {
            let parsed = l
                .split_once(' ')
                .and_then(|(k, a)| Some((Kind::parse(k)?, a.parse().ok()?)));
            let Some((kind, addr)) = parsed else {
                return Err(TakeoverError::Protocol(l.to_string()));
            };
            received.push(Received {
                kind,
                addr,
                socket: TcpListener::from(fd),
            });
        }
    }
}

impl Handover {
    /// The received sockets of `kind` on `addr` (a configured port 0 takes
    /// the old process's port on the same IP). Those no config address
    /// takes are closed when the hand-over ends: the address changed.
    pub fn take(&mut self, kind: Kind, addr: SocketAddr) -> Vec<TcpListener> {
        let fits = |r: &Received| {
            r.kind == kind && (r.addr == addr || (addr.port() == 0 && r.addr.ip() == addr.ip()))
        };
        let (taken, kept) = std::mem::take(&mut self.received)
            .into_iter()
            .partition(fits);
        self.received = kept;
        taken.into_iter().map(|r| r.socket).collect()
    }

    /// Tells the old process to drain (call once this one serves); returns
    /// its pid once it has stopped accepting.
    pub fn drain_old(self) -> Result<u32, TakeoverError> {
        send(&self.line, b"drain", &[]).map_err(io_err("asking the old process to drain"))?;
        match recv(&self.line).map_err(io_err("waiting for the old process to drain"))? {
            (t, _) if t == "draining" => Ok(self.pid),
            (t, _) => Err(TakeoverError::Protocol(t)),
        }
    }
}

/// Shared by the offer's thread and the control plane, so that a socket
/// already handed over is never shut down by a SIGTERM racing the
/// hand-over (it would stop accepting in the new process too).
#[derive(Default)]
pub struct Guard {
    handed: AtomicBool,
    stopping: AtomicBool,
}

impl Guard {
    /// Marks the process stopping; true when no other process holds its
    /// sockets, so they may be shut down. (Sequentially consistent with
    /// [`Guard::hand`]: one of the two sees the other.)
    pub fn stop(&self) -> bool {
        self.stopping.store(true, SeqCst);
        !self.handed.load(SeqCst)
    }

    fn hand(&self) -> bool {
        self.handed.store(true, SeqCst);
        if self.stopping.load(SeqCst) {
            self.handed.store(false, SeqCst);
            return false;
        }
        true
    }
}

/// The old process's side: offers the sockets until one new process has
/// taken over, then calls `on_drain`. Removes its socket file on drop,
/// unless a newer portico has put its own there.
pub struct Offer {
    path: PathBuf,
    inode: u64,
    closed: Arc<AtomicBool>,
}

impl Drop for Offer {
    fn drop(&mut self) {
        self.closed.store(true, SeqCst);
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Offers `sockets` on `state_dir`'s [`SOCKET`]. `replace`: a live socket
/// there is the old process's, being taken over; otherwise a live one is
/// another portico's on the same state directory, and is left alone
/// (`Ok(None)`).
pub fn offer(
    state_dir: &Path,
    sockets: Vec<(Kind, SocketAddr, TcpListener)>,
    guard: Arc<Guard>,
    replace: bool,
    on_drain: impl FnOnce() + Send + 'static,
) -> io::Result<Option<Offer>> {
    let path = state_dir.join(SOCKET);
    if !replace {
        let probe = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        if probe.connect(&SockAddr::unix(&path)?).is_ok() {
            return Ok(None);
        }
    }
    // Bound aside, then renamed over the old path: never a moment without one.
    let aside = state_dir.join(format!("{SOCKET}.{}", std::process::id()));
    let _ = std::fs::remove_file(&aside);
    let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
    // Linux creates the socket file with the socket's own mode (less the
    // umask): set before bind, the file is never world-writable, not even
    // for the moment between bind and a chmod.
    // SAFETY: fchmod on a descriptor this function owns.
    if unsafe { libc::fchmod(listener.as_raw_fd(), 0o600) } != 0 {
        return Err(io::Error::last_os_error());
    }
    listener.bind(&SockAddr::unix(&aside)?)?;
    std::fs::set_permissions(&aside, std::fs::Permissions::from_mode(0o600))?;
    listener.listen(4)?;
    std::fs::rename(&aside, &path)?;
    let inode = std::fs::metadata(&path)?.ino();
    let closed = Arc::new(AtomicBool::new(false));
    let stop = closed.clone();
    std::thread::Builder::new()
        .name("portico-takeover".into())
        .spawn(move || serve_offer(listener, sockets, guard, stop, on_drain))?;
    Ok(Some(Offer {
        path,
        inode,
        closed,
    }))
}

fn serve_offer(
    listener: Socket,
    sockets: Vec<(Kind, SocketAddr, TcpListener)>,
    guard: Arc<Guard>,
    closed: Arc<AtomicBool>,
    on_drain: impl FnOnce(),
) {
    while !closed.load(SeqCst) {
        let mut p = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 200) } <= 0 {
            continue;
        }
        let Ok((line, _)) = listener.accept() else {
            continue;
        };
        match converse(&line, &sockets, &guard) {
            Ok(true) => {
                on_drain();
                let _ = send(&line, b"draining", &[]);
                return;
            }
            Ok(false) => {}
            Err(e) => crate::log!(warn, "takeover: a hand-over failed: {e}"),
        }
    }
}

/// One new process: `Ok(true)` once it serves and asked this one to drain.
fn converse(
    line: &Socket,
    sockets: &[(Kind, SocketAddr, TcpListener)],
    guard: &Guard,
) -> io::Result<bool> {
    if peer_uid(line)? != unsafe { libc::geteuid() } {
        send(line, b"refused another user", &[])?;
        return Ok(false);
    }
    line.set_read_timeout(Some(ANSWER_WITHIN))?;
    let (asked, _) = recv(line)?;
    if asked != "listeners" {
        return Err(io::Error::other(format!("asked {asked:?}")));
    }
    if !guard.hand() {
        send(line, b"refused it is stopping", &[])?;
        return Ok(false);
    }
    for chunk in sockets.chunks(PER_MESSAGE) {
        let text: Vec<String> = chunk
            .iter()
            .map(|(k, a, _)| format!("{} {a}", k.name()))
            .collect();
        let fds: Vec<RawFd> = chunk.iter().map(|(_, _, l)| l.as_raw_fd()).collect();
        send(line, text.join("\n").as_bytes(), &fds)?;
    }
    send(line, format!("end {}", std::process::id()).as_bytes(), &[])?;
    crate::log!(
        info,
        "takeover: sockets handed to a new process; serving until it asks to drain"
    );
    line.set_read_timeout(Some(SERVE_WITHIN))?;
    match recv(line) {
        Ok((t, _)) if t == "drain" => Ok(true),
        other => {
            // It gave up (or died): the sockets are this process's alone again.
            guard.handed.store(false, SeqCst);
            crate::log!(
                warn,
                "takeover: the new process did not take over; still serving"
            );
            other.map(|_| false)
        }
    }
}

fn peer_uid(s: &Socket) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// One message, with `fds` as SCM_RIGHTS.
fn send(s: &Socket, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = if fds.is_empty() {
        0
    } else {
        unsafe { libc::CMSG_SPACE(fd_bytes) as usize }
    };
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    };
    // SAFETY: zeroed msghdr is a valid empty header; the pointers set below
    // outlive the sendmsg call, and the control buffer is CMSG_SPACE bytes,
    // aligned for cmsghdr.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !fds.is_empty() {
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
        }
        if libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One message and the descriptors that came with it (close-on-exec).
fn recv(s: &Socket) -> io::Result<(String, Vec<OwnedFd>)> {
    let mut data = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
    // SAFETY: a pure size computation.
    let space = unsafe { libc::CMSG_SPACE((PER_MESSAGE * std::mem::size_of::<RawFd>()) as u32) };
    let mut control = vec![0u64; (space as usize).div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut fds = Vec::new();
    // SAFETY: as in `send`; the kernel fills at most the lengths given, and
    // each SCM_RIGHTS descriptor is new to this process, so owning it is right.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let n = libc::recvmsg(s.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let p = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(p.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        if msg.msg_flags & (libc::MSG_CTRUNC | libc::MSG_TRUNC) != 0 {
            return Err(io::Error::other("message truncated"));
        }
        n as usize
    };
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other process hung up",
        ));
    }
    // SAFETY: recvmsg initialised the first `n` bytes.
    let bytes: Vec<u8> = data[..n]
        .iter()
        .map(|b| unsafe { b.assume_init() })
        .collect();
    Ok((String::from_utf8_lossy(&bytes).into_owned(), fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_travel_and_the_old_side_is_told_to_drain() {
        let dir = std::env::temp_dir().join(format!("portico-takeover-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (drained_tx, drained) = std::sync::mpsc::channel();
        let guard = Arc::new(Guard::default());
        let offer = offer(
            &dir,
            vec![(Kind::Http, addr, l.try_clone().unwrap())],
            guard.clone(),
            false,
            move || drained_tx.send(()).unwrap(),
        )
        .unwrap()
        .expect("no other portico on this directory");
        let mut h = request(&dir).unwrap();
        assert!(h.take(Kind::Admin, addr).is_empty());
        let got = h.take(Kind::Http, "127.0.0.1:0".parse().unwrap());
        assert_eq!(got.len(), 1);
        // The same socket: a connection made now is accepted from the received one.
        let _c = std::net::TcpStream::connect(addr).unwrap();
        let (_, peer) = got[0].accept().unwrap();
        assert_eq!(peer.ip(), addr.ip());
        // Handed over: a SIGTERM now must not shut the shared sockets down.
        assert_eq!(h.drain_old().unwrap(), std::process::id());
        drained.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(!guard.stop());
        drop(offer);
        assert!(!dir.join(SOCKET).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_running_portico_it_says_so() {
        let dir = std::env::temp_dir().join("portico-takeover-none");
        let e = request(&dir).err().expect("nothing runs there");
        assert!(matches!(e, TakeoverError::NoneRunning { .. }), "{e}");
    }
}
