//! Shared harness for the portico integration tests: start the real binary
//! with a config file, a tiny raw HTTP/1.1 client over `std::net::TcpStream`,
//! and scriptable test upstreams that record what they receive.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod apigateway_boto3;
mod counting_client;
mod fleet_api;
mod fleet_load;
mod functions;
mod metrics_text;
mod nginx;
mod redis_server;
mod steady_load;
mod tls_client;
// Like the rest of this module, not used by every test file.
#[allow(unused_imports)]
pub use apigateway_boto3::*;
#[allow(unused_imports)]
pub use counting_client::*;
#[allow(unused_imports)]
pub use fleet_api::*;
#[allow(unused_imports)]
pub use fleet_load::*;
#[allow(unused_imports)]
pub use functions::*;
#[allow(unused_imports)]
pub use metrics_text::*;
#[allow(unused_imports)]
pub use nginx::*;
#[allow(unused_imports)]
pub use redis_server::*;
#[allow(unused_imports)]
pub use steady_load::*;
#[allow(unused_imports)]
pub use tls_client::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_portico");
pub const MISSING_TOKEN: &str = "Missing Authentication Token";
pub const TIMED_OUT: &str = "Endpoint request timed out";
/// Read/write timeout on client sockets: a broken server fails, never hangs.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a poll (of `/metrics`, `/readyz`, a log file) may wait for a
/// condition.
pub const POLL_FOR: Duration = Duration::from_secs(10);

/// Calls `probe` until `done` holds for what it returns (bounded by
/// `timeout`) and returns that; on timeout panics with `failure` of the
/// last value.
pub fn poll_until<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
    failure: impl FnOnce(&T) -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let v = probe();
        if done(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("{}", failure(&v));
        }
        std::thread::yield_now();
    }
}

/// The path an installer script prints as its last stdout line (it installs
/// what is missing first: nginx, redis-server, the Lambda runtime's venv);
/// `script` is relative to the repository root.
pub fn installed_path(script: &str) -> String {
    let path = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&path)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(out.status.success(), "{script} failed");
    String::from_utf8(out.stdout)
        .expect("utf-8 path")
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{script} prints a path"))
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------
// Temp files and config text
// ---------------------------------------------------------------------------

/// A unique path under the system temp dir.
pub fn temp_path(prefix: &str, ext: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "portico-{prefix}-{}-{n}-{nanos}.{ext}",
        std::process::id()
    ))
}

/// Write config text to a fresh temp file and return its path.
pub fn write_config(text: &str) -> PathBuf {
    let path = temp_path("cfg", "toml");
    std::fs::write(&path, text).expect("write config file");
    path
}

/// The PutMethodResponse body declaring every header PutIntegrationResponse
/// body `ir` maps: AWS refuses a mapping to a header its method response
/// does not declare.
/// A PutMethod body (no authorization) declaring, as optional, every
/// method request parameter `integration`'s `requestParameters` read (a
/// multi-value source's parameter under its single-value location), as AWS
/// requires of a method before its integration may map them.
pub fn method_request_for(integration: &serde_json::Value) -> serde_json::Value {
    let declared: serde_json::Map<String, serde_json::Value> = integration["requestParameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| {
            let (place, name) = v
                .as_str()?
                .strip_prefix("method.request.")?
                .split_once('.')?;
            let place = match place {
                "path" => "path",
                "querystring" | "multivaluequerystring" => "querystring",
                "header" | "multivalueheader" => "header",
                _ => return None,
            };
            Some((
                format!("method.request.{place}.{name}"),
                serde_json::Value::Bool(false),
            ))
        })
        .collect();
    serde_json::json!({ "authorizationType": "NONE", "requestParameters": declared })
}

pub fn method_response_for(ir: &serde_json::Value) -> serde_json::Value {
    let declared: serde_json::Map<String, serde_json::Value> = ir["responseParameters"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.clone(), serde_json::Value::Bool(false)))
        .collect();
    serde_json::json!({ "responseParameters": declared })
}

/// A config: the four global sections (only overridden keys are written,
/// the rest take their documented defaults) plus free-form API/domain text.
#[derive(Clone, Debug)]
pub struct Config {
    server: Vec<(String, String)>,
    limits: Vec<(String, String)>,
    timeouts: Vec<(String, String)>,
    upstream: Vec<(String, String)>,
    /// `[throttle]` (account level); written only when a key was set.
    throttle: Vec<(String, String)>,
    /// `[admin]`; `listen` is always preset to `127.0.0.1:0` (the default
    /// fixed port would make parallel tests collide).
    admin: Vec<(String, String)>,
    /// `[cache]` (global cache settings); written only when a key was set.
    cache: Vec<(String, String)>,
    /// `[state]`; `dir` is always set (a fresh temp dir per `Config::new`,
    /// shared by clones, so a restarted server sees the same store).
    state: Vec<(String, String)>,
    state_dir: Arc<TempDir>,
    rest: String,
}

/// A directory path under the system temp dir, removed (recursively) when
/// the last handle is dropped. Not created here: the server creates it.
#[derive(Debug)]
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = temp_path(prefix, "d");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A TOML basic string literal for `s` (quotes included).
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn set_key(v: &mut Vec<(String, String)>, k: &str, val: &str) {
    if let Some(e) = v.iter_mut().find(|(key, _)| key == k) {
        e.1 = val.to_string();
    } else {
        v.push((k.to_string(), val.to_string()));
    }
}

impl Config {
    /// `rest` is the `[[api]]` / `[[domain]]` text. Values passed to the
    /// setters are raw TOML values (strings need their quotes).
    pub fn new(rest: &str) -> Config {
        let state_dir = Arc::new(TempDir::new("state"));
        Config {
            server: vec![
                ("listen".into(), "\"127.0.0.1:0\"".into()),
                ("workers".into(), "1".into()),
                ("pin_workers".into(), "false".into()),
            ],
            limits: vec![],
            timeouts: vec![],
            upstream: vec![],
            throttle: vec![],
            admin: vec![("listen".into(), "\"127.0.0.1:0\"".into())],
            cache: vec![],
            state: vec![("dir".into(), toml_str(&state_dir.path.to_string_lossy()))],
            state_dir,
            rest: rest.to_string(),
        }
    }
    /// The `[state] dir` of this config (and of its clones).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir.path
    }
    /// The standard demo API (see [`demo_api`]) with `backend` as the stage variable.
    pub fn demo(backend: &str) -> Config {
        Config::new(&demo_api(backend))
    }
    /// Set key `k` of the section `section` picks out.
    fn set(
        mut self,
        section: fn(&mut Config) -> &mut Vec<(String, String)>,
        k: &str,
        v: &str,
    ) -> Config {
        set_key(section(&mut self), k, v);
        self
    }
    pub fn server(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.server, k, v)
    }
    pub fn limits(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.limits, k, v)
    }
    pub fn timeouts(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.timeouts, k, v)
    }
    pub fn upstream(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.upstream, k, v)
    }
    /// A key of the account-level `[throttle]` section.
    pub fn throttle(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.throttle, k, v)
    }
    /// A key of the `[admin]` section (`listen` is preset to `127.0.0.1:0`).
    pub fn admin(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.admin, k, v)
    }
    /// A key of the global `[cache]` section.
    pub fn cache(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.cache, k, v)
    }
    /// A key of the `[state]` section (`dir` is preset to a temp dir).
    pub fn state(self, k: &str, v: &str) -> Config {
        self.set(|c| &mut c.state, k, v)
    }
    pub fn append(mut self, text: &str) -> Config {
        self.rest.push('\n');
        self.rest.push_str(text);
        self
    }
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (name, kv) in [
            ("server", &self.server),
            ("limits", &self.limits),
            ("timeouts", &self.timeouts),
            ("upstream", &self.upstream),
            ("throttle", &self.throttle),
            ("state", &self.state),
            ("admin", &self.admin),
            ("cache", &self.cache),
        ] {
            if (name == "throttle" || name == "cache") && kv.is_empty() {
                continue;
            }
            s.push_str(&format!("[{name}]\n"));
            for (k, v) in kv {
                s.push_str(&format!("{k} = {v}\n"));
            }
            s.push('\n');
        }
        s.push_str(&self.rest);
        s.push('\n');
        s
    }
}

