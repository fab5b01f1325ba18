//! The request's way through the gateway, top to bottom. Each step is a
//! plain function of the worker's [`Shard`] and the request in its own
//! file; a step that refuses the request returns the answer to give (an
//! [`ErrorResponse`] from `errors`) and the rest is skipped.
//!
//! request id → ACME challenge → mutual TLS for the Host → normalise the
//! path (`http::path`) → resolve API + stage → CORS (a preflight is
//! answered here) → route → authorize (JWT or Lambda authorizer) → admit
//! (API key, throttle, quota) → validate (required parameters; the body's
//! schema is chosen here, checked where the body is read) → cache lookup → integration, its answer
//! captured for the cache on a miss → meter the bytes sent → record
//! (metrics, access log).

mod admit;
mod authorize;
mod cache;
mod cors;
mod identity;
mod mtls;
mod record;
mod resolve;
mod route;
mod validate;

use super::conn::Connection;
use super::errors::INTEGRATION_FAILURE;
use super::exchange::{Exchange, Outcome};
use super::request_id::RequestId;
use super::respond;
use super::shard::Shard;
use crate::auth::Authorized;
use crate::http::ErrorResponse;
use crate::integration::lambda::{self, BodyEncoding};
use crate::integration::{self, HttpProxyIntegration, LambdaIntegration, MockIntegration, Routed};
use crate::snapshot::{Api, Integration, Snapshot, Stage};

