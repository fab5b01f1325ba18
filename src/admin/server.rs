//! Serving the admin endpoints (tiny_http: this is not the hot path).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};
use serde_json::json;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::cache::query_value;
use crate::control::{ApiError, ControlPlane};

use crate::aws::sigv4;
use crate::server::{Deployed, Msg};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin listener: cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("admin token: environment variable `{0}` is not set")]
    TokenEnv(String),
}

/// The running admin listener; stopped on drop.
pub struct Admin {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the endpoints need: the workers' mailboxes and the snapshot in
/// use (to find a stage's cache by name).
pub struct Context {
    pub token: Option<String>,
    /// The access key id and secret SigV4-signed management calls must use.
    pub credentials: Option<(String, String)>,
    pub mailboxes: Vec<Sender<Msg>>,
    /// Every worker started and no shutdown begun.
    pub ready: Arc<AtomicBool>,
    pub driver: &'static str,
    /// The management API (the state directory's control store).
    pub control: Option<ControlPlane>,
    /// Where every management call is recorded before it is answered.
    pub audit: Option<super::audit::Audit>,
    /// Numbers the management calls' request ids.
    pub calls: u64,
    /// What the data plane serves; a management change recompiles it.
    pub deployed: Arc<Deployed>,
}

pub fn start(addr: SocketAddr, ctx: Context) -> Result<Admin, AdminError> {
    let server = Server::http(addr).map_err(|e| AdminError::Bind {
        addr,
        message: e.to_string(),
    })?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::Builder::new()
        .name("portico-admin".into())
        .spawn(move || {
            let mut ctx = ctx;
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(100)) {
                    handle(&mut ctx, req);
                }
            }
        })
        .expect("spawn admin thread");
    Ok(Admin {
        addr: bound,
        stop,
        thread: Some(thread),
    })
}

fn reply(req: Request, status: u16, body: serde_json::Value) {
    let header =
        Header::from_bytes(&b"content-type"[..], &b"application/json"[..]).expect("static header");
    let _ = req.respond(
        Response::from_string(body.to_string())
            .with_status_code(status)
            .with_header(header),
    );
}

fn handle(ctx: &mut Context, req: Request) {
    let url = req.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    match (req.method(), path.as_str()) {
        (Method::Get, "/healthz") => reply(req, 200, json!({"status": "ok"})),
        (Method::Get, "/readyz") => {
            if ctx.ready.load(Ordering::Relaxed) {
                reply(req, 200, json!({"status": "ready"}))
            } else {
                reply(req, 503, json!({"status": "draining"}))
            }
        }
        (Method::Get, "/metrics") => {
            let per_worker = crate::server::scrape(&ctx.mailboxes);
            let snap = &ctx.deployed.current();
            let text = crate::metrics::render(
                &snap.metric_slots,
                &snap.catalog.meters,
                &crate::server::total(&per_worker),
                &per_worker,
                &crate::metrics::Process {
                    driver: ctx.driver,
                    config_version: &snap.version,
                    workers: ctx.mailboxes.len(),
                    ready: ctx.ready.load(Ordering::Relaxed),
                    certs: snap.tls.as_ref().map_or(&[], |t| &t.certs),
                    now: chrono::Utc::now().timestamp(),
                },
            );
            let header = Header::from_bytes(
                &b"content-type"[..],
                &b"text/plain; version=0.0.4; charset=utf-8"[..],
            )
            .expect("static header");
            let _ = req.respond(Response::from_string(text).with_header(header));
        }
        (Method::Post, "/cache/flush") => {
            if !authorized(ctx, &req) {
                return reply(req, 401, json!({"message": "Unauthorized"}));
            }
            let q = query.as_bytes();
            let api = query_value(q, b"api").map(|v| String::from_utf8_lossy(v).into_owned());
            let stage = query_value(q, b"stage").map(|v| String::from_utf8_lossy(v).into_owned());
            match flush(ctx, api.as_deref(), stage.as_deref()) {
                Ok(n) => reply(req, 200, json!({"flushed": n})),
                Err(m) => reply(req, 404, json!({"message": m})),
            }
        }
        _ if ControlPlane::owns(&path) => manage(ctx, req, &path, &query),
        _ => reply(
            req,
            404,
            json!({"message": format!("no admin endpoint {path}")}),
        ),
    }
}

