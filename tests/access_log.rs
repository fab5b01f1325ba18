//! Per-stage access logs (JSON and CLF presets, `$context` templates),
//! their reopen on SIGUSR1, the config error for an unknown variable, the
//! flush on a clean stop, and the CloudWatch EMF lines written at shutdown.
mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------
// Log files
// ---------------------------------------------------------------------------

/// A temp file path, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(prefix: &str) -> TempFile {
        TempFile(temp_path(prefix, "log"))
    }
    fn toml(&self) -> String {
        toml_str(&self.0.to_string_lossy())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn lines_of(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => {
            assert!(
                t.is_empty() || t.ends_with('\n'),
                "{} ends in a partial line: {t:?}",
                path.display()
            );
            t.lines().map(str::to_string).collect()
        }
        Err(_) => Vec::new(),
    }
}

/// Polls `path` until it holds at least `n` lines (bounded); returns them.
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    poll_until(
        POLL_FOR,
        || lines_of(path),
        |lines| lines.len() >= n,
        |lines| {
            format!(
                "{} has {} lines after {POLL_FOR:?}, want {n}: {lines:#?}",
                path.display(),
                lines.len()
            )
        },
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `25/Nov/2026:12:03:21 +0000` → Unix seconds (panics on another shape).
fn clf_time(s: &str) -> i64 {
    assert_eq!(s.len(), 26, "requestTime {s:?}");
    assert!(s.ends_with(" +0000"), "requestTime {s:?} is not UTC");
    chrono::DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z")
        .unwrap_or_else(|e| panic!("requestTime {s:?}: {e}"))
        .timestamp()
}

/// The time lies within the test's window (whole seconds, a tick late at most).
fn assert_time_between(s: &str, from_ms: u64, to_ms: u64) {
    let t = clf_time(s);
    assert!(
        t >= (from_ms / 1000) as i64 - 1 && t <= (to_ms / 1000) as i64 + 1,
        "requestTime {s:?} outside the test's window [{from_ms}, {to_ms}] ms"
    );
}

fn as_ms(v: &str, what: &str) -> u64 {
    v.parse()
        .unwrap_or_else(|_| panic!("{what} is not a whole number of ms: {v:?}"))
}

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

/// Routes of API `logs`: `GET /items/{id}` (mock), `ANY /proxy/{proxy+}`
/// (to the stage's backend), `GET /keyed` (mock, key required), `GET /down`
/// (a closed port), `GET /limited` (mock).
fn routes(down: u16) -> String {
    let mut s = mock_route("GET", "/items/{id}", false, "item");
    s += &mock_route("GET", "/keyed", true, "keyed");
    s += &mock_route("GET", "/limited", false, "limited");
    s += "[[api.routes]]\nmethod = \"ANY\"\npath = \"/proxy/{proxy+}\"\n\
          integration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/{proxy}\" }\n\n";
    s += &format!(
        "[[api.routes]]\nmethod = \"GET\"\npath = \"/down\"\n\
         integration = {{ type = \"http_proxy\", uri = \"http://127.0.0.1:{down}/down\" }}\n\n"
    );
    s
}

/// `[api.stages.NAME]` on `backend` with `lines`, and its access log.
fn stage(name: &str, backend: &str, lines: &str, log: &TempFile, format: &str) -> String {
    format!(
        "[api.stages.{name}]\nvariables = {{ backend = \"{backend}\" }}\n{lines}\n\n\
         [api.stages.{name}.access_log]\ndestination = {}\nformat = {}\n\n",
        log.toml(),
        toml_str(format)
    )
}

/// API `logs` (id `logs-id`, any host) with `stages` text, one worker.
fn logs_config(stages: &str, down: u16) -> Config {
    Config::new(&format!(
        "[[api]]\nname = \"logs\"\nid = \"logs-id\"\nhosts = []\n\n{stages}{}",
        routes(down)
    ))
}

/// Answers `201 created:TARGET` to a POST and `200 up:TARGET` otherwise.
fn upstream() -> Upstream {
    Upstream::start(|rec| {
        let status = if rec.method == "POST" { 201 } else { 200 };
        let word = if status == 201 { "created" } else { "up" };
        Reply::Send(http_response(
            status,
            &[("content-type", "text/plain")],
            format!("{word}:{}", rec.target).as_bytes(),
        ))
    })
}

// ---------------------------------------------------------------------------
// 5. The JSON preset
// ---------------------------------------------------------------------------

const JSON_KEYS: [&str; 16] = [
    "requestId",
    "ip",
    "requestTime",
    "httpMethod",
    "resourcePath",
    "path",
    "status",
    "protocol",
    "responseLength",
    "responseLatency",
    "integrationLatency",
    "integrationStatus",
    "apiKeyId",
    "stage",
    "apiId",
    "errorMessage",
];

/// One parsed JSON line: every key present, every value a string.
fn json_line(line: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {line}"));
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = JSON_KEYS.to_vec();
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want, "keys of {line}");
    obj.iter()
        .map(|(k, v)| {
            let s = v
                .as_str()
                .unwrap_or_else(|| panic!("{k} is not a string in {line}"));
            (k.clone(), s.to_string())
        })
        .collect()
}