/// What answers the request, decided while its head is in the buffer.
enum Plan<'s> {
    /// A CORS preflight: answered here, headers in `conn.extra_head`.
    Preflight,
    /// Answered from the cache: the response is in `conn.out`.
    Cached,
    Mock(&'s MockIntegration),
    /// The upstream head is in `conn.upstream_out`, or kept to be written
    /// once the body its `requestParameters` read is.
    Proxy(
        &'s HttpProxyIntegration,
        Option<Box<integration::DeferredProxyHead>>,
    ),
    /// The event, all but its body, is in `conn.upstream_out`.
    Lambda(&'s LambdaIntegration, BodyEncoding),
    /// A non-proxy execution: the request as templates see it, all but
    /// its body, taken while its head is in the buffer.
    Execute(&'s crate::snapshot::Execution, Box<crate::vtl::Bindings>),
    /// A Lambda non-proxy integration: as `Execute`, the function invoked.
    ExecuteLambda(
        &'s crate::snapshot::Execution,
        &'s LambdaIntegration,
        Box<integration::execute::aws::Prepared>,
    ),
    /// A non-proxy HTTP integration: the request as templates and
    /// parameter mappings see it, all but the body.
    ExecuteHttp(
        &'s HttpProxyIntegration,
        &'s crate::snapshot::Execution,
        Box<integration::execute::http::Prepared>,
    ),
    /// An AWS service integration's execution, likewise.
    ExecuteAws(
        &'s integration::AwsService,
        &'s crate::snapshot::Execution,
        Box<integration::execute::aws::Prepared>,
    ),
    /// An ACME HTTP-01 challenge's answer (the key authorization).
    Challenge(String),
    /// TestInvokeAuthorizer's hidden route: what the authorizer found.
    AuthorizerEcho(String),
}

/// Serves the request whose head is parsed in `conn.head`.
pub async fn handle(w: &Shard, conn: &mut Connection) -> Outcome {
    let snap = w.snapshot();
    let mut ex = Exchange::new(RequestId::generate(w.random_u128()), &conn.head);
    let received_before = conn.stream.consumed();
    let sent_before = conn.sent;
    conn.extra_head.clear();
    // A failed proxy call may have left its request here.
    conn.upstream_out.clear();
    describe_client_cert(conn);

    let planned = plan(w, &snap, conn, &mut ex).await;
    let head_len = conn.head.len;
    conn.stream.consume(head_len);
    let outcome = match planned {
        Err(reject) => respond::refuse(w, &snap, conn, &mut ex, reject).await,
        Ok((plan, None)) => serve(w, &snap, conn, &mut ex, plan).await,
        Ok((plan, Some(mut fill))) => {
            // A miss: another call filling the same key may answer this one.
            if fill.wait_for_other(w, &snap, conn, &ex).await {
                conn.upstream_out.clear();
                ex.cache = Some(true);
                serve(w, &snap, conn, &mut ex, Plan::Cached).await
            } else {
                ex.cache = Some(false);
                fill.capture(&snap, conn, &mut ex);
                let outcome = serve(w, &snap, conn, &mut ex, plan).await;
                fill.store(w, &snap, conn, &ex);
                outcome
            }
        }
    };

    let sent = conn.sent - sent_before;
    if let Some(meter) = ex.meter {
        let mut local = w.throttle.borrow_mut();
        if local.generation == snap.catalog_gen {
            local.sent(meter, sent);
        }
    }
    let received = conn.stream.consumed() - received_before;
    record::exchange(w, &snap, conn, &ex, received, sent);
    outcome
}

/// The steps that decide how the request is answered, in order; the
/// first refusal ends them. A proxy's request head or a Lambda event is
/// written here, while the client's head bytes are in the buffer.
async fn plan<'s, 'w>(
    w: &'w Shard,
    snap: &'s Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'s>,
) -> Result<(Plan<'s>, Option<cache::Fill<'s, 'w>>), ErrorResponse> {
    // ACME's CA validating a certificate order, on the plain listener.
    if !conn.https {
        let path = conn.head.path_and_query(conn.stream.buffered()).0;
        if let Some(key_authorization) = w.acme.answer(path) {
            return Ok((Plan::Challenge(key_authorization), None));
        }
    }
    // Before anything is resolved for a Host whose domain needs a client certificate.
    let tls = mtls::Connection {
        https: conn.https,
        sni: conn.stream.io.server_name(),
        client_cert: conn.stream.io.peer_certificate().is_some(),
    };
    mtls::check(snap, &conn.head, conn.stream.buffered(), tls)?;
    let Connection {
        stream,
        head,
        upstream_out,
        peer_ip,
        out,
        log_path,
        extra_head,
        https,
        client_cert,
        path: path_buf,
        ..
    } = conn;
    let buf = stream.buffered();
    // Every later step sees this path only, never the raw one.
    let path = crate::http::path::normalize(head.path_and_query(buf).0, &snap.paths, path_buf)
        .map_err(|e| ErrorResponse::new(400, e.message()))?;
    let target = resolve::target(snap, head, buf, path, canary_roll(w, snap))?;
    ex.api = Some(target.api);
    ex.stage = Some(target.stage);
    if target.stage.access_log.is_some() {
        record::keep_request_line(log_path, head, buf);
    }
    let preflight = cors::apply(target.api, head, buf, extra_head, &mut ex.cors);
    let (routed_path, custom_domain) = (target.path, target.custom_domain);
    let gateway_responses = target.api.gateway_responses.as_deref();
    let found = route::find(target, head.method());
    if let Ok((_, _, m)) = &found {
        ex.route = Some(m.route);
    }
    if let Some(g) = gateway_responses {
        let params = found.as_ref().ok().map(|(_, _, m)| &m.params);
        ex.request_values = g.capture(head, buf, params);
    }
    if preflight {
        return Ok((Plan::Preflight, None));
    }
    let (api, stage, m) = found?;
    let id = ex.id;
    let at = Routed {
        head,
        buf,
        path,
        routed_path,
        custom_domain,
        params: &m.params,
        api,
        stage,
        route: m.route,
        request_id: id.as_bytes(),
        source_ip: peer_ip,
        https: *https,
        client_cert: client_cert.as_ref().and_then(|c| c.as_deref()),
        api_key: None,
        authorized: None,
        account_id: &snap.account_id,
        now_ms: w.now_ms(),
    };
    let authorized = authorize::check(w, snap, &at).await?;
    let usage_key = match authorized.as_deref() {
        Some(Authorized::Lambda { usage_key, .. }) => usage_key.as_deref(),
        _ => None,
    };
    let admission = admit::check(snap, api, stage, m.route, head, buf, usage_key)?;
    // The head's time, microseconds old here (a small fraction of a token
    // at the rates a shared cell serves), unless an authorizer ran: a
    // Lambda authorizer takes milliseconds.
    let now_ns = match authorized {
        Some(_) => crate::throttle::monotonic_ns(),
        None => ex.started_ns,
    };
    if let Err((reject, level)) = admit::spend(w, &admission, now_ns).await {
        ex.throttled = Some(level);
        return Err(reject);
    }
    // Only admitted calls count against the key's usage.
    ex.meter = admission.meter;
    ex.body_schema = validate::check(api.validations[m.route].as_deref(), head, buf, &m.params)?;
    let fill = match cache::decide(stage, &m, head, buf, ex.meter.is_some()) {
        cache::Decision::Refuse(e) => return Err(e),
        cache::Decision::Use(l) if cache::serve_hit(w, snap, out, extra_head, &l, ex) => {
            ex.cache = Some(true);
            return Ok((Plan::Cached, None));
        }
        cache::Decision::Use(l) => Some(cache::begin_fill(w, l)),
        cache::Decision::Bypass => None,
    };
    let at = Routed {
        api_key: admission.key,
        authorized: authorized.as_deref(),
        ..at
    };
    Ok((integration(api, stage, &at, upstream_out)?, fill))
}

/// Once per connection, after the handshake: the client certificate
/// (mutual TLS) as integrations describe it.
fn describe_client_cert(conn: &mut Connection) {
    if conn.client_cert.is_none() {
        let described = conn
            .stream
            .io
            .peer_certificate()
            .and_then(crate::tls::client_cert::describe);
        conn.client_cert = Some(described.map(std::rc::Rc::new));
    }
}

/// Uniform in 0..10,000: picks a management-API stage's canary.
fn canary_roll(w: &Shard, snap: &Snapshot) -> u32 {
    if snap.has_control_apis() {
        (w.random_u64() % 10_000) as u32
    } else {
        0
    }
}

/// The route's integration; a proxy's request head or a Lambda event is
/// written now.
fn integration<'s>(
    api: &'s Api,
    stage: &'s Stage,
    at: &Routed<'_>,
    upstream_out: &mut Vec<u8>,
) -> Result<Plan<'s>, ErrorResponse> {
    Ok(match &stage.integrations[at.route] {
        Integration::Mock(mock) => match &api.executions[at.route] {
            Some(e) => Plan::Execute(e, Box::new(integration::execute::bindings::from_head(at))),
            None => Plan::Mock(mock),
        },
        Integration::HttpProxy(proxy) => match api.executions[at.route].as_deref() {
            Some(e) => Plan::ExecuteHttp(proxy, e, integration::execute::http::prepare(e, at)),
            // Decided per snapshot: only a mapping reading the body waits for it.
            None if proxy.reads_body() => Plan::Proxy(proxy, Some(proxy.defer_request_head(at))),
            None => {
                proxy.write_request_head(upstream_out, at);
                Plan::Proxy(proxy, None)
            }
        },
        Integration::Lambda(l) => match &api.executions[at.route] {
            Some(e) => Plan::ExecuteLambda(
                e,
                l,
                integration::execute::aws::Prepared::from_head(&e.request_parameters, at),
            ),
            None => {
                let encoding = lambda::event::write_start(upstream_out, l.payload, at);
                Plan::Lambda(l, encoding)
            }
        },
        Integration::AwsService(s) => match &api.executions[at.route] {
            Some(e) => Plan::ExecuteAws(s, e, integration::execute::aws::prepare(s, at)),
            None => return Err(INTEGRATION_FAILURE),
        },
        Integration::AuthorizerEcho => Plan::AuthorizerEcho(
            at.authorized
                .map(Authorized::describe)
                .unwrap_or_default()
                .to_string(),
        ),
        Integration::Unavailable => return Err(INTEGRATION_FAILURE),
    })
}

