//! The control plane under stress and abuse, on the real binary:
//!
//! - `kill -9` while management calls are in flight loses no acknowledged
//!   change (creates, then deletes) and leaves no half-applied one;
//! - a SIGHUP with a broken config file, or with one changing what needs a
//!   restart, keeps the running config serving; a good one is taken;
//! - the data-plane port never serves a management operation.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const TOKEN: &str = "control-plane-token-0123456789";

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// A management call with the token; panics unless it answers `status`.
fn call(srv: &mut Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    srv.admin_call(TOKEN, method, path, body.as_ref(), status)
}

/// Method `get`'s method response 200, which its integration response needs.
fn declare_200(srv: &mut Server, get: &str) {
    call(
        srv,
        "PUT",
        &format!("{get}/responses/200"),
        Some(json!({})),
        201,
    );
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {v}"))
}

fn child_path(parent: &str, part: &str) -> String {
    if parent == "/" {
        format!("/{part}")
    } else {
        format!("{parent}/{part}")
    }
}

// ---------------------------------------------------------------------------
// 1. kill -9 during management calls
// ---------------------------------------------------------------------------

/// Threads making management calls, each on its own keep-alive connection.
const CALLERS: usize = 2;
/// Acknowledged creates (all callers together) before the kill.
const CREATES_BEFORE_KILL: usize = 100;
/// Acknowledged deletes (all callers together) before the second kill.
const DELETES_BEFORE_KILL: usize = 40;
/// Every this many creates, a caller starts a new group under the root;
/// the creates between go under the group's resource (a two-level tree).
const GROUP: usize = 5;
/// How long the callers may take to reach the acknowledged count.
const CALLS_FOR: Duration = Duration::from_secs(30);

/// A resource as its CreateResource call made it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Res {
    id: String,
    part: String,
    parent: String,
    path: String,
}

