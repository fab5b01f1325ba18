//! Stage response cache (issue 4): GET responses of cached stages are served
//! from per-worker shards without calling the integration (`x-cache: Hit`,
//! `age`), keyed by route, path parameters and the named query parameters
//! and headers; what is not stored; HEAD from a cached GET; `Cache-Control:
//! max-age=0` with and without the right to invalidate; flushes through the
//! admin listener and `portico cache flush`; coalesced misses; gateway errors
//! never cached; config errors.
mod common;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "admin-token-0123456789";

// ---------------------------------------------------------------------------
// The counting upstream
// ---------------------------------------------------------------------------

/// An upstream that counts every request it receives and answers by the last
/// segment of the path (the "id", query ignored):
/// - default: 200 text/plain, body `{target} #{n}` (n = calls so far,
///   this one included), so a refetch always has a new body;
/// - `nostore`: `cache-control: max-age=60, no-store`; `private`:
///   `cache-control: private, max-age=60`; `public`: `cache-control:
///   public, max-age=60`; `cookie`: `set-cookie: session=abc; Path=/`;
/// - `e500`, `s201`, `up504`: that status;
/// - `big<N>`: a body of exactly N bytes; `chunked`: a chunked body;
/// - `slow`: answers after 300 ms (the upstream's own latency);
/// - `stall1`: the first call to the path stalls (never answered), later
///   calls get the default answer; `bad1`: the first call is answered
///   with garbage (not HTTP) and closed.
///
/// HEAD gets the same head (content-length of the body it would send) and
/// no body.
struct Backend {
    up: Upstream,
    calls: Arc<AtomicUsize>,
    /// `METHOD target` of every request, in arrival order.
    seen: Arc<Mutex<Vec<String>>>,
}

fn sized(prefix: &str, n: usize) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    v.truncate(n);
    v.resize(n, b'.');
    v
}

fn reply(rec: &Recorded, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    if rec.method == "HEAD" {
        let mut s = format!("HTTP/1.1 {status} X\r\n");
        for (k, v) in headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        Reply::Send(s.into_bytes())
    } else {
        Reply::Send(http_response(status, headers, body))
    }
}

