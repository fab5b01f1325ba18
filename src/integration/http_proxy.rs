//! The HTTP proxy integration: forwards the request to the upstream over a
//! pooled keep-alive connection and streams the answer back.
//!
//! Small messages (the common case) go out in one write each way; large
//! or slow bodies are relayed as they arrive, never buffered whole.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dataplane::conn::Connection;
use crate::dataplane::errors::{INTEGRATION_FAILURE, INTEGRATION_TIMEOUT};
use crate::dataplane::exchange::{Exchange, Outcome};
use crate::dataplane::respond;
use crate::dataplane::shard::Shard;
use crate::http::{
    buffered_body_len, forward, write_status_line, BodyKind, ErrorResponse, Framing, Relay,
    RelayError, Sink, Stream, Version,
};
use crate::snapshot::{Snapshot, UriPart, UriTemplate};

use super::upstream_head::{parse_response_head, HeadError, ResponseHead};
use super::{PoolKey, UpstreamConn};
use crate::tls::upstream::UpstreamTls;

/// A header added to the upstream request.
#[derive(Debug)]
enum Added {
    Literal(String),
    /// `$context.authorizer.{key}`: what the authorizer found; left out
    /// when there is none.
    Authorizer(String),
}

#[derive(Debug)]
enum PathPart {
    Literal(String),
    Param(String),
}

pub struct HttpProxyIntegration {
    /// `host[:port]` as written in the URI: the upstream's `Host` header.
    authority: String,
    addrs: Vec<SocketAddr>,
    path: Vec<PathPart>,
    /// The URI template has its own query: the client's is appended with `&`.
    has_query: bool,
    timeout: Duration,
    /// Lower-case names; replace the client's headers of the same name.
    added: Vec<(String, Added)>,
    /// `https://`: how to reach the upstream over TLS.
    tls: Option<crate::tls::upstream::UpstreamTls>,
}

impl HttpProxyIntegration {
    pub fn compile(
        uri: &UriTemplate,
        variables: &BTreeMap<String, String>,
        timeout_ms: u64,
        request_headers: &BTreeMap<String, String>,
        tls: Option<&dyn Fn() -> Result<std::sync::Arc<rustls::ClientConfig>, String>>,
        resolve: super::Resolve<'_>,
    ) -> Result<Self, String> {
        let var = |v: &str| {
            variables
                .get(v)
                .cloned()
                .ok_or_else(|| format!("stage variable `{v}` is not defined"))
        };
        let mut authority = String::new();
        for part in &uri.authority {
            match part {
                UriPart::Literal(s) => authority.push_str(s),
                UriPart::StageVar(v) => authority.push_str(&var(v)?),
                UriPart::Param(_) => unreachable!("rejected when parsed"),
            }
        }
        let mut path: Vec<PathPart> = Vec::new();
        for part in &uri.path {
            match part {
                UriPart::Param(p) => path.push(PathPart::Param(p.clone())),
                UriPart::Literal(s) => push_literal(&mut path, s),
                UriPart::StageVar(v) => push_literal(&mut path, &var(v)?),
            }
        }
        let has_query = path
            .iter()
            .any(|p| matches!(p, PathPart::Literal(s) if s.contains('?')));
        let default_port = if uri.https { 443 } else { 80 };
        let addrs = super::resolve_authority(&authority, default_port, resolve)?;
        let tls = match (uri.https, tls) {
            (false, _) => None,
            (true, Some(config)) => Some(crate::tls::upstream::UpstreamTls::new(
                config()?,
                &authority,
            )?),
            (true, None) => return Err("https upstreams are not available here".into()),
        };
        if timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        let mut added = Vec::new();
        for (name, value) in request_headers {
            let lower = name.to_ascii_lowercase();
            if lower.is_empty() || !lower.bytes().all(|c| c.is_ascii_graphic() && c != b':') {
                return Err(format!("request_headers: `{name}` is not a header name"));
            }
            if forward::is_gateway_header(lower.as_bytes()) {
                return Err(format!("request_headers: `{name}` is set by the gateway"));
            }
            let source = match value.strip_prefix("$context.authorizer.") {
                Some(key) if !key.is_empty() => Added::Authorizer(key.to_string()),
                Some(_) => return Err(format!("request_headers.{name}: name an authorizer value")),
                None if value.starts_with('$') => {
                    return Err(format!(
                    "request_headers.{name}: `{value}` is not $context.authorizer.KEY or a literal"
                ))
                }
                None if value.contains(['\r', '\n']) => {
                    return Err(format!(
                        "request_headers.{name}: a value cannot hold a line break"
                    ))
                }
                None => Added::Literal(value.clone()),
            };
            added.push((lower, source));
        }
        Ok(HttpProxyIntegration {
            authority,
            addrs,
            path,
            has_query,
            timeout: Duration::from_millis(timeout_ms),
            added,
            tls,
        })
    }

