//! Request heads: httparse does the parsing, this file decides what the
//! head means for framing and connection reuse, and refuses anything
//! ambiguous (RFC 9112 §6.3) so no request can be smuggled past us.

use super::{BodyKind, HttpError, Method};
use crate::config::LimitsConfig;

/// A byte range within the head (offsets from the head's first byte).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn of(base: *const u8, part: &[u8]) -> Span {
        Span::of_addr(base as usize, part)
    }

    /// Where `part` lies in a buffer starting at address `base`. httparse
    /// may hand back a slice that is not in the buffer at all (a static ""
    /// for a missing reason phrase): that is an empty span, never an
    /// offset computed across allocations.
    pub fn of_addr(base: usize, part: &[u8]) -> Span {
        match (part.as_ptr() as usize).checked_sub(base) {
            Some(start) if !part.is_empty() => Span {
                start: start as u32,
                end: (start + part.len()) as u32,
            },
            _ => Span::default(),
        }
    }

    #[inline]
    pub fn get<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// One parsed request head. Reused across the requests of a connection so
/// its header vector is allocated once.
#[derive(Debug, Default, Clone)]
pub struct Head {
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub method: Option<Method>,
    pub method_span: Span,
    pub target: Span,
    pub version: Option<Version>,
    pub headers: Vec<(Span, Span)>,
    pub body: BodyKind,
    pub host: Option<Span>,
    pub expect_continue: bool,
    /// The client asked for the connection to end after this exchange.
    pub close: bool,
    /// Whether any `Connection` header names extra hop-by-hop headers.
    pub connection_tokens: bool,
}

impl Head {
    pub fn method(&self) -> Method {
        self.method.unwrap_or(Method::Other)
    }

    pub fn version(&self) -> Version {
        self.version.unwrap_or(Version::Http11)
    }

    /// Path and query of the request target, split at the first `?`.
    pub fn path_and_query<'b>(&self, buf: &'b [u8]) -> (&'b [u8], Option<&'b [u8]>) {
        let t = self.target.get(buf);
        match memchr(b'?', t) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        }
    }

    /// The first value of header `name` (any case).
    pub fn header<'b>(&self, buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.get(buf).eq_ignore_ascii_case(name))
            .map(|(_, v)| v.get(buf))
    }

    /// Whether header `name` (lower-case) is listed in a `Connection` header.
    pub fn is_connection_token(&self, buf: &[u8], name: &[u8]) -> bool {
        self.connection_tokens
            && self.headers.iter().any(|(n, v)| {
                n.get(buf).eq_ignore_ascii_case(b"connection") && header_has_token(v.get(buf), name)
            })
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// Comma-separated token lists (`Connection`, `Transfer-Encoding`).
pub fn header_has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&c| c == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Upper bound of the stack header array; `max_headers` is capped by it.
const MAX_HEADERS: usize = 256;

/// Parses `buf` as a request head. `Ok(false)`: incomplete, read more.
pub fn parse_request_head(
    buf: &[u8],
    limits: &LimitsConfig,
    head: &mut Head,
) -> Result<bool, HttpError> {
    // Uninitialised: zeroing 256 headers would cost more than the parse.
    let mut storage =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let max_headers = limits.max_headers.min(MAX_HEADERS);
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut storage[..max_headers]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return match check_partial(buf, limits) {
                Some(e) => Err(e),
                None => Ok(false),
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadersTooLarge),
        Err(httparse::Error::Token)
            if buf.len() > limits.max_uri_bytes && memchr(b'\n', buf).is_none() =>
        {
            return Err(HttpError::UriTooLong);
        }
        Err(_) => return Err(HttpError::BadRequest),
    };
    let base = buf.as_ptr();
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("");
    if path.len() > limits.max_uri_bytes {
        return Err(HttpError::UriTooLong);
    }
    if len > limits.max_header_bytes {
        return Err(HttpError::HeadersTooLarge);
    }
    if !path.starts_with('/') {
        // Absolute-form and asterisk-form targets are for proxies and OPTIONS *; an API gateway serves origin-form only.
        return Err(HttpError::BadRequest);
    }
    head.len = len;
    head.method = Some(Method::from_bytes(method.as_bytes()));
    head.method_span = Span::of(base, method.as_bytes());
    head.target = Span::of(base, path.as_bytes());
    let version = if req.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    head.version = Some(version);
    head.headers.clear();
    head.host = None;
    head.expect_continue = false;
    head.connection_tokens = false;
    let mut close = version == Version::Http10;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let value = h.value;
        head.headers
            .push((Span::of(base, name), Span::of(base, value)));
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                if head.host.is_some() {
                    return Err(HttpError::BadRequest);
                }
                head.host = Some(Span::of(base, value));
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in value.split(|&c| c == b',').map(|t| t.trim_ascii()) {
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        if version == Version::Http10 {
                            close = false;
                        }
                    } else if !token.is_empty() {
                        head.connection_tokens = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect")
                && value.trim_ascii().eq_ignore_ascii_case(b"100-continue") =>
            {
                head.expect_continue = version == Version::Http11;
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                content_length =
                    Some(content_length_value(value, content_length).ok_or(HttpError::Smuggling)?);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                if transfer_encoding.is_some() {
                    return Err(HttpError::Smuggling);
                }
                transfer_encoding = Some(value);
            }
            _ => {}
        }
    }
    if version == Version::Http11 && head.host.is_none() {
        return Err(HttpError::BadRequest);
    }
    head.close = close;
    head.body = match (transfer_encoding, content_length) {
        (Some(_), Some(_)) => return Err(HttpError::Smuggling),
        (Some(_), None) if version == Version::Http10 => return Err(HttpError::Smuggling),
        (Some(te), None) => {
            if te.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                BodyKind::Chunked
            } else if header_has_token(te, b"chunked") {
                // chunked not last, or combined with codings we cannot undo.
                return Err(HttpError::Smuggling);
            } else {
                return Err(HttpError::UnsupportedEncoding);
            }
        }
        (None, Some(0)) | (None, None) => BodyKind::None,
        (None, Some(n)) => BodyKind::Length(n),
    };
    Ok(true)
}

