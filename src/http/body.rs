//! Body framing. This decoder finds where a chunked body ends and where its
//! data lies, without copying. It is strict (RFC 9112 §7.1: CRLF only, no
//! bare CR or LF anywhere, no control bytes in extensions or trailers)
//! because a lenient reader next to a strict one is how requests are
//! smuggled. What portico sends on is framed by portico itself
//! (`write_chunk`, `CHUNKED_END`), never the peer's framing byte for byte.

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
    /// Forward the data in chunks of our own: the peer's chunk sizes,
    /// extensions and trailers never reach the next hop.
    Rechunk,
}

/// The last chunk of a body portico frames itself: no trailers.
pub const CHUNKED_END: &[u8] = b"0\r\n\r\n";

/// Appends `data` as one chunk; nothing for no data (a zero-size chunk
/// would end the body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if !data.is_empty() {
        write_chunk_size(out, data.len());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
}

/// A chunk's size line (`len` > 0), for a chunk whose data the caller
/// appends, followed by CRLF.
pub fn write_chunk_size(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len > 0, "a zero-size chunk ends the body");
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut at = digits.len();
    while n > 0 {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
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
    /// The trailer line being read has its `:`.
    colon: bool,
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
            colon: false,
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
                    } else if is_control(c) {
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
                    // A trailer field starts with its name: no whitespace
                    // (obsolete line folding), no `:`, no control byte.
                    if c == b'\r' {
                        self.state = State::EndLf;
                    } else if is_control(c) || matches!(c, b' ' | b'\t' | b':') {
                        return Err(HttpError::BadRequest);
                    } else {
                        self.state = State::TrailerLine;
                        self.line = 1;
                        self.colon = false;
                    }
                }
                State::TrailerLine => {
                    if c == b'\r' {
                        if !self.colon {
                            return Err(HttpError::BadRequest);
                        }
                        self.state = State::TrailerLf;
                    } else if is_control(c) {
                        return Err(HttpError::BadRequest);
                    } else {
                        self.colon |= c == b':';
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

/// Bytes no chunk line may hold: every control byte but HTAB (so bare CR
/// and bare LF too, which lenient readers take for line ends).
fn is_control(c: u8) -> bool {
    (c < 0x20 && c != b'\t') || c == 0x7f
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
            // Bare LF or CR in trailers: lenient readers end the body there.
            b"0\r\nX: a\n\nGET /SMUGGLED HTTP/1.1\r\n",
            b"0\r\n\n",
            b"0\r\nX: a\rb\r\n\r\n",
            b"0\r\nX: a\r\n\n",
            // A trailer line that is no field, or folded.
            b"0\r\nnocolon\r\n\r\n",
            b"0\r\n folded: x\r\n\r\n",
            // Control bytes or a bare LF in an extension.
            b"1;a=\nb\r\nx\r\n",
            b"1;a=\x00\r\nx\r\n",
            b"1\r\r\nx\r\n",
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
    fn writes_its_own_chunks() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"");
        assert!(out.is_empty(), "no zero-size chunk before the end");
        write_chunk(&mut out, &[b'a'; 26]);
        out.extend_from_slice(CHUNKED_END);
        let mut d = ChunkedDecoder::default();
        let mut data = Vec::new();
        let used = d.feed(&out, |r| data.extend_from_slice(&out[r])).unwrap();
        assert!(d.is_done());
        assert_eq!((used, data), (out.len(), vec![b'a'; 26]));
        assert!(out.starts_with(b"1a\r\n"));
    }

    #[test]
    fn counts_total() {
        let mut d = ChunkedDecoder::default();
        d.feed(b"a\r\n0123456789\r\n3\r\nabc\r\n", |_| {}).unwrap();
        assert_eq!(d.total, 13);
        assert!(!d.is_done());
    }
}