/// What the line of a call must say besides what its answer shows.
struct Want<'a> {
    answer: &'a Answer,
    method: &'a str,
    resource: &'a str,
    path: &'a str,
    protocol: &'a str,
    integration: Option<u16>,
    key: &'a str,
    error: &'a str,
}

fn check_json(line: &BTreeMap<String, String>, w: &Want<'_>, from_ms: u64, to_ms: u64) {
    let a = w.answer;
    let ctx = format!("line {line:#?}\nfor answer {a:?}");
    let f = |k: &str| line[k].as_str();
    assert_eq!(f("requestId"), a.request_id(), "requestId; {ctx}");
    assert_eq!(f("ip"), "127.0.0.1", "{ctx}");
    assert_time_between(f("requestTime"), from_ms, to_ms);
    assert_eq!(f("httpMethod"), w.method, "{ctx}");
    assert_eq!(f("resourcePath"), w.resource, "{ctx}");
    assert_eq!(f("path"), w.path, "{ctx}");
    assert_eq!(f("status"), a.status.to_string(), "{ctx}");
    assert_eq!(f("protocol"), w.protocol, "{ctx}");
    assert_eq!(
        f("responseLength"),
        a.bytes.to_string(),
        "responseLength vs bytes received; {ctx}"
    );
    let latency = as_ms(f("responseLatency"), "responseLatency");
    assert!(latency < 5_000, "responseLatency; {ctx}");
    match w.integration {
        Some(status) => {
            assert_eq!(f("integrationStatus"), status.to_string(), "{ctx}");
            let il = as_ms(f("integrationLatency"), "integrationLatency");
            assert!(il <= latency, "integrationLatency > responseLatency; {ctx}");
        }
        None => {
            assert_eq!(f("integrationStatus"), "-", "{ctx}");
            assert_eq!(f("integrationLatency"), "-", "{ctx}");
        }
    }
    assert_eq!(f("apiKeyId"), w.key, "{ctx}");
    assert_eq!(f("stage"), "prod", "{ctx}");
    assert_eq!(f("apiId"), "logs-id", "{ctx}");
    assert_eq!(f("errorMessage"), w.error, "{ctx}");
}