impl Backend {
    fn start() -> Backend {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let per_path: Mutex<HashMap<String, usize>> = Mutex::new(HashMap::new());
        let (calls2, seen2) = (calls.clone(), seen.clone());
        let up = Upstream::start(move |rec| {
            let n = calls2.fetch_add(1, Ordering::SeqCst) + 1;
            seen2
                .lock()
                .unwrap()
                .push(format!("{} {}", rec.method, rec.target));
            let path = rec.target.split('?').next().unwrap_or("").to_string();
            let nth = {
                let mut m = per_path.lock().unwrap();
                let e = m.entry(path.clone()).or_insert(0);
                *e += 1;
                *e
            };
            let id = path.rsplit('/').next().unwrap_or("").to_string();
            let body = format!("{} #{n}", rec.target);
            let text = [("content-type", "text/plain")];
            match id.as_str() {
                "nostore" => reply(
                    rec,
                    200,
                    &[
                        ("content-type", "text/plain"),
                        ("cache-control", "max-age=60, no-store"),
                    ],
                    body.as_bytes(),
                ),
                "private" => reply(
                    rec,
                    200,
                    &[
                        ("content-type", "text/plain"),
                        ("cache-control", "private, max-age=60"),
                    ],
                    body.as_bytes(),
                ),
                "public" => reply(
                    rec,
                    200,
                    &[
                        ("content-type", "text/plain"),
                        ("cache-control", "public, max-age=60"),
                    ],
                    body.as_bytes(),
                ),
                "cookie" => reply(
                    rec,
                    200,
                    &[
                        ("content-type", "text/plain"),
                        ("set-cookie", "session=abc; Path=/"),
                    ],
                    body.as_bytes(),
                ),
                "e500" => reply(rec, 500, &text, body.as_bytes()),
                "s201" => reply(rec, 201, &text, body.as_bytes()),
                "up504" => reply(rec, 504, &text, body.as_bytes()),
                "chunked" if rec.method != "HEAD" => {
                    let b = body.as_bytes();
                    let (x, y) = b.split_at(b.len() / 2);
                    Reply::Send(chunked_response(&text, &[x, y]))
                }
                "slow" => {
                    // The upstream's latency, not synchronisation of the test.
                    std::thread::sleep(Duration::from_millis(300));
                    reply(rec, 200, &text, body.as_bytes())
                }
                "stall1" if nth == 1 => Reply::Stall,
                "bad1" if nth == 1 => Reply::SendAndClose(b"garbage\r\n\r\n".to_vec()),
                big if big.starts_with("big") => {
                    let size: usize = big[3..].parse().expect("big<N>");
                    reply(rec, 200, &text, &sized(&body, size))
                }
                _ => reply(rec, 200, &text, body.as_bytes()),
            }
        });
        Backend { up, calls, seen }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn addr(&self) -> String {
        self.up.addr()
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------
// Config text
// ---------------------------------------------------------------------------

/// A stage of API `a`: `name`, backend variable, and `cache` = the lines of
/// its `[api.stages.NAME.cache]` table (`capacity = "1MB"` added unless
/// given); `None`: no cache table.
struct Stage<'a> {
    name: &'a str,
    cache: Option<&'a str>,
    /// More lines of the stage table itself (`throttle = ..`).
    lines: &'a str,
}

fn st<'a>(name: &'a str, cache: Option<&'a str>) -> Stage<'a> {
    Stage {
        name,
        cache,
        lines: "",
    }
}

/// `[[api.routes]]` proxying `method path` to the same path on the stage's
/// backend; `extra` are lines of the route table (`cache = {..}`,
/// `api_key_required = true`), `integ` extra keys of the integration table
/// (`, timeout_ms = 300`).
fn route(method: &str, path: &str, extra: &str, integ: &str) -> String {
    format!(
        "[[api.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n{extra}\n\
         integration = {{ type = \"http_proxy\", uri = \"http://${{stageVariables.backend}}{path}\"{integ} }}\n\n"
    )
}

/// API `a` (default API, no hosts) with `stages` (all on `backend`) and `routes`.
fn api(backend: &str, stages: &[Stage], routes: &[String]) -> String {
    let mut s = String::from("[[api]]\nname = \"a\"\nhosts = []\n\n");
    for stage in stages {
        s.push_str(&format!(
            "[api.stages.{}]\nvariables = {{ backend = \"{backend}\" }}\n{}\n\n",
            stage.name, stage.lines
        ));
        if let Some(lines) = stage.cache {
            s.push_str(&format!("[api.stages.{}.cache]\n", stage.name));
            if !lines.contains("capacity") {
                s.push_str("capacity = \"1MB\"\n");
            }
            s.push_str(lines);
            s.push_str("\n\n");
        }
    }
    s.extend(routes.iter().map(String::as_str));
    s
}

/// Stage `prod` cached with `cache_lines`, route `GET /items/{id}` with
/// `route_extra`.
fn items_config(backend: &str, cache_lines: &str, route_extra: &str) -> Config {
    Config::new(&api(
        backend,
        &[st("prod", Some(cache_lines))],
        &[route("GET", "/items/{id}", route_extra, "")],
    ))
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

fn ctx_of(r: &Response, ctx: &str) -> String {
    format!(
        "{ctx}: status {} headers {:?} body {:?}",
        r.status,
        r.headers,
        r.body_str()
    )
}

/// The `x-cache` header is exactly once `want`.
fn assert_xcache(r: &Response, want: &str, ctx: &str) {
    let all = r.header_all("x-cache");
    assert_eq!(all, vec![want], "x-cache; {}", ctx_of(r, ctx));
}

/// 200, `x-cache: Miss`, no `age`; returns the body.
fn assert_miss(r: &Response, ctx: &str) -> String {
    assert_eq!(r.status, 200, "{}", ctx_of(r, ctx));
    assert_xcache(r, "Miss", ctx);
    assert!(
        r.header("age").is_none(),
        "a miss has an age header; {}",
        ctx_of(r, ctx)
    );
    r.body_str()
}

/// The `age` header: exactly one, an integer (whole seconds).
fn age_of(r: &Response, ctx: &str) -> u64 {
    let all = r.header_all("age");
    assert_eq!(all.len(), 1, "want one age header; {}", ctx_of(r, ctx));
    all[0]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("age is not a whole number; {}", ctx_of(r, ctx)))
}

/// 200 with `body`, `x-cache: Hit` and an integer `age`; returns the age.
fn assert_hit(r: &Response, body: &str, ctx: &str) -> u64 {
    assert_eq!(r.status, 200, "{}", ctx_of(r, ctx));
    assert_xcache(r, "Hit", ctx);
    assert_eq!(r.body_str(), body, "hit body; {}", ctx_of(r, ctx));
    age_of(r, ctx)
}

/// The backend was called `n` times in all.
fn assert_calls(be: &Backend, n: usize, ctx: &str) {
    assert_eq!(
        be.calls(),
        n,
        "{ctx}: upstream calls; requests seen: {:#?}",
        be.seen()
    );
}

/// `GET path` with `Cache-Control: max-age=0` (and more headers).
fn get_max_age_0(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut h = vec![("Cache-Control", "max-age=0")];
    h.extend_from_slice(extra);
    get_with(path, &h)
}

fn head(path: &str) -> Vec<u8> {
    request("HEAD", path, "localhost", &[], b"")
}

/// `{"flushed": N}` of a flush answer.
fn flushed(v: &serde_json::Value) -> u64 {
    v.get("flushed")
        .and_then(|f| f.as_u64())
        .unwrap_or_else(|| panic!("no integer `flushed` in {v}"))
}

/// POST /cache/flush on the admin listener with the right token: 200 and
/// `{"flushed": workers}`.
fn flush_ok(srv: &mut Server, query: &str, workers: u64) {
    let r = srv.admin_request("POST", &format!("/cache/flush?{query}"), Some(TOKEN));
    assert_eq!(r.status, 200, "{}", ctx_of(&r, "admin flush"));
    assert_eq!(flushed(&r.json()), workers, "{}", ctx_of(&r, "admin flush"));
}

/// `portico cache flush --config <cfg> --api a --stage STAGE [--admin URL]`.
fn flush_cli(cfg: &Config, stage: &str, admin: Option<&str>, env: &[(&str, &str)]) -> CmdOutput {
    let path = write_config(&cfg.render());
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "cache".as_ref(),
        "flush".as_ref(),
        "--config".as_ref(),
        path.as_os_str(),
        "--api".as_ref(),
        "a".as_ref(),
        "--stage".as_ref(),
        stage.as_ref(),
    ];
    if let Some(url) = admin {
        args.push("--admin".as_ref());
        args.push(url.as_ref());
    }
    let out = run_bin(&args, env, Duration::from_secs(20));
    let _ = std::fs::remove_file(&path);
    out
}

fn flush_cli_ok(cfg: &Config, stage: &str, admin: Option<&str>, env: &[(&str, &str)]) -> u64 {
    let out = flush_cli(cfg, stage, admin, env);
    assert!(
        out.status.success(),
        "portico cache flush failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout,
        out.stderr
    );
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "`portico cache flush` printed no JSON ({e}): {:?}",
            out.stdout
        )
    });
    flushed(&v)
}

// ---------------------------------------------------------------------------
// Hits and misses
// ---------------------------------------------------------------------------