/// A management API call: authorized, then served by the control plane,
/// answered with API Gateway's error shape on failure.
fn manage(ctx: &mut Context, mut req: Request, path: &str, query: &str) {
    ctx.calls += 1;
    let request_id = format!(
        "{:08x}-{:04x}-4000-8000-{:012x}",
        std::process::id(),
        ctx.calls >> 48,
        ctx.calls & 0xffff_ffff_ffff
    );
    if ctx.audit.is_none() {
        // Nothing changes unless it can be recorded.
        let e = ApiError::Internal("the audit log is unavailable; see the server log".into());
        return answer(req, e.status(), &e.body(), Some(e.kind()), &request_id);
    }
    let method = req.method().as_str().to_string();
    let (name, params) =
        ControlPlane::operation(&method, path, query).unwrap_or(("Unknown", Vec::new()));
    let mut body = Vec::new();
    let (status, value) = match req.as_reader().read_to_end(&mut body) {
        Err(e) => {
            let e = ApiError::BadRequest(format!("cannot read the request body: {e}"));
            (e.status(), e.body())
        }
        Ok(_) => match authenticate(ctx, &req, path, query, &body) {
            Err((kind, message)) => (403, json!({"__type": kind, "message": message})),
            Ok(()) => match ctx.control.as_mut() {
                None => {
                    let e = ApiError::Internal("the control store is not open".into());
                    (e.status(), e.body())
                }
                Some(control) => {
                    control.set_view(ctx.deployed.config());
                    let answer = control.handle(&method, path, query, &body);
                    if answer.0 < 300 && name == "FlushStageCache" {
                        let param = |n: &str| {
                            params
                                .iter()
                                .find(|(k, _)| *k == n)
                                .map(|(_, v)| v.as_str())
                        };
                        flush_deployed(
                            ctx,
                            param("restapi_id").unwrap_or_default(),
                            param("stage_name").unwrap_or_default(),
                        );
                    } else if answer.0 < 300 && method != "GET" {
                        publish(ctx);
                    }
                    answer
                }
            },
        },
    };
    let error = (status >= 400).then(|| {
        (
            value["__type"]
                .as_str()
                .unwrap_or("InternalFailureException"),
            value["message"].as_str().unwrap_or_default(),
        )
    });
    if let Some(audit) = ctx.audit.as_mut() {
        let header = |name: &str| {
            req.headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_string())
        };
        let auth = header("authorization").unwrap_or_default();
        let access_key_id = auth
            .split("Credential=")
            .nth(1)
            .and_then(|c| c.split('/').next())
            .map(str::to_string)
            .or_else(|| {
                auth.starts_with("Bearer ")
                    .then(|| "admin-token".to_string())
            });
        let source_ip = req
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let user_agent = header("user-agent");
        let event = super::audit::Event {
            name,
            access_key_id: access_key_id.as_deref(),
            source_ip: &source_ip,
            user_agent: user_agent.as_deref(),
            request_parameters: super::audit::parameters(&params, query, &body),
            response: (status < 400).then_some(&value),
            error,
            request_id: &request_id,
        };
        if let Err(e) = audit.record(&event) {
            crate::log!(error, "audit log write failed: {e}");
            let e = ApiError::Internal(format!("the audit log could not be written: {e}"));
            return answer(req, e.status(), &e.body(), Some(e.kind()), &request_id);
        }
    }
    let kind = error.map(|(k, _)| k.to_string());
    answer(req, status, &value, kind.as_deref(), &request_id);
}

/// A management call must be signed with the configured access key (SigV4,
/// as boto3 and the AWS CLI sign) or carry the admin Bearer token.
fn authenticate(
    ctx: &Context,
    req: &Request,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<(), (&'static str, String)> {
    let auth = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("authorization"))
        .map(|h| h.value.as_str().to_string());
    match auth {
        Some(a) if a.starts_with("AWS4-HMAC-SHA256") => {
            let Some((id, secret)) = &ctx.credentials else {
                return Err((
                    "UnrecognizedClientException",
                    "No access key is configured for the management API ([admin] access_key_id)"
                        .into(),
                ));
            };
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect();
            let signed = sigv4::Signed {
                method: req.method().as_str(),
                path,
                query,
                headers: &headers,
                body,
            };
            let now = chrono::Utc::now().timestamp();
            sigv4::verify(&a, &signed, id, secret, now).map_err(|e| (e.kind(), e.to_string()))
        }
        Some(_) if authorized(ctx, req) => Ok(()),
        Some(_) => Err((
            "UnrecognizedClientException",
            "The admin token is not valid".into(),
        )),
        None => Err((
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        )),
    }
}