    /// Writes the upstream request's head but its framing (which `forward`
    /// adds once it knows how the body travels): request line with the path
    /// template filled in and the client's query, the client's end-to-end
    /// headers, and the forwarding headers.
    pub fn write_request_head(&self, out: &mut Vec<u8>, r: &super::Routed<'_>) {
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

fn push_literal(path: &mut Vec<PathPart>, s: &str) {
    match path.last_mut() {
        Some(PathPart::Literal(l)) => l.push_str(s),
        _ => path.push(PathPart::Literal(s.to_string())),
    }
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Forwards the request whose head is already in `conn.upstream_out`.
pub async fn forward(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    proxy: &HttpProxyIntegration,
) -> Outcome {
    let limit = snap.limits.max_body_bytes;
    // A body already here whole travels with the head in one write, and can
    // be sent again if a pooled connection turns out to be closed.
    let whole = match buffered_body_len(ex.body, conn.stream.buffered(), limit) {
        Ok(Some(n)) => {
            let body = &conn.stream.buffered()[..n];
            if ex.body == BodyKind::Chunked {
                forward::end_with_dechunked(&mut conn.upstream_out, body);
            } else {
                forward::end_request_head(&mut conn.upstream_out, Some(n as u64));
                conn.upstream_out.extend_from_slice(body);
            }
            conn.stream.consume(n);
            true
        }
        Ok(None) => {
            forward::end_request_head(&mut conn.upstream_out, forward::upstream_length(ex.body));
            false
        }
        Err(e) => return respond::error(w, conn, ex, e.into(), true).await,
    };
    let started = Instant::now();
    let deadline = started + proxy.timeout;
    let mut retried = false;
    let (addr, upstream) = loop {
        let Some((addr, mut up)) =
            acquire_from(w, snap, &proxy.addrs, proxy.tls.as_ref(), deadline).await
        else {
            return respond::error(w, conn, ex, INTEGRATION_FAILURE, !whole).await;
        };
        let sent = if whole {
            up.stream
                .io
                .write_kept(&mut conn.upstream_out)
                .await
                .map_err(|_| Failure::Upstream)
        } else {
            send_streaming(snap, conn, ex, &mut up).await
        };
        let received = match sent {
            Ok(()) => {
                read_head(
                    &mut up.stream,
                    ex.is_head,
                    &mut conn.response_head,
                    deadline,
                )
                .await
            }
            Err(f) => Err(f),
        };
        match received {
            Ok(()) => break (addr, up),
            // A pooled connection the upstream closed while idle: once more
            // on a new one, unless the upstream may have executed it.
            Err(Failure::Upstream) if up.reused && whole && !retried && ex.idempotent => {
                retried = true
            }
            Err(Failure::Upstream) => {
                return respond::error(w, conn, ex, INTEGRATION_FAILURE, !whole).await
            }
            Err(Failure::TimedOut) => {
                return respond::error(w, conn, ex, INTEGRATION_TIMEOUT, !whole).await
            }
            Err(Failure::Client(Some(e))) => return respond::error(w, conn, ex, e, true).await,
            Err(Failure::Client(None)) => return Outcome::Close,
        }
    };
    conn.upstream_out.clear();
    ex.status = conn.response_head.status;
    ex.integration = Some((
        started.elapsed().as_micros() as u64,
        conn.response_head.status,
    ));
    relay_answer(w, conn, ex, addr, upstream, proxy).await
}

pub(super) enum Failure {
    /// Connect, write or read failed, or the upstream's answer was malformed.
    Upstream,
    TimedOut,
    /// The client misbehaved mid-body: answer it this, or just close.
    Client(Option<ErrorResponse>),
}

/// A pooled connection to one of `addrs`, else a new one.
pub(super) async fn acquire_from(
    w: &Shard,
    snap: &Snapshot,
    addrs: &[SocketAddr],
    tls: Option<&UpstreamTls>,
    deadline: Instant,
) -> Option<(PoolKey, UpstreamConn)> {
    let sni = tls.map(|t| t.sni.clone());
    if let Some(conn) = addrs.iter().find_map(|a| {
        let key = (*a, sni.clone());
        let conn = w.pool.borrow_mut().take(&key)?;
        Some((key, conn))
    }) {
        return Some(conn);
    }
    let connect_timeout = Duration::from_millis(snap.upstream.connect_timeout_ms)
        .min(deadline.saturating_duration_since(Instant::now()));
    for addr in addrs {
        if let Ok(conn) = UpstreamConn::connect(*addr, connect_timeout, tls).await {
            return Some(((*addr, sni), conn));
        }
    }
    None
}

async fn send_streaming(
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &Exchange<'_>,
    up: &mut UpstreamConn,
) -> Result<(), Failure> {
    respond::continue_if_awaited(conn, ex)
        .await
        .map_err(|_| Failure::Client(None))?;
    up.stream
        .io
        .write_buf(&mut conn.upstream_out)
        .await
        .map_err(|_| Failure::Upstream)?;
    let relay = Relay {
        kind: ex.body,
        limit: snap.limits.max_body_bytes,
        read_timeout: Duration::from_millis(snap.timeouts.body_ms),
        deadline: Some(snap.timeouts.body_deadline()),
    };
    let sink = Sink::Peer {
        io: &mut up.stream.io,
        framing: Framing::Rechunk,
        scratch: &mut conn.scratch,
    };
    relay
        .run(&mut conn.stream, sink)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            RelayError::Sink(_) => Failure::Upstream,
            e => Failure::Client(e.client_answer()),
        })
}

pub(super) async fn read_head(
    up: &mut Stream,
    is_head: bool,
    head: &mut ResponseHead,
    deadline: Instant,
) -> Result<(), Failure> {
    loop {
        match parse_response_head(up.buffered(), is_head, head) {
            // Interim 1xx answers (we never forward Expect, but an upstream may still send one).
            Ok(true) if (100..200).contains(&head.status) && head.status != 101 => {
                up.consume(head.len);
                continue;
            }
            Ok(true) if head.status == 101 => return Err(Failure::Upstream),
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(HeadError::Invalid | HeadError::TooLarge) => return Err(Failure::Upstream),
        }
        match monoio::time::timeout_at(deadline.into(), up.fill()).await {
            Err(_) => return Err(Failure::TimedOut),
            Ok(Ok(0) | Err(_)) => return Err(Failure::Upstream),
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends the upstream's answer to the client and pools the connection if
/// it can carry another request.
async fn relay_answer(
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
    if conn.capture && !dechunk {
        let limit = conn.capture_limit;
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
        conn.flush().await.is_ok()
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
