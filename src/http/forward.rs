//! What of a client's request may travel to an upstream, and how the
//! upstream request is framed.
//!
//! The rule that makes smuggling through portico impossible: the headers
//! that frame a message (`Content-Length`, `Transfer-Encoding`, `Host`) are
//! never copied from the client and never removed because a `Connection`
//! header names them; portico writes the upstream's framing itself, from
//! the body it read and checked, so the upstream reads exactly the one
//! request portico accepted.

use std::ops::Range;

use super::{BodyKind, ChunkedDecoder, Head, Method};

/// Hop-by-hop (RFC 9110 §7.6.1) and framing headers: meaningful on one
/// connection only, so never passed on in either direction.
const HOP_BY_HOP: &[&[u8]] = &[
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"upgrade",
];

/// Request headers the gateway writes itself or keeps for itself.
const GATEWAY_REQUEST: &[&[u8]] = &[
    b"host",
    b"proxy-authorization",
    b"expect",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-request-id",
];

/// Response headers the gateway writes itself or keeps for itself.
const GATEWAY_RESPONSE: &[&[u8]] = &[b"proxy-authenticate", b"x-request-id"];

fn is_one_of(name: &[u8], lists: [&[&[u8]]; 2]) -> bool {
    lists
        .iter()
        .any(|l| l.iter().any(|h| h.eq_ignore_ascii_case(name)))
}

/// Whether the gateway sets or drops request header `name` itself (any
/// case), so a client's or a configured header of that name never travels.
pub fn is_gateway_header(name: &[u8]) -> bool {
    is_one_of(name, [HOP_BY_HOP, GATEWAY_REQUEST])
}

/// Whether an upstream's response header `name` stays with the gateway
/// (framing is written anew for the client).
pub fn is_gateway_response_header(name: &[u8]) -> bool {
    is_one_of(name, [HOP_BY_HOP, GATEWAY_RESPONSE])
}

/// The client's end-to-end headers, in order: what an upstream may see of
/// the head (the caller still leaves out the ones it replaces).
pub fn end_to_end_headers<'a, 'b: 'a>(
    head: &'a Head,
    buf: &'b [u8],
) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 'a {
    head.headers
        .iter()
        .map(move |(n, v)| (n.get(buf), v.get(buf)))
        .filter(move |(name, _)| !is_gateway_header(name) && !head.is_connection_token(buf, name))
}

/// Ends an upstream request head with portico's own framing for a body of
/// `len` data bytes (`None`: sent chunked, length unknown yet).
pub fn end_request_head(out: &mut Vec<u8>, len: Option<u64>) {
    match len {
        Some(0) => {}
        Some(n) => write_content_length(out, n),
        None => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// The one `content-length` line portico writes, upstream or to a client.
pub fn write_content_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Ends the head with a whole chunked body `body` (already checked by
/// `buffered_body_len`), sent de-chunked with its length: simpler for the
/// upstream, and no chunk extension or trailer of the client's survives.
pub fn end_with_dechunked(out: &mut Vec<u8>, body: &[u8]) {
    let mut decoder = ChunkedDecoder::default();
    let mut data: Vec<Range<usize>> = Vec::new();
    let checked = decoder.feed(body, |r| data.push(r));
    debug_assert!(checked.is_ok() && decoder.is_done(), "a checked body");
    end_request_head(out, Some(decoder.total));
    for r in data {
        out.extend_from_slice(&body[r]);
    }
}

/// The framing of the client's body as the upstream will get it: its
/// length when known, else chunked.
pub fn upstream_length(kind: BodyKind) -> Option<u64> {
    match kind {
        BodyKind::None => Some(0),
        BodyKind::Length(n) => Some(n),
        BodyKind::Chunked | BodyKind::UntilClose => None,
    }
}

/// Methods a request may be sent again for after a connection failed
/// mid-exchange (RFC 9110 §9.2.2): POST and PATCH may have been executed.
pub fn is_idempotent(method: Method) -> bool {
    matches!(
        method,
        Method::Get | Method::Head | Method::Options | Method::Put | Method::Delete
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitsConfig;

    fn forwarded(raw: &str) -> Vec<String> {
        let mut head = Head::default();
        let limits = LimitsConfig {
            max_header_bytes: 4096,
            max_headers: 32,
            max_uri_bytes: 512,
            max_body_bytes: 1000,
        };
        assert!(super::super::parse_request_head(raw.as_bytes(), &limits, &mut head).unwrap());
        end_to_end_headers(&head, raw.as_bytes())
            .map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase())
            .collect()
    }

    #[test]
    fn framing_is_never_copied_and_never_named_away() {
        let raw = "POST /a HTTP/1.1\r\nHost: x\r\nConnection: content-length, x-hop\r\n\
                   Content-Length: 40\r\nX-Hop: 1\r\nX-Keep: 2\r\n\r\n";
        assert_eq!(forwarded(raw), ["x-keep"]);
        let raw = "POST /a HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding\r\n\
                   Transfer-Encoding: chunked\r\n\r\n";
        assert!(forwarded(raw).is_empty());
    }

    #[test]
    fn own_framing() {
        let mut out = Vec::new();
        end_request_head(&mut out, upstream_length(BodyKind::Length(40)));
        assert_eq!(out, b"content-length: 40\r\n\r\n");
        out.clear();
        end_request_head(&mut out, upstream_length(BodyKind::Chunked));
        assert_eq!(out, b"transfer-encoding: chunked\r\n\r\n");
        out.clear();
        end_request_head(&mut out, upstream_length(BodyKind::None));
        assert_eq!(out, b"\r\n");
    }
}
