//! Lingering close. After an answer that ends the connection the client may
//! still be sending (a body portico did not read, a pipelined request), and
//! closing a socket with unread input makes the kernel reset the
//! connection, which can destroy the answer before the client reads it. So
//! the sending side ends first (TLS close_notify, then FIN) and what the
//! client still sends is read and dropped until it closes, within bounds
//! much tighter than nginx's (lingering_time 30 s, lingering_timeout 5 s):
//! an honest client closes as soon as it has read the answer.

use std::time::{Duration, Instant};

use monoio::io::AsyncReadRent;

use crate::http::Io;

/// Longest a closing connection waits for the client to finish.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most input read and dropped while waiting.
pub const LINGER_BYTES: usize = 256 * 1024;

const READ: usize = 16 * 1024;

/// Ends the sending side, then drains input until the client closes or a
/// bound is reached; the caller then drops the socket. `buf`: any spare
/// buffer, reused for the reads.
pub async fn linger(io: &mut Io, mut buf: Vec<u8>) {
    if io.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TIME;
    let mut left = LINGER_BYTES;
    while left > 0 {
        buf.clear();
        buf.reserve(READ);
        let read = monoio::time::timeout_at(deadline.into(), io.tcp.read(buf)).await;
        match read {
            Ok((Ok(n), back)) if n > 0 => {
                left = left.saturating_sub(n);
                buf = back;
            }
            _ => return,
        }
    }
}
