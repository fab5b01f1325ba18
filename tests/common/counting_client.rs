//! A client that counts the bytes it receives: each answer carries the
//! exact number of bytes read for it (head and body), to compare with
//! `portico_bytes_out_total`, `portico_key_bytes_out_total` and the access
//! log's `responseLength`.
use super::{get, header, parse_head, Client, Headers};

/// A keep-alive connection (a [`Client`]) that reads Content-Length framed
/// answers and counts their bytes on the wire.
pub struct Raw {
    c: Client,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Bytes of this response on the wire (head and body).
    pub bytes: u64,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    pub fn request_id(&self) -> String {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id: {self:?}"))
            .to_string()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        Raw {
            c: Client::connect(port),
        }
    }

    /// Sends `req` and reads one Content-Length framed response.
    pub fn call(&mut self, req: &[u8]) -> Answer {
        self.send(req);
        self.read_answer()
    }

    /// `GET path` for each `(path, status)` in turn on this connection,
    /// asserting each answer's status.
    pub fn get_each(&mut self, calls: &[(&str, u16)]) {
        for (path, status) in calls {
            assert_status(&self.call(get(path).as_bytes()), *status, path);
        }
    }

    pub fn send(&mut self, req: &[u8]) {
        self.c.send(req);
    }

    /// Reads one Content-Length framed response.
    pub fn read_answer(&mut self) -> Answer {
        let head = self
            .c
            .r
            .read_head()
            .unwrap_or_else(|e| panic!("reading an answer from portico: {e}"))
            .unwrap_or_else(|| panic!("portico closed the connection before answering"));
        let (start, headers) = parse_head(&head);
        let status: u16 = start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {start:?}"));
        assert!(
            header(&headers, "transfer-encoding").is_none(),
            "expected a Content-Length answer: {start} {headers:?}"
        );
        let len: usize = header(&headers, "content-length")
            .unwrap_or_else(|| panic!("no content-length: {start} {headers:?}"))
            .parse()
            .expect("numeric content-length");
        let body = self
            .c
            .r
            .take(len)
            .unwrap_or_else(|e| panic!("reading the body of {start} {headers:?}: {e}"));
        Answer {
            status,
            headers,
            body,
            // The head, its closing CRLFCRLF, and the body.
            bytes: (head.len() + 4 + len) as u64,
        }
    }
}

/// A call on a fresh connection.
pub fn call_once(port: u16, req: &[u8]) -> Answer {
    Raw::connect(port).call(req)
}

pub fn assert_status(a: &Answer, status: u16, ctx: &str) {
    assert_eq!(
        a.status,
        status,
        "{ctx}: headers {:?} body {:?}",
        a.headers,
        a.body_str()
    );
}