pub const HELLO_BODY: &str = r#"{"message":"hello from portico"}"#;

/// The demo API used by most tests. Routes:
/// - `GET  /hello`          mock 200 json `HELLO_BODY`, header `x-mock: yes`
/// - `ANY  /any`            mock 201 text/plain `any-body`
/// - `GET  /items/special`  mock 200 text/plain `special`
/// - `ANY  /items/{id}`     proxy `http://${backend}/things/{id}` (default timeout)
/// - `ANY  /proxy/{proxy+}` proxy `http://${backend}/{proxy}`
/// - `ANY  /slow/{proxy+}`  proxy `http://${backend}/{proxy}`, timeout_ms = 300
pub fn demo_api(backend: &str) -> String {
    format!(
        r#"[[api]]
name = "demo"
hosts = []

[api.stages.prod]
variables = {{ backend = "{backend}" }}

[[api.routes]]
method = "GET"
path = "/hello"
integration = {{ type = "mock", status = 200, headers = {{ "content-type" = "application/json", "x-mock" = "yes" }}, body = '{HELLO_BODY}' }}

[[api.routes]]
method = "ANY"
path = "/any"
integration = {{ type = "mock", status = 201, headers = {{ "content-type" = "text/plain" }}, body = 'any-body' }}

[[api.routes]]
method = "GET"
path = "/items/special"
integration = {{ type = "mock", status = 200, headers = {{ "content-type" = "text/plain" }}, body = 'special' }}

[[api.routes]]
method = "ANY"
path = "/items/{{id}}"
integration = {{ type = "http_proxy", uri = "http://${{stageVariables.backend}}/things/{{id}}" }}

[[api.routes]]
method = "ANY"
path = "/proxy/{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://${{stageVariables.backend}}/{{proxy}}", timeout_ms = 29000 }}

[[api.routes]]
method = "ANY"
path = "/slow/{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://${{stageVariables.backend}}/{{proxy}}", timeout_ms = 300 }}
"#
    )
}

/// A backend address nothing should ever be sent to (tests without an upstream).
pub const NO_BACKEND: &str = "127.0.0.1:9";

/// An `[[api.routes]]` table whose mock integration answers 200 text/plain
/// `body` (`api_key_required = true` is written only when `key_required`).
pub fn mock_route(method: &str, path: &str, key_required: bool, body: &str) -> String {
    let key = if key_required {
        "api_key_required = true\n"
    } else {
        ""
    };
    format!(
        "[[api.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n{key}\
         integration = {{ type = \"mock\", status = 200, headers = {{ \"content-type\" = \"text/plain\" }}, body = '{body}' }}\n\n"
    )
}

/// An `[[api]]` named `name` on `hosts` (none: a default API) with `stages`
/// (each with empty `variables`) and `routes` (e.g. from [`mock_route`]).
pub fn api_toml(name: &str, hosts: &[&str], stages: &[&str], routes: &[String]) -> String {
    let hosts: Vec<String> = hosts.iter().map(|h| toml_str(h)).collect();
    let mut s = format!(
        "[[api]]\nname = \"{name}\"\nhosts = [{}]\n\n",
        hosts.join(", ")
    );
    for stage in stages {
        s.push_str(&format!("[api.stages.{stage}]\nvariables = {{}}\n\n"));
    }
    s.extend(routes.iter().map(String::as_str));
    s
}

/// Key values of the key and plan tests (portico wants at least 20 chars).
pub const ALICE: &str = "alice-key-0123456789abcdef";
pub const BOB: &str = "bob-key-0123456789abcdefgh";

/// A `[[usage_plans]]` table: plan `name` with `plan_lines` (throttle,
/// quota, ...; may be empty) over stage `stage` of API `api`; `stage_extra`
/// is written inside that `api_stages` entry (e.g. `, route_throttle = ..`).
pub fn plan_toml(
    name: &str,
    plan_lines: &str,
    api: &str,
    stage: &str,
    stage_extra: &str,
) -> String {
    format!(
        "\n[[usage_plans]]\nname = \"{name}\"\n{plan_lines}\n\
         api_stages = [ {{ api = \"{api}\", stage = \"{stage}\"{stage_extra} }} ]\n"
    )
}

/// An `[[api_keys]]` table: key `name` with `lines` (id, value, enabled, ...;
/// may be empty) and, unless `plans` is empty, `usage_plans = [plans]`.
pub fn key_toml(name: &str, lines: &str, plans: &[&str]) -> String {
    let mut s = format!("\n[[api_keys]]\nname = \"{name}\"\n{lines}\n");
    if !plans.is_empty() {
        let plans: Vec<String> = plans.iter().map(|p| toml_str(p)).collect();
        s.push_str(&format!("usage_plans = [{}]\n", plans.join(", ")));
    }
    s
}

/// Key alice (id `alice-id`, value [`ALICE`]) in `plans` (see [`key_toml`]).
pub fn alice_key_toml(plans: &[&str]) -> String {
    key_toml(
        "alice",
        &format!("id = \"alice-id\"\nvalue = \"{ALICE}\""),
        plans,
    )
}

/// Plan `gold` over `api`/prod (see [`plan_toml`]) with keys alice (id
/// `alice-id`, value [`ALICE`]) and bob (id `bob-id`, value [`BOB`]) in it.
pub fn gold_plan_alice_bob(api: &str, plan_lines: &str, stage_extra: &str) -> String {
    let alice = alice_key_toml(&["gold"]);
    let bob = key_toml(
        "bob",
        &format!("id = \"bob-id\"\nvalue = \"{BOB}\""),
        &["gold"],
    );
    plan_toml("gold", plan_lines, api, "prod", stage_extra) + &alice + &bob
}

// ---------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------

fn forward_lines<R: Read + Send + 'static>(
    r: R,
    tag: String,
    tx: Option<Sender<Option<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let s = String::from_utf8_lossy(&line)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    eprintln!("[{tag}] {s}");
                    if let Some(tx) = &tx {
                        let _ = tx.send(Some(s));
                    }
                }
            }
        }
        if let Some(tx) = &tx {
            let _ = tx.send(None);
        }
    })
}

/// A running portico; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub pid: u32,
    /// Every stderr line up to and including the `listening on` line (and
    /// any read later by [`Server::admin_port`]).
    pub startup: Vec<String>,
    /// The admin listener's port, once its `admin listening on` line was read.
    admin: Option<u16>,
    /// Lines read by [`Server::admin_port`] after startup, not yet returned
    /// by [`Server::next_line`].
    pending: std::collections::VecDeque<String>,
    lines: Receiver<Option<String>>,
    stderr_eof: bool,
    config_path: PathBuf,
    exited: Option<ExitStatus>,
    state_dir: Option<Arc<TempDir>>,
}

impl Server {
    pub fn start(cfg: &Config) -> Server {
        Server::start_with_env(cfg, &[])
    }

    /// The demo API ([`demo_api`]) with no upstream behind it.
    pub fn demo() -> Server {
        Server::start(&Config::demo(NO_BACKEND))
    }

    /// The demo API ([`demo_api`]) proxying to `up`.
    pub fn demo_proxy(up: &Upstream) -> Server {
        Server::start(&Config::demo(&up.addr()))
    }

    /// The server keeps the config's state dir alive (it is removed when
    /// the last of the config's clones and its servers are gone).
    pub fn start_with_env(cfg: &Config, env: &[(&str, &str)]) -> Server {
        let mut srv = Server::start_text(&cfg.render(), env);
        srv.state_dir = Some(cfg.state_dir.clone());
        srv
    }

    pub fn start_text(text: &str, env: &[(&str, &str)]) -> Server {
        Server::start_text_args(text, env, &[])
    }

