//! The request lifecycle, top to bottom. Each step is a plain function in
//! its own file; a step that refuses the request returns the answer to
//! give (status + JSON message) instead of throwing through layers.
//!
//! accept → parse head (server::conn) → request id → mutual TLS for the
//! Host → normalise the path (http::path) → resolve API + stage →
//! route → authorize (JWT or Lambda authorizer) → admit (API key,
//! throttle, quota) → cache lookup → integration
//! → write → cache fill → meter the bytes sent → record (metrics, access log);
//! a CORS preflight is answered right after resolving the API

mod admit;
mod authorize;
mod cache;
mod cors;
mod identity;
mod mtls;
mod record;
mod request_id;
mod resolve;
mod route;

pub use request_id::RequestId;

use std::time::Instant;

use crate::auth::Authorized;
use crate::http::{
    buffered_body_len, BodyKind, ErrorResponse, Method, Relay, RelayError, Sink, Version,
};
use crate::integration::lambda::{self, BodyEncoding};
use crate::integration::{self, HttpProxyIntegration, LambdaIntegration, MockIntegration, Routed};
use crate::snapshot::Integration;
use crate::server::{Connection, Worker};

/// Whether the connection can carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    KeepAlive,
    Close,
}

/// What the later steps need of the request once its head bytes are gone.
pub struct RequestInfo {
    pub id: RequestId,
    pub body: BodyKind,
    pub expect_continue: bool,
    pub is_head: bool,
    /// May be sent again after a failure mid-exchange (RFC 9110 §9.2.2).
    pub idempotent: bool,
    pub version: Version,
    /// The client asked to close after this exchange.
    pub close: bool,
}

