//! The upstream's answer to the client: its head rewritten (hop-by-hop
//! and gateway headers dropped, framing written by portico), its body
//! relayed or, when the cache may store it, read whole first; the upstream
//! connection pooled again if it can carry another request.

use crate::dataplane::conn::Connection;
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::http::{
    buffered_body_len, forward, write_status_line, BodyKind, Framing, Relay, Sink, Version,
};
use crate::upstream::{PoolKey, ResponseHead, UpstreamConn};

use super::compiled::HttpProxyIntegration;
use super::request::push_header;

/// Sends the upstream's answer to the client and pools the connection if
/// it can carry another request.
pub(super) async fn relay_answer(
    w: &Shard,
    conn: &mut Connection,
    ex: &Exchange<'_>,
    addr: PoolKey,
    mut up: UpstreamConn,
    proxy: &HttpProxyIntegration,
) -> Outcome {
    let head = &conn.response_head;
    let dechunk = head.body == BodyKind::Chunked && ex.version == Version::Http10;
    let close = respond::closes(w, ex, head.body == BodyKind::UntilClose || dechunk);
    {
        let buf = up.stream.buffered();
        let out = &mut conn.out;
        write_status_line_from(out, head.status, head.reason.get(buf));
        for (n, v) in &head.headers {
            let name = n.get(buf);
            if forward::is_gateway_response_header(name)
                || (head.connection_tokens && is_response_connection_token(head, buf, name))
            {
                continue;
            }
            push_header(out, name, v.get(buf));
        }
        match head.body {
            BodyKind::Chunked if !dechunk => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            }
            BodyKind::Length(n) => forward::write_content_length(out, n),
            // A HEAD or 304 answer: the length of what a GET would get.
            BodyKind::None if head.status != 204 && head.status >= 200 => {
                if let Some(n) = head.declared_length {
                    forward::write_content_length(out, n);
                }
            }
            _ => {}
        }
        push_header(out, b"x-request-id", ex.id.as_bytes());
        if !head.has_date {
            push_header(out, b"date", &w.date());
        }
        out.extend_from_slice(&conn.extra_head);
        out.extend_from_slice(if close {
            &b"connection: close\r\n\r\n"[..]
        } else if ex.version == Version::Http10 {
            b"connection: keep-alive\r\n\r\n"
        } else {
            b"\r\n"
        });
    }
    let head_len = head.len;
    let kind = head.body;
    let upstream_keep_alive = head.keep_alive;
    up.stream.consume(head_len);
    // An answer the cache may store is read whole (it is small: at most the
    // stage's item limit), so it is captured in one piece.
    if let (Some(limit), false) = (ex.capture, dechunk) {
        loop {
            let buffered = up.stream.buffered();
            let whole = match kind {
                BodyKind::Length(n) => n > limit as u64 || buffered.len() as u64 >= n,
                // Chunk framing adds a little: allow for it before giving up.
                BodyKind::Chunked => {
                    buffered.len() > limit + limit / 8 + 1024
                        || matches!(
                            buffered_body_len(kind, buffered, u64::MAX),
                            Ok(Some(_)) | Err(_)
                        )
                }
                _ => true,
            };
            if whole {
                break;
            }
            match up.stream.fill_within(proxy.timeout).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    // The whole body is usually here already: then one write, no relay.
    let body_here = match kind {
        BodyKind::Length(_) | BodyKind::None => {
            buffered_body_len(kind, up.stream.buffered(), u64::MAX)
                .ok()
                .flatten()
        }
        BodyKind::Chunked if !dechunk => buffered_body_len(kind, up.stream.buffered(), u64::MAX)
            .ok()
            .flatten(),
        _ => None,
    };
    let relayed = if let Some(n) = body_here {
        conn.out.extend_from_slice(&up.stream.buffered()[..n]);
        up.stream.consume(n);
        respond::send_whole(conn, ex).await.is_ok()
    } else if conn.flush().await.is_ok() {
        let relay = Relay {
            kind,
            limit: u64::MAX,
            read_timeout: proxy.timeout,
            deadline: None,
        };
        let framing = if dechunk {
            Framing::Dechunk
        } else {
            Framing::Raw
        };
        let sink = Sink::Peer {
            io: &mut conn.stream.io,
            framing,
            scratch: &mut conn.scratch,
        };
        match relay.run(&mut up.stream, sink).await {
            Ok(n) => {
                conn.sent += n;
                true
            }
            Err(_) => false,
        }
    } else {
        false
    };
    if relayed && upstream_keep_alive && up.stream.buffered().is_empty() {
        w.pool.borrow_mut().put(addr, up);
    }
    if !relayed || close {
        Outcome::Close
    } else {
        Outcome::KeepAlive
    }
}

/// The upstream's status line, its reason phrase kept.
fn write_status_line_from(out: &mut Vec<u8>, status: u16, reason: &[u8]) {
    if reason.is_empty() {
        return write_status_line(out, status);
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
}

/// Whether the upstream's `Connection` header names `name` as hop-by-hop.
fn is_response_connection_token(head: &ResponseHead, buf: &[u8], name: &[u8]) -> bool {
    head.headers.iter().any(|(n, v)| {
        n.get(buf).eq_ignore_ascii_case(b"connection")
            && crate::http::header_has_token(v.get(buf), name)
    })
}