    /// [`Server::start_with_env`] with extra command-line `args` (e.g. `--takeover`).
    pub fn start_args(cfg: &Config, args: &[&str]) -> Server {
        let mut srv = Server::start_text_args(&cfg.render(), &[], args);
        srv.state_dir = Some(cfg.state_dir.clone());
        srv
    }

    pub fn start_text_args(text: &str, env: &[(&str, &str)], args: &[&str]) -> Server {
        Server::start_under(&[], BIN, text, env, args)
    }

    /// `cfg` served by `bin` (a copy or link of portico, or [`BIN`]) run by
    /// the command `wrapper` (e.g. `prlimit …`, `setpriv …`), which execs it.
    pub fn start_wrapped(wrapper: &[&str], bin: &str, cfg: &Config) -> Server {
        let mut srv = Server::start_under(wrapper, bin, &cfg.render(), &[], &[]);
        srv.state_dir = Some(cfg.state_dir.clone());
        srv
    }

    fn start_under(
        wrapper: &[&str],
        bin: &str,
        text: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Server {
        let config_path = write_config(text);
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(bin);
                cmd
            }
            None => Command::new(bin),
        };
        cmd.arg("--config")
            .arg(&config_path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn portico binary");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        forward_lines(
            child.stderr.take().unwrap(),
            format!("portico {pid} stderr"),
            Some(tx),
        );
        forward_lines(
            child.stdout.take().unwrap(),
            format!("portico {pid} stdout"),
            None,
        );
        let mut server = Server {
            child,
            port: 0,
            pid,
            startup: Vec::new(),
            admin: None,
            pending: Default::default(),
            lines: rx,
            stderr_eof: false,
            config_path,
            exited: None,
            state_dir: None,
        };
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        const MARK: &str = "listening on http://127.0.0.1:";
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(Some(line)) => {
                    if let Some(p) = admin_port_in(&line) {
                        server.admin = Some(p);
                        server.startup.push(line);
                        continue;
                    }
                    let found = line.find(MARK).map(|i| {
                        line[i + MARK.len()..]
                            .chars()
                            .take_while(|c| c.is_ascii_digit())
                            .collect::<String>()
                    });
                    server.startup.push(line);
                    if let Some(digits) = found {
                        server.port = digits.parse().unwrap_or_else(|_| {
                            panic!("bad port in listening line: {:?}", server.startup)
                        });
                        assert_ne!(server.port, 0, "server reported port 0");
                        return server;
                    }
                }
                Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                    server.stderr_eof = true;
                    let status = server.child.wait().ok();
                    server.exited = status;
                    panic!(
                        "portico exited before listening (status {status:?}); stderr: {:#?}\nconfig:\n{text}",
                        server.startup
                    );
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "portico did not print `listening on http://127.0.0.1:PORT` within {STARTUP_TIMEOUT:?}; stderr: {:#?}",
                        server.startup
                    );
                }
            }
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.port)
    }

    /// The admin listener's port, from the `portico: admin listening on
    /// http://127.0.0.1:PORT` stderr line (read on, bounded, if it came after
    /// the main `listening on` line). Panics if there is none.
    pub fn admin_port(&mut self) -> u16 {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while self.admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stderr_eof {
                panic!(
                    "no `admin listening on http://127.0.0.1:PORT` line on stderr; got: {:#?}",
                    self.startup
                );
            }
            match self.lines.recv_timeout(left) {
                Ok(Some(line)) => {
                    self.admin = admin_port_in(&line);
                    self.startup.push(line.clone());
                    self.pending.push_back(line);
                }
                Ok(None) | Err(RecvTimeoutError::Disconnected) => self.stderr_eof = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        self.admin.unwrap()
    }

    /// `http://127.0.0.1:ADMIN_PORT` (see [`Server::admin_port`]).
    pub fn admin_url(&mut self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port())
    }

    /// `method path` on the admin listener (`Connection: close`), with
    /// `Authorization: Bearer token` when `token` is given (POST:
    /// `Content-Length: 0`).
    pub fn admin_request(&mut self, method: &str, path: &str, token: Option<&str>) -> Response {
        let port = self.admin_port();
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut extra = vec![("Connection", "close")];
        if let Some(a) = &auth {
            extra.push(("Authorization", a.as_str()));
        }
        Client::connect(port).request(request(method, path, "localhost", &extra, b""))
    }

    /// `method path` on the admin listener (`Connection: close`) with the
    /// `headers` lines and, when given, `body` as JSON (`Content-Type:
    /// application/json`); the answer with its body parsed as JSON.
    pub fn admin_json(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> AdminJson {
        let port = self.admin_port();
        let mut extra = vec![("Connection", "close")];
        extra.extend_from_slice(headers);
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        if body.is_some() {
            extra.push(("Content-Type", "application/json"));
        }
        let resp =
            Client::connect(port).request(request(method, path, "localhost", &extra, &bytes));
        AdminJson::of(resp, &format!("{method} {path}"))
    }

    /// A management call with `Authorization: Bearer token`; panics unless
    /// it answers `status`. Its JSON body.
    pub fn admin_call(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        status: u16,
    ) -> serde_json::Value {
        let auth = format!("Bearer {token}");
        let r = self.admin_json(method, path, &[("Authorization", &auth)], body);
        assert_eq!(
            r.status, status,
            "{method} {path} {body:?}: want {status}, got {} {}",
            r.status, r.text
        );
        r.json
    }

    /// PutMethod (no authorization) at `method` (`/restapis/{id}/resources/{r}/methods/{verb}`),
    /// its `integration`, and for each `(status, integration response)` the
    /// method response and the integration response.
    pub fn put_integrated_method(
        &mut self,
        token: &str,
        method: &str,
        integration: &serde_json::Value,
        responses: &[(&str, serde_json::Value)],
    ) {
        let none = method_request_for(integration);
        self.admin_call(token, "PUT", method, Some(&none), 201);
        let at = format!("{method}/integration");
        self.admin_call(token, "PUT", &at, Some(integration), 201);
        self.put_integrated_responses(token, method, responses);
    }

    /// For each `(status, integration response)` of `method`: the method
    /// response declaring what it maps, and the integration response.
    pub fn put_integrated_responses(
        &mut self,
        token: &str,
        method: &str,
        responses: &[(&str, serde_json::Value)],
    ) {
        for (status, r) in responses {
            let declared = method_response_for(r);
            let at = format!("{method}/responses/{status}");
            self.admin_call(token, "PUT", &at, Some(&declared), 201);
            let at = format!("{method}/integration/responses/{status}");
            self.admin_call(token, "PUT", &at, Some(r), 201);
        }
    }

    /// Method `method`'s default 200: its method response and an
    /// integration response without a pattern (without one, AWS answers 500).
    pub fn put_default_200(&mut self, token: &str, method: &str) {
        self.put_integrated_responses(
            token,
            method,
            &[("200", serde_json::json!({"statusCode": "200"}))],
        );
    }

    /// A management call that must fail with `want` (status, `__type`)
    /// and a message.
    pub fn admin_fails(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        want: (u16, &str),
    ) {
        let v = self.admin_call(token, method, path, body, want.0);
        assert_eq!(v["__type"], want.1, "{method} {path}: {v}");
        assert!(v["message"].is_string(), "{method} {path}: {v}");
    }

    /// Send SIGTERM (via the `kill` utility) and wait until it was delivered.
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Send signal `name` (`TERM`, `USR1`, ...) via the `kill` utility and
    /// wait until it was delivered.
    pub fn signal(&self, name: &str) {
        let st = Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{name} {} failed: {st:?}", self.pid);
    }

    /// Send SIGKILL and reap the process: no chance to flush anything.
    pub fn kill9(&mut self) -> ExitStatus {
        if let Some(st) = self.exited {
            return st;
        }
        self.child.kill().expect("kill -9 portico");
        let st = self.child.wait().expect("wait portico");
        self.exited = Some(st);
        st
    }

    /// SIGTERM, then wait (bounded) for a successful exit.
    pub fn stop(&mut self) {
        self.stop_within(Duration::from_secs(15));
    }

    /// SIGTERM, then wait (bounded by `timeout`) for a successful exit.
    pub fn stop_within(&mut self, timeout: Duration) {
        self.sigterm();
        self.expect_clean_exit(timeout, "after SIGTERM");
    }

    /// [`Server::wait_exit`], asserting exit status 0; `ctx` says what led
    /// to the exit.
    pub fn expect_clean_exit(&mut self, timeout: Duration, ctx: &str) {
        let st = self.wait_exit(timeout);
        assert!(st.success(), "portico exit status {ctx}: {st:?}");
    }

    /// Next stderr line after startup, or `None` on timeout / EOF.
    /// The config file the server was started with (rewrite it, then
    /// SIGHUP, to reload).
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        if let Some(l) = self.pending.pop_front() {
            return Some(l);
        }
        if self.stderr_eof {
            return None;
        }
        match self.lines.recv_timeout(timeout) {
            Ok(Some(l)) => Some(l),
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                self.stderr_eof = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => None,
        }
    }

    /// Wait (bounded) for the process to exit: its stderr reaching EOF is the
    /// event, then reap it. Panics if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(st) = self.exited {
            return st;
        }
        let deadline = Instant::now() + timeout;
        while !self.stderr_eof {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Some(_)) => {}
                Ok(None) | Err(RecvTimeoutError::Disconnected) => self.stderr_eof = true,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("portico (pid {}) did not exit within {timeout:?}", self.pid)
                }
            }
        }
        // stderr is closed: the process is exiting; reap it (bounded).
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(st);
                return st;
            }
            if Instant::now() > deadline {
                panic!(
                    "portico (pid {}) closed stderr but did not exit within {timeout:?}",
                    self.pid
                );
            }
            std::thread::yield_now();
        }
    }
}

