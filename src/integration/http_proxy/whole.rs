//! A non-proxy HTTP integration's request, built whole from what its
//! execution decided (method, mapped path parameters, query strings and
//! headers, the template's body) to the integration's URI, for
//! `upstream::call`. Nothing of the client's request travels unless mapped,
//! as API Gateway's non-proxy HTTP integrations behave.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::http::forward;
use crate::upstream::Endpoint;

use super::compiled::{HttpProxyIntegration, PathPart};
use super::request::push_header;

/// RFC 3986's unreserved characters stay; everything else is escaped, so a
/// mapped value cannot add a path segment, a query pair or a line break.
pub(super) const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The integration request, as the execution made it.
pub struct Parts<'a> {
    pub method: &'a str,
    /// `{name}` of the URI → its value.
    pub path: &'a [(String, String)],
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    /// Sent unless a mapped header names the content type.
    pub content_type: &'a str,
    pub body: &'a [u8],
}

impl HttpProxyIntegration {
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Writes the whole request: request line, `host`, the mapped headers
    /// (those the gateway frames itself left out), `content-length`, body.
    pub fn write_whole_request(&self, out: &mut Vec<u8>, p: &Parts<'_>) {
        out.extend_from_slice(p.method.as_bytes());
        out.push(b' ');
        for part in &self.path {
            match part {
                PathPart::Literal(s) => out.extend_from_slice(s.as_bytes()),
                PathPart::Param(name) => {
                    if let Some((_, v)) = p.path.iter().find(|(n, _)| n == name) {
                        out.extend(utf8_percent_encode(v, ESCAPED).flat_map(str::bytes));
                    }
                }
            }
        }
        let mut sep = if self.has_query { b'&' } else { b'?' };
        for (k, v) in p.query {
            out.push(sep);
            sep = b'&';
            out.extend(utf8_percent_encode(k, ESCAPED).flat_map(str::bytes));
            out.push(b'=');
            out.extend(utf8_percent_encode(v, ESCAPED).flat_map(str::bytes));
        }
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut typed = false;
        for (name, value) in p.headers {
            let (n, v) = (name.as_bytes(), value.as_bytes());
            let token = !n.is_empty() && n.iter().all(|c| c.is_ascii_graphic() && *c != b':');
            if !token
                || forward::is_gateway_header(n)
                || v.iter().any(|c| matches!(c, b'\r' | b'\n' | 0))
            {
                continue;
            }
            typed |= n.eq_ignore_ascii_case(b"content-type");
            push_header(out, n, v);
        }
        if !typed {
            push_header(out, b"content-type", p.content_type.as_bytes());
        }
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(p.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(p.body);
    }
}
