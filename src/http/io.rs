//! A connection's transport: plain TCP, or TLS over it. TLS is rustls's
//! sans-I/O connection driven here with monoio's owned-buffer reads and
//! writes, so the rest of the server reads and writes plaintext the same
//! way on either and nothing TLS-specific is shared between workers.

use std::io::{self, Read, Write};

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

/// Ciphertext read at once: one TLS record and then some.
const CIPHER_READ: usize = 17 * 1024;

pub struct Io {
    pub tcp: TcpStream,
    tls: Option<Box<Tls>>,
}

struct Tls {
    conn: rustls::Connection,
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
        Io {
            tcp,
            tls: Some(Box::new(Tls {
                conn: conn.into(),
                cipher_in: Vec::with_capacity(CIPHER_READ),
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
        match &self.tls.as_ref()?.conn {
            rustls::Connection::Server(s) => s.server_name(),
            rustls::Connection::Client(_) => None,
        }
    }

    /// Reads into `buf`'s spare capacity (at least one byte of it); `Ok(0)`
    /// is the end of the stream. Takes the buffer by value, as monoio does.
    pub async fn read(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let Some(tls) = self.tls.as_mut() else {
            let len = buf.len();
            let (res, slice) = self
                .tcp
                .read(monoio::buf::IoBufMut::slice_mut(buf, len..))
                .await;
            return (res, slice.into_inner());
        };
        loop {
            // Plaintext rustls already has.
            let len = buf.len();
            let room = buf.capacity() - len;
            buf.resize(len + room, 0);
            let got = tls.conn.reader().read(&mut buf[len..]);
            match got {
                Ok(n) => {
                    buf.truncate(len + n);
                    return (Ok(n), buf);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => buf.truncate(len),
                // The peer closed without close_notify: the end, as for TCP.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    buf.truncate(len);
                    return (Ok(0), buf);
                }
                Err(e) => {
                    buf.truncate(len);
                    return (Err(e), buf);
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
                let (res, slice) = self
                    .tcp
                    .read(monoio::buf::IoBufMut::slice_mut(cipher, 0..CIPHER_READ))
                    .await;
                tls.cipher_in = slice.into_inner();
                match res {
                    Ok(0) => return (Ok(0), buf),
                    Ok(_) => {}
                    Err(e) => return (Err(e), buf),
                }
            }
            let mut rd = &tls.cipher_in[tls.cipher_at..];
            let before = rd.len();
            let fed = tls.conn.read_tls(&mut rd);
            tls.cipher_at += before - rd.len();
            if let Err(e) = fed {
                return (Err(e), buf);
            }
            if let Err(e) = tls.conn.process_new_packets() {
                // An upstream we cannot trust is the operator's to know about
                // (the client gets 502); a client's failed handshake is not.
                if matches!(tls.conn, rustls::Connection::Client(_)) {
                    let peer = self
                        .tcp
                        .peer_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    crate::log!(warn, "TLS to upstream {peer}: {e}");
                }
                // Tell the peer why (an alert), then fail.
                let _ = flush_tls(&mut self.tcp, tls).await;
                return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
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
                    at += tls.conn.writer().write(&data[at..])?;
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

    /// Ends a TLS session politely (close_notify); nothing for plain TCP.
    pub async fn close(&mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.conn.send_close_notify();
            let _ = flush_tls(&mut self.tcp, tls).await;
        }
    }
}

/// Sends whatever ciphertext rustls has ready.
async fn flush_tls(tcp: &mut TcpStream, tls: &mut Tls) -> io::Result<()> {
    while tls.conn.wants_write() {
        let mut out = std::mem::take(&mut tls.cipher_out);
        out.clear();
        tls.conn.write_tls(&mut out)?;
        let (res, back) = tcp.write_all(out).await;
        tls.cipher_out = back;
        res?;
    }
    Ok(())
}
