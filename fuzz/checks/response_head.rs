//! The upstream response parser: never panics, never claims more head
//! than it was given, reads a head split across reads the same, and an
//! answer it takes has one framing (never both Content-Length and
//! Transfer-Encoding: that is how a response is split in two).

use portico::http::BodyKind;
use portico::upstream::{parse_response_head, ResponseHead};

/// A fuzz input: bit 0 of the first byte says whether the request was HEAD.
pub fn check(input: &[u8]) -> Result<(), String> {
    let Some((&flags, buf)) = input.split_first() else {
        return Ok(());
    };
    check_head(buf, flags & 1 == 1)
}

pub fn check_head(buf: &[u8], request_was_head: bool) -> Result<(), String> {
    let mut head = ResponseHead::default();
    if parse_response_head(buf, request_was_head, &mut head) != Ok(true) {
        return Ok(());
    }
    if head.len > buf.len() {
        return Err(format!("head of {} bytes in {}", head.len, buf.len()));
    }
    let count = |name: &[u8]| {
        head.headers
            .iter()
            .filter(|(n, _)| n.get(buf).eq_ignore_ascii_case(name))
            .count()
    };
    let (lengths, codings) = (count(b"content-length"), count(b"transfer-encoding"));
    if lengths > 0 && codings > 0 {
        return Err("both Content-Length and Transfer-Encoding taken".into());
    }
    if codings > 1 {
        return Err("several Transfer-Encoding fields taken".into());
    }
    match head.body {
        BodyKind::Length(n) if head.declared_length != Some(n) => {
            return Err(format!("length {n}, declared {:?}", head.declared_length))
        }
        BodyKind::Chunked if codings != 1 => return Err("chunked without the field".into()),
        BodyKind::UntilClose if head.keep_alive => {
            return Err("a body to the close on a kept connection".into())
        }
        _ => {}
    }
    if head.len <= 600 {
        let mut part = ResponseHead::default();
        for end in 0..head.len {
            let r = parse_response_head(&buf[..end], request_was_head, &mut part);
            if r != Ok(false) {
                return Err(format!(
                    "first {end} bytes of a {}-byte head: {r:?}",
                    head.len
                ));
            }
        }
    }
    Ok(())
}