#[test]
fn json_lines_hold_each_field_of_each_call() {
    let up = upstream();
    let log = TempFile::new("json");
    let prod = stage(
        "prod",
        &up.addr(),
        "route_throttle = { \"GET /limited\" = { rate = 0.001, burst = 1 } }",
        &log,
        "json",
    );
    let alice = alice_key_toml(&["gold"]);
    let cfg = logs_config(&prod, refused_port())
        .append(&(plan_toml("gold", "", "logs", "prod", "") + &alice));
    let srv = Server::start(&cfg);
    let from_ms = now_ms();
    let mut c = Raw::connect(srv.port);
    let mut wants: Vec<(Answer, Want<'static>)> = Vec::new();
    let mut expect = |a: Answer, w: Want<'static>| wants.push((a, w));
    let plain = |method, resource, path| Want {
        answer: &DUMMY,
        method,
        resource,
        path,
        protocol: "HTTP/1.1",
        integration: None,
        key: "-",
        error: "-",
    };

    let a = c.call(get("/prod/items/42?x=1&y=two").as_bytes());
    assert_status(&a, 200, "mock");
    expect(a, plain("GET", "/items/{id}", "/prod/items/42?x=1&y=two"));

    let a = call_once(
        srv.port,
        b"GET /prod/items/43 HTTP/1.0\r\nHost: localhost\r\n\r\n",
    );
    assert_status(&a, 200, "HTTP/1.0 mock");
    expect(
        a,
        Want {
            protocol: "HTTP/1.0",
            ..plain("GET", "/items/{id}", "/prod/items/43")
        },
    );

    let a = c.call(&get_with(
        "/prod/items/44",
        &[("x-request-id", "trace-abc-123")],
    ));
    assert_status(&a, 200, "mock with a client's request id");
    assert_ne!(
        a.request_id(),
        "trace-abc-123",
        "the client's id is not the log's requestId"
    );
    expect(a, plain("GET", "/items/{id}", "/prod/items/44"));

    let a = c.call(&request(
        "POST",
        "/prod/proxy/orders?src=t",
        "localhost",
        &[("content-type", "text/plain")],
        b"order 1",
    ));
    assert_status(&a, 201, "proxied POST");
    assert_eq!(a.body_str(), "created:/orders?src=t");
    expect(
        a,
        Want {
            integration: Some(201),
            ..plain("POST", "/proxy/{proxy+}", "/prod/proxy/orders?src=t")
        },
    );

    let a = c.call(&get_with_key("/prod/keyed", ALICE));
    assert_status(&a, 200, "keyed call");
    expect(
        a,
        Want {
            key: "alice-id",
            ..plain("GET", "/keyed", "/prod/keyed")
        },
    );

    let a = c.call(get("/prod/keyed").as_bytes());
    assert_status(&a, 403, "keyed route without a key");
    expect(
        a,
        Want {
            error: FORBIDDEN,
            ..plain("GET", "/keyed", "/prod/keyed")
        },
    );

    let a = c.call(get("/prod/nope?z=9").as_bytes());
    assert_status(&a, 403, "unknown route");
    expect(
        a,
        Want {
            error: MISSING_TOKEN,
            ..plain("GET", "-", "/prod/nope?z=9")
        },
    );

    // A connection of its own: a failed proxy call spoils the next proxied
    // call on its connection (see tests/metrics.rs).
    let a = call_once(srv.port, get("/prod/down").as_bytes());
    assert_status(&a, 502, "closed upstream port");
    expect(
        a,
        Want {
            error: "Internal server error",
            ..plain("GET", "/down", "/prod/down")
        },
    );

    // Not logged: no stage. (Before the last logged call: one worker writes
    // lines in order, so a line for it would show among the expected ones.)
    assert_status(&c.call(get("/nostage/x").as_bytes()), 403, "no stage");

    let a = c.call(get("/prod/limited").as_bytes());
    assert_status(&a, 200, "first limited call");
    expect(a, plain("GET", "/limited", "/prod/limited"));
    let a = c.call(get("/prod/limited").as_bytes());
    assert_status(&a, 429, "second limited call");
    expect(
        a,
        Want {
            error: TOO_MANY,
            ..plain("GET", "/limited", "/prod/limited")
        },
    );

    let lines = wait_lines(&log.0, wants.len());
    let to_ms = now_ms();
    assert_eq!(
        lines.len(),
        wants.len(),
        "one line per staged call: {lines:#?}"
    );
    let parsed: Vec<BTreeMap<String, String>> = lines.iter().map(|l| json_line(l)).collect();
    for (a, w) in &wants {
        let id = a.request_id();
        let line = parsed
            .iter()
            .find(|l| l["requestId"] == id)
            .unwrap_or_else(|| panic!("no line for request {id}: {lines:#?}"));
        check_json(line, &Want { answer: a, ..*w }, from_ms, to_ms);
    }
}

/// A placeholder answer for [`Want`] values built before their answer.
static DUMMY: Answer = Answer {
    status: 0,
    headers: Vec::new(),
    body: Vec::new(),
    bytes: 0,
};

// ---------------------------------------------------------------------------
// 6. CLF preset and templates
// ---------------------------------------------------------------------------

/// Matches `line` against `pattern`, where each `*` stands for a non-empty
/// run of characters up to the next literal part; returns the runs.
fn match_pattern(pattern: &str, line: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = line.strip_prefix(parts[0])?;
    let mut caps = Vec::new();
    for (i, lit) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let at = if last && lit.is_empty() {
            rest.len()
        } else if last {
            rest.len().checked_sub(lit.len())?
        } else {
            rest.find(lit)?
        };
        if at == 0 || !rest[at..].starts_with(lit) {
            return None;
        }
        caps.push(rest[..at].to_string());
        rest = &rest[at + lit.len()..];
    }
    rest.is_empty().then_some(caps)
}

