//! Deciding whether a response may be stored, cutting it into what is
//! kept (status line, headers that belong to the resource, body), and
//! writing a hit back with the headers of this request.

use crate::http::{header_has_token, ChunkedDecoder};

/// Headers that describe this exchange, not the resource: written fresh on
/// every hit, never stored.
const PER_EXCHANGE: [&[u8]; 7] = [
    b"date",
    b"connection",
    b"keep-alive",
    b"x-request-id",
    b"age",
    b"transfer-encoding",
    b"warning",
];

/// What the stage and route allow to be stored.
pub struct StorePolicy<'a> {
    /// Empty: any 2xx.
    pub statuses: &'a [u16],
    pub max_item_bytes: usize,
    pub allow_set_cookie: bool,
    /// The stage's Hit/Miss header, also never stored.
    pub cache_header: &'a [u8],
    /// The gateway added CORS lines to this answer: they are per exchange.
    pub gateway_cors: bool,
}

/// A captured response cut for storage: head (status line and kept
/// headers) and body.
pub struct Storable {
    pub head: Vec<u8>,
    pub body_at: usize,
}

/// The part of `response` (a whole HTTP/1.1 response as sent to the
/// client) to store, or `None` if it must not be: a status not allowed,
/// `Cache-Control: no-store` or `private`, a cookie, a body not wholly
/// captured, or a body over the item limit. A chunked body is stored
/// de-chunked, with a Content-Length.
pub fn storable(response: &[u8], policy: &StorePolicy<'_>) -> Option<Storable> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let head_len = match r.parse(response) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let status = r.code?;
    let allowed = if policy.statuses.is_empty() {
        (200..300).contains(&status)
    } else {
        policy.statuses.contains(&status)
    };
    if !allowed {
        return None;
    }
    let mut length = None;
    let mut chunked = false;
    for h in r.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"cache-control")
            && (header_has_token(h.value, b"no-store") || header_has_token(h.value, b"private"))
        {
            return None;
        }
        if name.eq_ignore_ascii_case(b"set-cookie") && !policy.allow_set_cookie {
            return None;
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !header_has_token(h.value, b"chunked") {
                return None;
            }
            chunked = true;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok();
        }
    }
    let raw = &response[head_len..];
    let body: std::borrow::Cow<'_, [u8]> = if chunked {
        let mut d = ChunkedDecoder::default();
        let mut body = Vec::new();
        let used = d.feed(raw, |r| body.extend_from_slice(&raw[r])).ok()?;
        if !d.is_done() || used != raw.len() {
            return None;
        }
        body.into()
    } else {
        let length = length?;
        if raw.len() != length {
            return None;
        }
        raw.into()
    };
    if body.len() > policy.max_item_bytes {
        return None;
    }
    let mut head = Vec::with_capacity(head_len);
    let reason = r.reason.unwrap_or("");
    head.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    for h in r.headers.iter() {
        let name = h.name.as_bytes();
        if PER_EXCHANGE.iter().any(|p| name.eq_ignore_ascii_case(p))
            || name.eq_ignore_ascii_case(b"content-length")
            || (!policy.cache_header.is_empty() && name.eq_ignore_ascii_case(policy.cache_header))
            || (policy.gateway_cors
                && (name.len() > 15 && name[..15].eq_ignore_ascii_case(b"access-control-")
                    || name.eq_ignore_ascii_case(b"vary")))
        {
            continue;
        }
        head.extend_from_slice(name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(h.value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"content-length: ");
    head.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    head.extend_from_slice(b"\r\n");
    let body_at = head.len();
    head.extend_from_slice(&body);
    Some(Storable { head, body_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> StorePolicy<'static> {
        StorePolicy {
            statuses: &[],
            max_item_bytes: 100,
            allow_set_cookie: false,
            cache_header: b"x-cache",
            gateway_cors: false,
        }
    }

    #[test]
    fn keeps_resource_headers_and_drops_exchange_ones() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\ndate: D\r\nx-request-id: r\r\nx-cache: Miss\r\n\r\nok";
        let s = storable(r, &policy()).expect("storable");
        let text = String::from_utf8(s.head.clone()).unwrap();
        assert!(
            text.starts_with(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n"
            ),
            "{text}"
        );
        let chunked =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n";
        let s2 = storable(chunked, &policy()).expect("a whole chunked body is stored de-chunked");
        assert_eq!(&s2.head[s2.body_at..], b"ok!");
        assert!(String::from_utf8_lossy(&s2.head).contains("content-length: 3\r\n"));
        assert!(
            !text.contains("date") && !text.contains("x-request-id") && !text.contains("x-cache")
        );
        assert_eq!(&s.head[s.body_at..], b"ok");
    }

    #[test]
    fn refuses_what_must_not_be_stored() {
        let p = policy();
        let cases: [&[u8]; 7] = [
            b"HTTP/1.1 500 E\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncache-control: no-store\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncache-control: max-age=5, private\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nset-cookie: a=b\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\n\r\n",
        ];
        for c in cases {
            assert!(storable(c, &p).is_none(), "{}", String::from_utf8_lossy(c));
        }
        let big = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 101\r\n\r\n{}",
            "x".repeat(101)
        );
        assert!(
            storable(big.as_bytes(), &p).is_none(),
            "over max_item_bytes"
        );
        let cookie = StorePolicy {
            allow_set_cookie: true,
            ..policy()
        };
        assert!(storable(
            b"HTTP/1.1 200 OK\r\nset-cookie: a=b\r\ncontent-length: 0\r\n\r\n",
            &cookie
        )
        .is_some());
        let only_203 = StorePolicy {
            statuses: &[203],
            ..policy()
        };
        assert!(storable(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", &only_203).is_none());
    }
}
