//! Serving the admin endpoints: hyper (HTTP/1.1) on a current-thread tokio
//! runtime on the admin thread, off the data plane. Many connections are
//! served at once, each with a header timeout, so no client can stall the
//! health endpoints; management calls are authenticated from the head
//! before any body is read, bodies are capped and given a deadline, and the
//! calls themselves run on the control thread ([`super::control`]).
//! Whatever blocks (scrapes and flushes waiting on workers' mailboxes)
//! runs on tokio's blocking threads, never on the I/O thread.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::Sender;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::auth::{self, Keys};
use super::control::{self, Answer, Call, Job};
use super::limits;
use super::refusal::Refusal;
use super::stage_cache;
use crate::control::api::ControlPlane;
use crate::control::fleet_flush::Announcer;
use crate::control::publisher::Deployed;
use crate::dataplane::Msg;
use crate::http::query;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin listener: {message}")]
    Bind { message: String },
    #[error(transparent)]
    Credentials(#[from] super::credentials::CredentialsError),
}

/// The running admin listener; stopped on drop.
pub struct Admin {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    control: Option<JoinHandle<()>>,
    /// Asks the control thread to publish a fleet revision.
    pub republisher: control::Republisher,
}

impl Drop for Admin {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // The listener first: once its tasks are gone the control thread's
        // queue closes and it ends after the call in hand.
        for t in [self.thread.take(), self.control.take()]
            .into_iter()
            .flatten()
        {
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
    /// How long a request head may take (`[timeouts] header_ms`); an idle
    /// kept-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// How long a management call's whole body may take (`[timeouts]
    /// body_ms`).
    pub body_timeout: Duration,
    /// `[admin] replay_grace_ms`.
    pub replay_grace: Duration,
    /// The fleet's Redis as this node's heartbeat sees it (`[cluster]`).
    pub cluster: Option<Arc<crate::cluster::Health>>,
    /// Takes cache flushes to the fleet's other nodes (`[cluster]`).
    pub fleet_flush: Option<Announcer>,
}

/// What the endpoints outside the management API read: the workers'
/// mailboxes and what they serve. Blocking work holds only this, never
/// the control thread's queue, so that stopping is never held up by it.
struct Plane {
    mailboxes: Vec<Sender<Msg>>,
    ready: Arc<AtomicBool>,
    driver: &'static str,
    deployed: Arc<Deployed>,
    cluster: Option<Arc<crate::cluster::Health>>,
    /// `/cache/flush` on a fleet node: every node's cache (`[cluster]`).
    fleet_flush: Option<Mutex<Announcer>>,
}

/// What every connection's tasks share.
struct Shared {
    keys: Arc<Keys>,
    plane: Arc<Plane>,
    /// Calls for the control thread.
    jobs: mpsc::Sender<Job>,
    /// Bytes of management bodies held, at most [`limits::BODY_BUDGET`].
    bodies: Arc<Semaphore>,
    body_timeout: Duration,
}

type Reply = Response<Full<Bytes>>;

/// Serves on `listener`, bound (or handed over) by the control plane
/// before any worker started, so that a taken address stops the start-up
/// before anything says "listening".
pub fn start(listener: std::net::TcpListener, ctx: Context) -> Result<Admin, AdminError> {
    let bound = listener.local_addr().map_err(|e| AdminError::Bind {
        message: e.to_string(),
    })?;
    let keys = Arc::new(Keys {
        token: ctx.token,
        credentials: ctx.credentials,
    });
    let fleet_flush = ctx.fleet_flush.as_ref().map(|a| Mutex::new(a.sibling()));
    let (jobs, queue) = mpsc::channel(limits::CONTROL_QUEUE);
    let republisher = control::Republisher(jobs.downgrade());
    let control = control::spawn(
        control::Owner {
            keys: keys.clone(),
            control: ctx.control,
            audit: ctx.audit,
            calls: ctx.calls,
            deployed: ctx.deployed.clone(),
            mailboxes: ctx.mailboxes.clone(),
            replay_grace: ctx.replay_grace,
            fleet_flush: ctx.fleet_flush,
        },
        queue,
    );
    let shared = Arc::new(Shared {
        keys,
        plane: Arc::new(Plane {
            mailboxes: ctx.mailboxes,
            ready: ctx.ready,
            driver: ctx.driver,
            deployed: ctx.deployed,
            cluster: ctx.cluster,
            fleet_flush,
        }),
        jobs,
        bodies: Arc::new(Semaphore::new(limits::BODY_BUDGET)),
        body_timeout: ctx.body_timeout,
    });
    let header_timeout = ctx.header_timeout;
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("portico-admin".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(limits::BLOCKING_THREADS)
                .build()
                .expect("admin runtime");
            rt.block_on(serve(listener, shared, header_timeout, stopped));
            rt.shutdown_timeout(Duration::from_secs(5));
        })
        .expect("spawn admin thread");
    Ok(Admin {
        republisher,
        addr: bound,
        stop: Some(stop),
        thread: Some(thread),
        control: Some(control),
    })
}