#[test]
fn clf_preset_and_template_are_substituted_exactly() {
    let up = upstream();
    let clf_log = TempFile::new("clf");
    let tpl_log = TempFile::new("tpl");
    let template = "rid=$context.requestId ip=$context.identity.sourceIp t=[$context.requestTime] \
                    epoch=$context.requestTimeEpoch m=$context.httpMethod r=$context.resourcePath \
                    p=$context.path s=$context.status proto=$context.protocol len=$context.responseLength \
                    lat=$context.responseLatency il=$context.integrationLatency is=$context.integrationStatus \
                    key=$context.identity.apiKeyId stage=$context.stage api=$context.apiId \
                    err=\"$context.error.message\".";
    let stages = stage("clf", &up.addr(), "", &clf_log, "clf")
        + &stage("tpl", &up.addr(), "", &tpl_log, template);
    let srv = Server::start(&logs_config(&stages, refused_port()));
    let from_ms = now_ms();
    let mut c = Raw::connect(srv.port);

    let clf_calls = [
        (c.call(get("/clf/items/5?q=1").as_bytes()), "/items/{id}"),
        (c.call(get("/clf/nope").as_bytes()), "-"),
    ];
    assert_status(&clf_calls[0].0, 200, "clf mock");
    assert_status(&clf_calls[1].0, 403, "clf unknown route");
    let tpl_proxy = c.call(get("/tpl/proxy/x?y=1").as_bytes());
    assert_status(&tpl_proxy, 200, "tpl proxied GET");
    let tpl_nope = c.call(get("/tpl/nope").as_bytes());
    assert_status(&tpl_nope, 403, "tpl unknown route");

    let clf = wait_lines(&clf_log.0, 2);
    let tpl = wait_lines(&tpl_log.0, 2);
    let to_ms = now_ms();
    assert_eq!(clf.len(), 2, "{clf:#?}");
    assert_eq!(tpl.len(), 2, "{tpl:#?}");

    for ((a, resource), line) in clf_calls.iter().zip(&clf) {
        let pattern = format!(
            "127.0.0.1 - - [*] \"GET {resource} HTTP/1.1\" {} {} {}",
            a.status,
            a.bytes,
            a.request_id()
        );
        let caps = match_pattern(&pattern, line)
            .unwrap_or_else(|| panic!("CLF line {line:?} is not {pattern:?}"));
        assert_time_between(&caps[0], from_ms, to_ms);
    }

    let tpl_pattern = |a: &Answer, resource: &str, path: &str, is: &str, err: &str| {
        format!(
            "rid={} ip=127.0.0.1 t=[*] epoch=* m=GET r={resource} p={path} s={} proto=HTTP/1.1 \
             len={} lat=* il=* is={is} key=- stage=tpl api=logs-id err=\"{err}\".",
            a.request_id(),
            a.status,
            a.bytes
        )
    };
    for (line, pattern, integration) in [
        (
            &tpl[0],
            tpl_pattern(
                &tpl_proxy,
                "/proxy/{proxy+}",
                "/tpl/proxy/x?y=1",
                "200",
                "-",
            ),
            true,
        ),
        (
            &tpl[1],
            tpl_pattern(&tpl_nope, "-", "/tpl/nope", "-", MISSING_TOKEN),
            false,
        ),
    ] {
        let caps = match_pattern(&pattern, line)
            .unwrap_or_else(|| panic!("template line {line:?} is not {pattern:?}"));
        assert_time_between(&caps[0], from_ms, to_ms);
        let epoch = as_ms(&caps[1], "requestTimeEpoch");
        assert!(
            epoch + 1000 >= from_ms && epoch <= to_ms + 1000,
            "requestTimeEpoch {epoch} (ms) outside [{from_ms}, {to_ms}]"
        );
        assert_eq!(
            (epoch / 1000) as i64,
            clf_time(&caps[0]),
            "requestTimeEpoch and requestTime are not the same second: {line}"
        );
        let lat = as_ms(&caps[2], "responseLatency");
        assert!(lat < 5_000, "{line}");
        if integration {
            assert!(as_ms(&caps[3], "integrationLatency") <= lat, "{line}");
        } else {
            assert_eq!(caps[3], "-", "{line}");
        }
    }
}

