//! A connection's transport: plain TCP, or TLS over it. TLS is rustls's
//! sans-I/O connection driven here with monoio's owned-buffer reads and
//! writes, so the rest of the server reads and writes plaintext the same
//! way on either and nothing TLS-specific is shared between workers.

use std::io::{self, BufRead, Write};
use std::sync::Arc;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent};
use monoio::net::TcpStream;

// `Tls` is boxed in `Io`, so the size of the larger variant costs nothing per plain connection.
#[allow(clippy::large_enum_variant)]
enum State {
    /// Reading the ClientHello, to pick the server config by its name (or
    /// a pending TLS-ALPN-01 challenge's, for the CA validating it).
    Accepting(
        Box<rustls::server::Acceptor>,
        Arc<crate::tls::Tls>,
        Option<crate::tls::acme::challenges::Local>,
    ),
    Ready(rustls::Connection),
}

/// Ciphertext read at once: one TLS record and then some.
const CIPHER_READ: usize = 17 * 1024;

pub struct Io {
    pub tcp: TcpStream,
    tls: Option<Box<Tls>>,
}

struct Tls {
    state: State,
    /// Ciphertext read from the socket and not yet taken by rustls.
    cipher_in: Vec<u8>,
    cipher_at: usize,
    /// Ciphertext rustls produced, on its way to the socket.
    cipher_out: Vec<u8>,
}

impl Io {
    pub fn plain(tcp: TcpStream) -> Io {
        Io { tcp, tls: None }
    }

    pub fn tls(tcp: TcpStream, conn: impl Into<rustls::Connection>) -> Io {
        Io::with_state(tcp, State::Ready(conn.into()))
    }

    /// A server connection whose config depends on the ClientHello: its
    /// name, and whether it asks for a challenge in `acme`.
    pub fn tls_by_name(
        tcp: TcpStream,
        tls: Arc<crate::tls::Tls>,
        acme: Option<crate::tls::acme::challenges::Local>,
    ) -> Io {
        Io::with_state(tcp, State::Accepting(Box::default(), tls, acme))
    }

    fn with_state(tcp: TcpStream, state: State) -> Io {
        Io {
            tcp,
            tls: Some(Box::new(Tls {
                state,
                cipher_in: Vec::new(),
                cipher_at: 0,
                cipher_out: Vec::new(),
            })),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The server name the client asked for (SNI), on a TLS server connection.
    pub fn server_name(&self) -> Option<&str> {
        match &self.tls.as_ref()?.state {
            State::Ready(rustls::Connection::Server(s)) => s.server_name(),
            _ => None,
        }
    }

    /// The first certificate a TLS client presented (mutual TLS), as DER.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        match &self.tls.as_ref()?.state {
            State::Ready(rustls::Connection::Server(s)) => {
                s.peer_certificates()?.first().map(|c| c.as_ref())
            }
            _ => None,
        }
    }

    /// Reads into `buf`'s spare capacity (at least one byte of it); `Ok(0)`
    /// is the end of the stream. Takes the buffer by value, as monoio does.
    pub async fn read(&mut self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.read_or_cancel(buf, None).await
    }

    /// `read` that `cancel` can stop without losing a byte: cancelled, it
    /// fails with `ECANCELED` and whatever had arrived stays in the socket
    /// or in the TLS buffers, for the next read.
    pub async fn read_cancelable(
        &mut self,
        buf: Vec<u8>,
        cancel: CancelHandle,
    ) -> (io::Result<usize>, Vec<u8>) {
        self.read_or_cancel(buf, Some(cancel)).await
    }

