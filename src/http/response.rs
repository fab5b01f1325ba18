//! Writing response heads and the gateway's own JSON error answers.

use super::ResponseType;

/// An answer the gateway gives itself, in API Gateway's shape:
/// a status and `{"message": "..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub message: &'static str,
    /// Seconds for a `Retry-After` header; 0 for none.
    pub retry_after: u32,
    /// The body's key: `message`, or `Message` where AWS spells it so
    /// (a Lambda authorizer's deny).
    pub key: &'static str,
    /// The gateway response type it is, which an API may customise.
    pub kind: ResponseType,
}

impl ErrorResponse {
    pub const fn new(status: u16, message: &'static str) -> Self {
        ErrorResponse {
            status,
            message,
            retry_after: 0,
            key: "message",
            kind: ResponseType::of_status(status),
        }
    }

    pub const fn typed(self, kind: ResponseType) -> Self {
        ErrorResponse { kind, ..self }
    }

    pub const fn keyed(self, key: &'static str) -> Self {
        ErrorResponse { key, ..self }
    }

    pub const fn retry_after(self, seconds: u32) -> Self {
        ErrorResponse {
            retry_after: seconds,
            ..self
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The status code of a response that starts with its status line
/// (`HTTP/1.1 200 ...`); 0 if it does not.
pub fn status_of(response: &[u8]) -> u16 {
    match response.get(9..12) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => {
            d.iter().fold(0, |n, &b| n * 10 + u16::from(b - b'0'))
        }
        _ => 0,
    }
}

pub fn write_status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends a complete error response: the JSON body, its length and type,
/// the request id and date every answer carries, `extra` header lines (the
/// API's CORS headers, so a browser can read the error), and
/// `connection: close` when the connection ends after it.
pub fn write_error(
    out: &mut Vec<u8>,
    err: ErrorResponse,
    request_id: &[u8],
    date: &[u8],
    extra: &[u8],
    close: bool,
) {
    write_status_line(out, err.status);
    let body_len = err.message.len() + err.key.len() + r#"{"":""}"#.len();
    out.extend_from_slice(b"content-type: application/json\r\ncontent-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
    out.extend_from_slice(b"\r\n");
    if err.retry_after > 0 {
        out.extend_from_slice(b"retry-after: ");
        out.extend_from_slice(itoa::Buffer::new().format(err.retry_after).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    end_head(out, request_id, date, extra, close);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(err.key.as_bytes());
    out.extend_from_slice(b"\":\"");
    // Messages are our own constants: no quote or backslash to escape.
    debug_assert!(!err.message.contains(['"', '\\']));
    out.extend_from_slice(err.message.as_bytes());
    out.extend_from_slice(b"\"}");
}

/// Ends the head of an answer the gateway makes itself: the request id and
/// date every answer carries, the answer's extra lines (CORS, cache tag),
/// `connection: close` when the connection ends after it, the blank line.
pub fn end_head(out: &mut Vec<u8>, request_id: &[u8], date: &[u8], extra: &[u8], close: bool) {
    out.extend_from_slice(b"x-request-id: ");
    out.extend_from_slice(request_id);
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(extra);
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_json_with_length() {
        let mut out = Vec::new();
        write_error(
            &mut out,
            ErrorResponse::new(403, "Missing Authentication Token"),
            b"rid",
            b"D",
            b"x-extra: 1\r\n",
            true,
        );
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close"));
        assert!(head.contains("\r\nx-extra: 1\r\n"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["message"], "Missing Authentication Token");
    }
}
