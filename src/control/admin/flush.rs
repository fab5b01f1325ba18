//! `portico cache flush`: asks the running server's admin listener to
//! flush a stage's cache on every worker (of every node, on a fleet).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("cannot reach the admin listener at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("the admin listener answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("unreadable answer from the admin listener")]
    Garbled,
}

/// POSTs the flush and returns the JSON body of a 200 answer, waiting
/// `wait` for it (a fleet node answers once every node flushed, or after
/// its `[cluster] flush_timeout_ms`).
pub fn flush_request(
    addr: &str,
    token: Option<&str>,
    api: Option<&str>,
    stage: &str,
    wait: Duration,
) -> Result<String, FlushError> {
    let connect = |source| FlushError::Connect {
        addr: addr.to_string(),
        source,
    };
    let mut s = TcpStream::connect(addr).map_err(connect)?;
    s.set_read_timeout(Some(wait)).map_err(connect)?;
    let mut target = format!("/cache/flush?stage={stage}");
    if let Some(api) = api {
        target.push_str(&format!("&api={api}"));
    }
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let request = format!(
        "POST {target} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-length: 0\r\nconnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).map_err(connect)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(connect)?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(n)) = r.parse(&answer) else {
        return Err(FlushError::Garbled);
    };
    let status = r.code.ok_or(FlushError::Garbled)?;
    let body = String::from_utf8_lossy(&answer[n..]).into_owned();
    if status != 200 {
        return Err(FlushError::Refused { status, body });
    }
    Ok(body)
}