    async fn read_or_cancel(
        &mut self,
        mut buf: Vec<u8>,
        cancel: Option<CancelHandle>,
    ) -> (io::Result<usize>, Vec<u8>) {
        let Some(tls) = self.tls.as_mut() else {
            let len = buf.len();
            let (res, slice) = tcp_read(
                &mut self.tcp,
                monoio::buf::IoBufMut::slice_mut(buf, len..),
                &cancel,
            )
            .await;
            return (res, slice.into_inner());
        };
        loop {
            if let State::Ready(conn) = &mut tls.state {
                // Plaintext rustls already has, copied straight from its
                // buffer (no zeroing of ours first).
                let mut reader = conn.reader();
                match reader.fill_buf() {
                    Ok(data) => {
                        let n = data.len().min(buf.capacity() - buf.len());
                        buf.extend_from_slice(&data[..n]);
                        reader.consume(n);
                        return (Ok(n), buf);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed without close_notify: the end, as for TCP.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return (Ok(0), buf),
                    Err(e) => return (Err(e), buf),
                }
            }
            // Handshake messages (or alerts) rustls wants sent first.
            if let Err(e) = flush_tls(&mut self.tcp, tls).await {
                return (Err(e), buf);
            }
            if tls.cipher_at == tls.cipher_in.len() {
                let mut cipher = std::mem::take(&mut tls.cipher_in);
                cipher.clear();
                tls.cipher_at = 0;
                if cipher.capacity() < CIPHER_READ {
                    cipher.reserve_exact(CIPHER_READ);
                }
                let slice = monoio::buf::IoBufMut::slice_mut(cipher, 0..CIPHER_READ);
                let (res, slice) = tcp_read(&mut self.tcp, slice, &cancel).await;
                tls.cipher_in = slice.into_inner();
                match res {
                    Ok(0) => return (Ok(0), buf),
                    Ok(_) => {}
                    Err(e) => return (Err(e), buf),
                }
            }
            let mut rd = &tls.cipher_in[tls.cipher_at..];
            let before = rd.len();
            let outcome = feed(&mut tls.state, &mut rd, &mut tls.cipher_out);
            tls.cipher_at += before - rd.len();
            if let Err(e) = outcome {
                // An upstream we cannot trust is the operator's to know about
                // (the client gets 502); a client's failed handshake is not.
                if matches!(tls.state, State::Ready(rustls::Connection::Client(_))) {
                    let peer = self
                        .tcp
                        .peer_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    crate::log!(warn, "TLS to upstream {peer}: {e}");
                }
                // Tell the peer why (an alert), then fail.
                let _ = flush_tls(&mut self.tcp, tls).await;
                return (Err(e), buf);
            }
        }
    }

    /// Writes `data` whole.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self.tls.as_mut() {
            None => {
                // monoio wants an owned buffer: `write_buf` and `write_kept` avoid this copy.
                let (res, _) = self.tcp.write_all(data.to_vec()).await;
                res.map(|_| ())
            }
            Some(tls) => {
                let mut at = 0;
                while at < data.len() {
                    let State::Ready(conn) = &mut tls.state else {
                        return Err(io::ErrorKind::NotConnected.into());
                    };
                    at += conn.writer().write(&data[at..])?;
                    flush_tls(&mut self.tcp, tls).await?;
                }
                Ok(())
            }
        }
    }

    /// Writes `data` whole and leaves it as it was (to send again on a retry).
    pub async fn write_kept(&mut self, data: &mut Vec<u8>) -> io::Result<()> {
        if self.tls.is_some() {
            return self.write_all(data).await;
        }
        let (res, buf) = self.tcp.write_all(std::mem::take(data)).await;
        *data = buf;
        res.map(|_| ())
    }

    /// Writes a reusable buffer whole; on return it is empty, capacity kept.
    pub async fn write_buf(&mut self, data: &mut Vec<u8>) -> io::Result<()> {
        if self.tls.is_some() {
            let res = self.write_all(data).await;
            data.clear();
            return res;
        }
        let (res, mut buf) = self.tcp.write_all(std::mem::take(data)).await;
        buf.clear();
        *data = buf;
        res.map(|_| ())
    }

    /// Waits, holding no buffer, until the peer has sent something (or
    /// closed): an idle keep-alive connection then costs no read buffer,
    /// where a pending read would pin one for as long as it is idle. A
    /// TLS connection's own ciphertext buffers are released first. False
    /// wake-ups are possible (epoll driver); the read that follows then
    /// simply waits.
    pub async fn readable(&mut self) -> io::Result<()> {
        if let Some(tls) = self.tls.as_mut() {
            if tls.cipher_at < tls.cipher_in.len() {
                return Ok(());
            }
            if let State::Ready(conn) = &mut tls.state {
                if !matches!(conn.reader().fill_buf(), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
                {
                    return Ok(());
                }
            }
            tls.cipher_in = Vec::new();
            tls.cipher_at = 0;
            if tls.cipher_out.is_empty() {
                tls.cipher_out = Vec::new();
            }
        }
        self.tcp.readable(true).await
    }

    /// Whether nothing has arrived since the last read and the peer has not
    /// closed: an idle pooled connection that has bytes waiting (an answer
    /// to no request, bytes after the last answer) or its peer's close is
    /// out of step with us and must not carry another request.
    pub fn is_quiet(&mut self) -> bool {
        if let Some(tls) = self.tls.as_mut() {
            if tls.cipher_at < tls.cipher_in.len() {
                return false;
            }
            if let State::Ready(conn) = &mut tls.state {
                if !matches!(conn.reader().fill_buf(), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
                {
                    return false;
                }
            }
        }
        let mut byte = 0u8;
        // SAFETY: a one-byte peek into a local; the fd is ours and open.
        let n = unsafe {
            libc::recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.tcp),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }

    /// Ends a TLS session politely (close_notify); nothing for plain TCP.
    pub async fn close(&mut self) {
        if let Some(tls) = self.tls.as_mut() {
            if let State::Ready(conn) = &mut tls.state {
                conn.send_close_notify();
                let _ = flush_tls(&mut self.tcp, tls).await;
            }
        }
    }

    /// Ends the sending side only (close_notify, then FIN): the peer reads
    /// everything sent, then its end, while its own bytes can still arrive.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.close().await;
        monoio::io::AsyncWriteRent::shutdown(&mut self.tcp).await
    }
}