// ---------------------------------------------------------------------------
// 7. Reopen on SIGUSR1
// ---------------------------------------------------------------------------

fn ids_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| json_line(l)["requestId"].clone())
        .collect()
}

/// Polls `/metrics` until the counter `portico_access_log_lines_total` is
/// `n` (bounded), with none dropped.
fn wait_lines_metric(srv: &mut Server, n: f64) {
    let m = scrape_until(srv, &format!("portico_access_log_lines_total {n}"), |m| {
        m.get("portico_access_log_lines_total", &[]) == Some(n)
    });
    for family in [
        "portico_access_log_lines_total",
        "portico_access_log_dropped_total",
    ] {
        assert_eq!(
            m.types.get(family).map(String::as_str),
            Some("counter"),
            "TYPE of {family}\n{}",
            m.text
        );
    }
    assert_eq!(
        m.get("portico_access_log_dropped_total", &[]),
        Some(0.0),
        "{}",
        m.text
    );
}

#[test]
fn sigusr1_reopens_the_log_after_rotation() {
    let log = TempFile::new("rotate");
    let rotated = TempFile(log.0.with_extension("log.1"));
    let prod = stage("prod", NO_BACKEND, "", &log, "json");
    let mut srv = Server::start(&logs_config(&prod, refused_port()));
    let mut c = Raw::connect(srv.port);
    let mut ids = Vec::new();
    for i in 0..2 {
        let a = c.call(get(&format!("/prod/items/old{i}")).as_bytes());
        assert_status(&a, 200, "before rotation");
        ids.push(a.request_id());
    }
    assert_eq!(ids_of(&wait_lines(&log.0, 2)), ids);

    std::fs::rename(&log.0, &rotated.0).expect("rotate the log");
    srv.signal("USR1");

    let mut new_ids = Vec::new();
    for i in 0..3 {
        let a = c.call(get(&format!("/prod/items/new{i}")).as_bytes());
        assert_status(&a, 200, "after rotation");
        new_ids.push(a.request_id());
    }
    let fresh = wait_lines(&log.0, 3);
    assert_eq!(ids_of(&fresh), new_ids, "the new file holds the new lines");
    assert_eq!(
        ids_of(&lines_of(&rotated.0)),
        ids,
        "the rotated file keeps the old lines, and only them"
    );
    wait_lines_metric(&mut srv, 5.0);
    // The process survives the signal.
    assert_status(
        &c.call(get("/prod/items/1").as_bytes()),
        200,
        "after SIGUSR1",
    );
}

