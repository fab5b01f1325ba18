//! What says who the caller is (a token's header, the API key header, a
//! Lambda authorizer's identity sources) is taken only when it appears
//! once. With two, one check would read the first while the integration
//! or the authorizer's event carries both (`Authorization` twice: the
//! first verified, an unverified second forwarded; `X-User: alice` and
//! `X-User: mallory`: a decision kept for alice made from an event saying
//! `alice,mallory`), so a repeated identity is refused, never picked from.

use crate::http::Head;

/// An identity header or query parameter given more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// The value of header `name` (any case) if it is there once; `None` if absent.
pub fn header<'b>(head: &Head, buf: &'b [u8], name: &[u8]) -> Result<Option<&'b [u8]>, Repeated> {
    let mut values = head
        .headers
        .iter()
        .filter(|(n, _)| n.get(buf).eq_ignore_ascii_case(name))
        .map(|(_, v)| v.get(buf));
    let first = values.next();
    match values.next() {
        Some(_) => Err(Repeated),
        None => Ok(first),
    }
}

/// The decoded value of query parameter `name` if it is there once; `None` if absent.
pub fn query(head: &Head, buf: &[u8], name: &[u8]) -> Result<Option<Vec<u8>>, Repeated> {
    let (_, query) = head.path_and_query(buf);
    let Some((_, mut values)) = crate::http::query::decoded(query)
        .into_iter()
        .find(|(k, _)| k == name)
    else {
        return Ok(None);
    };
    match values.len() {
        1 => Ok(values.pop()),
        _ => Err(Repeated),
    }
}