/// An incomplete head already past a limit is refused without waiting.
fn check_partial(buf: &[u8], limits: &LimitsConfig) -> Option<HttpError> {
    match memchr(b'\n', buf) {
        None if buf.len() > limits.max_uri_bytes + 32 => Some(HttpError::UriTooLong),
        _ if buf.len() > limits.max_header_bytes => Some(HttpError::HeadersTooLarge),
        _ => None,
    }
}

/// A `Content-Length` value, given the one an earlier field said: a list
/// of equal values (`5, 5`) is one length (RFC 9112 §6.3); anything else,
/// or a value unlike `prior`, is `None` — a framing no reader agrees on.
pub fn content_length_value(value: &[u8], prior: Option<u64>) -> Option<u64> {
    let mut length = prior;
    for part in value.split(|&c| c == b',') {
        let n = parse_decimal(part.trim_ascii())?;
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<Head>, HttpError> {
        let mut head = Head::default();
        let limits = LimitsConfig {
            max_header_bytes: 200,
            max_headers: 8,
            max_uri_bytes: 40,
            max_body_bytes: 100,
        };
        parse_request_head(s.as_bytes(), &limits, &mut head).map(|done| done.then_some(head))
    }

    #[test]
    fn simple_get() {
        let s = "GET /prod/a?x=1 HTTP/1.1\r\nHost: h\r\nX-Request-Id: r1\r\n\r\nrest";
        let h = parse(s).unwrap().unwrap();
        let b = s.as_bytes();
        assert_eq!(h.len, s.len() - 4);
        assert_eq!(h.method(), Method::Get);
        assert_eq!(h.path_and_query(b), (&b"/prod/a"[..], Some(&b"x=1"[..])));
        assert_eq!(h.host.unwrap().get(b), b"h");
        assert_eq!(h.body, BodyKind::None);
        assert!(!h.close);
    }

    #[test]
    fn partial_then_complete() {
        assert!(parse("GET / HTTP/1.1\r\nHost: h\r\n").unwrap().is_none());
    }

    #[test]
    fn framing() {
        let h = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyKind::Length(5));
        let h = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
        let h = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.body, BodyKind::Length(5));
    }

    #[test]
    fn smuggling_is_refused() {
        let both =
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(both).unwrap_err(), HttpError::Smuggling);
        let two = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        assert_eq!(parse(two).unwrap_err(), HttpError::Smuggling);
        let list = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n";
        assert_eq!(parse(list).unwrap_err(), HttpError::Smuggling);
        let sign = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n";
        assert_eq!(parse(sign).unwrap_err(), HttpError::Smuggling);
        let te = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
        assert_eq!(parse(te).unwrap_err(), HttpError::Smuggling);
        let te10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(te10).unwrap_err(), HttpError::Smuggling);
    }

    #[test]
    fn limits() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(50));
        assert_eq!(parse(&long).unwrap_err(), HttpError::UriTooLong);
        let big = format!(
            "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
            "a".repeat(300)
        );
        assert_eq!(parse(&big).unwrap_err(), HttpError::HeadersTooLarge);
        let many = format!("GET / HTTP/1.1\r\nHost: h\r\n{}\r\n", "X: 1\r\n".repeat(9));
        assert_eq!(parse(&many).unwrap_err(), HttpError::HeadersTooLarge);
        assert_eq!(parse("GARBAGE\r\n\r\n").unwrap_err(), HttpError::BadRequest);
        assert_eq!(
            parse("GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            HttpError::BadRequest,
            "1.1 needs Host"
        );
    }

    #[test]
    fn connection_semantics() {
        let h = parse("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(h.close);
        let h = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.close);
        let s = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Hop\r\n\r\n";
        let h = parse(s).unwrap().unwrap();
        assert!(h.close);
        assert!(h.is_connection_token(s.as_bytes(), b"x-hop"));
    }
}
