//! `portico check` and start-up validation: bad configs are rejected with
//! file, line and key.
mod common;

use common::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Run portico with `args`, bounded: returns exit status and stderr.
fn run(args: &[&std::ffi::OsStr]) -> (ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn portico");
    let mut err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        let _ = tx.send(String::from_utf8_lossy(&s).to_string());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(stderr) => {
            let st = child.wait().expect("wait portico");
            (st, stderr)
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("portico {args:?} did not exit within 10 s (it started with a bad config?)");
        }
    }
}

fn check(path: &Path) -> (ExitStatus, String) {
    run(&["check".as_ref(), "--config".as_ref(), path.as_os_str()])
}

fn start(path: &Path) -> (ExitStatus, String) {
    run(&["--config".as_ref(), path.as_os_str()])
}

const BASE: &str = r#"# a valid config the cases below break one line of
[server]
listen = "127.0.0.1:0"
workers = 1
driver = "auto"

[limits]
max_body_bytes = 1000

[[api]]
name = "demo"
hosts = []

[api.stages.prod]
variables = { backend = "127.0.0.1:9000" }

[[api.routes]]
method = "GET"
path = "/hello"
integration = { type = "mock", status = 200, headers = { "content-type" = "text/plain" }, body = 'hi' }

[[api.routes]]
method = "ANY"
path = "/proxy/{proxy+}"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/{proxy}", timeout_ms = 1000 }

[[domain]]
name = "api.example.com"
mappings = [ { base_path = "v1", api = "demo", stage = "prod" } ]
"#;

/// BASE with the first line starting with `prefix` replaced by `with`;
/// returns the text and the 1-based number of that line.
fn break_line(prefix: &str, with: &str) -> (String, usize) {
    let lines: Vec<&str> = BASE.lines().collect();
    let idx = lines
        .iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"));
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    out[idx] = with.to_string();
    (out.join("\n") + "\n", idx + 1)
}

/// `s` contains `:{line}` not followed by another digit.
fn has_line_ref(s: &str, line: usize) -> bool {
    let pat = format!(":{line}");
    s.match_indices(&pat).any(|(i, _)| {
        !s[i + pat.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

fn assert_rejected(prefix: &str, with: &str, key: &str) {
    let (text, line) = break_line(prefix, with);
    let path = write_config(&text);
    let file_name = path.file_name().unwrap().to_string_lossy().to_string();
    for (mode, (st, stderr)) in [("check", check(&path)), ("start", start(&path))] {
        let ctx = format!("[{mode}] line {line} `{with}`\nstderr:\n{stderr}");
        assert!(!st.success(), "accepted a bad config: {ctx}");
        assert!(
            !stderr.contains("listening on"),
            "started with a bad config: {ctx}"
        );
        assert!(stderr.contains(&file_name), "file name missing: {ctx}");
        assert!(has_line_ref(&stderr, line), "`:{line}` missing: {ctx}");
        assert!(stderr.contains(key), "key `{key}` missing: {ctx}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn check_accepts_default_config() {
    let (st, stderr) = check(&default_config_path());
    assert!(st.success(), "default config rejected: {stderr}");
}

#[test]
fn check_accepts_base_and_test_configs() {
    let path = write_config(BASE);
    let (st, stderr) = check(&path);
    let _ = std::fs::remove_file(&path);
    assert!(st.success(), "BASE rejected: {stderr}");

    let cfg = Config::demo("127.0.0.1:9000")
        .limits("max_headers", "10")
        .timeouts("header_ms", "300")
        .upstream("connect_timeout_ms", "1000");
    let path = write_config(&cfg.render());
    let (st, stderr) = check(&path);
    let _ = std::fs::remove_file(&path);
    assert!(st.success(), "harness config rejected: {stderr}");
}

#[test]
fn check_missing_file_fails() {
    let path = temp_path("missing", "toml");
    let (st, stderr) = check(&path);
    assert!(!st.success());
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(stderr.contains(&name), "stderr: {stderr}");
}

#[test]
fn unknown_key_is_rejected() {
    assert_rejected("listen =", "lisen = \"127.0.0.1:0\"", "lisen");
}

#[test]
fn unknown_key_in_route_is_rejected() {
    assert_rejected("path = \"/hello\"", "pathh = \"/hello\"", "pathh");
}

#[test]
fn non_integer_workers_is_rejected() {
    assert_rejected("workers =", "workers = \"x\"", "workers");
}

#[test]
fn unknown_driver_is_rejected() {
    assert_rejected("driver =", "driver = \"fast\"", "driver");
}

#[test]
fn path_without_leading_slash_is_rejected() {
    assert_rejected("path = \"/hello\"", "path = \"hello\"", "path");
}

#[test]
fn unknown_method_is_rejected() {
    assert_rejected("method = \"GET\"", "method = \"FETCH\"", "method");
}

#[test]
fn non_http_uri_is_rejected() {
    assert_rejected(
        "integration = { type = \"http_proxy\"",
        "integration = { type = \"http_proxy\", uri = \"ftp://x/{proxy}\", timeout_ms = 1000 }",
        "uri",
    );
}

#[test]
fn undefined_stage_variable_is_rejected() {
    assert_rejected(
        "integration = { type = \"http_proxy\"",
        "integration = { type = \"http_proxy\", uri = \"http://${stageVariables.nosuch}/{proxy}\", timeout_ms = 1000 }",
        "uri",
    );
}

#[test]
fn domain_mapping_to_missing_api_is_rejected() {
    assert_rejected(
        "mappings =",
        "mappings = [ { base_path = \"v1\", api = \"nope\", stage = \"prod\" } ]",
        "api",
    );
}