async fn serve(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    plan: Plan<'_>,
) -> Outcome {
    match plan {
        Plan::Proxy(proxy, deferred) => {
            integration::forward(w, snap, conn, ex, proxy, deferred).await
        }
        Plan::Lambda(l, encoding) => lambda::serve(w, snap, conn, ex, l, encoding).await,
        Plan::ExecuteHttp(proxy, e, prepared) => {
            integration::execute::http::serve(w, snap, conn, ex, proxy, e, prepared).await
        }
        Plan::Execute(e, bindings) => {
            integration::execute::serve(w, snap, conn, ex, e, bindings).await
        }
        Plan::ExecuteLambda(e, l, prepared) => {
            integration::execute::serve_lambda(w, snap, conn, ex, prepared, e, l).await
        }
        Plan::ExecuteAws(s, e, prepared) => {
            integration::execute::aws::serve(w, snap, conn, ex, (s, e), prepared).await
        }
        Plan::Cached => {
            ex.status = crate::http::status_of(&conn.out);
            respond::without_body(w, snap, conn, ex, |_, _, _| {}).await
        }
        Plan::Preflight => {
            respond::without_body(w, snap, conn, ex, |conn, ex, close| {
                ex.status = 204;
                let out = &mut conn.out;
                crate::http::write_status_line(out, 204);
                crate::http::end_head(out, ex.id.as_bytes(), &w.date(), &conn.extra_head, close);
            })
            .await
        }
        Plan::Challenge(key_authorization) => {
            ok_200(w, snap, conn, ex, b"text/plain", &key_authorization).await
        }
        Plan::AuthorizerEcho(found) => ok_200(w, snap, conn, ex, b"application/json", &found).await,
        Plan::Mock(mock) => {
            if let Err(outcome) = validate::whole_body(w, snap, conn, ex).await {
                return outcome;
            }
            respond::without_body(w, snap, conn, ex, |conn, ex, close| {
                ex.status = mock.status;
                mock.render(
                    &mut conn.out,
                    ex.id.as_bytes(),
                    &w.date(),
                    &conn.extra_head,
                    close,
                    ex.is_head,
                );
            })
            .await
        }
    }
}

/// A 200 with `body`, written here (an ACME challenge's answer, what
/// TestInvokeAuthorizer's authorizer found).
async fn ok_200(
    w: &Shard,
    snap: &Snapshot,
    conn: &mut Connection,
    ex: &mut Exchange<'_>,
    content_type: &[u8],
    body: &str,
) -> Outcome {
    respond::without_body(w, snap, conn, ex, |conn, ex, close| {
        ex.status = 200;
        let out = &mut conn.out;
        crate::http::write_status_line(out, 200);
        out.extend_from_slice(b"content-type: ");
        out.extend_from_slice(content_type);
        out.extend_from_slice(b"\r\ncontent-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        crate::http::end_head(out, ex.id.as_bytes(), &w.date(), b"", close);
        out.extend_from_slice(body.as_bytes());
    })
    .await
}