/// The port of a `... admin listening on http://127.0.0.1:PORT` line.
fn admin_port_in(line: &str) -> Option<u16> {
    const ADMIN: &str = "admin listening on http://127.0.0.1:";
    let i = line.find(ADMIN)?;
    let digits: String = line[i + ADMIN.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let port: u16 = digits
        .parse()
        .unwrap_or_else(|_| panic!("bad port in admin listening line: {line:?}"));
    assert_ne!(port, 0, "admin listener reported port 0: {line:?}");
    Some(port)
}

/// An admin listener answer (see [`Server::admin_json`]).
#[derive(Debug, Clone)]
pub struct AdminJson {
    pub status: u16,
    pub headers: Headers,
    /// The body as sent.
    pub text: String,
    /// The body parsed as JSON; `Null` when it is empty.
    pub json: serde_json::Value,
}

impl AdminJson {
    /// Parses `resp`'s body (panics, naming the call `ctx`, unless it is
    /// empty or JSON).
    pub fn of(resp: Response, ctx: &str) -> AdminJson {
        let text = resp.body_str();
        let json = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!(
                    "{ctx}: body is not JSON ({e}): {text:?} (status {})",
                    resp.status
                )
            })
        };
        AdminJson {
            status: resp.status,
            headers: resp.headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.config_path);
    }
}

// ---------------------------------------------------------------------------
// Buffered byte reader shared by the client and the test upstreams
// ---------------------------------------------------------------------------

pub struct Reader<R: Read> {
    pub inner: R,
    pub buf: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            buf: Vec::new(),
        }
    }

    /// Read more bytes into the buffer; Ok(0) on EOF.
    pub fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 65536];
        loop {
            match self.inner.read(&mut tmp) {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn eof_err(&self, what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "EOF while reading {what}; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        )
    }

    /// Read through the blank line ending a message head; returns the head
    /// (without the final CRLFCRLF). `Ok(None)` on a clean EOF before any byte.
    pub fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                let head = self.buf[..i].to_vec();
                self.buf.drain(..i + 4);
                return Ok(Some(head));
            }
            if self.fill()? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(self.eof_err("message head"));
            }
        }
    }

    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(self.eof_err("line"));
            }
        }
    }

    pub fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(self.eof_err(&format!("{n} body bytes")));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    pub fn read_to_eof(&mut self) -> io::Result<Vec<u8>> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e),
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// Decode a chunked body; returns (body, trailer lines, chunk-size lines).
    pub fn read_chunked(&mut self) -> io::Result<(Vec<u8>, Headers)> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let line = String::from_utf8_lossy(&line).to_string();
            let size_str = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size line {line:?}"),
                )
            })?;
            if size == 0 {
                let mut trailers = Vec::new();
                loop {
                    let t = self.read_line()?;
                    if t.is_empty() {
                        return Ok((body, trailers));
                    }
                    let t = String::from_utf8_lossy(&t).to_string();
                    if let Some((k, v)) = t.split_once(':') {
                        trailers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
            }
            body.extend(self.take(size)?);
            let crlf = self.read_line()?;
            if !crlf.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk data not followed by CRLF",
                ));
            }
        }
    }
}

pub type Headers = Vec<(String, String)>;

/// Split a head into its start line and headers.
pub fn parse_head(head: &[u8]) -> (String, Headers) {
    let text = String::from_utf8_lossy(head).to_string();
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    (start, headers)
}

pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub fn header_all<'a>(headers: &'a Headers, name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn is_chunked(headers: &Headers) -> bool {
    header_all(headers, "transfer-encoding")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn content_length(headers: &Headers) -> Option<usize> {
    header(headers, "content-length").map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad content-length {v:?}"))
    })
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// The body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    pub trailers: Headers,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        header_all(&self.headers, name)
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?} (status {})",
                self.body_str(),
                self.status
            )
        })
    }
    /// `connection: close` present.
    pub fn closes(&self) -> bool {
        self.header_all("connection")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("close"))
    }
    pub fn request_id(&self) -> String {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id in response: {self:?}"))
            .to_string()
    }
}

/// Assert an error response: status, `content-type: application/json`, body
/// `{"message": "..."}` with a non-empty string, optionally exactly `message`.
pub fn assert_error(resp: &Response, status: u16, message: Option<&str>) {
    assert_eq!(
        resp.status,
        status,
        "expected status {status}, got {} {} body {:?}",
        resp.status,
        resp.reason,
        resp.body_str()
    );
    let ct = resp.header("content-type").unwrap_or("");
    assert!(
        ct.to_ascii_lowercase().starts_with("application/json"),
        "error response content-type is {ct:?}, want application/json"
    );
    let v = resp.json();
    let msg = v
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_else(|| panic!("error body has no string `message`: {v}"));
    assert!(!msg.is_empty(), "empty error message");
    if let Some(want) = message {
        assert_eq!(msg, want, "error message");
    }
}

/// [`assert_error`], after checking the status with `ctx` (the call) in the message.
pub fn assert_error_in(resp: &Response, status: u16, message: &str, ctx: &str) {
    assert_eq!(
        resp.status,
        status,
        "{ctx}: expected {status}, got {} {:?}",
        resp.status,
        resp.body_str()
    );
    assert_error(resp, status, Some(message));
}

pub struct Client {
    pub r: Reader<TcpStream>,
}