#[test]
fn miss_then_hit() {
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[st("prod", Some("")), st("plain", None)],
        &[
            route("GET", "/items/{id}", "", ""),
            route("GET", "/off/{id}", "cache = { enabled = false }", ""),
        ],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    let r = c.get("/prod/items/1");
    let body = assert_miss(&r, "first GET");
    assert_eq!(body, "/items/1 #1");
    assert_calls(&be, 1, "after the miss");

    let h = c.get("/prod/items/1");
    let age = assert_hit(&h, &body, "second GET");
    assert!(age <= 5, "age {age} s right after storing");
    assert_eq!(
        h.header("content-type"),
        Some("text/plain"),
        "hit keeps the upstream's headers: {h:?}"
    );
    assert_ne!(
        h.request_id(),
        r.request_id(),
        "a hit carries this request's id, not the stored one"
    );
    assert_calls(&be, 1, "a hit does not call the upstream");

    // Another connection (same worker) is served from the same entry.
    let mut c2 = srv.connect();
    assert_hit(&c2.get("/prod/items/1"), &body, "GET on a new connection");
    assert_calls(&be, 1, "after the hit on a new connection");

    // A stage without a [cache] table is not cached.
    let a = c.get("/plain/items/1");
    let b = c.get("/plain/items/1");
    assert_eq!((a.status, b.status), (200, 200));
    assert_ne!(a.body_str(), b.body_str(), "uncached stage served a copy");
    assert_ne!(b.header("x-cache"), Some("Hit"), "{b:?}");
    assert_calls(&be, 3, "uncached stage calls the upstream each time");

    // A route with cache.enabled = false is not cached.
    let a = c.get("/prod/off/1");
    let b = c.get("/prod/off/1");
    assert_eq!((a.status, b.status), (200, 200));
    assert_ne!(b.header("x-cache"), Some("Hit"), "{b:?}");
    assert_calls(&be, 5, "route with cache disabled");
}

#[test]
fn only_get_is_cached() {
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[st("prod", Some(""))],
        &[route("ANY", "/any/{id}", "cache = { enabled = true }", "")],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    for i in 0..2 {
        let r = c.request(request("POST", "/prod/any/1", "localhost", &[], b"x"));
        assert_eq!(r.status, 200, "{r:?}");
        assert_ne!(r.header("x-cache"), Some("Hit"), "POST #{i}: {r:?}");
    }
    assert_calls(&be, 2, "POSTs are not cached");

    // POSTs did not fill the entry a GET uses.
    let body = assert_miss(&c.get("/prod/any/1"), "GET after POSTs");
    assert_calls(&be, 3, "GET after POSTs");
    assert_hit(&c.get("/prod/any/1"), &body, "second GET");

    // Other methods are not served from the GET entry.
    for m in ["POST", "PUT", "DELETE"] {
        let r = c.request(request(m, "/prod/any/1", "localhost", &[], b"x"));
        assert_eq!(r.status, 200, "{m}: {r:?}");
        assert_ne!(r.body_str(), body, "{m} served the cached GET");
        assert_ne!(r.header("x-cache"), Some("Hit"), "{m}: {r:?}");
    }
    assert_calls(&be, 6, "POST/PUT/DELETE after a cached GET");
    assert_eq!(
        be.seen()[3..].to_vec(),
        vec![
            "POST /any/1".to_string(),
            "PUT /any/1".into(),
            "DELETE /any/1".into()
        ]
    );
}

#[test]
fn cache_header_name_is_configurable() {
    let be = Backend::start();
    let cfg = items_config(&be.addr(), "", "").cache("header", "\"x-edge-cache\"");
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let r = c.get("/prod/items/1");
    assert_eq!(r.header_all("x-edge-cache"), vec!["Miss"], "{r:?}");
    assert!(r.header("x-cache").is_none(), "{r:?}");
    let h = c.get("/prod/items/1");
    assert_eq!(h.header_all("x-edge-cache"), vec!["Hit"], "{h:?}");
    assert!(h.header("x-cache").is_none(), "{h:?}");
    assert_eq!(h.body_str(), r.body_str());
    assert_calls(&be, 1, "custom header name");
    drop(srv);

    // header = "": no Hit/Miss header at all, still cached.
    let be = Backend::start();
    let cfg = items_config(&be.addr(), "", "").cache("header", "\"\"");
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let r = c.get("/prod/items/1");
    let h = c.get("/prod/items/1");
    assert_eq!((r.status, h.status), (200, 200));
    assert_eq!(
        h.body_str(),
        r.body_str(),
        "second call not served from cache"
    );
    assert_calls(&be, 1, "header = \"\" still caches");
    for resp in [&r, &h] {
        let bad: Vec<_> = resp
            .headers
            .iter()
            .filter(|(_, v)| v == "Hit" || v == "Miss")
            .collect();
        assert!(bad.is_empty(), "header = \"\" but got {bad:?}");
    }
}

#[test]
fn cache_key_params() {
    let be = Backend::start();
    let cfg = items_config(
        &be.addr(),
        "",
        "cache = { key_query = [\"lang\"], key_headers = [\"accept-language\"] }",
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    // Unnamed query parameters are ignored: one entry for lang=en.
    let en = assert_miss(&c.get("/prod/items/1?lang=en&x=1"), "lang=en x=1");
    assert_eq!(en, "/items/1?lang=en&x=1 #1");
    assert_hit(&c.get("/prod/items/1?lang=en&x=2"), &en, "lang=en x=2");
    assert_hit(&c.get("/prod/items/1?x=3&lang=en"), &en, "x=3 lang=en");
    assert_calls(&be, 1, "unnamed query params share an entry");

    // A named query parameter is part of the key.
    let fr = assert_miss(&c.get("/prod/items/1?lang=fr&x=1"), "lang=fr");
    assert_calls(&be, 2, "lang=fr is a new entry");
    assert_hit(&c.get("/prod/items/1?lang=fr"), &fr, "lang=fr again");
    assert_hit(&c.get("/prod/items/1?lang=en"), &en, "lang=en again");
    assert_calls(&be, 2, "both lang entries kept");

    // A named header is part of the key.
    let q = "/prod/items/1?lang=en";
    let h_en = assert_miss(
        &c.request(get_with(q, &[("Accept-Language", "en")])),
        "accept-language en",
    );
    let h_fr = assert_miss(
        &c.request(get_with(q, &[("Accept-Language", "fr")])),
        "accept-language fr",
    );
    assert_ne!(h_en, h_fr);
    assert_calls(&be, 4, "accept-language en and fr are two entries");
    assert_hit(
        &c.request(get_with(q, &[("accept-language", "en")])),
        &h_en,
        "accept-language en again (lower-case name)",
    );
    // An unnamed header is not.
    assert_hit(
        &c.request(get_with(
            q,
            &[("Accept-Language", "fr"), ("X-Other", "something")],
        )),
        &h_fr,
        "accept-language fr with another header",
    );
    assert_calls(&be, 4, "unnamed header shares the entry");

    // Path parameters are part of the key.
    let two = assert_miss(&c.get("/prod/items/2?lang=en&x=1"), "/items/2");
    assert_ne!(two, en);
    assert_calls(&be, 5, "/items/2 is a new entry");
    assert_hit(
        &c.get("/prod/items/1?lang=en&x=9"),
        &en,
        "/items/1 still cached",
    );
    assert_calls(&be, 5, "end");
}

/// An upstream whose answer is made of what it was sent that the cache key
/// might miss: `x-forwarded-host`, the target and every `accept-language`,
/// with a call count.
fn echoing_backend() -> (Upstream, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let up = Upstream::start(move |rec| {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        let body = format!(
            "{} {} {:?} #{n}",
            rec.header("x-forwarded-host").unwrap_or("-"),
            rec.target,
            rec.header_all("accept-language"),
        );
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            body.as_bytes(),
        ))
    });
    (up, calls)
}

