//! The mock integration: a fixed answer, rendered once at compile time.

use std::collections::BTreeMap;

use crate::http::write_status_line;

pub struct MockIntegration {
    /// Status line and headers, `content-length` included, without the
    /// blank line: per-request headers follow.
    head: Vec<u8>,
    body: Vec<u8>,
    pub status: u16,
}

/// Headers the gateway owns; a mock may not set them.
const RESERVED: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "x-request-id",
    "date",
];

impl MockIntegration {
    pub fn compile(
        status: u16,
        headers: &BTreeMap<String, String>,
        body: &str,
    ) -> Result<Self, String> {
        if !(200..=599).contains(&status) {
            return Err(format!("mock status {status} must be between 200 and 599"));
        }
        let mut head = Vec::new();
        write_status_line(&mut head, status);
        for (name, value) in headers {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                return Err(format!("mock header name `{name}` is not a valid token"));
            }
            if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!("mock header `{name}` is set by the gateway"));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(format!(
                    "mock header `{name}` has a line break in its value"
                ));
            }
            head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        head.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        Ok(MockIntegration {
            head,
            body: body.as_bytes().to_vec(),
            status,
        })
    }

    pub fn render(
        &self,
        out: &mut Vec<u8>,
        request_id: &[u8],
        date: &[u8],
        extra_head: &[u8],
        close: bool,
        head_only: bool,
    ) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(extra_head);
        out.extend_from_slice(b"x-request-id: ");
        out.extend_from_slice(request_id);
        out.extend_from_slice(b"\r\ndate: ");
        out.extend_from_slice(date);
        out.extend_from_slice(if close {
            &b"\r\nconnection: close\r\n\r\n"[..]
        } else {
            b"\r\n\r\n"
        });
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}