enum Plan<'s> {
    Reject(ErrorResponse),
    /// A CORS preflight: answered here, headers in `conn.extra_head`.
    Preflight,
    /// Answered from the cache: the response is in `conn.out`.
    Cached,
    Mock(&'s MockIntegration),
    Proxy(&'s HttpProxyIntegration),
    /// The event, all but its body, is in `conn.upstream_out`.
    Lambda(&'s LambdaIntegration, BodyEncoding),
    /// An ACME HTTP-01 challenge's answer (the key authorization).
    Challenge(String),
}

/// Serves the request whose head is parsed in `conn.head`.
pub async fn handle(w: &Worker, conn: &mut Connection) -> Outcome {
    let started = Instant::now();
    let snap = w.snapshot();
    let received_before = conn.stream.consumed();
    let sent_before = conn.sent;
    conn.status = 0;
    conn.integration = None;
    conn.error = None;
    conn.extra_head.clear();
    conn.cors = false;
    // A failed proxy call may have left its request here.
    conn.upstream_out.clear();
    if conn.client_cert.is_none() {
        // After the handshake, so once per connection.
        let described = conn
            .stream
            .io
            .peer_certificate()
            .and_then(crate::tls::client_cert::describe);
        conn.client_cert = Some(described.map(std::rc::Rc::new));
    }
    // Before anything is resolved for a Host whose domain needs a client certificate.
    let misdirected = mtls::check(
        &snap,
        &conn.head,
        conn.stream.buffered(),
        mtls::Connection {
            https: conn.https,
            sni: conn.stream.io.server_name(),
            client_cert: conn.stream.io.peer_certificate().is_some(),
        },
    );
    let Connection {
        stream,
        head,
        upstream_out,
        peer_ip,
        out,
        log_path,
        extra_head,
        cors: cors_added,
        https,
        client_cert,
        path: path_buf,
        ..
    } = conn;
    let buf = stream.buffered();
    let req = RequestInfo {
        id: RequestId::assign(w),
        body: head.body,
        expect_continue: head.expect_continue,
        is_head: head.method() == Method::Head,
        idempotent: crate::http::forward::is_idempotent(head.method()),
        version: head.version(),
        close: head.close,
    };
    let mut seen = record::Seen::default();
    let roll = if snap.has_control_apis() {
        (w.random_u64() % 10_000) as u32
    } else {
        0
    };
    // ACME's CA validating a certificate order, on the plain listener.
    let challenge = if *https {
        None
    } else {
        w.acme.answer(head.path_and_query(buf).0)
    };
    // Every later step sees this path only, never the raw one.
    let path = crate::http::path::normalize(head.path_and_query(buf).0, &snap.paths, path_buf)
        .map_err(|e| ErrorResponse::new(400, e.message()));
    let target = misdirected
        .and(path)
        .and_then(|path| resolve::target(&snap, head, buf, path, roll));
    if let Ok(t) = &target {
        seen.api = Some(t.api);
        seen.stage = Some(t.stage);
        if t.stage.access_log.is_some() {
            record::keep_request_line(log_path, head, buf);
        }
    }
    let preflight = match &target {
        Ok(t) => cors::apply(t.api, head, buf, extra_head, cors_added),
        Err(_) => false,
    };
    let request_path = path.unwrap_or(b"/");
    let routed_path = target.as_ref().map_or(&b"/"[..], |t| t.path);
    let found = target.and_then(|t| route::find(t, head.method()));
    let at = found.as_ref().ok().map(|(api, stage, m)| {
        seen.route = Some(m.route);
        Routed {
            head,
            buf,
            path: request_path,
            routed_path,
            params: &m.params,
            api,
            stage,
            route: m.route,
            request_id: req.id.as_bytes(),
            source_ip: peer_ip,
            https: *https,
            client_cert: client_cert.as_ref().and_then(|c| c.as_deref()),
            api_key: None,
            authorized: None,
            account_id: &snap.account_id,
            now_ms: w.now_ms(),
        }
    });
    let mut authorized = None;
    // `None`: a preflight, answered without authorization or admission.
    let admitted = match (&found, &at) {
        _ if preflight => None,
        (Err(e), _) => Some(Err(*e)),
        (Ok(_), Some(at)) => Some(match authorize::check(w, &snap, at).await {
            Ok(a) => {
                authorized = a;
                let usage_key = match authorized.as_deref() {
                    Some(Authorized::Lambda { usage_key, .. }) => usage_key.as_deref(),
                    _ => None,
                };
                admit::check(&snap, at.api, at.stage, at.route, head, buf, usage_key)
            }
            Err(e) => Err(e),
        }),
        (Ok(_), None) => Some(Err(resolve::MISSING_TOKEN)),
    };
    let (plan, mut fill) = match (admitted, &found, at) {
        _ if challenge.is_some() => (Plan::Challenge(challenge.unwrap_or_default()), None),
        (None, ..) => (Plan::Preflight, None),
        (Some(Err(reject)), ..) => (Plan::Reject(reject), None),
        (Some(Ok(admission)), Ok((_, stage, m)), Some(at)) => {
            match admit::spend(w, &admission).await {
                Err((reject, level)) => {
                    seen.throttled = Some(level);
                    (Plan::Reject(reject), None)
                }
                Ok(()) => {
                    // Only admitted calls count against the key's usage.
                    seen.meter = admission.meter;
                    match cache::decide(stage, m, head, buf, seen.meter.is_some()) {
                        cache::Decision::Refuse(e) => (Plan::Reject(e), None),
                        cache::Decision::Use(l)
                            if cache::serve_hit(w, &snap, out, extra_head, &l, &req) =>
                        {
                            seen.cache = Some(true);
                            (Plan::Cached, None)
                        }
                        decision => {
                            let fill = match decision {
                                cache::Decision::Use(l) => Some(cache::begin_fill(w, l)),
                                _ => None,
                            };
                            let at = Routed {
                                api_key: admission.key,
                                authorized: authorized.as_deref(),
                                ..at
                            };
                            (plan(stage, &at, upstream_out), fill)
                        }
                    }
                }
            }
        }
        // Admitted means routed: `at` and `found` agree.
        (Some(Ok(_)), ..) => (Plan::Reject(resolve::MISSING_TOKEN), None),
    };
    let head_len = head.len;
    conn.stream.consume(head_len);
    let mut plan = plan;
    if let Some(f) = &mut fill {
        if f.wait_for_other(w, &snap, conn, &req).await {
            // Another call's fill answered this one.
            conn.upstream_out.clear();
            fill = None;
            plan = Plan::Cached;
            seen.cache = Some(true);
        } else {
            f.prepare(snap.as_ref(), conn);
            seen.cache = Some(false);
        }
    }
    let outcome = serve(w, &snap, conn, &req, plan).await;
    if let Some(f) = fill {
        f.finish(w, &snap, conn);
    }
    let sent = conn.sent - sent_before;
    if let Some(meter) = seen.meter {
        let mut local = w.throttle.borrow_mut();
        if local.generation == snap.catalog_gen {
            local.sent(meter, sent);
        }
    }
    let received = conn.stream.consumed() - received_before;
    record::exchange(w, &snap, conn, &req, &seen, started, received, sent);
    outcome
}

/// What the integration will do; a proxy's request head or a Lambda
/// event is written now, while the client's head bytes are in the buffer.
fn plan<'s>(
    stage: &'s crate::snapshot::Stage,
    at: &Routed<'_>,
    upstream_out: &mut Vec<u8>,
) -> Plan<'s> {
    match &stage.integrations[at.route] {
        Integration::Mock(mock) => Plan::Mock(mock),
        Integration::HttpProxy(proxy) => {
            proxy.write_request_head(upstream_out, at);
            Plan::Proxy(proxy)
        }
        Integration::Lambda(l) => {
            let encoding = lambda::event::write_start(upstream_out, l.payload, at);
            Plan::Lambda(l, encoding)
        }
        Integration::Unavailable => Plan::Reject(crate::http::BAD_GATEWAY),
    }
}