#[test]
fn what_reaches_the_upstream_is_in_the_key_host_and_repeated_values() {
    let (up, calls) = echoing_backend();
    let cfg = items_config(
        &up.addr(),
        "",
        "cache = { key_query = [\"lang\"], key_headers = [\"accept-language\"] }",
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let q = "/prod/items/1?lang=en";

    // A client with another Host primes an entry: others do not get it.
    let evil = c.request(request("GET", q, "evil.example", &[], b""));
    assert!(assert_miss(&evil, "Host evil.example").starts_with("evil.example "));
    let good = assert_miss(&c.get(q), "Host localhost after evil.example");
    assert!(good.starts_with("localhost "), "{good}");
    assert_hit(&c.get(q), &good, "Host localhost again");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one entry per Host");

    // A repeated keyed parameter reaches the upstream whole: keyed whole, in order.
    let both = assert_miss(
        &c.get("/prod/items/1?lang=en&lang=EVIL"),
        "lang=en&lang=EVIL",
    );
    assert!(both.contains("lang=en&lang=EVIL"), "{both}");
    assert_hit(&c.get(q), &good, "lang=en is still its own entry");
    assert_miss(&c.get("/prod/items/1?lang=EVIL&lang=en"), "the other order");
    assert_hit(
        &c.get("/prod/items/1?lang=en&lang=EVIL"),
        &both,
        "the same values in the same order",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    // So is a repeated keyed header.
    let en = assert_miss(
        &c.request(get_with(q, &[("Accept-Language", "en")])),
        "accept-language en",
    );
    let two = assert_miss(
        &c.request(get_with(
            q,
            &[("Accept-Language", "en"), ("Accept-Language", "EVIL")],
        )),
        "accept-language en, EVIL",
    );
    assert!(two.contains(r#"["en", "EVIL"]"#), "{two}");
    assert_hit(
        &c.request(get_with(q, &[("Accept-Language", "en")])),
        &en,
        "one accept-language: its own entry",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

#[test]
fn uncacheable_responses_are_not_stored() {
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[
            st("prod", Some("max_item_bytes = 1000")),
            st("strict", Some("statuses = [200]")),
        ],
        &[
            route("GET", "/items/{id}", "", ""),
            route(
                "GET",
                "/cookie/{id}",
                "cache = { allow_set_cookie = true }",
                "",
            ),
        ],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    // (path, status, what): each delivered twice with x-cache Miss, both
    // calls reach the upstream.
    let not_stored = [
        ("/prod/items/nostore", 200, 0, "cache-control no-store"),
        ("/prod/items/private", 200, 0, "cache-control private"),
        (
            "/prod/items/cookie",
            200,
            0,
            "set-cookie without allow_set_cookie",
        ),
        ("/prod/items/e500", 500, 0, "status 500 (not 2xx)"),
        ("/prod/items/big1001", 200, 1001, "body over max_item_bytes"),
        ("/strict/items/s201", 201, 0, "201 with statuses = [200]"),
    ];
    for (path, status, len, what) in not_stored {
        let before = be.calls();
        let mut bodies = Vec::new();
        for i in 0..2 {
            let r = c.get(path);
            let ctx = format!("{what} #{i}");
            assert_eq!(r.status, status, "{}", ctx_of(&r, &ctx));
            assert_xcache(&r, "Miss", &ctx);
            if len > 0 {
                assert_eq!(r.body.len(), len, "{ctx}: body length");
            }
            bodies.push(r.body_str());
        }
        assert_ne!(bodies[0], bodies[1], "{what}: second body is a copy");
        assert_calls(&be, before + 2, what);
    }
    // The set-cookie of a not-stored response is still delivered.
    let r = c.get("/prod/items/cookie");
    assert_eq!(r.header("set-cookie"), Some("session=abc; Path=/"), "{r:?}");

    // Stored: any 2xx by default, cache-control public, a body of exactly
    // max_item_bytes, a chunked body, set-cookie where allowed.
    let stored = [
        (
            "/prod/items/s201",
            201,
            "201 with default statuses (any 2xx)",
        ),
        ("/prod/items/public", 200, "cache-control public"),
        ("/prod/items/big1000", 200, "body of exactly max_item_bytes"),
        (
            "/prod/cookie/cookie",
            200,
            "set-cookie with allow_set_cookie",
        ),
        ("/strict/items/ok", 200, "200 with statuses = [200]"),
    ];
    for (path, status, what) in stored {
        let before = be.calls();
        let r = c.get(path);
        assert_eq!(r.status, status, "{}", ctx_of(&r, what));
        assert_xcache(&r, "Miss", what);
        let h = c.get(path);
        assert_eq!(h.status, status, "{}", ctx_of(&h, what));
        assert_xcache(&h, "Hit", what);
        assert_eq!(h.body, r.body, "{what}: hit body");
        age_of(&h, what);
        assert_calls(&be, before + 1, what);
        if path.contains("cookie") {
            assert_eq!(
                h.header("set-cookie"),
                Some("session=abc; Path=/"),
                "{what}: stored set-cookie replayed; {h:?}"
            );
        }
    }
}

#[test]
fn chunked_upstream_body_is_stored() {
    let be = Backend::start();
    let srv = Server::start(&items_config(&be.addr(), "", ""));
    let mut c = srv.connect();
    let r = c.get("/prod/items/chunked");
    let body = assert_miss(&r, "chunked fill");
    assert_eq!(body, "/items/chunked #1");
    let h = c.get("/prod/items/chunked");
    assert_hit(&h, &body, "chunked again");
    assert_calls(&be, 1, "chunked body stored");
}

#[test]
fn head_is_served_from_a_cached_get() {
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[st("prod", Some(""))],
        &[route("ANY", "/any/{id}", "cache = { enabled = true }", "")],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    // HEAD on an empty cache goes upstream and does not fill the cache.
    c.send(head("/prod/any/1"));
    let r = c.read_head_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_ne!(r.header("x-cache"), Some("Hit"), "{r:?}");
    assert_calls(&be, 1, "HEAD miss");
    assert_eq!(be.seen(), vec!["HEAD /any/1".to_string()]);
    let body = assert_miss(&c.get("/prod/any/1"), "GET after a HEAD miss");
    assert_calls(&be, 2, "GET after a HEAD miss goes upstream");

    // Now HEAD is a hit: same head, content-length of the body, no body.
    c.send(head("/prod/any/1"));
    let h = c.read_head_response();
    assert_eq!(h.status, 200, "{h:?}");
    assert_xcache(&h, "Hit", "HEAD after GET");
    age_of(&h, "HEAD after GET");
    assert_eq!(
        h.header("content-length"),
        Some(body.len().to_string().as_str()),
        "HEAD hit content-length; {h:?}"
    );
    assert_eq!(h.header("content-type"), Some("text/plain"), "{h:?}");
    // No body bytes: the next response on the connection parses cleanly.
    assert_hit(&c.get("/prod/any/1"), &body, "GET after the HEAD hit");
    assert_calls(&be, 2, "HEAD hit does not call the upstream");
}

#[test]
fn ttl_override_and_zero_ttl() {
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[
            st("prod", Some("ttl_s = 300")),
            st("off", Some("ttl_s = 0")),
        ],
        &[
            route("GET", "/items/{id}", "", ""),
            route("GET", "/short/{id}", "cache = { ttl_s = 1 }", ""),
            route("GET", "/zero/{id}", "cache = { ttl_s = 0 }", ""),
        ],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    // ttl_s = 0 on the route or on the stage: never stored.
    for path in ["/prod/zero/1", "/off/items/1"] {
        let before = be.calls();
        let a = c.get(path);
        let b = c.get(path);
        assert_eq!((a.status, b.status), (200, 200));
        assert_ne!(b.header("x-cache"), Some("Hit"), "{path}: {b:?}");
        assert_calls(&be, before + 2, path);
    }

    // Route ttl_s = 1: a hit at once, a miss (refetch) within a few seconds.
    let before = be.calls();
    let filled = Instant::now();
    let body = assert_miss(&c.get("/prod/short/1"), "ttl 1 fill");
    let age = assert_hit(&c.get("/prod/short/1"), &body, "ttl 1 at once");
    assert!(age <= 1, "age {age} with ttl 1");
    let deadline = filled + Duration::from_secs(4);
    loop {
        let r = c.get("/prod/short/1");
        assert_eq!(r.status, 200, "{r:?}");
        if r.header("x-cache") == Some("Miss") {
            assert_ne!(r.body_str(), body, "expired entry: want a fresh body");
            assert_calls(&be, before + 2, "one refetch after expiry");
            // `filled` was taken before the fill was sent: the entry lived
            // at most this long. A TTL is a minimum lifetime (100 ms of
            // slack for a coarse worker clock).
            let lived = filled.elapsed();
            assert!(
                lived >= Duration::from_millis(900),
                "ttl_s = 1 entry expired after {lived:?}, before its TTL"
            );
            break;
        }
        let age = assert_hit(&r, &body, "ttl 1 before expiry");
        assert!(age <= 1, "hit with age {age} > ttl 1");
        assert!(
            Instant::now() < deadline,
            "ttl_s = 1 entry still served {:?} after storing",
            filled.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50)); // poll interval
    }
    // The stage's ttl (300) still holds for the other route.
    let b = assert_miss(&c.get("/prod/items/1"), "stage ttl fill");
    assert_hit(&c.get("/prod/items/1"), &b, "stage ttl hit");
}

#[test]
fn capacity_bounds_the_entries() {
    // 4 KiB on one worker, 1000-byte bodies: at most 4 entries at a time.
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[st(
            "prod",
            Some("capacity = \"4KB\"\nmax_item_bytes = 2000"),
        )],
        &[route("GET", "/items/{id}/{size}", "", "")],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    for i in 0..20 {
        let r = c.get(&format!("/prod/items/{i}/big1000"));
        assert_miss(&r, &format!("fill {i}"));
        assert_eq!(r.body.len(), 1000);
    }
    assert_calls(&be, 20, "20 fills");
    // The newest entry fits.
    let last = c.get("/prod/items/19/big1000");
    assert_xcache(&last, "Hit", "newest entry");
    // At most 4 of the 20 can still be there.
    let mut hits = 0;
    for i in 0..20 {
        let r = c.get(&format!("/prod/items/{i}/big1000"));
        assert_eq!(r.status, 200);
        if r.header("x-cache") == Some("Hit") {
            hits += 1;
        }
    }
    assert!(
        hits <= 4,
        "{hits} of 20 1000-byte entries served from a 4 KB cache"
    );
}

// ---------------------------------------------------------------------------
// Cache-Control: max-age=0
// ---------------------------------------------------------------------------

#[test]
fn max_age_0_refreshes_without_require_authorization() {
    let be = Backend::start();
    let cfg = items_config(&be.addr(), "require_authorization = false", "");
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    let old = assert_miss(&c.get("/prod/items/1"), "fill");
    assert_hit(&c.get("/prod/items/1"), &old, "hit");
    let r = c.request(get_max_age_0("/prod/items/1", &[]));
    let new = assert_miss(&r, "max-age=0");
    assert_ne!(new, old, "max-age=0 served the old entry");
    assert_calls(&be, 2, "max-age=0 refetches");
    assert_hit(&c.get("/prod/items/1"), &new, "plain GET after the refresh");
    assert_calls(&be, 2, "after the refresh");
}

/// Stages `prod` (FAIL_WITH_403), `with` (SUCCEED_WITH_RESPONSE_HEADER),
/// `without` (SUCCEED_WITHOUT_RESPONSE_HEADER), `dflt` (all defaults);
/// routes `GET /items/{id}` and `GET /keyed/{id}` (key required); plan gold
/// over every stage with key alice.
fn strategies_config(backend: &str) -> Config {
    let stages = [
        st("prod", Some("unauthorized_strategy = \"FAIL_WITH_403\"")),
        st(
            "with",
            Some("require_authorization = true\nunauthorized_strategy = \"SUCCEED_WITH_RESPONSE_HEADER\""),
        ),
        st(
            "without",
            Some("unauthorized_strategy = \"SUCCEED_WITHOUT_RESPONSE_HEADER\""),
        ),
        st("dflt", Some("")),
    ];
    let text = api(
        backend,
        &stages,
        &[
            route("GET", "/items/{id}", "", ""),
            route("GET", "/keyed/{id}", "api_key_required = true", ""),
        ],
    );
    let plan = "\n[[usage_plans]]\nname = \"gold\"\napi_stages = [ \
                { api = \"a\", stage = \"prod\" }, { api = \"a\", stage = \"with\" }, \
                { api = \"a\", stage = \"without\" }, { api = \"a\", stage = \"dflt\" } ]\n";
    let alice = key_toml(
        "alice",
        &format!("id = \"alice-id\"\nvalue = \"{ALICE}\""),
        &["gold"],
    );
    Config::new(&text).append(plan).append(&alice)
}

#[test]
fn max_age_0_unauthorized_strategies() {
    let be = Backend::start();
    let srv = Server::start(&strategies_config(&be.addr()));
    let mut c = srv.connect();

    // FAIL_WITH_403: 403 Forbidden, the upstream not called, entry kept.
    let body = assert_miss(&c.get("/prod/items/1"), "prod fill");
    let r = c.request(get_max_age_0("/prod/items/1", &[]));
    assert_error_in(&r, 403, FORBIDDEN, "FAIL_WITH_403, max-age=0");
    assert_calls(&be, 1, "FAIL_WITH_403");
    // A valid key on a route that does not require one does not authorize.
    let r = c.request(get_max_age_0("/prod/items/1", &[("x-api-key", ALICE)]));
    assert_error_in(
        &r,
        403,
        FORBIDDEN,
        "FAIL_WITH_403, max-age=0 + key on an open route",
    );
    assert_hit(&c.get("/prod/items/1"), &body, "prod plain after 403");
    assert_calls(&be, 1, "FAIL_WITH_403 keeps the entry");

    // SUCCEED_WITH_RESPONSE_HEADER (explicit and default): served from
    // the cache with a `warning: 199 ...` header.
    for stage in ["with", "dflt"] {
        let before = be.calls();
        let path = format!("/{stage}/items/1");
        let body = assert_miss(&c.get(&path), &format!("{stage} fill"));
        let r = c.request(get_max_age_0(&path, &[]));
        let ctx = format!("{stage}: unauthorized max-age=0");
        assert_hit(&r, &body, &ctx);
        let w = r.header_all("warning");
        assert!(
            w.iter().any(|v| v.contains("199")),
            "{ctx}: no warning with 199; {r:?}"
        );
        assert_calls(&be, before + 1, &ctx);
        let plain = c.get(&path);
        assert_hit(&plain, &body, &format!("{stage} plain"));
        assert!(
            plain.header("warning").is_none(),
            "warning on a plain hit: {plain:?}"
        );
    }

    // SUCCEED_WITHOUT_RESPONSE_HEADER: served from the cache, no warning.
    let before = be.calls();
    let body = assert_miss(&c.get("/without/items/1"), "without fill");
    let r = c.request(get_max_age_0("/without/items/1", &[]));
    assert_hit(&r, &body, "without: unauthorized max-age=0");
    assert!(r.header("warning").is_none(), "warning header: {r:?}");
    assert_calls(&be, before + 1, "SUCCEED_WITHOUT_RESPONSE_HEADER");
}

#[test]
fn max_age_0_with_valid_key_refreshes() {
    let be = Backend::start();
    let srv = Server::start(&strategies_config(&be.addr()));
    let mut c = srv.connect();

    // prod is FAIL_WITH_403, but a key-required route with a valid key
    // may invalidate.
    let old = assert_miss(
        &c.request(get_with_key("/prod/keyed/1", ALICE)),
        "keyed fill",
    );
    assert_hit(
        &c.request(get_with_key("/prod/keyed/1", ALICE)),
        &old,
        "keyed hit",
    );
    assert_calls(&be, 1, "keyed fill");
    let r = c.request(get_max_age_0("/prod/keyed/1", &[("x-api-key", ALICE)]));
    let new = assert_miss(&r, "authorized max-age=0");
    assert_ne!(new, old);
    assert!(r.header("warning").is_none(), "{r:?}");
    assert_calls(&be, 2, "authorized max-age=0 refetches");
    assert_hit(
        &c.request(get_with_key("/prod/keyed/1", ALICE)),
        &new,
        "after the authorized refresh",
    );
    // Without the key the route itself refuses (key check).
    let r = c.request(get_max_age_0("/prod/keyed/1", &[]));
    assert_error_in(&r, 403, FORBIDDEN, "keyed route, no key");
    assert_calls(&be, 2, "end");
}

// ---------------------------------------------------------------------------
// Flushing
// ---------------------------------------------------------------------------

/// GET `path` on fresh connections until the upstream has been called
/// `want` times in all (bounded); every answer 200. Panics if it is called
/// more often, or never gets there.
fn fresh_until(srv: &Server, be: &Backend, path: &str, want: usize, ctx: &str) {
    for i in 0..300 {
        if be.calls() == want {
            return;
        }
        let r = srv.connect().get(path);
        assert_eq!(r.status, 200, "{ctx} conn {i}: {r:?}");
        assert!(
            be.calls() <= want,
            "{ctx}: upstream called {} times, want at most {want} (one per worker)",
            be.calls()
        );
    }
    panic!(
        "{ctx}: upstream called {} times after 300 fresh connections, want {want}",
        be.calls()
    );
}

/// 20 fresh connections, each GET `path` once: all hits.
fn fresh_all_hit(srv: &Server, path: &str, ctx: &str) {
    for i in 0..20 {
        let r = srv.connect().get(path);
        assert_xcache(&r, "Hit", &format!("{ctx} conn {i}"));
    }
}

#[test]
fn flush_reaches_every_shard() {
    let be = Backend::start();
    let cfg = items_config(&be.addr(), "", "")
        .server("workers", "2")
        .admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);
    let path = "/prod/items/1";

    // Warm both workers' shards: one upstream call each, then none.
    fresh_until(&srv, &be, path, 2, "warming");
    fresh_all_hit(&srv, path, "warm");
    assert_calls(&be, 2, "20 connections on warm shards");

    // Missing and wrong tokens: 401, nothing flushed.
    let r = srv.admin_request("POST", "/cache/flush?api=a&stage=prod", None);
    assert_error_in(&r, 401, "Unauthorized", "flush without a token");
    let r = srv.admin_request(
        "POST",
        "/cache/flush?api=a&stage=prod",
        Some("wrong-token-0123456789"),
    );
    assert_error_in(&r, 401, "Unauthorized", "flush with a wrong token");
    fresh_all_hit(&srv, path, "after refused flushes");
    assert_calls(&be, 2, "refused flushes");

    // Flush: every worker refetches once (and only once).
    flush_ok(&mut srv, "api=a&stage=prod", 2);
    let r = srv.connect().get(path);
    assert_miss(&r, "first call after the flush");
    fresh_until(&srv, &be, path, 4, "after the admin flush");
    fresh_all_hit(&srv, path, "refilled");
    assert_calls(&be, 4, "refilled shards");

    // The same through `portico cache flush --admin URL`.
    let url = srv.admin_url();
    assert_eq!(flush_cli_ok(&cfg, "prod", Some(&url), &[]), 2);
    fresh_until(&srv, &be, path, 6, "after the CLI flush");
    fresh_all_hit(&srv, path, "refilled after the CLI flush");
    assert_calls(&be, 6, "end");
}

#[test]
fn flush_cli_uses_config_admin_listen_and_token_env() {
    const VAR: &str = "PORTICO_CACHE_TEST_ADMIN_TOKEN";
    let be = Backend::start();
    let port = refused_port();
    let cfg = items_config(&be.addr(), "", "")
        .admin("listen", &format!("\"127.0.0.1:{port}\""))
        .admin("token_env", &toml_str(VAR));
    let env = [(VAR, TOKEN)];
    let mut srv = Server::start_with_env(&cfg, &env);
    assert_eq!(srv.admin_port(), port, "admin listen from the config");

    let path = "/prod/items/1";
    let body = assert_miss(&srv.connect().get(path), "fill");
    assert_hit(&srv.connect().get(path), &body, "hit");

    // A CLI run whose token (from the same token_env) is wrong: refused,
    // nothing flushed.
    let out = flush_cli(&cfg, "prod", None, &[(VAR, "wrong-token-0123456789")]);
    assert!(
        !out.status.success() && out.stderr.contains("refused the admin token"),
        "flush with a wrong token was not refused as unauthorized: {out:?}"
    );
    assert_hit(
        &srv.connect().get(path),
        &body,
        "after the refused CLI flush",
    );
    assert_calls(&be, 1, "refused CLI flush");

    // No --admin: the config's admin.listen; token from token_env.
    assert_eq!(flush_cli_ok(&cfg, "prod", None, &env), 1);
    let new = assert_miss(&srv.connect().get(path), "after the CLI flush");
    assert_ne!(new, body);
    assert_calls(&be, 2, "after the CLI flush");

    // The HTTP endpoint takes the token_env token too.
    flush_ok(&mut srv, "api=a&stage=prod", 1);
    assert_miss(&srv.connect().get(path), "after the HTTP flush");
    assert_calls(&be, 3, "end");
}

#[test]
fn flush_is_scoped_to_the_stage() {
    let be = Backend::start();
    let cfg = Config::new(&api(
        &be.addr(),
        &[st("prod", Some("")), st("dev", Some(""))],
        &[route("GET", "/items/{id}", "", "")],
    ))
    .admin("token", &toml_str(TOKEN));
    let mut srv = Server::start(&cfg);
    let mut c = srv.connect();
    let p = assert_miss(&c.get("/prod/items/1"), "prod fill");
    let d = assert_miss(&c.get("/dev/items/1"), "dev fill");
    assert_hit(&c.get("/prod/items/1"), &p, "prod hit");
    assert_hit(&c.get("/dev/items/1"), &d, "dev hit");

    flush_ok(&mut srv, "api=a&stage=prod", 1);
    assert_miss(&c.get("/prod/items/1"), "prod after its flush");
    assert_hit(&c.get("/dev/items/1"), &d, "dev after prod's flush");
    assert_calls(&be, 3, "end");
}

// ---------------------------------------------------------------------------
// Coalescing and gateway errors
// ---------------------------------------------------------------------------

#[test]
fn concurrent_misses_are_coalesced() {
    let be = Backend::start();
    let srv = Server::start(&items_config(&be.addr(), "", ""));
    let n = 10;
    let barrier = Arc::new(Barrier::new(n));
    let port = srv.port;
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                barrier.wait();
                c.get("/prod/items/slow")
            })
        })
        .collect();
    let rs: Vec<Response> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_calls(&be, 1, "10 concurrent misses on one worker");
    let body = "/items/slow #1";
    let mut hits = 0;
    for (i, r) in rs.iter().enumerate() {
        assert_eq!(r.status, 200, "{}", ctx_of(r, &format!("call {i}")));
        assert_eq!(r.body_str(), body, "call {i}");
        if r.header("x-cache") == Some("Hit") {
            hits += 1;
        }
    }
    assert!(
        hits >= n - 1,
        "{hits} of {n} coalesced calls have x-cache: Hit; {:?}",
        rs.iter().map(|r| r.header("x-cache")).collect::<Vec<_>>()
    );
}