// ---------------------------------------------------------------------------
// Flush on a clean stop
// ---------------------------------------------------------------------------

#[test]
fn sigterm_writes_every_line_before_exiting() {
    let log = TempFile::new("stop");
    let prod = stage("prod", NO_BACKEND, "", &log, "json");
    let mut srv = Server::start(&logs_config(&prod, refused_port()).server("workers", "2"));
    let mut ids = Vec::new();
    for i in 0..6 {
        let a = call_once(srv.port, get(&format!("/prod/items/{i}")).as_bytes());
        assert_status(&a, 200, "before stop");
        ids.push(a.request_id());
    }
    srv.stop_within(Duration::from_secs(10));
    let mut got = ids_of(&lines_of(&log.0));
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "every call has its line after the stop");
}

// ---------------------------------------------------------------------------
// 8. Unknown $context variable
// ---------------------------------------------------------------------------

#[test]
fn unknown_context_variable_is_a_config_error() {
    let log = TempFile::new("bad");
    let bad = "$context.requestId $context.bogus";
    for (stages, api_index, stage_name) in [
        (stage("prod", NO_BACKEND, "", &log, bad), 0, "prod"),
        (
            // The second API's stage `beta`.
            stage("prod", NO_BACKEND, "", &log, "json"),
            1,
            "beta",
        ),
    ] {
        let mut text = logs_config(&stages, 9).render();
        if api_index == 1 {
            text += &format!(
                "\n[[api]]\nname = \"other\"\nhosts = [\"other.test\"]\n\n{}{}",
                stage("beta", NO_BACKEND, "", &log, bad),
                mock_route("GET", "/a", false, "a")
            );
        }
        let format_line = text
            .lines()
            .position(|l| l.starts_with("format = ") && l.contains("bogus"))
            .expect("the bad format line")
            + 1;
        let key = format!("api[{api_index}].stages.{stage_name}.access_log.format");
        assert_config_rejected(&text, format_line..=format_line, &[key.as_str()], &key);
        let path = write_config(&text);
        let out = check_config(&path);
        let _ = std::fs::remove_file(&path);
        assert!(
            out.stderr.contains("$context.bogus"),
            "the unknown variable is not named: {}",
            out.stderr
        );
        assert!(!log.0.exists(), "`portico check` created the log file");
    }
}

// ---------------------------------------------------------------------------
// 9. EMF at shutdown
// ---------------------------------------------------------------------------