impl Client {
    /// A keep-alive connection with the usual timeouts, or the error (for
    /// load clients that count failures instead of panicking).
    pub fn try_connect(port: u16) -> io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.set_nodelay(true)?;
        Ok(Client { r: Reader::new(s) })
    }

    pub fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client { r: Reader::new(s) }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.r.inner
    }

    pub fn set_read_timeout(&self, d: Duration) {
        self.r.inner.set_read_timeout(Some(d)).unwrap();
    }

    pub fn send(&mut self, data: impl AsRef<[u8]>) {
        self.r
            .inner
            .write_all(data.as_ref())
            .expect("write to portico");
    }

    /// Send one request and read its response.
    pub fn request(&mut self, raw: impl AsRef<[u8]>) -> Response {
        self.send(raw);
        self.read_response()
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request(get(path))
    }

    pub fn try_read_response(&mut self, head_only: bool) -> io::Result<Response> {
        let head = self
            .r
            .read_head()?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "EOF before response"))?;
        let (start, headers) = parse_head(&head);
        let mut parts = start.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status: u16 = parts.next().unwrap_or("").parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {start:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or("").to_string();
        if !version.starts_with("HTTP/1.") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {start:?}"),
            ));
        }
        let mut resp = Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            chunked: false,
            trailers: Vec::new(),
        };
        if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(resp);
        }
        if is_chunked(&resp.headers) {
            let (body, trailers) = self.r.read_chunked()?;
            resp.body = body;
            resp.trailers = trailers;
            resp.chunked = true;
        } else if let Some(n) = content_length(&resp.headers) {
            resp.body = self.r.take(n)?;
        } else {
            resp.body = self.r.read_to_eof()?;
        }
        Ok(resp)
    }

    pub fn read_response(&mut self) -> Response {
        self.try_read_response(false)
            .unwrap_or_else(|e| panic!("reading response from portico: {e}"))
    }

    /// Read a response to HEAD: the head only, no body bytes.
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response(true)
            .unwrap_or_else(|e| panic!("reading HEAD response from portico: {e}"))
    }

    /// The server closes the connection (EOF or reset) within the read
    /// timeout, without sending any further byte.
    pub fn expect_eof(&mut self) {
        assert!(
            self.r.buf.is_empty(),
            "unexpected extra bytes from server: {:?}",
            String::from_utf8_lossy(&self.r.buf)
        );
        let mut tmp = [0u8; 4096];
        match self.r.inner.read(&mut tmp) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected the server to close, got bytes: {:?}",
                String::from_utf8_lossy(&tmp[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => panic!("expected the server to close the connection, got error: {e}"),
        }
    }

    /// No byte arrives within `d` (and the connection is not closed).
    pub fn expect_silence(&mut self, d: Duration) {
        assert!(
            self.r.buf.is_empty(),
            "unexpected buffered bytes: {:?}",
            String::from_utf8_lossy(&self.r.buf)
        );
        self.r.inner.set_read_timeout(Some(d)).unwrap();
        let mut tmp = [0u8; 4096];
        let res = self.r.inner.read(&mut tmp);
        self.r.inner.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match res {
            Ok(0) => panic!("connection closed; expected it to stay open and silent"),
            Ok(n) => panic!(
                "expected no answer within {d:?}, got: {:?}",
                String::from_utf8_lossy(&tmp[..n])
            ),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("expected silence, got error {e}"),
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.r.inner.shutdown(Shutdown::Write);
    }
}

/// `GET path HTTP/1.1` with `Host: localhost`.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// `GET path` with `Host: localhost` and the `extra` header lines.
pub fn get_with(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    request("GET", path, "localhost", extra, b"")
}

/// Request with an explicit method, host, extra header lines and a
/// Content-Length body (no Content-Length header when body is empty and
/// method is GET/HEAD).
pub fn request(
    method: &str,
    path: &str,
    host: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in extra {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || !(method == "GET" || method == "HEAD") {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    let mut v = s.into_bytes();
    v.extend_from_slice(body);
    v
}

/// A fresh connection gets a good answer from the mock route: the worker is alive.
pub fn assert_serving(port: u16) {
    let mut c = Client::connect(port);
    let r = c.get("/prod/hello");
    assert_eq!(r.status, 200, "server not serving after error: {r:?}");
    assert_eq!(r.body_str(), HELLO_BODY);
}

/// Deterministic non-trivial test payload.
pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + i / 251) % 251) as u8).collect()
}

// ---------------------------------------------------------------------------
// Test upstreams
// ---------------------------------------------------------------------------

/// A request as the upstream received it (body decoded when chunked).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Index of the upstream TCP connection (0, 1, ...) it arrived on.
    pub conn: usize,
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub chunked: bool,
    pub raw_head: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        header_all(&self.headers, name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// What the upstream does after recording a request.
pub enum Reply {
    /// Write these bytes and keep the connection for the next request.
    Send(Vec<u8>),
    /// Write these bytes and close.
    SendAndClose(Vec<u8>),
    /// Close without answering.
    Close,
    /// Never answer; keep the connection open until the peer closes it.
    Stall,
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

enum Mode {
    Http(Handler),
    /// Accept, read the first bytes of the request, then drop the socket
    /// with unread data (the kernel answers with RST). Records an empty
    /// `Recorded` (method "") on its channel.
    ResetAfterFirstBytes,
}

pub struct Upstream {
    pub port: u16,
    pub rx: Receiver<Recorded>,
    stop: Arc<AtomicBool>,
}

/// `HTTP/1.1 status` with headers and a Content-Length body.
pub fn http_response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} X\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut v = s.into_bytes();
    v.extend_from_slice(body);
    v
}

/// `HTTP/1.1 200` with a chunked body made of `chunks`.
pub fn chunked_response(headers: &[(&str, &str)], chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n".to_string();
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    let mut v = s.into_bytes();
    for c in chunks {
        v.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        v.extend_from_slice(c);
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"0\r\n\r\n");
    v
}

pub fn read_request(r: &mut Reader<TcpStream>, conn: usize) -> io::Result<Option<Recorded>> {
    let head = match r.read_head()? {
        Some(h) => h,
        None => return Ok(None),
    };
    let (start, headers) = parse_head(&head);
    let mut parts = start.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("").to_string();
    let chunked = is_chunked(&headers);
    let body = if chunked {
        r.read_chunked()?.0
    } else if let Some(n) = content_length(&headers) {
        r.take(n)?
    } else {
        Vec::new()
    };
    Ok(Some(Recorded {
        conn,
        method,
        target,
        version,
        headers,
        body,
        chunked,
        raw_head: String::from_utf8_lossy(&head).to_string(),
    }))
}