#[test]
fn gateway_errors_are_not_cached() {
    let be = Backend::start();
    // Even with 502 and 504 in `statuses`, the gateway's own errors are
    // not stored; the upstream's own 504 is (the control).
    let cfg = Config::new(&api(
        &be.addr(),
        &[st("prod", Some("statuses = [200, 502, 504]"))],
        &[route("GET", "/items/{id}", "", ", timeout_ms = 300")],
    ));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    // Gateway 502 (the upstream answers garbage): not stored.
    let r = c.get("/prod/items/bad1");
    assert_error(&r, 502, None);
    let mut c = srv.connect();
    let body = assert_miss(&c.get("/prod/items/bad1"), "after the gateway 502");
    assert_hit(&c.get("/prod/items/bad1"), &body, "200 is stored");
    assert_calls(&be, 2, "after the gateway 502");

    // The upstream's own 504 is a stored status.
    let r = c.get("/prod/items/up504");
    assert_eq!(r.status, 504, "{r:?}");
    assert_xcache(&r, "Miss", "upstream 504");
    let h = c.get("/prod/items/up504");
    assert_eq!(h.status, 504, "{h:?}");
    assert_xcache(&h, "Hit", "upstream 504 again");
    assert_eq!(h.body, r.body);
    assert_calls(&be, 3, "upstream 504 stored");

    // Gateway 504 (route timeout): not stored.
    let mut c = srv.connect();
    let r = c.get("/prod/items/stall1");
    assert_error(&r, 504, Some(TIMED_OUT));
    let mut c = srv.connect();
    let body = assert_miss(&c.get("/prod/items/stall1"), "after the gateway 504");
    assert_calls(&be, 5, "after the gateway 504");
    assert_hit(&c.get("/prod/items/stall1"), &body, "200 is stored");

    assert_calls(&be, 5, "gateway errors: end");
}

