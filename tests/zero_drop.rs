//! The zero-drop test (issue 6): under continuous load on hundreds of
//! keep-alive connections, 50 deployments through the management API and
//! 10 SIGHUP reloads of the config file fail no request and reset no
//! connection.
//!
//! The load: [`CONNS`] keep-alive connections, driven by [`THREADS`]
//! threads; each thread owns a share of them and, round after round, sends
//! one GET on each of its connections, then reads each full answer. Every
//! connection rotates over three requests: the file's mock route
//! (`/prod/hello`, its body names the reload: `file-v{N}`) and the
//! deployed stage's mock (`{"deploy":N}`), addressed both ways
//! (`/restapis/{id}/prod/_user_request_/zd` and
//! `Host: {id}.execute-api.localhost` + `/prod/zd`).
//!
//! Counted: requests that did not get a complete 200 with a body of the
//! expected shape whose version never goes backwards on its connection
//! (another status, a read or write error, EOF, a timeout, a stale body),
//! and connections the server ended (EOF, reset, a timeout, an answer with
//! `connection: close`); a broken connection is replaced so the load goes
//! on. Both counts must be 0.
//!
//! Each change (a deployment, a reload) is done only once every connection
//! has seen the previous one in an answer: every connection is served
//! across every change, and each change is known to have reached every
//! worker that serves one of them. Every connection also completes requests before the first change
//! and after the last.

mod common;

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "zero-drop-token-0123456789";
/// Keep-alive connections under load.
const CONNS: usize = 300;
/// Threads driving them.
const THREADS: usize = 8;
const DEPLOYMENTS: usize = 50;
const RELOADS: usize = 10;
/// Requests every connection completes before the first change and after
/// the last.
const EDGE_REQUESTS: u64 = 3;
/// Failure details kept for the report.
const MAX_EVENTS: usize = 40;

// ---------------------------------------------------------------------------
// Config and management API
// ---------------------------------------------------------------------------

/// The file's API with version `v`: `GET /prod/hello` answers `file-v{v}`;
/// each version adds a route (the route table changes too).
fn file_api(v: usize) -> String {
    let mut routes = vec![mock_route("GET", "/hello", false, &format!("file-v{v}"))];
    for i in 0..=v {
        routes.push(mock_route("GET", &format!("/extra{i}"), false, "extra"));
    }
    api_toml("zd", &[], &["prod"], &routes)
}

/// `base` with the file's API at version `v`. Versions differ only in
/// routes: nothing a reload may not change (listen, workers, throttles).
fn config(base: &Config, v: usize) -> Config {
    base.clone().append(&file_api(v))
}

/// A management call with the token; panics unless it answers `status`.
fn call(srv: &mut Server, method: &str, path: &str, body: Value, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, Some(&body), status)
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no string id in {v}"))
        .to_string()
}

/// The deployed mock's body for deployment `n`.
fn deploy_body(n: usize) -> String {
    json!({ "deploy": n }).to_string()
}

/// GET on `res` of `api`: a MOCK integration answering 200 with `body`.
fn put_mock_method(srv: &mut Server, api: &str, res: &str, body: &str) {
    let m = format!("/restapis/{api}/resources/{res}/methods/GET");
    call(srv, "PUT", &m, json!({ "authorizationType": "NONE" }), 201);
    call(
        srv,
        "PUT",
        &format!("{m}/integration"),
        json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } }),
        201,
    );
    set_mock_body(srv, api, res, body);
}

fn set_mock_body(srv: &mut Server, api: &str, res: &str, body: &str) {
    call(
        srv,
        "PUT",
        &format!("/restapis/{api}/resources/{res}/methods/GET/responses/200"),
        json!({}),
        201,
    );
    call(
        srv,
        "PUT",
        &format!("/restapis/{api}/resources/{res}/methods/GET/integration/responses/200"),
        json!({ "responseTemplates": { "application/json": body } }),
        201,
    );
}

fn deploy(srv: &mut Server, api: &str) {
    call(
        srv,
        "POST",
        &format!("/restapis/{api}/deployments"),
        json!({ "stageName": "prod" }),
        201,
    );
}

// ---------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------

/// Step of the run: 0 before the first change, `1..=CHANGES` while change
/// `n` is made, `AFTER` once the last one was seen by every connection.
const CHANGES: usize = DEPLOYMENTS + RELOADS;
const AFTER: usize = CHANGES + 1;

