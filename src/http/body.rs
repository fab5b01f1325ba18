//! Body framing. The proxy passes bodies through as they arrive; this
//! decoder only finds where a chunked body ends (and where its data lies,
//! for HTTP/1.0 clients that cannot take chunks), without copying.

use std::ops::Range;

use super::HttpError;

/// How the end of a message body is found (RFC 9112 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyKind {
    #[default]
    None,
    Length(u64),
    Chunked,
    /// Responses only: the body ends when the upstream closes.
    UntilClose,
}

/// What to do with a chunked body on its way through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Forward the chunked encoding as it came.
    Raw,
    /// Forward only the data (for an HTTP/1.0 peer).
    Dechunk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
}

/// Incremental chunked-encoding parser.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u8,
    /// Bytes of extensions or trailer line, bounded so a peer cannot make us scan forever.
    line: usize,
    /// Data bytes seen so far, for the payload limit.
    pub total: u64,
}

const MAX_LINE: usize = 8192;

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            total: 0,
        }
    }
}

impl ChunkedDecoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input`, calling `data` with each range of
    /// payload bytes. Returns the bytes consumed: all of `input` unless the
    /// body ended inside it.
    pub fn feed(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(Range<usize>),
    ) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < input.len() {
            let c = input[i];
            match self.state {
                State::Size => match c {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.digits == 15 {
                            return Err(HttpError::BadRequest);
                        }
                        self.size = self.size * 16 + u64::from(hex(c));
                        self.digits += 1;
                    }
                    b';' | b' ' | b'\t' if self.digits > 0 => {
                        self.state = State::Ext;
                        self.line = 0;
                    }
                    b'\r' if self.digits > 0 => self.state = State::SizeLf,
                    _ => return Err(HttpError::BadRequest),
                },
                State::Ext => {
                    if c == b'\r' {
                        self.state = State::SizeLf;
                    } else if c == b'\n' {
                        return Err(HttpError::BadRequest);
                    } else {
                        self.line += 1;
                        if self.line > MAX_LINE {
                            return Err(HttpError::BadRequest);
                        }
                    }
                }
                State::SizeLf => {
                    if c != b'\n' {
                        return Err(HttpError::BadRequest);
                    }
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::Data => {
                    let n = (input.len() - i).min(self.size as usize);
                    data(i..i + n);
                    self.total += n as u64;
                    self.size -= n as u64;
                    i += n;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::DataCr => {
                    if c != b'\r' {
                        return Err(HttpError::BadRequest);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if c != b'\n' {
                        return Err(HttpError::BadRequest);
                    }
                    self.state = State::Size;
                    self.size = 0;
                    self.digits = 0;
                }
                State::TrailerStart => {
                    if c == b'\r' {
                        self.state = State::EndLf;
                    } else {
                        self.state = State::TrailerLine;
                        self.line = 1;
                    }
                }
                State::TrailerLine => {
                    if c == b'\r' {
                        self.state = State::TrailerLf;
                    } else {
                        self.line += 1;
                        if self.line > MAX_LINE {
                            return Err(HttpError::BadRequest);
                        }
                    }
                }
                State::TrailerLf => {
                    if c != b'\n' {
                        return Err(HttpError::BadRequest);
                    }
                    self.state = State::TrailerStart;
                }
                State::EndLf => {
                    if c != b'\n' {
                        return Err(HttpError::BadRequest);
                    }
                    self.state = State::Done;
                    return Ok(i + 1);
                }
                State::Done => return Ok(i),
            }
            i += 1;
        }
        Ok(i)
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), HttpError> {
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() && !d.is_done() {
            let end = (pos + piece).min(input.len());
            let part = &input[pos..end];
            let n = d.feed(part, |r| out.extend_from_slice(&part[r]))?;
            pos += n;
        }
        assert!(d.is_done());
        Ok((out, pos))
    }

    #[test]
    fn decodes_at_every_split() {
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for piece in 1..body.len() {
            let (data, used) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(data, b"hello world");
            assert_eq!(&body[used..], b"NEXT");
        }
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"5\r\nhelloXX",
            b"\r\n",
            b"1\nA",
            b"fffffffffffffffff\r\n",
        ] {
            let mut d = ChunkedDecoder::default();
            assert!(
                d.feed(bad, |_| {}).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn counts_total() {
        let mut d = ChunkedDecoder::default();
        d.feed(b"a\r\n0123456789\r\n3\r\nabc\r\n", |_| {}).unwrap();
        assert_eq!(d.total, 13);
        assert!(!d.is_done());
    }
}
