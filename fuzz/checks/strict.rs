//! A reference reading of RFC 9112 request framing, written apart from
//! portico's so the two can disagree: httparse for the head, then the
//! framing rules spelled out (§6.1-§6.3, §7.1): exactly one of
//! Content-Length and Transfer-Encoding, Content-Length digits only (a list
//! of equal values is one length), Transfer-Encoding exactly `chunked`,
//! the chunk grammar with CRLF line ends only.

/// One request as a reader framed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Bytes of the whole message, head and body.
    pub len: usize,
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub body: Vec<u8>,
}

/// How a reader's pass over a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every byte is in a message.
    Clean,
    /// The stream stops inside a message (or is bytes no message starts with yet).
    Incomplete,
    Refused(String),
}

/// Reads requests one after another until the stream ends or one is refused.
pub fn read_all(
    mut buf: &[u8],
    read_one: impl Fn(&[u8]) -> Result<Option<Message>, String>,
) -> (Vec<Message>, End) {
    let mut messages = Vec::new();
    while !buf.is_empty() {
        match read_one(buf) {
            Ok(Some(m)) => {
                buf = &buf[m.len..];
                messages.push(m);
            }
            Ok(None) => return (messages, End::Incomplete),
            Err(e) => return (messages, End::Refused(e)),
        }
    }
    (messages, End::Clean)
}

/// Knobs of the reference.
#[derive(Debug, Clone, Copy)]
pub struct Strict {
    /// Head lines end in CRLF only (what portico itself must write); a
    /// server reading a client may also take a bare LF (RFC 9112 §2.2).
    pub crlf_heads: bool,
    /// Accept chunk extensions and trailer lines that break their grammar
    /// but cannot move a message boundary (no CR, LF or other control
    /// byte): portico drops both, so such leniency is harmless.
    pub tolerate_syntax: bool,
}

const MAX_HEADERS: usize = 128;

impl Strict {
    /// `Ok(None)`: more bytes needed. `Err`: the reference refuses.
    pub fn read_one(&self, buf: &[u8]) -> Result<Option<Message>, String> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut storage);
        let head_len = match req.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(format!("head: {e}")),
        };
        let head = &buf[..head_len];
        for (i, &c) in head.iter().enumerate() {
            if c == b'\r' && head.get(i + 1) != Some(&b'\n') {
                return Err("bare CR in the head".into());
            }
            if self.crlf_heads && c == b'\n' && (i == 0 || head[i - 1] != b'\r') {
                return Err("bare LF in the head".into());
            }
        }
        let http10 = req.version == Some(0);
        let mut hosts = 0;
        let mut length: Option<u64> = None;
        let mut codings: Vec<&[u8]> = Vec::new();
        let mut te = false;
        for h in req.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"host") {
                hosts += 1;
            } else if name.eq_ignore_ascii_case(b"content-length") {
                for part in h.value.split(|&c| c == b',') {
                    let n = decimal(ows_trim(part)).ok_or("Content-Length is not digits")?;
                    if length.is_some_and(|l| l != n) {
                        return Err("Content-Length values differ".into());
                    }
                    length = Some(n);
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                te = true;
                codings.extend(
                    h.value
                        .split(|&c| c == b',')
                        .map(ows_trim)
                        .filter(|c| !c.is_empty()),
                );
            }
        }
        if hosts > 1 || (!http10 && hosts == 0) {
            return Err("Host missing or repeated".into());
        }
        let method = req.method.unwrap_or("").as_bytes().to_vec();
        let target = req.path.unwrap_or("").as_bytes().to_vec();
        let rest = &buf[head_len..];
        let (body_len, body) = if te {
            if length.is_some() {
                return Err("both Content-Length and Transfer-Encoding".into());
            }
            if http10 {
                return Err("Transfer-Encoding in HTTP/1.0".into());
            }
            if codings.len() != 1 || !codings[0].eq_ignore_ascii_case(b"chunked") {
                return Err("Transfer-Encoding other than chunked".into());
            }
            match self.chunked(rest)? {
                Some(b) => b,
                None => return Ok(None),
            }
        } else {
            let n = length.unwrap_or(0);
            if (rest.len() as u64) < n {
                return Ok(None);
            }
            (n as usize, rest[..n as usize].to_vec())
        };
        Ok(Some(Message {
            len: head_len + body_len,
            method,
            target,
            body,
        }))
    }

    /// Whether a chunk-extension or trailer `line` is taken: it follows
    /// its grammar, or breaks it harmlessly while that is tolerated.
    fn allows(&self, grammatical: bool, line: &[u8]) -> bool {
        grammatical || (self.tolerate_syntax && no_control(line))
    }

    /// A chunked body at the start of `buf`: (bytes used, data).
    pub fn chunked(&self, buf: &[u8]) -> Result<Option<(usize, Vec<u8>)>, String> {
        let mut c = Cursor { buf, at: 0 };
        let mut data = Vec::new();
        loop {
            let digits = c.take_while(|b| b.is_ascii_hexdigit());
            if c.at == buf.len() {
                return Ok(None);
            }
            if digits.is_empty() {
                return Err("chunk size is not hex".into());
            }
            let digits = digits.strip_prefix_zeros();
            if digits.len() > 15 {
                return Err("chunk size too large".into());
            }
            let size = digits.iter().fold(0u64, |n, &d| n * 16 + u64::from(hex(d)));
            let line = match c.line()? {
                Some(l) => l,
                None => return Ok(None),
            };
            if !self.allows(chunk_ext(line), line) {
                return Err("chunk extension grammar".into());
            }
            if size == 0 {
                break;
            }
            let size = size as usize;
            if buf.len() - c.at < size {
                return Ok(None);
            }
            data.extend_from_slice(&buf[c.at..c.at + size]);
            c.at += size;
            match &buf[c.at..] {
                [] | [b'\r'] => return Ok(None),
                [b'\r', b'\n', ..] => {}
                _ => return Err("chunk data not followed by CRLF".into()),
            }
            c.at += 2;
        }
        loop {
            let line = match c.line()? {
                Some(l) => l,
                None => return Ok(None),
            };
            if line.is_empty() {
                return Ok(Some((c.at, data)));
            }
            if !self.allows(field_line(line), line) {
                return Err("trailer field grammar".into());
            }
        }
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.at;
        while self.at < self.buf.len() && f(self.buf[self.at]) {
            self.at += 1;
        }
        &self.buf[start..self.at]
    }

    /// The rest of a line ended by CRLF (the CRLF consumed, not returned);
    /// a bare CR or LF before it is refused.
    fn line(&mut self) -> Result<Option<&'a [u8]>, String> {
        let start = self.at;
        let rest = &self.buf[start..];
        match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
            None => Ok(None),
            Some(i) if rest[i] == b'\n' => Err("bare LF in chunked framing".into()),
            Some(i) if i + 1 == rest.len() => Ok(None),
            Some(i) if rest[i + 1] != b'\n' => Err("bare CR in chunked framing".into()),
            Some(i) => {
                self.at = start + i + 2;
                Ok(Some(&rest[..i]))
            }
        }
    }
}