async fn serve(
    w: &Worker,
    snap: &crate::snapshot::Snapshot,
    conn: &mut Connection,
    req: &RequestInfo,
    plan: Plan<'_>,
) -> Outcome {
    match plan {
        Plan::Proxy(proxy) => integration::forward(w, snap, conn, req, proxy).await,
        Plan::Lambda(l, encoding) => lambda::serve(w, snap, conn, req, l, encoding).await,
        Plan::Cached => {
            conn.status = crate::http::status_of(&conn.out);
            answer_without_body(w, snap, conn, req, |_, _| {}).await
        }
        Plan::Preflight => {
            answer_without_body(w, snap, conn, req, |conn, close| {
                conn.status = 204;
                let out = &mut conn.out;
                crate::http::write_status_line(out, 204);
                crate::http::end_head(out, req.id.as_bytes(), &w.date(), &conn.extra_head, close);
            })
            .await
        }
        Plan::Reject(err) => {
            // The body is skipped if it is here already; else the connection ends.
            let skipped = match buffered_body_len(
                req.body,
                conn.stream.buffered(),
                snap.limits.max_body_bytes,
            ) {
                Ok(Some(n)) => {
                    conn.stream.consume(n);
                    true
                }
                _ => false,
            };
            conn.send_error(w, req, err, !skipped).await
        }
        Plan::Challenge(key_authorization) => {
            answer_without_body(w, snap, conn, req, |conn, close| {
                conn.status = 200;
                let out = &mut conn.out;
                crate::http::write_status_line(out, 200);
                out.extend_from_slice(b"content-type: text/plain\r\ncontent-length: ");
                out.extend_from_slice(
                    itoa::Buffer::new()
                        .format(key_authorization.len())
                        .as_bytes(),
                );
                out.extend_from_slice(b"\r\n");
                crate::http::end_head(out, req.id.as_bytes(), &w.date(), b"", close);
                out.extend_from_slice(key_authorization.as_bytes());
            })
            .await
        }
        Plan::Mock(mock) => {
            answer_without_body(w, snap, conn, req, |conn, close| {
                conn.status = mock.status;
                mock.render(
                    &mut conn.out,
                    req.id.as_bytes(),
                    &w.date(),
                    &conn.extra_head,
                    close,
                    req.is_head,
                );
            })
            .await
        }
    }
}

/// How long a client that waited for `100 Continue` and got a final answer
/// instead has to start sending its body anyway before the connection closes.
const LATE_BODY: std::time::Duration = std::time::Duration::from_secs(1);

/// Answers a request whose body nobody needs with what `write` puts in
/// `conn.out` (told whether the connection closes after it). The body is
/// read and dropped first, so the connection stays usable; a client waiting
/// for `100 Continue` gets none, since the answer is decided: it goes first
/// and the body is read after it only if the client sends it anyway, soon
/// (RFC 9110 §10.1.1); else the connection closes.
async fn answer_without_body(
    w: &Worker,
    snap: &crate::snapshot::Snapshot,
    conn: &mut Connection,
    req: &RequestInfo,
    write: impl FnOnce(&mut Connection, bool),
) -> Outcome {
    let awaits_continue =
        req.expect_continue && req.body != BodyKind::None && conn.stream.buffered().is_empty();
    if !awaits_continue {
        if let Err(e) = discard_body(snap, conn, req).await {
            return match e.client_answer() {
                Some(err) => {
                    // Instead of an answer already written (a cache hit).
                    conn.out.clear();
                    conn.send_error(w, req, err, true).await
                }
                None => Outcome::Close,
            };
        }
    }
    let close = req.close || w.draining();
    write(conn, close);
    if conn.flush().await.is_err() || close {
        return Outcome::Close;
    }
    if awaits_continue {
        let started = matches!(conn.stream.fill_within(LATE_BODY).await, Ok(n) if n > 0);
        if !started || discard_body(snap, conn, req).await.is_err() {
            return Outcome::Close;
        }
    }
    Outcome::KeepAlive
}

/// Reads and drops a body no integration needs, so the connection stays usable.
async fn discard_body(
    snap: &crate::snapshot::Snapshot,
    conn: &mut Connection,
    req: &RequestInfo,
) -> Result<(), RelayError> {
    if req.body == BodyKind::None {
        return Ok(());
    }
    let relay = Relay {
        kind: req.body,
        limit: snap.limits.max_body_bytes,
        read_timeout: std::time::Duration::from_millis(snap.timeouts.body_ms),
        deadline: Some(snap.timeouts.body_deadline()),
    };
    relay.run(&mut conn.stream, Sink::Discard).await.map(|_| ())
}
