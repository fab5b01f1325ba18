//! The upstream request's head, written while the client's is still in the
//! buffer: the path template filled in, the client's end-to-end headers,
//! the configured ones, the mapped `requestParameters`, the forwarding headers. Apart from the compiled
//! integration (`compiled`) because it reads the routed request, which
//! names the snapshot.

use percent_encoding::{percent_decode, utf8_percent_encode};

use crate::http::{forward, Head};
use crate::integration::params::{self, Mapped};
use crate::integration::Routed;

use super::compiled::{Added, HttpProxyIntegration, PathPart};
use super::whole::ESCAPED;

/// What the upstream head is written from: the routed request while its
/// head is in the buffer, or a route's `Deferred` copy of it once the body
/// its mapping reads has been read.
pub(super) struct Source<'a> {
    pub head: &'a Head,
    pub buf: &'a [u8],
    pub params: Params<'a>,
    /// Each configured header's value (`HttpProxyIntegration::added`), in order.
    pub added: &'a [Option<String>],
    pub source_ip: &'a str,
    pub https: bool,
    pub request_id: &'a [u8],
}

/// The route's path parameters: the router's, or a deferred head's copy.
pub(super) enum Params<'a> {
    Routed(&'a matchit::Params<'a, 'a>),
    Owned(&'a [(String, String)]),
}

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match self {
            Params::Routed(p) => p.get(name),
            Params::Owned(p) => p.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
        }
    }
}

impl HttpProxyIntegration {
    /// Writes the upstream request's head but its framing (which `forward`
    /// adds once it knows how the body travels): request line with the path
    /// template filled in and the client's query, the client's end-to-end
    /// headers, and the forwarding headers. For a route whose mapping does
    /// not read the body (`reads_body`); the others use `defer_request_head`.
    pub fn write_request_head(&self, out: &mut Vec<u8>, r: &Routed<'_>) {
        // Only a route with `requestParameters` pays for them.
        let mapped = (!self.mapping.is_empty()).then(|| {
            let head_values = params::from_head(&self.mapping, r, None);
            params::finish(&self.mapping, head_values, None)
        });
        let added = self.added_values(r);
        let source = Source {
            head: r.head,
            buf: r.buf,
            params: Params::Routed(r.params),
            added: &added,
            source_ip: r.source_ip,
            https: r.https,
            request_id: r.request_id,
        };
        self.write_head(out, &source, mapped.as_ref());
    }

    /// Each configured header's value for this request.
    pub(super) fn added_values(&self, r: &Routed<'_>) -> Vec<Option<String>> {
        self.added
            .iter()
            .map(|(_, source)| match source {
                Added::Literal(v) => Some(v.clone()),
                Added::Authorizer(key) => r.authorized.and_then(|a| a.value(key)),
            })
            .collect()
    }

    pub(super) fn write_head(&self, out: &mut Vec<u8>, s: &Source<'_>, mapped: Option<&Mapped>) {
        let (head, buf) = (s.head, s.buf);
        out.extend_from_slice(head.method_span.get(buf));
        out.push(b' ');
        for part in &self.path {
            match part {
                PathPart::Literal(l) => out.extend_from_slice(l.as_bytes()),
                PathPart::Param(p) => match mapped.and_then(|m| params::get(&m.path, p)) {
                    // Encoded: a mapped value cannot add a segment or a query.
                    Some(v) => out.extend(utf8_percent_encode(v, ESCAPED).flat_map(str::bytes)),
                    None => out.extend_from_slice(s.params.get(p).unwrap_or("").as_bytes()),
                },
            }
        }
        let query = head.path_and_query(buf).1;
        match mapped.filter(|m| !m.querystring.is_empty()) {
            None => {
                if let Some(query) = query {
                    out.push(if self.has_query { b'&' } else { b'?' });
                    out.extend_from_slice(query);
                }
            }
            Some(m) => write_mapped_query(out, self.has_query, query, &m.querystring),
        }
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mapped_header = |name: &[u8]| {
            mapped.is_some_and(|m| {
                m.header
                    .iter()
                    .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            })
        };
        let mut forwarded_for: Option<&[u8]> = None;
        for (name, value) in forward::end_to_end_headers(head, buf) {
            if name.eq_ignore_ascii_case(b"x-forwarded-for") {
                forwarded_for = Some(value);
            } else if !self
                .added
                .iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
                && !mapped_header(name)
            {
                push_header(out, name, value);
            }
        }
        for ((name, _), value) in self.added.iter().zip(s.added) {
            if mapped_header(name.as_bytes()) {
                continue;
            }
            // A value with a line break would split the head: left out.
            if let Some(v) = value.as_ref().filter(|v| !v.contains(['\r', '\n'])) {
                push_header(out, name.as_bytes(), v.as_bytes());
            }
        }
        // `Mapped` has left out values that would split the head; the
        // gateway's own headers (framing, `host`, forwarding) stay its own.
        for (name, value) in mapped.map(|m| &m.header[..]).unwrap_or_default() {
            if !forward::is_gateway_header(name.as_bytes())
                && !name.eq_ignore_ascii_case("x-forwarded-for")
            {
                push_header(out, name.as_bytes(), value.as_bytes());
            }
        }
        out.extend_from_slice(b"x-forwarded-for: ");
        if let Some(prior) = forwarded_for.filter(|p| !p.is_empty()) {
            out.extend_from_slice(prior);
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(s.source_ip.as_bytes());
        out.extend_from_slice(if s.https {
            b"\r\nx-forwarded-proto: https\r\n"
        } else {
            b"\r\nx-forwarded-proto: http\r\n"
        });
        if let Some(host) = head.host {
            push_header(out, b"x-forwarded-host", host.get(buf));
        }
        push_header(out, b"x-request-id", s.request_id);
    }
}

/// The client's query with the mapped names replaced: its other pairs as
/// they came, then each mapped one, encoded (AWS: a mapped query string
/// "is added to, or overrides", the proxied request's).
fn write_mapped_query(
    out: &mut Vec<u8>,
    has_query: bool,
    query: Option<&[u8]>,
    mapped: &[(String, String)],
) {
    let mut sep = if has_query { b'&' } else { b'?' };
    for pair in query.unwrap_or_default().split(|&b| b == b'&') {
        let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
        let key: Vec<u8> = percent_decode(key).collect();
        if pair.is_empty() || mapped.iter().any(|(n, _)| n.as_bytes() == key) {
            continue;
        }
        out.push(sep);
        sep = b'&';
        out.extend_from_slice(pair);
    }
    for (k, v) in mapped {
        out.push(sep);
        sep = b'&';
        out.extend(utf8_percent_encode(k, ESCAPED).flat_map(str::bytes));
        out.push(b'=');
        out.extend(utf8_percent_encode(v, ESCAPED).flat_map(str::bytes));
    }
}

pub(super) fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