fn serve_conn(stream: TcpStream, conn: usize, handler: Handler, tx: Sender<Recorded>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let mut r = Reader::new(stream);
    loop {
        let rec = match read_request(&mut r, conn) {
            Ok(Some(rec)) => rec,
            _ => return,
        };
        // The test sees the request as soon as it has arrived, before the
        // handler (which may block on a release channel) answers it.
        let _ = tx.send(rec.clone());
        let reply = handler(&rec);
        match reply {
            Reply::Send(bytes) => {
                if r.inner.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::SendAndClose(bytes) => {
                let _ = r.inner.write_all(&bytes);
                let _ = r.inner.shutdown(Shutdown::Write);
                return;
            }
            Reply::Close => return,
            Reply::Stall => {
                // Hold the connection until the peer closes it (or 30 s).
                let mut tmp = [0u8; 4096];
                while let Ok(n) = r.inner.read(&mut tmp) {
                    if n == 0 {
                        break;
                    }
                }
                return;
            }
        }
    }
}

impl Upstream {
    /// An HTTP upstream: every request is recorded, sent on `rx`, then
    /// answered per the handler's [`Reply`].
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Upstream {
        Upstream::spawn(Mode::Http(Arc::new(handler)))
    }

    /// An upstream that records the request on `rx` first, then blocks until
    /// the test sends on the returned release channel (or it is dropped, or
    /// 20 s pass), then answers 200 with `body`.
    pub fn start_held(body: &'static [u8]) -> (Upstream, Sender<()>) {
        let (rel_tx, rel_rx) = mpsc::channel::<()>();
        let rel_rx = Mutex::new(rel_rx);
        let up = Upstream::start(move |_| {
            let _ = rel_rx.lock().unwrap().recv_timeout(Duration::from_secs(20));
            Reply::Send(http_response(200, &[("content-type", "text/plain")], body))
        });
        (up, rel_tx)
    }

    /// Answers every request with `200` and `body` (keep-alive).
    pub fn ok(body: &'static [u8]) -> Upstream {
        Upstream::start(move |_| {
            Reply::Send(http_response(200, &[("content-type", "text/plain")], body))
        })
    }

    pub fn reset_after_first_bytes() -> Upstream {
        Upstream::spawn(Mode::ResetAfterFirstBytes)
    }

    fn spawn(mode: Mode) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let mode = Arc::new(mode);
        std::thread::spawn(move || {
            let mut n = 0usize;
            for s in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                let conn = n;
                n += 1;
                let tx = tx.clone();
                let mode = mode.clone();
                std::thread::spawn(move || match &*mode {
                    Mode::Http(h) => serve_conn(s, conn, h.clone(), tx),
                    Mode::ResetAfterFirstBytes => {
                        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                        let mut s = s;
                        let mut one = [0u8; 1];
                        let _ = s.read(&mut one);
                        let _ = tx.send(Recorded {
                            conn,
                            method: String::new(),
                            target: String::new(),
                            version: String::new(),
                            headers: Vec::new(),
                            body: Vec::new(),
                            chunked: false,
                            raw_head: String::new(),
                        });
                        drop(s); // unread data left: the kernel sends RST
                    }
                });
            }
        });
        Upstream { port, rx, stop }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The next recorded request (bounded wait).
    pub fn recv(&self) -> Recorded {
        self.rx
            .recv_timeout(IO_TIMEOUT)
            .expect("upstream did not receive a request in time")
    }

    /// Nothing (more) has reached the upstream.
    pub fn assert_nothing(&self) {
        if let Ok(r) = self.rx.try_recv() {
            panic!("upstream unexpectedly received {} {}", r.method, r.target);
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A proxied request held by its upstream, for the tests of draining: the
/// demo API on two workers proxying to an upstream ([`Upstream::start_held`])
/// that answers [`HeldRequest::BODY`] only once released.
pub struct HeldRequest {
    pub up: Upstream,
    release: Sender<()>,
}

impl HeldRequest {
    pub const BODY: &'static str = "released answer";

    /// The held upstream and the demo server on it (two workers, `drain_ms`).
    pub fn start_demo(drain_ms: &str) -> (HeldRequest, Server) {
        let (up, release) = Upstream::start_held(Self::BODY.as_bytes());
        let srv = Server::start(
            &Config::demo(&up.addr())
                .server("workers", "2")
                .timeouts("drain_ms", drain_ms),
        );
        (HeldRequest { up, release }, srv)
    }

    /// Sends `GET /prod/proxy/{name}` on a new connection to `srv` and waits
    /// until the upstream holds it; returns the connection.
    pub fn hold(&self, srv: &Server, name: &str) -> Client {
        let mut c = srv.connect();
        c.send(get(&format!("/prod/proxy/{name}")));
        assert_eq!(self.up.recv().target, format!("/{name}"));
        c
    }

    /// Lets the upstream answer; the held request on `c` gets its 200.
    pub fn release(&self, c: &mut Client) {
        self.release.send(()).unwrap();
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), Self::BODY);
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

/// Path of the default config shipped with the crate.
pub fn default_config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/portico.toml")
}

// ---------------------------------------------------------------------------
// Running the binary as a command (check, keys, usage)
// ---------------------------------------------------------------------------

/// What a finished `portico ...` command printed.
#[derive(Debug)]
pub struct CmdOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run the binary with `args` and `env`, bounded by `timeout` (killed and
/// panics if it does not finish).
pub fn run_bin(args: &[&std::ffi::OsStr], env: &[(&str, &str)], timeout: Duration) -> CmdOutput {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_command(cmd, timeout)
}

/// Runs `cmd` (portico, or a wrapper that execs it) to its end, bounded.
pub fn run_command(mut cmd: Command, timeout: Duration) -> CmdOutput {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let args: Vec<_> = cmd.get_args().map(|a| a.to_os_string()).collect();
    let mut child = cmd.spawn().expect("spawn portico");
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        let _ = tx.send((true, String::from_utf8_lossy(&s).to_string()));
    });
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        let _ = tx2.send((false, String::from_utf8_lossy(&s).to_string()));
    });
    let deadline = Instant::now() + timeout;
    let (mut stdout, mut stderr) = (None, None);
    while stdout.is_none() || stderr.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((true, s)) => stdout = Some(s),
            Ok((false, s)) => stderr = Some(s),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "portico {args:?} did not finish within {timeout:?} (serving instead of exiting?)"
                );
            }
        }
    }
    let status = child.wait().expect("wait portico");
    CmdOutput {
        status,
        stdout: stdout.unwrap(),
        stderr: stderr.unwrap(),
    }
}

/// How long `portico check` or a start that must fail may take.
const CONFIG_CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST {path}` with `body` sent chunked, in two writes: not whole in
/// the first read.
pub fn post_chunked(c: &mut Client, path: &str, body: &[u8]) -> Response {
    let (a, b) = body.split_at(body.len() / 2);
    c.send(format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    ));
    c.send(format!("{:x}\r\n", a.len()));
    c.send(a);
    c.send("\r\n");
    c.send(format!("{:x}\r\n", b.len()));
    c.send(b);
    c.send("\r\n0\r\n\r\n");
    c.read_response()
}

/// An API whose stage `prod` (variable `tenant = "acme"`) proxies `POST
/// /items/{id}` to `/backend/{oid}?fixed=1` on `port` with `parameters`
/// (TOML `key = value` pairs) as its `request_parameters`.
pub fn mapping_route(port: u16, parameters: &str) -> String {
    format!(
        r#"
[[api]]
name = "maps"

[api.stages.prod]
variables = {{ tenant = "acme" }}

[[api.routes]]
method = "POST"
path = "/items/{{id}}"
integration = {{ type = "http_proxy", uri = "http://127.0.0.1:{port}/backend/{{oid}}?fixed=1", timeout_ms = 5000, request_parameters = {{ {parameters} }} }}
"#
    )
}