trait StripZeros {
    fn strip_prefix_zeros(&self) -> &Self;
}

impl StripZeros for [u8] {
    fn strip_prefix_zeros(&self) -> &[u8] {
        let zeros = self.iter().take_while(|&&b| b == b'0').count();
        &self[zeros.min(self.len().saturating_sub(1))..]
    }
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

pub fn ows_trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| c != b' ' && c != b'\t');
    let end = s.iter().rposition(|&c| c != b' ' && c != b'\t');
    match (start, end) {
        (Some(a), Some(b)) => &s[a..=b],
        _ => &[],
    }
}

/// 1*DIGIT that fits in a u64.
pub fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn no_control(s: &[u8]) -> bool {
    s.iter().all(|&c| c == b'\t' || (c >= 0x20 && c != 0x7f))
}

/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
fn chunk_ext(s: &[u8]) -> bool {
    let mut c = Cursor { buf: s, at: 0 };
    let ows = |c: &mut Cursor<'_>| {
        c.take_while(|b| b == b' ' || b == b'\t');
    };
    loop {
        ows(&mut c);
        if c.at == s.len() {
            return true;
        }
        if s[c.at] != b';' {
            return false;
        }
        c.at += 1;
        ows(&mut c);
        if c.take_while(is_tchar).is_empty() {
            return false;
        }
        let mark = c.at;
        ows(&mut c);
        if c.at < s.len() && s[c.at] == b'=' {
            c.at += 1;
            ows(&mut c);
            if c.at < s.len() && s[c.at] == b'"' {
                c.at += 1;
                loop {
                    match s.get(c.at) {
                        None => return false,
                        Some(b'"') => break,
                        Some(b'\\') => {
                            match s.get(c.at + 1) {
                                Some(&q) if q == b'\t' || (q >= 0x20 && q != 0x7f) => {}
                                _ => return false,
                            }
                            c.at += 2;
                            continue;
                        }
                        Some(&q) if q == b'\t' || (q >= 0x20 && q != 0x7f) => {}
                        Some(_) => return false,
                    }
                    c.at += 1;
                }
                c.at += 1;
            } else if c.take_while(is_tchar).is_empty() {
                return false;
            }
        } else {
            c.at = mark;
        }
    }
}

/// `field-name ":" OWS field-value OWS`.
fn field_line(s: &[u8]) -> bool {
    let name = s.iter().take_while(|&&c| is_tchar(c)).count();
    name > 0 && s.get(name) == Some(&b':') && no_control(&s[name + 1..])
}