/// What the callers report to the test.
#[derive(Default)]
struct Progress {
    /// Creates answered 201 (or deletes answered 202), in order.
    acked: Vec<Res>,
    /// Calls written whose answer never came (the kill cut them off): they
    /// may or may not have been applied. For a create, `id` is empty.
    unanswered: Vec<Res>,
    /// Answers that were not what the call must get.
    anomalies: Vec<String>,
    /// Callers that have ended.
    ended: usize,
}

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
    /// Set by the test once the server is gone: callers end.
    stop: AtomicBool,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        })
    }

    /// The progress (a panicking test thread must not make every caller
    /// panic too).
    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits (bounded) until `n` calls were acknowledged; panics if the
    /// callers stop short (an anomaly, every caller ended) or time out.
    fn wait_acked(&self, n: usize, what: &str) {
        let deadline = Instant::now() + CALLS_FOR;
        let mut p = self.lock();
        loop {
            if p.acked.len() >= n {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if !p.anomalies.is_empty() || p.ended == CALLERS || left.is_zero() {
                panic!(
                    "{what}: {} of {n} acknowledged within {CALLS_FOR:?}; callers ended: {}; \
                     anomalies: {:#?}; unanswered: {:?}",
                    p.acked.len(),
                    p.ended,
                    p.anomalies,
                    p.unanswered
                );
            }
            p = self
                .changed
                .wait_timeout(p, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The outcome of one call on a caller's connection.
enum Exchange {
    Answered(Response),
    /// No connection could be made: nothing was sent.
    NotSent,
    /// Written (maybe in part), no full answer: it may have been applied.
    Unanswered,
}

/// `raw` on `conn` (connecting first when there is none; dropped when the
/// server says it closes).
fn exchange(conn: &mut Option<Client>, port: u16, raw: &[u8]) -> Exchange {
    if conn.is_none() {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                let _ = s.set_nodelay(true);
                *conn = Some(Client { r: Reader::new(s) });
            }
            Err(_) => return Exchange::NotSent,
        }
    }
    let c = conn.as_mut().unwrap();
    let answer =
        c.r.inner
            .write_all(raw)
            .and_then(|_| c.try_read_response(false));
    match answer {
        Ok(r) => {
            if r.closes() {
                *conn = None;
            }
            Exchange::Answered(r)
        }
        Err(_) => {
            *conn = None;
            Exchange::Unanswered
        }
    }
}

fn mgmt_request(method: &str, path: &str, body: Option<&Value>) -> Vec<u8> {
    let auth = bearer();
    let mut headers = vec![("Authorization", auth.as_str())];
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    request(method, path, "localhost", &headers, &bytes)
}

/// Caller `c`: CreateResource as fast as it can (path parts `c{c}n{n}`),
/// until the server is gone. Every `GROUP`-th goes under the root, the
/// others under the caller's last such one.
fn create_caller(port: u16, api: String, root: String, c: usize, sh: Arc<Shared>) {
    let mut conn = None;
    let mut group: Option<(String, String)> = None;
    for n in 0.. {
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        let part = format!("c{c}n{n}");
        let (parent, parent_path) = match (&group, n % GROUP) {
            (Some(g), i) if i != 0 => g.clone(),
            _ => (root.clone(), "/".to_string()),
        };
        let mut want = Res {
            id: String::new(),
            path: child_path(&parent_path, &part),
            part,
            parent,
        };
        let raw = mgmt_request(
            "POST",
            &format!("/restapis/{api}/resources/{}", want.parent),
            Some(&json!({ "pathPart": want.part })),
        );
        match exchange(&mut conn, port, &raw) {
            Exchange::NotSent => break,
            Exchange::Unanswered => {
                sh.update(|p| p.unanswered.push(want));
                break;
            }
            Exchange::Answered(r) => {
                let v: Option<Value> = serde_json::from_slice(&r.body).ok();
                let good = r.status == 201
                    && v.as_ref().is_some_and(|v| {
                        v["pathPart"] == want.part.as_str()
                            && v["parentId"] == want.parent.as_str()
                            && v["path"] == want.path.as_str()
                            && v["id"].as_str().is_some_and(|id| !id.is_empty())
                    });
                if !good {
                    let msg = format!(
                        "CreateResource {want:?}: got {} {:?}",
                        r.status,
                        r.body_str()
                    );
                    sh.update(|p| p.anomalies.push(msg));
                    break;
                }
                want.id = v.unwrap()["id"].as_str().unwrap().to_string();
                if n % GROUP == 0 {
                    group = Some((want.id.clone(), want.path.clone()));
                }
                sh.update(|p| p.acked.push(want));
            }
        }
    }
    sh.update(|p| p.ended += 1);
}

/// Caller: DeleteResource of each of `targets` in turn, as fast as it can,
/// until the server is gone (or the list is done).
fn delete_caller(port: u16, api: String, targets: Vec<Res>, sh: Arc<Shared>) {
    let mut conn = None;
    for t in targets {
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        let raw = mgmt_request(
            "DELETE",
            &format!("/restapis/{api}/resources/{}", t.id),
            None,
        );
        match exchange(&mut conn, port, &raw) {
            Exchange::NotSent => break,
            Exchange::Unanswered => {
                sh.update(|p| p.unanswered.push(t));
                break;
            }
            Exchange::Answered(r) if r.status == 202 => sh.update(|p| p.acked.push(t)),
            Exchange::Answered(r) => {
                let msg = format!("DeleteResource {t:?}: got {} {:?}", r.status, r.body_str());
                sh.update(|p| p.anomalies.push(msg));
                break;
            }
        }
    }
    sh.update(|p| p.ended += 1);
}

/// Kills the server while the callers are busy (they are not stopped
/// first), then lets them end and returns what they saw.
fn kill_under_calls(srv: &mut Server, sh: &Shared, callers: Vec<JoinHandle<()>>) -> Progress {
    srv.kill9();
    sh.stop.store(true, Ordering::SeqCst);
    for t in callers {
        t.join().expect("caller thread");
    }
    std::mem::take(&mut *sh.lock())
}

/// Every resource of `api` (GetResources, paged), by id; panics unless the
/// tree is whole: one root `/` (`root`), every other resource's parent
/// exists and its path is the parent's path + `/` + its path part, no two
/// siblings share a path part.
fn resource_tree(srv: &mut Server, api: &str, root: &str) -> BTreeMap<String, Res> {
    let mut items: Vec<Value> = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let q = match &position {
            Some(p) => format!("limit=500&position={p}"),
            None => "limit=500".to_string(),
        };
        let page = call(
            srv,
            "GET",
            &format!("/restapis/{api}/resources?{q}"),
            None,
            200,
        );
        let got = page["item"]
            .as_array()
            .unwrap_or_else(|| panic!("no `item` array in {page}"));
        items.extend(got.iter().cloned());
        match page["position"].as_str() {
            Some(p) if !got.is_empty() => position = Some(p.to_string()),
            _ => break,
        }
        assert!(items.len() < 100_000, "GetResources never ends");
    }
    let mut tree = BTreeMap::new();
    for i in &items {
        let r = Res {
            id: s(i, "id").to_string(),
            part: i["pathPart"].as_str().unwrap_or_default().to_string(),
            parent: i["parentId"].as_str().unwrap_or_default().to_string(),
            path: s(i, "path").to_string(),
        };
        assert!(
            tree.insert(r.id.clone(), r).is_none(),
            "resource {} listed twice: {items:#?}",
            s(i, "id")
        );
    }
    let top = tree
        .get(root)
        .unwrap_or_else(|| panic!("root resource {root} missing: {tree:#?}"));
    assert_eq!(
        (top.path.as_str(), top.parent.as_str(), top.part.as_str()),
        ("/", "", ""),
        "root resource: {top:?}"
    );
    let mut siblings = BTreeSet::new();
    for r in tree.values().filter(|r| r.id != root) {
        let parent = tree.get(&r.parent).unwrap_or_else(|| {
            panic!("half-applied state: {r:?} has no parent in the tree {tree:#?}")
        });
        assert_eq!(
            r.path,
            child_path(&parent.path, &r.part),
            "half-applied state: {r:?} under {parent:?}"
        );
        assert!(
            siblings.insert((r.parent.clone(), r.part.clone())),
            "two resources {} under {}",
            r.part,
            r.parent
        );
    }
    tree
}

/// `id` and every resource below it in `tree`.
fn subtree(tree: &BTreeMap<String, Res>, id: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::from([id.to_string()]);
    loop {
        let more: Vec<String> = tree
            .values()
            .filter(|r| out.contains(&r.parent) && !out.contains(&r.id))
            .map(|r| r.id.clone())
            .collect();
        if more.is_empty() {
            return out;
        }
        out.extend(more);
    }
}

#[test]
fn kill_9_during_management_calls_keeps_every_acknowledged_change() {
    let t0 = Instant::now();
    let cfg = Config::new("").admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);
    let created = call(
        &mut srv,
        "POST",
        "/restapis",
        Some(json!({ "name": "hammered" })),
        201,
    );
    let api = s(&created, "id").to_string();
    let root = s(&created, "rootResourceId").to_string();

    // Creates in flight, then SIGKILL.
    let port = srv.admin_port();
    let sh = Shared::new();
    let callers: Vec<_> = (0..CALLERS)
        .map(|c| {
            let (api, root, sh) = (api.clone(), root.clone(), sh.clone());
            std::thread::spawn(move || create_caller(port, api, root, c, sh))
        })
        .collect();
    sh.wait_acked(CREATES_BEFORE_KILL, "creates");
    let creates = kill_under_calls(&mut srv, &sh, callers);
    assert!(
        creates.anomalies.is_empty(),
        "bad answers to CreateResource: {:#?}",
        creates.anomalies
    );
    eprintln!(
        "control_plane: killed after {} acknowledged creates, {} cut off ({:?})",
        creates.acked.len(),
        creates.unanswered.len(),
        t0.elapsed()
    );

    // Restart on the same state: every acknowledged create is there, as
    // made; anything else is a create cut off after its commit.
    let mut srv = Server::start(&cfg);
    let api_doc = call(&mut srv, "GET", &format!("/restapis/{api}"), None, 200);
    assert_eq!(api_doc["name"], "hammered", "{api_doc}");
    let tree = resource_tree(&mut srv, &api, &root);
    for r in &creates.acked {
        assert_eq!(
            tree.get(&r.id),
            Some(r),
            "acknowledged CreateResource lost (or changed) by kill -9"
        );
    }
    let acked_ids: BTreeSet<&str> = creates.acked.iter().map(|r| r.id.as_str()).collect();
    let extra: Vec<&Res> = tree
        .values()
        .filter(|r| r.id != root && !acked_ids.contains(r.id.as_str()))
        .collect();
    for r in &extra {
        assert!(
            creates
                .unanswered
                .iter()
                .any(|u| u.path == r.path && u.parent == r.parent && u.part == r.part),
            "resource {r:?} exists but no create of it was cut off: {:?}",
            creates.unanswered
        );
    }
    assert!(extra.len() <= creates.unanswered.len(), "{extra:?}");
    eprintln!(
        "control_plane: {} of the cut-off creates were committed",
        extra.len()
    );

    // Deletes in flight, then SIGKILL. Each caller deletes what it created:
    // the groups' members (leaves) first, newest first, then the groups. A
    // group's delete would take its members with it, and so hide a lost
    // delete of one: the kill comes while members are being deleted.
    let port = srv.admin_port();
    let sh = Shared::new();
    let leaves = creates.acked.iter().filter(|r| r.parent != root).count();
    let callers: Vec<_> = (0..CALLERS)
        .map(|c| {
            let prefix = format!("c{c}n");
            let mine = || {
                creates
                    .acked
                    .iter()
                    .rev()
                    .filter(|r| r.part.starts_with(&prefix))
            };
            let targets: Vec<Res> = mine()
                .filter(|r| r.parent != root)
                .chain(mine().filter(|r| r.parent == root))
                .cloned()
                .collect();
            let (api, sh) = (api.clone(), sh.clone());
            std::thread::spawn(move || delete_caller(port, api, targets, sh))
        })
        .collect();
    let want = DELETES_BEFORE_KILL.min(leaves / 2);
    sh.wait_acked(want, "deletes");
    let deletes = kill_under_calls(&mut srv, &sh, callers);
    assert!(
        deletes.anomalies.is_empty(),
        "bad answers to DeleteResource: {:#?}",
        deletes.anomalies
    );
    eprintln!(
        "control_plane: killed after {} acknowledged deletes, {} cut off ({:?})",
        deletes.acked.len(),
        deletes.unanswered.len(),
        t0.elapsed()
    );

    // Restart: every acknowledged delete is gone (with what was under it);
    // what no delete touched is there as it was; a cut-off delete is
    // either done or not.
    let mut srv = Server::start(&cfg);
    let after = resource_tree(&mut srv, &api, &root);
    let mut gone = BTreeSet::new();
    for d in &deletes.acked {
        assert!(
            !after.contains_key(&d.id),
            "acknowledged DeleteResource undone by kill -9: {d:?} is back"
        );
        gone.extend(subtree(&tree, &d.id));
    }
    let mut maybe = BTreeSet::new();
    for d in &deletes.unanswered {
        maybe.extend(subtree(&tree, &d.id));
    }
    for (id, r) in &tree {
        if gone.contains(id) {
            assert!(
                !after.contains_key(id),
                "{r:?} is under an acknowledged delete but is back"
            );
        } else if !maybe.contains(id) {
            assert_eq!(
                after.get(id),
                Some(r),
                "a resource no delete touched was lost (or changed) by kill -9"
            );
        }
    }
    eprintln!(
        "control_plane: {} of the cut-off deletes were committed",
        deletes
            .unanswered
            .iter()
            .filter(|d| !after.contains_key(&d.id))
            .count()
    );
    assert!(
        after.keys().all(|id| tree.contains_key(id)),
        "resources appeared from nowhere: {after:#?}"
    );
    // The store takes changes after both kills.
    let made = call(
        &mut srv,
        "POST",
        &format!("/restapis/{api}/resources/{root}"),
        Some(json!({ "pathPart": "after-kills" })),
        201,
    );
    assert_eq!(made["path"], "/after-kills", "{made}");
    srv.stop();
    eprintln!("control_plane: kill -9 test took {:?}", t0.elapsed());
}