/// `fut`'s output, or `None` once `stop` fires (or its sender is gone).
async fn or_stop<F: Future>(stop: &mut oneshot::Receiver<()>, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| {
        if std::pin::Pin::new(&mut *stop).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Accepts until stopped. Up to [`limits::CONNECTIONS`] connections are
/// served in full; past that, [`limits::BRIEF_CONNECTIONS`] more get one
/// health answer each under a short header timeout; past both, the
/// kernel's backlog holds the rest.
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    header_timeout: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::log!(error, "admin listener: {e}");
            return;
        }
    };
    let full = Arc::new(Semaphore::new(limits::CONNECTIONS));
    let brief = Arc::new(Semaphore::new(limits::BRIEF_CONNECTIONS));
    loop {
        let (stream, peer) = match or_stop(&mut stop, listener.accept()).await {
            None => return,
            Some(Ok(accepted)) => accepted,
            Some(Err(e)) => {
                // Out of descriptors, most likely: let some connections end.
                crate::log!(warn, "admin listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (permit, is_brief) = match full.clone().try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => match or_stop(&mut stop, brief.clone().acquire_owned()).await {
                Some(Ok(p)) => (p, true),
                _ => return,
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| route(shared.clone(), peer, is_brief, req));
            let mut conn = http1::Builder::new();
            conn.timer(TokioTimer::new())
                .header_read_timeout(if is_brief {
                    limits::BRIEF_HEADER_TIMEOUT
                } else {
                    header_timeout
                })
                .max_buf_size(limits::HEAD_BUFFER)
                .keep_alive(!is_brief);
            let _ = conn.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn reply(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_reply(status: u16, body: Value) -> Reply {
    reply(status, "application/json", body.to_string())
}

async fn route(
    shared: Arc<Shared>,
    peer: SocketAddr,
    brief: bool,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_string();
    Ok(match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => json_reply(200, json!({"status": "ok"})),
        (&Method::GET, "/readyz") => {
            if shared.plane.ready.load(Ordering::Relaxed) {
                json_reply(200, with_redis(&shared.plane, json!({"status": "ready"})))
            } else {
                json_reply(
                    503,
                    with_redis(&shared.plane, json!({"status": "draining"})),
                )
            }
        }
        _ if brief => json_reply(
            503,
            json!({"message": "Service Unavailable: too many admin connections"}),
        ),
        (&Method::GET, "/metrics") => {
            let plane = shared.plane.clone();
            match tokio::task::spawn_blocking(move || metrics(&plane)).await {
                Ok(text) => reply(200, "text/plain; version=0.0.4; charset=utf-8", text),
                Err(_) => json_reply(500, json!({"message": "Internal server error"})),
            }
        }
        (&Method::POST, "/cache/flush") => flush(shared, req).await,
        _ if ControlPlane::owns(&path) => manage(&shared, peer, req).await,
        _ => json_reply(404, json!({"message": format!("no admin endpoint {path}")})),
    })
}

/// A readiness body with, in a fleet, the state of its Redis and what
/// its rate limits run on (`fleet`, or the `on_redis_down` fallback): a
/// node whose Redis is down still serves (on its last snapshot), so it
/// stays ready and says so.
fn with_redis(plane: &Plane, mut body: Value) -> Value {
    if let Some(c) = &plane.cluster {
        body["redis"] = json!(c.redis().as_str());
        if let Some(limits) = c.limits() {
            body["limits"] = json!(limits);
        }
    }
    body
}

/// Prometheus text of every worker's counts (blocks: a scrape waits for
/// each worker's next tick).
fn metrics(plane: &Plane) -> String {
    let per_worker = crate::control::scrape::scrape(&plane.mailboxes);
    let snap = &plane.deployed.current();
    let mut text = crate::metrics::render(
        &snap.metric_slots,
        &snap.catalog.meters,
        &crate::control::scrape::total(&per_worker),
        &per_worker,
        &crate::metrics::Process {
            driver: plane.driver,
            config_version: &snap.version,
            workers: plane.mailboxes.len(),
            ready: plane.ready.load(Ordering::Relaxed),
            certs: snap.tls.as_ref().map_or(&[], |t| &t.certs),
            now: chrono::Utc::now().timestamp(),
        },
    );
    if let Some(c) = &plane.cluster {
        c.render(&mut text);
    }
    text
}

/// `POST /cache/flush?api=A&stage=S` with the admin token; its body is
/// never read. `flushed`: how many of this node's workers emptied their
/// share; on a fleet node, `nodes`: every node that emptied its cache
/// (the answer waits for all the live ones, as FlushStageCache does).
async fn flush(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !shared.keys.bearer(authorization) {
        return json_reply(401, json!({"message": "Unauthorized"}));
    }
    let q = req.uri().query().unwrap_or_default().as_bytes();
    let param =
        |name: &[u8]| query::first(q, name).map(|v| String::from_utf8_lossy(v).into_owned());
    let (api, stage) = (param(b"api"), param(b"stage"));
    let plane = shared.plane.clone();
    let flushed =
        tokio::task::spawn_blocking(move || flush_stage(&plane, api.as_deref(), stage.as_deref()))
            .await;
    flushed.unwrap_or_else(|_| json_reply(500, json!({"message": "Internal server error"})))
}

/// The stage's cache on this node's workers, and on a fleet node on every
/// live node's through the fleet flush the management API uses (blocks).
fn flush_stage(plane: &Plane, api: Option<&str>, stage: Option<&str>) -> Reply {
    let target = match stage_cache::find(&plane.deployed, api, stage) {
        Ok(t) => t,
        Err(m) => return json_reply(404, json!({"message": m})),
    };
    let local = || stage_cache::flush_counted(&plane.mailboxes, &plane.deployed, &target);
    let Some(fleet) = &plane.fleet_flush else {
        return json_reply(200, json!({"flushed": local()}));
    };
    let mut fleet = fleet.lock().unwrap_or_else(|e| e.into_inner());
    match fleet.flush(&target, local) {
        Ok((n, nodes)) => json_reply(200, json!({"flushed": n, "nodes": nodes})),
        Err(e) => json_reply(e.status(), json!({"message": e.to_string()})),
    }
}

/// A management call: refused from its head when it may be, its body read
/// (capped, with a deadline) only for a caller the head authenticates,
/// then handed to the control thread.
async fn manage(shared: &Shared, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let head = auth::Request {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
    };
    let operation = ControlPlane::operation(&method, &path, &query).map_or("Unknown", |(n, _)| n);
    let now = chrono::Utc::now().timestamp();
    let received = Instant::now();
    // The permit holds this body's share of the budget until answered.
    let (admitted, _permit) = match shared.keys.check_head(&head, now) {
        Err(r) => (Err(r), None),
        Ok(caller) => match read_body(shared, operation, body).await {
            Ok((bytes, permit)) => (Ok((caller, bytes)), Some(permit)),
            Err(r) => (Err(r), None),
        },
    };
    let call = Call {
        method,
        path,
        query,
        headers,
        source_ip: peer.ip().to_string(),
        received,
        admitted,
    };
    let (tx, rx) = oneshot::channel();
    if shared.jobs.send(Job::Call(call, tx)).await.is_err() {
        return json_reply(500, json!({"message": "Internal server error"}));
    }
    match rx.await {
        Ok(a) => answer(a),
        Err(_) => json_reply(500, json!({"message": "Internal server error"})),
    }
}

/// The body, refused unread when its declared length is over the
/// operation's cap, and while other calls hold the body budget.
async fn read_body(
    shared: &Shared,
    operation: &'static str,
    body: Incoming,
) -> Result<(Vec<u8>, OwnedSemaphorePermit), Refusal> {
    let cap = limits::body_cap(operation);
    let too_large = Refusal::TooLarge { cap, operation };
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large);
    }
    let reserve = declared.map_or(cap, |n| n as usize);
    let permit = u32::try_from(reserve)
        .ok()
        .and_then(|n| shared.bodies.clone().try_acquire_many_owned(n).ok())
        .ok_or(Refusal::Busy)?;
    let read = tokio::time::timeout(shared.body_timeout, Limited::new(body, cap).collect()).await;
    match read {
        Err(_) => Err(Refusal::BodyTimeout(shared.body_timeout.as_millis() as u64)),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large),
        Ok(Err(e)) => Err(Refusal::BodyUnreadable(e.to_string())),
        Ok(Ok(collected)) => Ok((collected.to_bytes().to_vec(), permit)),
    }
}

/// JSON (or no body for `Null`), with `x-amzn-ErrorType` on errors, which
/// botocore reads the error code from.
fn answer(a: Answer) -> Reply {
    let text = if a.body.is_null() {
        String::new()
    } else {
        a.body.to_string()
    };
    let mut r = reply(a.status, "application/json", text);
    let headers = r.headers_mut();
    if let Some(t) = a.error_type.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert("x-amzn-errortype", t);
    }
    if let Ok(id) = HeaderValue::from_str(&a.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    r
}