/// A socket read, cancellable when `cancel` is given.
async fn tcp_read<T: monoio::buf::IoBufMut>(
    tcp: &mut TcpStream,
    buf: T,
    cancel: &Option<CancelHandle>,
) -> monoio::BufResult<usize, T> {
    match cancel {
        Some(c) => tcp.cancelable_read(buf, c.clone()).await,
        None => tcp.read(buf).await,
    }
}

/// Hands ciphertext to rustls: to the acceptor until the ClientHello is
/// in (then the connection is made with the config its name picks), then
/// to the connection. An alert to send on failure goes to `out`.
fn feed(state: &mut State, rd: &mut &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let invalid = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    match state {
        State::Ready(conn) => {
            conn.read_tls(rd)?;
            conn.process_new_packets().map_err(invalid)?;
        }
        State::Accepting(acceptor, tls, acme) => {
            acceptor.read_tls(rd)?;
            let accepted = match acceptor.accept() {
                Ok(None) => return Ok(()),
                Ok(Some(a)) => a,
                Err((e, mut alert)) => {
                    let _ = alert.write_all(out);
                    return Err(invalid(e));
                }
            };
            let hello = accepted.client_hello();
            let config = acme
                .as_ref()
                .and_then(|a| a.config_for(&hello))
                .unwrap_or_else(|| tls.config_for(hello.server_name()));
            match accepted.into_connection(config) {
                Ok(conn) => *state = State::Ready(conn.into()),
                Err((e, mut alert)) => {
                    let _ = alert.write_all(out);
                    return Err(invalid(e));
                }
            }
        }
    }
    Ok(())
}

/// Sends whatever ciphertext is ready: an alert left in `cipher_out`, and
/// what rustls has.
async fn flush_tls(tcp: &mut TcpStream, tls: &mut Tls) -> io::Result<()> {
    loop {
        if let State::Ready(conn) = &mut tls.state {
            if conn.wants_write() {
                conn.write_tls(&mut tls.cipher_out)?;
            }
        }
        if tls.cipher_out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut tls.cipher_out);
        let (res, mut back) = tcp.write_all(out).await;
        back.clear();
        tls.cipher_out = back;
        res?;
    }
}