// ---------------------------------------------------------------------------
// 2. SIGHUP with a bad file
// ---------------------------------------------------------------------------

/// `base` with an API whose `GET /prod/which` answers `body`.
fn which_config(base: &Config, body: &str) -> Config {
    base.clone().append(&api_toml(
        "hup",
        &[],
        &["prod"],
        &[mock_route("GET", "/which", false, body)],
    ))
}

/// The next stderr line containing `want` (bounded); panics on a line
/// containing `refused` first, or on none in time.
fn wait_line(srv: &mut Server, want: &str, refused: &str) -> String {
    let deadline = Instant::now() + POLL_FOR;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match srv.next_line(left) {
            Some(l) if l.contains(want) => return l,
            Some(l) => {
                assert!(
                    !l.contains(refused),
                    "wanted a line with {want:?}, got {l:?} (after {seen:#?})"
                );
                seen.push(l);
            }
            None => panic!("no stderr line with {want:?} within {POLL_FOR:?}; got {seen:#?}"),
        }
    }
}

fn assert_which(srv: &Server, body: &str, ctx: &str) {
    assert_ok(&srv.connect().get("/prod/which"), body, ctx);
}

#[test]
fn sighup_with_a_bad_file_keeps_serving_the_running_config() {
    let base = Config::new("");
    let mut srv = Server::start(&which_config(&base, "A"));
    assert_which(&srv, "A", "at start");
    let path = srv.config_path().to_path_buf();

    // A syntax error in a file that would otherwise answer B.
    let (bad, _, _) = break_line(
        &which_config(&base, "B").render(),
        "method = \"GET\"",
        "method = \"GET",
    );
    std::fs::write(&path, bad).expect("rewrite config");
    srv.signal("HUP");
    wait_line(&mut srv, "config not reloaded", "config reloaded");
    assert_which(&srv, "A", "after a SIGHUP with a syntax error");

    // A good file is taken.
    std::fs::write(&path, which_config(&base, "B").render()).expect("rewrite config");
    srv.signal("HUP");
    wait_line(&mut srv, "config reloaded", "not reloaded");
    assert_which(&srv, "B", "after a SIGHUP with a good file");

    // A change of [server] workers needs a restart: refused, B serves on.
    let more_workers = which_config(&base.clone().server("workers", "2"), "C");
    std::fs::write(&path, more_workers.render()).expect("rewrite config");
    srv.signal("HUP");
    let line = wait_line(&mut srv, "config not reloaded", "config reloaded");
    assert!(
        line.contains("workers"),
        "refusal does not say why: {line:?}"
    );
    assert_which(&srv, "B", "after a SIGHUP changing [server] workers");

    // So does a change of [state] dir: the state files stay open where
    // they are, so taking the file would be a lie about where usage goes.
    let elsewhere = std::env::temp_dir().join(format!("portico-hup-state-{}", std::process::id()));
    let moved = which_config(
        &base
            .clone()
            .state("dir", &format!("{:?}", elsewhere.display().to_string())),
        "C",
    );
    std::fs::write(&path, moved.render()).expect("rewrite config");
    srv.signal("HUP");
    let line = wait_line(&mut srv, "config not reloaded", "config reloaded");
    assert!(
        line.contains("[state] dir"),
        "refusal does not say why: {line:?}"
    );
    assert_which(&srv, "B", "after a SIGHUP changing [state] dir");

    // Still reloadable afterwards.
    std::fs::write(&path, which_config(&base, "D").render()).expect("rewrite config");
    srv.signal("HUP");
    wait_line(&mut srv, "config reloaded", "not reloaded");
    assert_which(&srv, "D", "after the refused reload, a good one");
    srv.stop();
}

