//! A client connection as the steps see it: its transport and the buffers
//! it reuses from one request to the next, so a keep-alive connection
//! allocates nothing per request once warm. What belongs to one request
//! only is the [`Exchange`](super::exchange::Exchange)'s.

use std::io;

use crate::http::{Head, Stream};
use crate::upstream::ResponseHead;

pub struct Connection {
    pub stream: Stream,
    /// Bytes for the client.
    pub out: Vec<u8>,
    /// Bytes for the upstream.
    pub upstream_out: Vec<u8>,
    pub scratch: Vec<u8>,
    /// The current request's parsed head (offsets into `stream`'s buffer).
    pub head: Head,
    pub response_head: ResponseHead,
    pub peer_ip: String,
    /// Bytes written to the client so far, for usage records.
    pub sent: u64,
    /// Header lines the gateway adds to this response (`x-cache: Miss`, CORS).
    pub extra_head: Vec<u8>,
    /// A whole answer kept for the cache to store (see `respond::send_whole`).
    pub captured: Vec<u8>,
    /// The request's method and path, kept for an access log line.
    pub log_path: Vec<u8>,
    /// The request path in canonical form when it had to be rewritten.
    pub path: Vec<u8>,
    /// The client came over TLS (the HTTPS listener).
    pub https: bool,
    /// The client certificate it presented (mutual TLS), described once
    /// per connection for integrations; `None` until the first request.
    pub client_cert: Option<Option<std::rc::Rc<serde_json::Value>>>,
}

impl Connection {
    /// Frees the buffers reused from one request to the next, for a
    /// connection that has gone quiet: an idle keep-alive connection then
    /// holds little more than its socket (each is a few KiB once grown,
    /// and idle connections may number hundreds of thousands). The next
    /// request grows them again. Nothing unread is dropped: a stream with
    /// bytes still buffered keeps its buffer.
    pub fn release_idle(&mut self) {
        self.stream.release();
        for v in [
            &mut self.out,
            &mut self.upstream_out,
            &mut self.scratch,
            &mut self.extra_head,
            &mut self.captured,
            &mut self.log_path,
            &mut self.path,
        ] {
            *v = Vec::new();
        }
        self.head.headers = Vec::new();
        self.response_head.headers = Vec::new();
    }

    /// Sends `out` to the client.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.sent += self.out.len() as u64;
        self.stream.io.write_buf(&mut self.out).await
    }
}
