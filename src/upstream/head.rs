//! An upstream's response head: status, headers and what they mean for
//! framing and connection reuse, read off the connection until it is whole.
//! Ambiguous framing (both Transfer-Encoding and Content-Length, lengths
//! that disagree, several Transfer-Encodings) is refused: the upstream
//! connection is then closed, never pooled, and the client gets 502, as
//! nginx does.

use std::time::Instant;

use crate::http::{content_length_value, header_has_token, BodyKind, Span, Stream};

use super::acquire::Failure;

#[derive(Debug, Default)]
pub struct ResponseHead {
    pub len: usize,
    pub status: u16,
    pub reason: Span,
    pub headers: Vec<(Span, Span)>,
    pub body: BodyKind,
    /// The length the upstream declared, checked (a list of equal values is
    /// one): for a HEAD or 304 answer, whose body is absent, it still
    /// describes the resource.
    pub declared_length: Option<u64>,
    /// The upstream will keep the connection open after this response.
    pub keep_alive: bool,
    pub has_date: bool,
    pub connection_tokens: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    Invalid,
    TooLarge,
}

const MAX_RESPONSE_HEADERS: usize = 128;
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// `Ok(false)`: incomplete. `request_was_head`: a HEAD request's response has no body.
pub fn parse_response_head(
    buf: &[u8],
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<bool, HeadError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut res = httparse::Response::new(&mut storage);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_RESPONSE_HEAD => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(false),
        Err(_) => return Err(HeadError::Invalid),
    };
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| Span::of_addr(base, s);
    head.len = len;
    head.status = res.code.unwrap_or(0);
    head.reason = span(res.reason.unwrap_or("").as_bytes());
    head.headers.clear();
    head.has_date = false;
    head.connection_tokens = false;
    let http11 = res.version == Some(1);
    let mut keep_alive = http11;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    for h in res.headers.iter() {
        let name = h.name.as_bytes();
        head.headers.push((span(name), span(h.value)));
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(content_length_value(h.value, length).ok_or(HeadError::Invalid)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if transfer_encoding {
                return Err(HeadError::Invalid);
            }
            transfer_encoding = true;
            chunked = h.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            if header_has_token(h.value, b"close") {
                keep_alive = false;
            } else if header_has_token(h.value, b"keep-alive") {
                keep_alive = true;
            }
            head.connection_tokens = true;
        } else if name.eq_ignore_ascii_case(b"date") {
            head.has_date = true;
        }
    }
    if transfer_encoding && length.is_some() {
        // RFC 9112 §6.3: a sign of response splitting; refused, not repaired.
        return Err(HeadError::Invalid);
    }
    head.declared_length = length;
    let no_body = request_was_head || head.status < 200 || head.status == 204 || head.status == 304;
    head.body = if no_body {
        BodyKind::None
    } else if chunked {
        BodyKind::Chunked
    } else if transfer_encoding {
        // Codings we cannot frame: the body runs to the close (RFC 9112 §6.3).
        keep_alive = false;
        BodyKind::UntilClose
    } else if let Some(n) = length {
        BodyKind::Length(n)
    } else {
        keep_alive = false;
        BodyKind::UntilClose
    };
    head.keep_alive = keep_alive;
    Ok(true)
}

/// Reads `up` until the final response head is whole, skipping interim
/// answers; a 101 or a malformed head is the upstream's failure.
pub async fn read_head(
    up: &mut Stream,
    is_head: bool,
    head: &mut ResponseHead,
    deadline: Instant,
) -> Result<(), Failure> {
    loop {
        match parse_response_head(up.buffered(), is_head, head) {
            // Interim 1xx answers (we never forward Expect, but an upstream may still send one).
            Ok(true) if (100..200).contains(&head.status) && head.status != 101 => {
                up.consume(head.len);
                continue;
            }
            Ok(true) if head.status == 101 => return Err(Failure::Upstream),
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(HeadError::Invalid | HeadError::TooLarge) => return Err(Failure::Upstream),
        }
        match monoio::time::timeout_at(deadline.into(), up.fill()).await {
            Err(_) => return Err(Failure::TimedOut),
            Ok(Ok(0) | Err(_)) => return Err(Failure::Upstream),
            Ok(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str, head_req: bool) -> ResponseHead {
        let mut h = ResponseHead::default();
        assert!(parse_response_head(s.as_bytes(), head_req, &mut h).unwrap());
        h
    }

    #[test]
    fn framing_and_reuse() {
        let h = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false);
        assert_eq!(
            (h.status, h.body, h.keep_alive),
            (200, BodyKind::Length(3), true)
        );
        let h = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        );
        assert_eq!(h.body, BodyKind::Chunked);
        let h = parse("HTTP/1.0 200 OK\r\n\r\n", false);
        assert_eq!((h.body, h.keep_alive), (BodyKind::UntilClose, false));
        let h = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true);
        assert_eq!(h.body, BodyKind::None);
        let h = parse(
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
            false,
        );
        assert_eq!((h.body, h.keep_alive), (BodyKind::None, false));
    }

    #[test]
    fn ambiguous_framing_is_invalid() {
        for s in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        ] {
            let mut h = ResponseHead::default();
            assert_eq!(
                parse_response_head(s, false, &mut h),
                Err(HeadError::Invalid),
                "{}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn a_missing_reason_phrase_is_an_empty_span() {
        // httparse answers a static "" here, outside the buffer (found by fuzzing).
        for s in [
            "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 \r\n\r\n",
        ] {
            let h = parse(s, false);
            assert_eq!((h.status, h.reason.is_empty()), (200, true), "{s:?}");
        }
        let mut h = ResponseHead::default();
        let obs = b"HTTP/1.1 200 \xff\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_response_head(obs, false, &mut h).is_ok());
        assert!(h.reason.end as usize <= obs.len());
    }

    #[test]
    fn equal_length_lists_are_one_length() {
        let h = parse(
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
            false,
        );
        assert_eq!((h.body, h.declared_length), (BodyKind::Length(5), Some(5)));
        let h = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!((h.body, h.declared_length), (BodyKind::None, Some(5)));
    }
}