// ---------------------------------------------------------------------------
// 3. The data plane serves no management operation
// ---------------------------------------------------------------------------

/// What the management API shows of every API (to compare before/after).
fn all_apis(srv: &mut Server) -> Value {
    let list = call(srv, "GET", "/restapis?limit=500", None, 200);
    let mut out = serde_json::Map::new();
    for a in list["item"].as_array().expect("item array") {
        let id = s(a, "id");
        out.insert(
            id.to_string(),
            json!({
                "resources": call(srv, "GET", &format!("/restapis/{id}/resources?limit=500"), None, 200),
                "stages": call(srv, "GET", &format!("/restapis/{id}/stages"), None, 200),
                "deployments": call(srv, "GET", &format!("/restapis/{id}/deployments?limit=500"), None, 200),
            }),
        );
    }
    json!({ "list": list, "apis": out })
}

#[test]
fn data_plane_cannot_reach_management_operations() {
    let cfg = Config::demo(NO_BACKEND).admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);

    // A management API deployed to prod (GET / a mock), so the data plane
    // serves `/restapis/{id}/prod/_user_request_/`.
    let api = call(
        &mut srv,
        "POST",
        "/restapis",
        Some(json!({ "name": "target" })),
        201,
    );
    let id = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    let get = format!("/restapis/{id}/resources/{root}/methods/GET");
    call(
        &mut srv,
        "PUT",
        &get,
        Some(json!({ "authorizationType": "NONE" })),
        201,
    );
    call(
        &mut srv,
        "PUT",
        &format!("{get}/integration"),
        Some(
            json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } }),
        ),
        201,
    );
    declare_200(&mut srv, &get);
    call(
        &mut srv,
        "PUT",
        &format!("{get}/integration/responses/200"),
        Some(json!({ "responseTemplates": { "application/json": "deployed" } })),
        201,
    );
    call(
        &mut srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({ "stageName": "prod" })),
        201,
    );
    let invoke = format!("/restapis/{id}/prod/_user_request_/");
    poll_until(
        POLL_FOR,
        || srv.connect().get(&invoke),
        |r| r.status == 200,
        |r| format!("the deployed API is not served at {invoke}: {r:?}"),
    );
    assert_eq!(srv.connect().get(&invoke).body_str(), "deployed");
    let before = all_apis(&mut srv);

    let create = json!({ "name": "from-the-data-plane" }).to_string();
    let resource = json!({ "pathPart": "from-the-data-plane" }).to_string();
    let deploy = json!({ "stageName": "dp" }).to_string();
    let calls: Vec<(&str, String, &str)> = vec![
        ("POST", "/restapis".into(), create.as_str()),
        ("GET", "/restapis".into(), ""),
        ("GET", "/restapis?limit=500".into(), ""),
        ("GET", format!("/restapis/{id}"), ""),
        ("DELETE", format!("/restapis/{id}"), ""),
        (
            "POST",
            format!("/restapis/{id}/resources/{root}"),
            resource.as_str(),
        ),
        ("GET", format!("/restapis/{id}/resources"), ""),
        ("DELETE", format!("/restapis/{id}/stages/prod"), ""),
        (
            "POST",
            format!("/restapis/{id}/deployments"),
            deploy.as_str(),
        ),
    ];
    let auth = bearer();
    let execute_host = format!("{id}.execute-api.localhost");
    for (method, path, body) in &calls {
        for token in [None, Some(auth.as_str())] {
            for host in ["localhost", execute_host.as_str()] {
                let mut headers = vec![("Connection", "close")];
                if let Some(t) = token {
                    headers.push(("Authorization", t));
                }
                if !body.is_empty() {
                    headers.push(("Content-Type", "application/json"));
                }
                let r =
                    srv.connect()
                        .request(request(method, path, host, &headers, body.as_bytes()));
                let ctx = format!(
                    "data plane {method} {path} (Host {host}, token: {})",
                    token.is_some()
                );
                assert_eq!(r.status, 403, "{ctx}: {r:?} {:?}", r.body_str());
                let ct = r.header("content-type").unwrap_or_default();
                assert!(
                    ct.to_ascii_lowercase().starts_with("application/json"),
                    "{ctx}: content-type {ct:?}"
                );
                let v = r.json();
                let keys: Vec<&String> = v
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                assert_eq!(keys, ["message"], "{ctx}: body {v}");
                assert!(
                    v["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{ctx}: body {v}"
                );
            }
        }
    }

    // Nothing was created, listed-and-changed or deleted.
    assert_eq!(
        all_apis(&mut srv),
        before,
        "the data-plane calls changed the management API's state"
    );
    assert_eq!(srv.connect().get(&invoke).body_str(), "deployed");
    srv.stop();
}

