//! A TCP stream with its read buffer. monoio's I/O takes buffers by value,
//! so the buffer lives here between reads and is lent to the kernel for
//! each one; bytes read ahead (pipelined requests, body bytes that came
//! with the head) wait here until consumed.

use std::io;
use std::time::Duration;

use monoio::buf::IoBuf;
use monoio::io::{AsyncWriteRentExt, CancelHandle};

use super::Io;

/// Free space below which a read first makes room.
const MIN_READ: usize = 4096;

pub struct Stream {
    pub io: Io,
    buf: Vec<u8>,
    /// What a read allocates when the buffer was released (see `release`).
    capacity: usize,
    pos: usize,
    /// Bytes consumed since the stream opened: a request's size is the
    /// difference across it (pipelined bytes read ahead are not yet counted).
    consumed: u64,
}

impl Stream {
    /// The buffer is allocated by the first read, `capacity` bytes.
    pub fn new(io: Io, capacity: usize) -> Stream {
        Stream {
            io,
            buf: Vec::new(),
            capacity: capacity.max(MIN_READ),
            pos: 0,
            consumed: 0,
        }
    }

    /// Bytes read but not yet consumed.
    #[inline]
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    #[inline]
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.consumed += n as u64;
        self.pos += n;
        debug_assert!(self.pos <= self.buf.len());
        if self.pos == self.buf.len() {
            self.pos = 0;
            self.buf.clear();
        }
    }

    /// Reads more bytes after the buffered ones. `Ok(0)` is end of stream.
    /// If the future is dropped mid-read the buffer is lost with it: the
    /// caller must then drop the stream too (all our timeouts do).
    pub async fn fill(&mut self) -> io::Result<usize> {
        self.make_room();
        let buf = std::mem::take(&mut self.buf);
        let (res, buf) = self.io.read(buf).await;
        self.buf = buf;
        res
    }

    /// `fill` that `cancel` stops without losing input: cancelled, it fails
    /// with `ECANCELED`, the buffer intact and the bytes not yet read left
    /// for the next read. Unlike `fill`'s, this future may be awaited to
    /// its end after a cancel and the stream used on.
    pub async fn fill_cancelable(&mut self, cancel: CancelHandle) -> io::Result<usize> {
        self.make_room();
        let buf = std::mem::take(&mut self.buf);
        let (res, buf) = self.io.read_cancelable(buf, cancel).await;
        self.buf = buf;
        res
    }

    /// Frees the read buffer when it holds nothing unread: a connection
    /// waiting for its next request keeps no buffer (the next read makes
    /// one). Returns whether it did.
    pub fn release(&mut self) -> bool {
        if self.pos < self.buf.len() {
            return false;
        }
        self.buf = Vec::new();
        self.pos = 0;
        true
    }

    fn make_room(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(self.capacity);
        }
        if self.buf.capacity() - self.buf.len() < MIN_READ {
            if self.pos > 0 {
                self.buf.copy_within(self.pos.., 0);
                self.buf.truncate(self.buf.len() - self.pos);
                self.pos = 0;
            }
            if self.buf.capacity() - self.buf.len() < MIN_READ {
                self.buf.reserve(MIN_READ);
            }
        }
    }

    /// `fill` bounded by `timeout`; a timeout is `ErrorKind::TimedOut`.
    pub async fn fill_within(&mut self, timeout: Duration) -> io::Result<usize> {
        match monoio::time::timeout(timeout, self.fill()).await {
            Ok(res) => res,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Writes the next `n` buffered bytes to `to` straight from this
    /// buffer (no copy), then consumes them.
    pub async fn forward_buffered(&mut self, to: &mut Io, n: usize) -> io::Result<()> {
        if to.is_tls() {
            to.write_all(&self.buf[self.pos..self.pos + n]).await?;
        } else {
            let buf = std::mem::take(&mut self.buf);
            let (res, slice) = to.tcp.write_all(buf.slice(self.pos..self.pos + n)).await;
            self.buf = slice.into_inner();
            res?;
        }
        self.consume(n);
        Ok(())
    }
}