/// Recompiles what the data plane serves after a management change and
/// publishes it; a change the data plane cannot serve is logged and the
/// running snapshot kept.
fn publish(ctx: &mut Context) {
    let Some(control) = ctx.control.as_ref() else {
        return;
    };
    if let Err(e) = ctx
        .deployed
        .reload_control(control, &mut crate::model::system_resolve)
    {
        crate::log!(error, "management change not published: {e}");
    }
}

/// JSON (or no body for `Null`), with `x-amzn-ErrorType` on errors, which
/// botocore reads the error code from.
fn answer(
    req: Request,
    status: u16,
    body: &serde_json::Value,
    error_type: Option<&str>,
    request_id: &str,
) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut r = Response::from_string(text)
        .with_status_code(status)
        .with_header(
            Header::from_bytes(&b"content-type"[..], &b"application/json"[..])
                .expect("static header"),
        );
    if let Some(t) = error_type {
        if let Ok(h) = Header::from_bytes(&b"x-amzn-ErrorType"[..], t.as_bytes()) {
            r = r.with_header(h);
        }
    }
    if let Ok(h) = Header::from_bytes(&b"x-amzn-RequestId"[..], request_id.as_bytes()) {
        r = r.with_header(h);
    }
    let _ = req.respond(r);
}

fn authorized(ctx: &Context, req: &Request) -> bool {
    let Some(token) = &ctx.token else {
        return false;
    };
    req.headers().iter().any(|h| {
        h.field.equiv("authorization")
            && h.value.as_str().strip_prefix("Bearer ").map(str::trim) == Some(token.as_str())
    })
}

/// Flushes a stage's cache on every worker and waits for each to confirm.
fn flush(ctx: &Context, api: Option<&str>, stage: Option<&str>) -> Result<usize, String> {
    let snap = &ctx.deployed.current();
    let api = match api {
        Some(name) => snap
            .apis
            .iter()
            .find(|a| a.name == name || a.id == name)
            .ok_or_else(|| format!("no API `{name}`"))?,
        None if snap.apis.len() == 1 => &snap.apis[0],
        None => return Err("say which API: ?api=NAME".into()),
    };
    let stage_name = stage.ok_or("say which stage: ?stage=NAME")?;
    let stage = api
        .stages
        .iter()
        .find(|s| s.name == stage_name)
        .ok_or_else(|| format!("API `{}` has no stage `{stage_name}`", api.name))?;
    let cache = stage
        .cache
        .as_ref()
        .ok_or_else(|| format!("stage `{stage_name}` has no cache"))?;
    Ok(flush_shards(ctx, cache.id))
}

/// FlushStageCache of the management API: the stage's cache (and its
/// canary's) on every worker.
fn flush_deployed(ctx: &Context, rest_api_id: &str, stage_name: &str) {
    let snap = ctx.deployed.current();
    for api in snap.apis.iter().filter(|a| a.id == rest_api_id) {
        for s in api.stages.iter().filter(|s| s.name == stage_name) {
            if let Some(c) = &s.cache {
                flush_shards(ctx, c.id);
            }
        }
    }
}

/// Empties cache `id` on every worker; how many confirmed.
fn flush_shards(ctx: &Context, id: usize) -> usize {
    let (ack_tx, ack_rx) = bounded(ctx.mailboxes.len());
    let mut sent = 0;
    for m in &ctx.mailboxes {
        if m.send(Msg::FlushCache(id, ack_tx.clone())).is_ok() {
            sent += 1;
        }
    }
    let mut flushed = 0;
    for _ in 0..sent {
        if ack_rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            flushed += 1;
        }
    }
    flushed
}