// ---------------------------------------------------------------------------
// 4. Limits of deployed stages hold after a restart
// ---------------------------------------------------------------------------

/// Statuses of `n` quick GETs of `path` on one connection.
fn burst(srv: &Server, path: &str, n: usize) -> Vec<u16> {
    let mut c = srv.connect();
    (0..n).map(|_| c.get(path).status).collect()
}

/// A stage throttled through the management API (rate 1/s, burst 2) keeps
/// refusing a burst after a restart: the workers and the reconciler start
/// on the numbering the deployed stages gave the limits.
#[test]
fn deployed_stage_throttling_holds_after_a_restart() {
    let cfg = Config::demo(NO_BACKEND).admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);
    let doc = json!({
        "openapi": "3.0.1",
        "info": {"title": "limited"},
        "paths": {"/v": {"get": {"x-amazon-apigateway-integration": {
            "type": "mock",
            "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
            "responses": {"default": {"statusCode": "200"}}
        }}}}
    });
    let api = call(&mut srv, "POST", "/restapis?mode=import", Some(doc), 201);
    let id = s(&api, "id").to_string();
    call(
        &mut srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({"stageName": "prod"})),
        201,
    );
    call(
        &mut srv,
        "PATCH",
        &format!("/restapis/{id}/stages/prod"),
        Some(json!({"patchOperations": [
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1"},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "2"}
        ]})),
        200,
    );
    let path = format!("/restapis/{id}/prod/_user_request_/v");
    let before = burst(&srv, &path, 10);
    assert!(
        before.iter().filter(|&&s| s == 429).count() >= 6,
        "before the restart: {before:?}"
    );
    srv.stop();
    let srv = Server::start(&cfg);
    let after = burst(&srv, &path, 10);
    assert!(
        after.contains(&200),
        "the deployed stage is served after the restart: {after:?}"
    );
    assert!(
        after.iter().filter(|&&s| s == 429).count() >= 6,
        "after the restart: {after:?}"
    );
    // The file's own routes are served as before.
    assert_eq!(srv.connect().get("/prod/hello").status, 200);
}

