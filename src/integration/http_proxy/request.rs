//! The upstream request's head, written while the client's is still in the
//! buffer: the path template filled in, the client's end-to-end headers,
//! the configured ones, the forwarding headers. Apart from the compiled
//! integration (`compiled`) because it reads the routed request, which
//! names the snapshot.

use crate::http::forward;
use crate::integration::Routed;

use super::compiled::{Added, HttpProxyIntegration, PathPart};

impl HttpProxyIntegration {
    /// Writes the upstream request's head but its framing (which `forward`
    /// adds once it knows how the body travels): request line with the path
    /// template filled in and the client's query, the client's end-to-end
    /// headers, and the forwarding headers.
    pub fn write_request_head(&self, out: &mut Vec<u8>, r: &Routed<'_>) {
        let (head, buf, params) = (r.head, r.buf, r.params);
        out.extend_from_slice(head.method_span.get(buf));
        out.push(b' ');
        for part in &self.path {
            match part {
                PathPart::Literal(s) => out.extend_from_slice(s.as_bytes()),
                PathPart::Param(p) => out.extend_from_slice(params.get(p).unwrap_or("").as_bytes()),
            }
        }
        if let (_, Some(query)) = head.path_and_query(buf) {
            out.push(if self.has_query { b'&' } else { b'?' });
            out.extend_from_slice(query);
        }
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(self.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut forwarded_for: Option<&[u8]> = None;
        for (name, value) in forward::end_to_end_headers(head, buf) {
            if name.eq_ignore_ascii_case(b"x-forwarded-for") {
                forwarded_for = Some(value);
            } else if !self
                .added
                .iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            {
                push_header(out, name, value);
            }
        }
        for (name, source) in &self.added {
            let value = match source {
                Added::Literal(v) => Some(v.clone()),
                Added::Authorizer(key) => r.authorized.and_then(|a| a.value(key)),
            };
            // A value with a line break would split the head: left out.
            if let Some(v) = value.filter(|v| !v.contains(['\r', '\n'])) {
                push_header(out, name.as_bytes(), v.as_bytes());
            }
        }
        out.extend_from_slice(b"x-forwarded-for: ");
        if let Some(prior) = forwarded_for.filter(|p| !p.is_empty()) {
            out.extend_from_slice(prior);
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(r.source_ip.as_bytes());
        out.extend_from_slice(if r.https {
            b"\r\nx-forwarded-proto: https\r\n"
        } else {
            b"\r\nx-forwarded-proto: http\r\n"
        });
        if let Some(host) = head.host {
            push_header(out, b"x-forwarded-host", host.get(buf));
        }
        push_header(out, b"x-request-id", r.request_id);
    }
}

pub(super) fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
