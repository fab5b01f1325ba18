//! `portico check` and start-up validation: bad configs are rejected with
//! file, line and key.
mod common;

use common::*;
use std::path::Path;

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

/// BASE with the first line starting with `prefix` replaced by `with` is
/// rejected, naming that line and `key`.
fn assert_rejected(prefix: &str, with: &str, key: &str) {
    let (text, line, _) = break_line(BASE, prefix, with);
    assert_config_rejected(&text, line..=line, &[key], &format!("line {line} `{with}`"));
}

/// `portico check` accepts the config at `path`.
fn assert_check_ok(path: &Path, what: &str) {
    let out = check_config(path);
    assert!(out.status.success(), "{what} rejected: {}", out.stderr);
}

#[test]
fn check_accepts_default_config() {
    assert_check_ok(&default_config_path(), "default config");
}

#[test]
fn check_accepts_base_and_test_configs() {
    let cfg = Config::demo("127.0.0.1:9000")
        .limits("max_headers", "10")
        .timeouts("header_ms", "300")
        .upstream("connect_timeout_ms", "1000");
    for (what, text) in [("BASE", BASE.to_string()), ("harness config", cfg.render())] {
        let path = write_config(&text);
        assert_check_ok(&path, what);
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn check_missing_file_fails() {
    let path = temp_path("missing", "toml");
    let out = check_config(&path);
    assert!(!out.status.success(), "missing file accepted: {out:?}");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(out.stderr.contains(&name), "stderr: {}", out.stderr);
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