// ---------------------------------------------------------------------------
// 5. One bad integration does not hold back publishing
// ---------------------------------------------------------------------------

/// A management API deployed to `prod` whose `GET /x` proxies to `uri`.
fn proxied_api(srv: &mut Server, title: &str, uri: &str) -> String {
    let doc = json!({
        "openapi": "3.0.1",
        "info": {"title": title},
        "paths": {"/x": {"get": {"x-amazon-apigateway-integration": {
            "type": "http_proxy", "httpMethod": "GET", "uri": uri
        }}}}
    });
    let api = call(srv, "POST", "/restapis?mode=import", Some(doc), 201);
    let id = s(&api, "id").to_string();
    deploy(srv, &id);
    id
}

fn deploy(srv: &mut Server, id: &str) {
    call(
        srv,
        "POST",
        &format!("/restapis/{id}/deployments"),
        Some(json!({"stageName": "prod"})),
        201,
    );
}

/// SIGTERM, then every stderr line until the server exits (with those
/// of its start).
fn log_until_exit(srv: &mut Server) -> Vec<String> {
    let mut lines = srv.startup.clone();
    srv.sigterm();
    while let Some(l) = srv.next_line(POLL_FOR) {
        lines.push(l);
    }
    srv.expect_clean_exit(POLL_FOR, "after SIGTERM");
    lines
}