#[test]
fn hits_are_still_admitted() {
    let be = Backend::start();
    let thr = Stage {
        name: "thr",
        cache: Some(""),
        lines: "throttle = { rate = 0.1, burst = 2 }",
    };
    let cfg = Config::new(&api(
        &be.addr(),
        &[st("prod", Some("")), thr],
        &[
            route("GET", "/items/{id}", "", ""),
            route("GET", "/keyed/{id}", "api_key_required = true", ""),
        ],
    ))
    .append(&gold_plan_alice_bob("a", "", ""));
    let srv = Server::start(&cfg);
    let mut c = srv.connect();

    // A cached answer of a key-required route is no answer for a caller
    // without a valid key.
    let body = assert_miss(
        &c.request(get_with_key("/prod/keyed/1", ALICE)),
        "alice fill",
    );
    assert_hit(
        &c.request(get_with_key("/prod/keyed/1", ALICE)),
        &body,
        "alice hit",
    );
    assert_error_in(&c.get("/prod/keyed/1"), 403, FORBIDDEN, "no key");
    assert_error_in(
        &c.request(get_with_key("/prod/keyed/1", "unknown-key-0123456789abc")),
        403,
        FORBIDDEN,
        "unknown key",
    );
    assert_calls(&be, 1, "keyed");

    // Hits count against the stage throttle: burst 2, then 429.
    let body = assert_miss(&c.get("/thr/items/1"), "throttled stage fill");
    assert_hit(&c.get("/thr/items/1"), &body, "throttled stage hit");
    let r = c.get("/thr/items/1");
    assert_429(&r, TOO_MANY);
    assert_calls(&be, 2, "throttled stage");
}