/// Sends `POST {path}` with the chunked body `{"age": 3}` in two parts and
/// checks it streams: the upstream on `listener` has the head and the first
/// chunk while the client has not yet sent the rest (no copy of the whole
/// body is made first), then the whole body, and its answer reaches the
/// client. The upstream head, for further checks.
pub fn assert_body_streams(c: &mut Client, listener: &TcpListener, path: &str) -> String {
    c.send(format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n4\r\n{{\"ag\r\n"
    ));
    // portico connects while the body is unfinished.
    let up = accept_within(listener, IO_TIMEOUT);
    up.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut up = Reader::new(up);
    let head = String::from_utf8(up.read_head().unwrap().unwrap()).unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    while !up.buf.windows(3).any(|w| w == b"{\"a") {
        assert!(up.fill().unwrap() > 0, "the first chunk");
    }
    c.send("6\r\ne\": 3}\r\n0\r\n\r\n");
    let (body, _) = up.read_chunked().unwrap();
    assert_eq!(body, br#"{"age": 3}"#);
    up.inner
        .write_all(&http_response(200, &[], b"streamed"))
        .unwrap();
    let r = c.read_response();
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (200, "streamed"),
        "{r:?}"
    );
    head
}

/// The next connection on `listener`, which must come within `timeout`: a
/// test that waits for portico to connect fails instead of hanging.
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> TcpStream {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let got = poll_until(
        timeout,
        || match listener.accept() {
            Ok((s, _)) => Some(s),
            Err(_) => None,
        },
        Option::is_some,
        |_| format!("no connection within {timeout:?}"),
    )
    .expect("polled until some");
    listener.set_nonblocking(false).expect("blocking listener");
    got.set_nonblocking(false).expect("blocking stream");
    got
}

/// `portico check --config PATH` (bounded).
pub fn check_config(path: &Path) -> CmdOutput {
    let args = ["check".as_ref(), "--config".as_ref(), path.as_os_str()];
    run_bin(&args, &[], CONFIG_CMD_TIMEOUT)
}

/// `portico --config PATH` for a config it must refuse: bounded, so a server
/// that starts anyway fails the test instead of hanging it.
pub fn start_config(path: &Path) -> CmdOutput {
    run_bin(
        &["--config".as_ref(), path.as_os_str()],
        &[],
        CONFIG_CMD_TIMEOUT,
    )
}

/// The config `text` does not start, and its error names every one of `wanted`.
pub fn assert_refused(text: &str, wanted: &[&str]) {
    let out = start_config(&write_config(text));
    assert!(!out.status.success(), "accepted:\n{text}");
    for w in wanted {
        assert!(
            out.stderr.contains(w),
            "no `{w}` in the error: {}\nconfig:\n{text}",
            out.stderr
        );
    }
}

/// `base` with its first line starting with `prefix` replaced by `with` (may
/// hold several lines); returns the text, the 1-based number of the replaced
/// line and that of the header of the table it is in.
pub fn break_line(base: &str, prefix: &str, with: &str) -> (String, usize, usize) {
    let mut lines: Vec<&str> = base.lines().collect();
    let idx = lines
        .iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"));
    let header = (0..idx)
        .rev()
        .find(|&i| lines[i].starts_with('['))
        .expect("a table header above");
    lines[idx] = with;
    (lines.join("\n") + "\n", idx + 1, header + 1)
}

/// `s` contains `:{line}` not followed by another digit.
pub fn has_line_ref(s: &str, line: usize) -> bool {
    let pat = format!(":{line}");
    s.match_indices(&pat).any(|(i, _)| {
        !s[i + pat.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// Config `text` is refused both by `portico check` and at start: exit code
/// 2 (a config error), never `listening on`, and stderr names the config
/// file, a line in `lines` (as `:N`) and one of `keys`. `what` names the case.
pub fn assert_config_rejected(text: &str, lines: RangeInclusive<usize>, keys: &[&str], what: &str) {
    let path = write_config(text);
    let file_name = path.file_name().unwrap().to_string_lossy().to_string();
    for (mode, out) in [
        ("check", check_config(&path)),
        ("start", start_config(&path)),
    ] {
        let stderr = &out.stderr;
        let ctx = format!(
            "[{mode}] {what} (want a line in {lines:?})\nstatus: {:?}\nstderr:\n{stderr}",
            out.status
        );
        assert!(
            !stderr.contains("listening on"),
            "started with a bad config: {ctx}"
        );
        assert_eq!(out.status.code(), Some(2), "exit code: {ctx}");
        assert!(stderr.contains(&file_name), "file name missing: {ctx}");
        assert!(
            lines.clone().any(|l| has_line_ref(stderr, l)),
            "no `:LINE` for a line in {lines:?}: {ctx}"
        );
        assert!(
            keys.iter().any(|k| stderr.contains(k)),
            "none of {keys:?} in stderr: {ctx}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

/// `portico <sub> --config <cfg rendered to a temp file> <args>`; panics
/// unless it exits 0.
pub fn run_cli(cfg: &Config, sub: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let path = write_config(&cfg.render());
    let mut all: Vec<&std::ffi::OsStr> = vec![sub.as_ref(), "--config".as_ref(), path.as_ref()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    let out = run_bin(&all, env, Duration::from_secs(20));
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "portico {sub} {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// `portico keys`: the JSON array of `{id, name, value, enabled, usagePlans}`.
pub fn keys_cli(cfg: &Config, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let out = run_cli(cfg, "keys", &[], env);
    let v: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("`portico keys` printed no JSON ({e}): {out:?}"));
    v.as_array()
        .unwrap_or_else(|| panic!("`portico keys` did not print an array: {v}"))
        .clone()
}

/// The `portico keys` entry with this id (panics if absent).
pub fn key_entry(keys: &[serde_json::Value], id: &str) -> serde_json::Value {
    keys.iter()
        .find(|k| k.get("id").and_then(|v| v.as_str()) == Some(id))
        .unwrap_or_else(|| panic!("no key with id {id:?} in `portico keys`: {keys:?}"))
        .clone()
}

/// Days since 1970-01-01 (UTC) now.
pub fn utc_days_now() -> i64 {
    (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400) as i64
}

/// Seconds left until the next UTC midnight.
pub fn secs_to_utc_midnight() -> u64 {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    86_400 - s % 86_400
}

/// `YYYY-MM-DD` of a day number (days since the epoch), proleptic Gregorian.
pub fn ymd(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// A parsed `portico usage` report.
#[derive(Debug, Clone)]
pub struct UsageReport {
    pub json: serde_json::Value,
    /// Day number of the first entry (`--from`).
    pub from_day: i64,
}

impl UsageReport {
    fn day_entries(&self, key_id: &str) -> Vec<serde_json::Value> {
        match self.json.get("items").and_then(|i| i.get(key_id)) {
            None | Some(serde_json::Value::Null) => vec![],
            Some(v) => v
                .as_array()
                .unwrap_or_else(|| panic!("items[{key_id}] is not an array: {}", self.json))
                .clone(),
        }
    }
    /// Admitted calls with this key over the whole range (0 when absent).
    pub fn calls(&self, key_id: &str) -> u64 {
        self.day_entries(key_id)
            .iter()
            .map(|d| {
                d.get(0)
                    .and_then(|c| c.as_u64())
                    .unwrap_or_else(|| panic!("bad day entry {d} in {}", self.json))
            })
            .sum()
    }
    /// Calls with this key on day number `day` (0 when absent).
    pub fn calls_on(&self, key_id: &str, day: i64) -> u64 {
        let idx = (day - self.from_day) as usize;
        self.day_entries(key_id)
            .get(idx)
            .map(|d| d.get(0).and_then(|c| c.as_u64()).unwrap_or(0))
            .unwrap_or(0)
    }
    /// `remaining` after day number `day`: `None` when the key is absent or
    /// the entry's remaining is null.
    pub fn remaining_on(&self, key_id: &str, day: i64) -> Option<u64> {
        let idx = (day - self.from_day) as usize;
        self.day_entries(key_id)
            .get(idx)
            .and_then(|d| d.get(1))
            .and_then(|r| r.as_u64())
    }
    /// Bytes out with this key over the range (0 when absent).
    pub fn bytes(&self, key_id: &str) -> u64 {
        match self.json.get("bytes").and_then(|b| b.get(key_id)) {
            None | Some(serde_json::Value::Null) => 0,
            Some(v) => v
                .as_array()
                .unwrap_or_else(|| panic!("bytes[{key_id}] is not an array: {}", self.json))
                .iter()
                .map(|b| b.as_u64().unwrap_or(0))
                .sum(),
        }
    }
}

/// `portico usage --plan PLAN [--key KEY] --from yesterday --to tomorrow`
/// (UTC): three days, so a run crossing midnight still sees everything.
pub fn usage_cli(cfg: &Config, plan: &str, key: Option<&str>) -> UsageReport {
    let today = utc_days_now();
    usage_cli_range(cfg, plan, key, today - 1, today + 1)
}

pub fn usage_cli_range(
    cfg: &Config,
    plan: &str,
    key: Option<&str>,
    from: i64,
    to: i64,
) -> UsageReport {
    let (f, t) = (ymd(from), ymd(to));
    let mut args = vec!["--plan", plan, "--from", &f, "--to", &t];
    if let Some(k) = key {
        args.push("--key");
        args.push(k);
    }
    let out = run_cli(cfg, "usage", &args, &[]);
    let json: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("`portico usage` printed no JSON ({e}): {out:?}"));
    assert_eq!(
        json.get("usagePlanId").and_then(|v| v.as_str()),
        Some(plan),
        "usagePlanId in {json}"
    );
    assert_eq!(
        json.get("startDate").and_then(|v| v.as_str()),
        Some(f.as_str()),
        "startDate in {json}"
    );
    assert_eq!(
        json.get("endDate").and_then(|v| v.as_str()),
        Some(t.as_str()),
        "endDate in {json}"
    );
    UsageReport {
        json,
        from_day: from,
    }
}

/// Poll `portico usage` until `pred` holds (bounded); returns the last report.
pub fn wait_usage(
    cfg: &Config,
    plan: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&UsageReport) -> bool,
) -> UsageReport {
    poll_until(
        timeout,
        || usage_cli(cfg, plan, None),
        pred,
        |r| {
            format!(
                "usage never showed {what} within {timeout:?}; last: {}",
                r.json
            )
        },
    )
}

// ---------------------------------------------------------------------------
// Keys, throttling helpers
// ---------------------------------------------------------------------------

/// `GET path` with `x-api-key: key`.
pub fn get_with_key(path: &str, key: &str) -> Vec<u8> {
    get_with(path, &[("x-api-key", key)])
}

/// A 200 with body `body`; `ctx` names the call.
pub fn assert_ok(r: &Response, body: &str, ctx: &str) {
    assert_eq!(
        r.status,
        200,
        "{ctx}: expected 200, got {} body {:?}",
        r.status,
        r.body_str()
    );
    assert_eq!(r.body_str(), body, "{ctx}");
}

/// `n` requests `raw` on `c`, each answered 200 with `body` (`ctx #i`).
pub fn assert_ok_times(c: &mut Client, raw: impl AsRef<[u8]>, n: usize, body: &str, ctx: &str) {
    for i in 0..n {
        assert_ok(&c.request(raw.as_ref()), body, &format!("{ctx} #{i}"));
    }
}

/// Assert a 429 `{"message": msg}` with an integer `Retry-After` >= 1; returns it.
pub fn assert_429(resp: &Response, msg: &str) -> u64 {
    assert_error(resp, 429, Some(msg));
    let ra = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {resp:?}"));
    let n: u64 = ra
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is not an integer: {ra:?}"));
    assert!(n >= 1, "Retry-After {n} < 1");
    n
}

pub const TOO_MANY: &str = "Too Many Requests";
pub const LIMIT_EXCEEDED: &str = "Limit Exceeded";
pub const FORBIDDEN: &str = "Forbidden";

/// Counts of a load run.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadCount {
    pub ok: u64,
    pub throttled: u64,
    pub other: u64,
    /// A request was written but no response read when the loop ended on an
    /// I/O error (the server died).
    pub unanswered: u64,
}

impl LoadCount {
    /// Add the counts of another run.
    pub fn add(&mut self, n: LoadCount) {
        self.ok += n.ok;
        self.throttled += n.throttled;
        self.other += n.other;
        self.unanswered += n.unanswered;
    }
}

/// Tight keep-alive loop of `raw` on one connection until `until()` is true
/// or an I/O error; counts statuses. Never panics on I/O errors.
pub fn load_loop(port: u16, raw: &[u8], until: impl Fn() -> bool) -> LoadCount {
    let mut n = LoadCount::default();
    let mut c = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => {
            let _ = s.set_read_timeout(Some(IO_TIMEOUT));
            let _ = s.set_write_timeout(Some(IO_TIMEOUT));
            let _ = s.set_nodelay(true);
            Client { r: Reader::new(s) }
        }
        Err(_) => return n,
    };
    while !until() {
        if c.r.inner.write_all(raw).is_err() {
            return n;
        }
        match c.try_read_response(false) {
            Ok(r) => match r.status {
                200 => n.ok += 1,
                429 => n.throttled += 1,
                _ => n.other += 1,
            },
            Err(_) => {
                n.unanswered += 1;
                return n;
            }
        }
    }
    n
}

// ---------------------------------------------------------------------------
// The quota calendar
// ---------------------------------------------------------------------------

/// The variable that starts a server's quota and usage calendar at a
/// chosen UTC instant (RFC 3339); it runs at real speed from there.
pub const TEST_CLOCK: &str = "PORTICO_TEST_CLOCK";

/// Noon of a fixed day: no quota period of a server started at it ends
/// while a test runs, whatever the hour on the machine's clock.
pub const QUIET_NOON: &str = "2026-11-25T12:00:00Z";

/// Day number (days since 1970-01-01, UTC) of an RFC 3339 instant.
pub fn day_number(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?}: {e}"))
        .timestamp()
        .div_euclid(86_400)
}

/// An OpenAPI document titled `title` whose `GET /v` needs an API key
/// (`x-api-key`) and answers 200 from a mock integration.
pub fn keyed_mock_openapi(title: &str) -> serde_json::Value {
    serde_json::json!({
        "openapi": "3.0.1",
        "info": {"title": title},
        "components": {"securitySchemes": {
            "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}
        }},
        "paths": {"/v": {"get": {
            "security": [{"api_key": []}],
            "x-amazon-apigateway-integration": {
                "type": "mock",
                "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                "responses": {"default": {"statusCode": "200"}}
            }
        }}}
    })
}

/// A server whose management API takes `token`, for tests that build
/// APIs call by call.
pub struct Managed {
    pub srv: Server,
    token: &'static str,
}

impl Managed {
    pub fn start(token: &'static str) -> Managed {
        let srv = Server::start(&Config::new("").admin("token", &toml_str(token)));
        Managed { srv, token }
    }

    /// One management call that must answer `status`: its JSON body.
    pub fn ok(
        &mut self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        status: u16,
    ) -> serde_json::Value {
        let token = self.token;
        self.srv
            .admin_call(token, method, path, body.as_ref(), status)
    }
    /// A new REST API named `name`: its id and root resource id.
    pub fn new_api(&mut self, name: &str) -> (String, String) {
        let api = self.ok(
            "POST",
            "/restapis",
            Some(serde_json::json!({ "name": name })),
            201,
        );
        let s = |k: &str| api[k].as_str().unwrap_or_default().to_string();
        (s("id"), s("rootResourceId"))
    }

    /// A resource `part` under `parent` of API `id` with method `verb`
    /// (no authorization, plus `extra` settings): the method's path.
    pub fn put_method_under(
        &mut self,
        (id, parent): (&str, &str),
        part: &str,
        verb: &str,
        extra: serde_json::Value,
    ) -> String {
        let r = self.ok(
            "POST",
            &format!("/restapis/{id}/resources/{parent}"),
            Some(serde_json::json!({ "pathPart": part })),
            201,
        );
        let path = format!(
            "/restapis/{id}/resources/{}/methods/{verb}",
            r["id"].as_str().unwrap_or_default()
        );
        let mut m = serde_json::json!({ "authorizationType": "NONE" });
        for (k, v) in extra.as_object().into_iter().flatten() {
            m[k] = v.clone();
        }
        self.ok("PUT", &path, Some(m), 201);
        path
    }

    /// Method `method`'s method response for `status`, declaring the
    /// headers integration response `ir` maps, then that integration response.
    pub fn put_responses(&mut self, method: &str, status: &str, ir: serde_json::Value) {
        let declared = method_response_for(&ir);
        self.ok(
            "PUT",
            &format!("{method}/responses/{status}"),
            Some(declared),
            201,
        );
        let at = format!("{method}/integration/responses/{status}");
        self.ok("PUT", &at, Some(ir), 201);
    }

    /// Model `Pet` of API `id` (JSON, `schema`) and a request validator
    /// checking parameters and/or the body: the validator's id.
    pub fn pet_validator(
        &mut self,
        id: &str,
        schema: &str,
        (params, body): (bool, bool),
    ) -> serde_json::Value {
        let model = serde_json::json!({ "name": "Pet", "contentType": "application/json", "schema": schema });
        self.ok("POST", &format!("/restapis/{id}/models"), Some(model), 201);
        let v = serde_json::json!({ "name": "v", "validateRequestParameters": params, "validateRequestBody": body });
        let at = format!("/restapis/{id}/requestvalidators");
        self.ok("POST", &at, Some(v), 201)["id"].clone()
    }

    /// CreateDeployment of API `id` with `body` (`stageName`, ...).
    pub fn deploy(&mut self, id: &str, body: serde_json::Value) {
        let at = format!("/restapis/{id}/deployments");
        self.ok("POST", &at, Some(body), 201);
    }

    /// `method path` of API `id`'s stage prod with `headers` and `body`,
    /// once the data plane answers `status` (a deployment takes effect soon
    /// after it is made).
    pub fn served(
        &self,
        id: &str,
        (method, path): (&str, &str),
        headers: &[(&str, &str)],
        body: &str,
        status: u16,
    ) -> Response {
        let url = format!("/restapis/{id}/prod/_user_request_{path}");
        poll_until(
            POLL_FOR,
            || {
                self.srv.connect().request(request(
                    method,
                    &url,
                    "localhost",
                    headers,
                    body.as_bytes(),
                ))
            },
            |r| r.status == status,
            |r| format!("{method} {url}: want {status}, got {r:?}"),
        )
    }
}