/// Management calls that change something (and so publish) after the
/// routes are in place: each used to repeat every warning.
const LATER_CALLS: usize = 12;

/// An integration on a host that does not resolve answers 502 and every
/// other change is published; the host and the "no integration" warning
/// are each logged once, however many management calls follow.
#[test]
fn a_host_that_does_not_resolve_holds_back_no_other_change() {
    const HOST: &str = "no-such-host.invalid";
    let cfg = Config::demo(NO_BACKEND).admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);
    let bad = proxied_api(&mut srv, "bad", &format!("http://{HOST}/"));

    // A second API, deployed after the bad one, with a mock.
    let api = call(
        &mut srv,
        "POST",
        "/restapis",
        Some(json!({ "name": "good" })),
        201,
    );
    let good = s(&api, "id").to_string();
    let root = s(&api, "rootResourceId").to_string();
    let get = format!("/restapis/{good}/resources/{root}/methods/GET");
    let no_auth = json!({ "authorizationType": "NONE" });
    call(&mut srv, "PUT", &get, Some(no_auth.clone()), 201);
    let mock = json!({ "type": "MOCK", "requestTemplates": { "application/json": "{\"statusCode\": 200}" } });
    call(
        &mut srv,
        "PUT",
        &format!("{get}/integration"),
        Some(mock),
        201,
    );
    let answer = |body: &str| json!({ "responseTemplates": { "application/json": body } });
    declare_200(&mut srv, &get);
    let response = format!("{get}/integration/responses/200");
    call(&mut srv, "PUT", &response, Some(answer("one")), 201);
    let empty = call(
        &mut srv,
        "POST",
        &format!("/restapis/{good}/resources/{root}"),
        Some(json!({ "pathPart": "empty" })),
        201,
    );
    let empty_get = format!("/restapis/{good}/resources/{}/methods/GET", s(&empty, "id"));
    call(&mut srv, "PUT", &empty_get, Some(no_auth), 201);
    // AWS refuses to deploy a method without integration.
    call(
        &mut srv,
        "POST",
        &format!("/restapis/{good}/deployments"),
        Some(json!({ "stageName": "prod" })),
        400,
    );
    call(&mut srv, "DELETE", &empty_get, None, 204);
    deploy(&mut srv, &good);
    let invoke = format!("/restapis/{good}/prod/_user_request_/");
    let served = |srv: &Server, body: &str| {
        poll_until(
            POLL_FOR,
            || srv.connect().get(&invoke),
            |r| r.status == 200 && r.body_str() == body,
            |r| {
                format!(
                    "{invoke} does not answer {body:?}: {r:?} {:?}",
                    r.body_str()
                )
            },
        );
    };
    served(&srv, "one");

    // A later change of the good API is served too.
    call(&mut srv, "PUT", &response, Some(answer("two")), 201);
    deploy(&mut srv, &good);
    served(&srv, "two");

    // The bad route answers as AWS does when its integration fails.
    let r = srv
        .connect()
        .get(&format!("/restapis/{bad}/prod/_user_request_/x"));
    assert_eq!(r.status, 502, "{r:?} {:?}", r.body_str());
    assert_eq!(r.json(), json!({ "message": "Internal server error" }));

    for n in 0..LATER_CALLS {
        call(
            &mut srv,
            "POST",
            &format!("/restapis/{good}/resources/{root}"),
            Some(json!({ "pathPart": format!("later{n}") })),
            201,
        );
    }
    served(&srv, "two");

    let log = log_until_exit(&mut srv);
    let with = |what: &str| -> Vec<&String> { log.iter().filter(|l| l.contains(what)).collect() };
    assert_eq!(
        with(HOST).len(),
        1,
        "the host is named once: {:#?}",
        with(HOST)
    );
    assert!(with(HOST)[0].contains("answers 502"), "{:?}", with(HOST));
    assert!(
        with("no integration").is_empty(),
        "{:#?}",
        with("no integration")
    );
    assert!(
        with("not published").is_empty(),
        "{:#?}",
        with("not published")
    );
}

/// The config file's own integrations must still resolve: `portico check`
/// and a start refuse one that does not, at its line. The file is checked
/// before it serves, so a mistyped host is found there, not as 502s.
#[test]
fn the_file_still_refuses_a_host_that_does_not_resolve() {
    let text = Config::demo("no-such-host.invalid:80").render();
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("${stageVariables.backend}"))
        .map(|(i, _)| i + 1)
        .collect();
    assert_config_rejected(
        &text,
        lines[0]..=lines[lines.len() - 1],
        &["cannot resolve `no-such-host.invalid:80`"],
        "an upstream that does not resolve in the file",
    );
}