#[test]
fn emf_line_per_stage_at_shutdown() {
    let up = upstream();
    let emf = TempFile::new("emf");
    let down = refused_port();
    let mut api = String::from("[[api]]\nname = \"shop\"\nhosts = []\n\n");
    for s in ["prod", "cached", "idle"] {
        api += &format!(
            "[api.stages.{s}]\nvariables = {{ backend = \"{}\" }}\n\n",
            up.addr()
        );
    }
    api += "[api.stages.cached.cache]\ncapacity = \"1MB\"\n\n";
    api += "[[api.routes]]\nmethod = \"GET\"\npath = \"/hello\"\ncache = { enabled = false }\n\
            integration = { type = \"mock\", status = 200, body = 'hi' }\n\n\
            [[api.routes]]\nmethod = \"ANY\"\npath = \"/up\"\ncache = { enabled = false }\n\
            integration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/up\" }\n\n\
            [[api.routes]]\nmethod = \"GET\"\npath = \"/cached\"\n\
            integration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/cached\" }\n\n";
    api += &format!(
        "[[api.routes]]\nmethod = \"GET\"\npath = \"/down\"\n\
         integration = {{ type = \"http_proxy\", uri = \"http://127.0.0.1:{down}/down\" }}\n\n\
         [metrics.emf]\ndestination = {}\ninterval_s = 3600\nnamespace = \"portico-test\"\n",
        emf.toml()
    );
    let mut srv = Server::start(&Config::new(&api).server("workers", "2"));
    let from_ms = now_ms();

    let mut c = Raw::connect(srv.port);
    c.get_each(&[
        ("/prod/hello", 200),
        ("/prod/hello", 200),
        ("/prod/hello", 200),
        ("/prod/nope", 403),
        ("/prod/up", 200),
        ("/prod/up", 200),
        ("/cached/cached", 200),
        ("/cached/cached", 200),
        ("/nostage/x", 403),
    ]);
    // A connection of its own (see tests/metrics.rs).
    assert_status(
        &call_once(srv.port, get("/prod/down").as_bytes()),
        502,
        "down",
    );

    // The counts EMF must report, as /metrics has them once all are in.
    let scrape = scrape_until(&mut srv, "all 10 calls counted", |m| {
        m.sum("portico_requests_total") == 10.0
    });
    let avg_ms = |stage: &str, family: &str| {
        let l = [("api", "shop"), ("stage", stage)];
        let n = scrape.sum_matching(&format!("{family}_count"), &l);
        let sum = scrape.sum_matching(&format!("{family}_sum"), &l);
        if n == 0.0 {
            0.0
        } else {
            sum / n * 1000.0
        }
    };

    srv.sigterm();
    let lines = wait_lines(&emf.0, 2);
    let to_ms = now_ms();
    assert_eq!(
        lines.len(),
        2,
        "one line per stage with traffic: {lines:#?}"
    );
    let mut by_stage = BTreeMap::new();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("EMF line is not JSON ({e}): {line}"));
        let aws = &v["_aws"];
        let ts = aws["Timestamp"].as_u64().expect("_aws.Timestamp in ms");
        assert!(
            ts >= from_ms && ts <= to_ms,
            "Timestamp {ts} outside [{from_ms}, {to_ms}]"
        );
        let cwm = &aws["CloudWatchMetrics"];
        assert_eq!(cwm.as_array().map(Vec::len), Some(1), "{line}");
        assert_eq!(cwm[0]["Namespace"], "portico-test", "{line}");
        assert_eq!(
            cwm[0]["Dimensions"],
            serde_json::json!([["ApiName", "Stage"]]),
            "{line}"
        );
        let names: Vec<&str> = cwm[0]["Metrics"]
            .as_array()
            .expect("Metrics")
            .iter()
            .map(|m| m["Name"].as_str().expect("Metrics[].Name"))
            .collect();
        let all = [
            "Count",
            "4XXError",
            "5XXError",
            "Latency",
            "IntegrationLatency",
            "CacheHitCount",
            "CacheMissCount",
        ];
        assert_eq!(names, all, "{line}");
        for n in all {
            assert!(v[n].is_number(), "{n} in {line}");
        }
        assert_eq!(v["ApiName"], "shop", "{line}");
        let stage = v["Stage"].as_str().expect("Stage").to_string();
        assert!(by_stage.insert(stage, v.clone()).is_none(), "{lines:#?}");
    }
    let counts = |v: &serde_json::Value| {
        [
            "Count",
            "4XXError",
            "5XXError",
            "CacheHitCount",
            "CacheMissCount",
        ]
        .map(|k| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("{k} is not a count in {v}"))
        })
    };
    let prod = by_stage.get("prod").expect("a line for prod");
    let cached = by_stage.get("cached").expect("a line for cached");
    assert_eq!(counts(prod), [7, 1, 1, 0, 0], "prod: {prod}");
    assert_eq!(counts(cached), [2, 0, 0, 1, 1], "cached: {cached}");
    for (stage, v) in [("prod", prod), ("cached", cached)] {
        for (key, family) in [
            ("Latency", "portico_latency_seconds"),
            ("IntegrationLatency", "portico_integration_latency_seconds"),
        ] {
            let got = v[key].as_f64().unwrap();
            let want = avg_ms(stage, family);
            assert!(want > 0.0, "{stage} {family}: no latency counted");
            assert!(
                (got - want).abs() <= 1e-6 * want.max(1.0),
                "{stage} {key}: EMF {got} ms, /metrics says {want} ms"
            );
        }
    }
    srv.expect_clean_exit(Duration::from_secs(10), "after SIGTERM");
}