// ---------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------

/// A valid cached config whose lines the cases below break.
fn base_text() -> String {
    Config::new(&api(
        NO_BACKEND,
        &[st(
            "prod",
            Some(
                "capacity = \"16MB\"\nttl_s = 300\nstatuses = [200]\nmax_item_bytes = 1048576\n\
                 require_authorization = true\nunauthorized_strategy = \"SUCCEED_WITH_RESPONSE_HEADER\"\n\
                 coalesce_wait_ms = 1000",
            ),
        )],
        &[route(
            "GET",
            "/items/{id}",
            "cache = { enabled = true, ttl_s = 60, key_query = [\"lang\"], key_headers = [\"accept-language\"], allow_set_cookie = false }",
            "",
        )],
    ))
    .cache("header", "\"x-cache\"")
    .admin("token", &toml_str(TOKEN))
    .render()
}

fn assert_rejected(prefix: &str, with: &str, keys: &[&str]) {
    let (text, line, header) = break_line(&base_text(), prefix, with);
    let what = format!("line {line} `{with}` (table at line {header})");
    assert_config_rejected(&text, header..=line, keys, &what);
}

#[test]
fn cache_config_accepts_documented_values() {
    for (prefix, with) in [
        ("capacity", "capacity = 1048576"),
        ("capacity", "capacity = \"512KB\""),
        ("capacity", "capacity = \"64MB\""),
        ("capacity", "capacity = \"0.5GB\""),
        ("ttl_s", "ttl_s = 0"),
        ("ttl_s", "ttl_s = 3600"),
        (
            "unauthorized_strategy",
            "unauthorized_strategy = \"FAIL_WITH_403\"",
        ),
        (
            "unauthorized_strategy",
            "unauthorized_strategy = \"SUCCEED_WITHOUT_RESPONSE_HEADER\"",
        ),
    ] {
        let text = break_line(&base_text(), prefix, with).0;
        let path = write_config(&text);
        let out = check_config(&path);
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "`{with}` rejected: {}\nconfig:\n{text}",
            out.stderr
        );
    }
}

#[test]
fn cache_config_errors() {
    assert_rejected("ttl_s = 300", "ttl_s = 4000", &["ttl_s"]);
    assert_rejected("capacity", "capacity = \"12XB\"", &["capacity"]);
    assert_rejected(
        "unauthorized_strategy",
        "unauthorized_strategy = \"NOPE\"",
        &["unauthorized_strategy"],
    );
    // A route's ttl_s over the maximum too.
    assert_rejected(
        "cache = { enabled = true",
        "cache = { ttl_s = 4000 }",
        &["ttl_s"],
    );
    // Unknown keys in the stage and route cache tables.
    assert_rejected(
        "coalesce_wait_ms",
        "coalesce_wait = 1000",
        &["coalesce_wait"],
    );
    assert_rejected(
        "cache = { enabled = true",
        "cache = { enabled = true, key_querys = [\"lang\"] }",
        &["key_querys"],
    );
}
