//! Moving a message body from one stream to another as it arrives, so a
//! large body never sits whole in memory.

use std::io;
use std::time::{Duration, Instant};

use super::stream::Stream;
use super::{BodyKind, ChunkedDecoder, ErrorResponse, Framing, HttpError};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("source stalled")]
    SourceTimeout,
    #[error("source closed mid-body")]
    SourceClosed,
    #[error("source: {0}")]
    Source(io::Error),
    #[error("sink: {0}")]
    Sink(io::Error),
    #[error("bad framing: {0}")]
    Framing(HttpError),
    #[error("body over the limit")]
    TooLarge,
}

impl RelayError {
    /// The answer owed to a client whose body could not be read, if any:
    /// a client that went away or a failing sink gets none.
    pub fn client_answer(&self) -> Option<ErrorResponse> {
        match self {
            RelayError::SourceTimeout => Some(HttpError::Timeout.into()),
            RelayError::TooLarge => Some(HttpError::BodyTooLarge.into()),
            RelayError::Framing(e) => Some((*e).into()),
            RelayError::SourceClosed | RelayError::Source(_) | RelayError::Sink(_) => None,
        }
    }
}

/// Where body bytes go: a peer, memory (the data only, for an integration
/// that needs the body whole, such as a Lambda event), or nowhere (a body
/// nobody needs, read only to keep the connection usable).
pub enum Sink<'a> {
    Peer {
        io: &'a mut super::Io,
        framing: Framing,
        scratch: &'a mut Vec<u8>,
    },
    Buffer(&'a mut Vec<u8>),
    Discard,
}

pub struct Relay {
    pub kind: BodyKind,
    /// Largest body allowed (data bytes); `u64::MAX` for none.
    pub limit: u64,
    /// Longest wait for the next bytes from the source.
    pub read_timeout: Duration,
    /// When the whole body must have arrived (a client's body), so a slow
    /// trickle cannot hold the connection past it; a timeout past it.
    pub deadline: Option<Instant>,
}

impl Relay {
    /// Moves the body; returns the bytes written to the sink.
    pub async fn run(&self, src: &mut Stream, mut sink: Sink<'_>) -> Result<u64, RelayError> {
        let mut moved = 0u64;
        let mut remaining = match self.kind {
            BodyKind::None => return Ok(0),
            // Nothing to wait for: a source that closes after an empty
            // body (`Content-Length: 0`, `Connection: close`) is done.
            BodyKind::Length(0) => return Ok(0),
            BodyKind::Length(n) if n > self.limit => return Err(RelayError::TooLarge),
            BodyKind::Length(n) => n,
            _ => u64::MAX,
        };
        let mut decoder = ChunkedDecoder::default();
        loop {
            if src.buffered().is_empty() {
                let wait = match self
                    .deadline
                    .map(|d| d.checked_duration_since(Instant::now()))
                {
                    Some(None) => return Err(RelayError::SourceTimeout),
                    Some(Some(left)) => self.read_timeout.min(left),
                    None => self.read_timeout,
                };
                match src.fill_within(wait).await {
                    Ok(0) if self.kind == BodyKind::UntilClose => return Ok(moved),
                    Ok(0) => return Err(RelayError::SourceClosed),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        return Err(RelayError::SourceTimeout)
                    }
                    Err(e) => return Err(RelayError::Source(e)),
                }
            }
            let avail = src.buffered();
            match self.kind {
                BodyKind::Chunked => {
                    let dechunk = matches!(
                        sink,
                        Sink::Peer {
                            framing: Framing::Dechunk | Framing::Rechunk,
                            ..
                        } | Sink::Buffer(_)
                    );
                    let mut data = Vec::new();
                    let used = decoder
                        .feed(avail, |r| {
                            if dechunk {
                                data.push(r)
                            }
                        })
                        .map_err(RelayError::Framing)?;
                    if decoder.total > self.limit {
                        return Err(RelayError::TooLarge);
                    }
                    match &mut sink {
                        Sink::Peer {
                            io,
                            framing: Framing::Dechunk,
                            scratch,
                        } => {
                            for r in data {
                                scratch.extend_from_slice(&avail[r]);
                            }
                            src.consume(used);
                            moved += scratch.len() as u64;
                            io.write_buf(scratch).await.map_err(RelayError::Sink)?;
                        }
                        Sink::Peer {
                            io,
                            framing: Framing::Rechunk,
                            scratch,
                        } => {
                            let len: usize = data.iter().map(ExactSizeIterator::len).sum();
                            if len > 0 {
                                super::body::write_chunk_size(scratch, len);
                                for r in data {
                                    scratch.extend_from_slice(&avail[r]);
                                }
                                scratch.extend_from_slice(b"\r\n");
                            }
                            if decoder.is_done() {
                                scratch.extend_from_slice(super::CHUNKED_END);
                            }
                            src.consume(used);
                            moved += scratch.len() as u64;
                            io.write_buf(scratch).await.map_err(RelayError::Sink)?;
                        }
                        Sink::Peer { io, .. } => {
                            moved += used as u64;
                            src.forward_buffered(io, used)
                                .await
                                .map_err(RelayError::Sink)?
                        }
                        Sink::Buffer(out) => {
                            for r in data {
                                moved += r.len() as u64;
                                out.extend_from_slice(&avail[r]);
                            }
                            src.consume(used);
                        }
                        Sink::Discard => src.consume(used),
                    }
                    if decoder.is_done() {
                        return Ok(moved);
                    }
                }
                _ => {
                    let n = (avail.len() as u64).min(remaining) as usize;
                    match &mut sink {
                        Sink::Peer { io, .. } => {
                            moved += n as u64;
                            src.forward_buffered(io, n)
                                .await
                                .map_err(RelayError::Sink)?
                        }
                        Sink::Buffer(out) => {
                            moved += n as u64;
                            out.extend_from_slice(&avail[..n]);
                            src.consume(n);
                        }
                        Sink::Discard => src.consume(n),
                    }
                    if self.kind != BodyKind::UntilClose {
                        remaining -= n as u64;
                        if remaining == 0 {
                            return Ok(moved);
                        }
                    }
                }
            }
        }
    }
}

/// The length of a body already wholly in `buffered`, if it is.
pub fn buffered_body_len(
    kind: BodyKind,
    buffered: &[u8],
    limit: u64,
) -> Result<Option<usize>, HttpError> {
    match kind {
        BodyKind::None => Ok(Some(0)),
        BodyKind::Length(n) if n > limit => Err(HttpError::BodyTooLarge),
        BodyKind::Length(n) => Ok((buffered.len() as u64 >= n).then_some(n as usize)),
        BodyKind::Chunked => {
            let mut d = ChunkedDecoder::default();
            let used = d.feed(buffered, |_| {})?;
            if d.total > limit {
                return Err(HttpError::BodyTooLarge);
            }
            Ok(d.is_done().then_some(used))
        }
        BodyKind::UntilClose => Ok(None),
    }
}