/// What the load threads and the test share.
struct Shared {
    stop: AtomicBool,
    step: AtomicUsize,
    /// Per connection: requests completed (a good answer).
    done: Vec<AtomicU64>,
    /// Per connection: good answers to requests sent and answered in step 0.
    before: Vec<AtomicU64>,
    /// Per connection: good answers to requests sent in step `AFTER`.
    after: Vec<AtomicU64>,
    /// Per connection: the newest file version / deployment seen (-1: none).
    file_seen: Vec<AtomicI64>,
    deploy_seen: Vec<AtomicI64>,
    /// Requests without a complete, good 200.
    failed: AtomicU64,
    /// Connections the server ended.
    resets: AtomicU64,
    /// The first failures, described.
    events: Mutex<Vec<String>>,
    started: Instant,
}

impl Shared {
    fn new() -> Shared {
        let per = |v: i64| (0..CONNS).map(|_| AtomicI64::new(v)).collect();
        let zero = || (0..CONNS).map(|_| AtomicU64::new(0)).collect();
        Shared {
            stop: AtomicBool::new(false),
            step: AtomicUsize::new(0),
            done: zero(),
            before: zero(),
            after: zero(),
            file_seen: per(-1),
            deploy_seen: per(-1),
            failed: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            events: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    fn event(&self, conn: usize, what: String) {
        let mut e = self.events.lock().unwrap();
        if e.len() < MAX_EVENTS {
            e.push(format!(
                "conn {conn}, step {}, t={:?}: {what}",
                self.step.load(Ordering::SeqCst),
                self.started.elapsed()
            ));
        }
    }

    fn total(&self) -> u64 {
        self.done.iter().map(|d| d.load(Ordering::SeqCst)).sum()
    }
}

/// The three requests a connection rotates over: kind 0 the file's route
/// (answers `file-v{N}`), kinds 1 and 2 the deployed stage (answers
/// `{"deploy":N}`) by path and by host.
struct Requests {
    raw: [Vec<u8>; 3],
}

impl Requests {
    fn new(api: &str) -> Requests {
        Requests {
            raw: [
                get("/prod/hello").into_bytes(),
                get(&format!("/restapis/{api}/prod/_user_request_/zd")).into_bytes(),
                request(
                    "GET",
                    "/prod/zd",
                    &format!("{api}.execute-api.localhost"),
                    &[],
                    b"",
                ),
            ],
        }
    }
}

/// The version an answer's body names for request kind `kind`.
fn version_of(kind: usize, body: &str) -> Option<i64> {
    if kind == 0 {
        body.strip_prefix("file-v")?.parse().ok()
    } else {
        let v: Value = serde_json::from_str(body).ok()?;
        if v.as_object()?.len() != 1 {
            return None;
        }
        v["deploy"].as_i64()
    }
}

/// One connection of a load thread.
struct Conn {
    id: usize,
    client: Option<Client>,
    sent: u64,
    /// Step when the request in flight was sent.
    sent_step: usize,
    /// Kind of the request in flight (`None`: nothing in flight).
    kind: Option<usize>,
}

/// The load thread owning connections `ids`: rounds of one request on
/// each, then one answer from each, until `stop`.
fn drive(port: u16, ids: Vec<usize>, reqs: Arc<Requests>, sh: Arc<Shared>) {
    let mut conns: Vec<Conn> = ids
        .into_iter()
        .map(|id| Conn {
            id,
            client: None,
            sent: 0,
            sent_step: 0,
            kind: None,
        })
        .collect();
    while !sh.stop.load(Ordering::SeqCst) {
        for c in conns.iter_mut() {
            if c.client.is_none() {
                match Client::try_connect(port) {
                    Ok(cl) => c.client = Some(cl),
                    Err(e) => {
                        sh.failed.fetch_add(1, Ordering::SeqCst);
                        sh.event(c.id, format!("connect failed: {e}"));
                        continue;
                    }
                }
            }
            let kind = (c.id + c.sent as usize) % 3;
            c.sent_step = sh.step.load(Ordering::SeqCst);
            let cl = c.client.as_mut().unwrap();
            if let Err(e) = cl.r.inner.write_all(&reqs.raw[kind]) {
                sh.failed.fetch_add(1, Ordering::SeqCst);
                sh.resets.fetch_add(1, Ordering::SeqCst);
                sh.event(c.id, format!("write failed ({:?}): {e}", e.kind()));
                c.client = None;
                continue;
            }
            c.sent += 1;
            c.kind = Some(kind);
        }
        for c in conns.iter_mut() {
            let Some(kind) = c.kind.take() else { continue };
            let cl = c.client.as_mut().unwrap();
            let resp = match cl.try_read_response(false) {
                Ok(r) => r,
                Err(e) => {
                    let what = match e.kind() {
                        ErrorKind::UnexpectedEof => "EOF",
                        ErrorKind::ConnectionReset => "reset",
                        ErrorKind::WouldBlock | ErrorKind::TimedOut => "timeout",
                        _ => "error",
                    };
                    sh.failed.fetch_add(1, Ordering::SeqCst);
                    sh.resets.fetch_add(1, Ordering::SeqCst);
                    sh.event(c.id, format!("request kind {kind}: {what}: {e}"));
                    c.client = None;
                    continue;
                }
            };
            let body = resp.body_str();
            let seen = if kind == 0 {
                &sh.file_seen[c.id]
            } else {
                &sh.deploy_seen[c.id]
            };
            let version = version_of(kind, &body);
            let good =
                resp.status == 200 && version.is_some_and(|v| v >= seen.load(Ordering::SeqCst));
            if good {
                seen.fetch_max(version.unwrap(), Ordering::SeqCst);
                sh.done[c.id].fetch_add(1, Ordering::SeqCst);
                let now = sh.step.load(Ordering::SeqCst);
                if c.sent_step == 0 && now == 0 {
                    sh.before[c.id].fetch_add(1, Ordering::SeqCst);
                }
                if c.sent_step == AFTER {
                    sh.after[c.id].fetch_add(1, Ordering::SeqCst);
                }
            } else {
                sh.failed.fetch_add(1, Ordering::SeqCst);
                sh.event(
                    c.id,
                    format!(
                        "request kind {kind}: {} {:?} (newest seen on this connection: {})",
                        resp.status,
                        body,
                        seen.load(Ordering::SeqCst)
                    ),
                );
            }
            if resp.closes() {
                sh.resets.fetch_add(1, Ordering::SeqCst);
                sh.event(c.id, "answer with connection: close".into());
                c.client = None;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

/// Waits (bounded by [`POLL_FOR`], 1 ms between probes) until `cond`
/// holds; on timeout panics with `what`, the load's failures so far and the
/// server's stderr since the last wait.
fn wait_for(srv: &mut Server, sh: &Shared, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + POLL_FOR;
    while !cond() {
        if Instant::now() > deadline {
            sh.stop.store(true, Ordering::SeqCst);
            let mut log = Vec::new();
            while let Some(l) = srv.next_line(Duration::from_millis(10)) {
                log.push(l);
            }
            panic!(
                "{what}: not within {POLL_FOR:?} (step {}); failed requests {}, reset \
                 connections {}; failures: {:#?}\nserver stderr: {log:#?}",
                sh.step.load(Ordering::SeqCst),
                sh.failed.load(Ordering::SeqCst),
                sh.resets.load(Ordering::SeqCst),
                sh.events.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every connection has seen at least version `v` of the file route and
/// deployment `d` of the deployed one.
fn all_seen(sh: &Shared, v: usize, d: usize) -> bool {
    (0..CONNS).all(|c| {
        sh.file_seen[c].load(Ordering::SeqCst) >= v as i64
            && sh.deploy_seen[c].load(Ordering::SeqCst) >= d as i64
    })
}

fn min_of(v: &[AtomicU64]) -> u64 {
    v.iter()
        .map(|a| a.load(Ordering::SeqCst))
        .min()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[test]
fn deployments_and_reloads_under_load_drop_nothing() {
    let t0 = Instant::now();
    // Two workers, the admin token, and an account throttle this load never
    // reaches (the default 10,000 rps would answer 429s).
    let base = Config::new("")
        .server("workers", "2")
        .admin("token", &toml_str(TOKEN))
        .throttle("rate", "10000000.0")
        .throttle("burst", "10000000");
    // The REST API with GET /zd (a mock), deployed to prod (deployment 0),
    // made on a first server: the server under test, on the same state
    // directory, starts with the stage in its first snapshot (a deployment
    // reaches the workers on their next tick; before it the stage is
    // unknown, which the load would rightly count as failures).
    let (api, zd) = {
        let mut setup = Server::start(&config(&base, 0));
        let api = id_of(&call(
            &mut setup,
            "POST",
            "/restapis",
            json!({ "name": "zero-drop" }),
            201,
        ));
        let resources = setup.admin_json(
            "GET",
            &format!("/restapis/{api}/resources"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            None,
        );
        let root = resources.json["item"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["path"] == "/"))
            .map(id_of)
            .unwrap_or_else(|| panic!("no root resource in {}", resources.text));
        let zd = id_of(&call(
            &mut setup,
            "POST",
            &format!("/restapis/{api}/resources/{root}"),
            json!({ "pathPart": "zd" }),
            201,
        ));
        put_mock_method(&mut setup, &api, &zd, &deploy_body(0));
        deploy(&mut setup, &api);
        setup.stop();
        (api, zd)
    };
    let mut srv = Server::start(&config(&base, 0));
    let path = srv.config_path().to_path_buf();

    // The load.
    let sh = Arc::new(Shared::new());
    let reqs = Arc::new(Requests::new(&api));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let ids: Vec<usize> = (t..CONNS).step_by(THREADS).collect();
            let (reqs, sh) = (reqs.clone(), sh.clone());
            let port = srv.port;
            std::thread::spawn(move || drive(port, ids, reqs, sh))
        })
        .collect();
    wait_for(
        &mut srv,
        &sh,
        "every connection answered on both routes before the first change",
        || all_seen(&sh, 0, 0) && min_of(&sh.before) >= EDGE_REQUESTS,
    );
    let before_changes = sh.total();
    let changes_from = Instant::now();

    // 50 deployments (every 5th adds a resource), a reload after every 5th.
    let mut step = 0;
    let mut reloads = 0;
    for d in 1..=DEPLOYMENTS {
        step += 1;
        sh.step.store(step, Ordering::SeqCst);
        if d % 5 == 0 {
            let res = id_of(&call(
                &mut srv,
                "POST",
                &format!("/restapis/{api}/resources/{zd}"),
                json!({ "pathPart": format!("r{d}") }),
                201,
            ));
            put_mock_method(&mut srv, &api, &res, &format!("r{d}"));
        }
        set_mock_body(&mut srv, &api, &zd, &deploy_body(d));
        deploy(&mut srv, &api);
        wait_for(
            &mut srv,
            &sh,
            &format!("every connection saw deployment {d}"),
            || all_seen(&sh, reloads, d),
        );
        if d % (DEPLOYMENTS / RELOADS) == 0 {
            step += 1;
            reloads += 1;
            sh.step.store(step, Ordering::SeqCst);
            std::fs::write(&path, config(&base, reloads).render()).expect("rewrite config");
            srv.signal("HUP");
            wait_for(
                &mut srv,
                &sh,
                &format!("every connection saw reload {reloads}"),
                || all_seen(&sh, reloads, d),
            );
        }
    }
    assert_eq!((step, reloads), (CHANGES, RELOADS));
    let changes_took = changes_from.elapsed();
    let during_changes = sh.total() - before_changes;
    sh.step.store(AFTER, Ordering::SeqCst);
    wait_for(
        &mut srv,
        &sh,
        "every connection answered after the last change",
        || min_of(&sh.after) >= EDGE_REQUESTS,
    );
    sh.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("load thread");
    }

    let total = sh.total();
    let failed = sh.failed.load(Ordering::SeqCst);
    let resets = sh.resets.load(Ordering::SeqCst);
    let events = sh.events.lock().unwrap().clone();
    eprintln!(
        "zero_drop: {CONNS} connections, {total} good answers ({before_changes} before the \
         changes, {during_changes} during {changes_took:?} of changes); failed {failed}, \
         reset {resets}; {:?} in all",
        t0.elapsed()
    );
    assert_eq!(failed, 0, "failed requests; first ones: {events:#?}");
    assert_eq!(resets, 0, "connections reset; first ones: {events:#?}");
    assert!(
        min_of(&sh.before) >= EDGE_REQUESTS && min_of(&sh.after) >= EDGE_REQUESTS,
        "a connection idle before the first or after the last change"
    );
    // Every connection was answered after each of the 60 changes.
    assert!(
        during_changes >= (CHANGES * CONNS) as u64,
        "only {during_changes} answers during the changes"
    );

    // The end state, on fresh connections: the last reload and deployment,
    // and a resource added along the way.
    let mut c = srv.connect();
    assert_ok(
        &c.get("/prod/hello"),
        &format!("file-v{RELOADS}"),
        "file route",
    );
    assert_ok(
        &c.get(&format!("/restapis/{api}/prod/_user_request_/zd")),
        &deploy_body(DEPLOYMENTS),
        "deployed route",
    );
    assert_ok(
        &c.get(&format!(
            "/restapis/{api}/prod/_user_request_/zd/r{DEPLOYMENTS}"
        )),
        &format!("r{DEPLOYMENTS}"),
        "resource of the last deployment",
    );
    srv.stop();
}
