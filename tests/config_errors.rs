//! `portico check` and start-up validation: bad configs are rejected with
//! every error of the file, each with file:line:column, key path and a
//! caret under the value, then how many there were.
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

/// Both `portico check` and a server start refuse `text` with exit code 2
/// and exactly the errors `want` (line, column, key path), in that order,
/// each as `--> FILE:LINE:COLUMN (KEY)`, then `N errors in FILE`. Returns
/// what `check` printed.
fn assert_errors(text: &str, want: &[(usize, usize, &str)]) -> String {
    let path = write_config(text);
    let file = path.display().to_string();
    let mut printed = String::new();
    for (mode, out) in [
        ("check", check_config(&path)),
        ("start", start_config(&path)),
    ] {
        let stderr = &out.stderr;
        let ctx = format!("[{mode}] status {:?}, stderr:\n{stderr}", out.status);
        assert!(!stderr.contains("listening on"), "started: {ctx}");
        assert_eq!(out.status.code(), Some(2), "exit code: {ctx}");
        let got: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("--> "))
            .collect();
        let expected: Vec<String> = want
            .iter()
            .map(|(line, col, key)| format!("{file}:{line}:{col} ({key})"))
            .collect();
        assert_eq!(got, expected, "{ctx}");
        let headings = stderr.lines().filter(|l| l.starts_with("error: ")).count();
        assert_eq!(headings, want.len(), "one `error:` per error: {ctx}");
        let count = match want.len() {
            1 => format!("1 error in {file}"),
            n => format!("{n} errors in {file}"),
        };
        assert_eq!(
            stderr.trim_end().lines().last(),
            Some(count.as_str()),
            "{ctx}"
        );
        if mode == "check" {
            printed = stderr.clone();
        }
    }
    let _ = std::fs::remove_file(&path);
    printed
}

/// The block printed for the error at `--> FILE:LINE:COL (KEY)` `at`: that
/// line and the three after it (gutter, source line, caret).
fn block_at<'a>(stderr: &'a str, at: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = stderr.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.ends_with(at))
        .unwrap_or_else(|| panic!("no `{at}` in:\n{stderr}"));
    lines[i..(i + 4).min(lines.len())].to_vec()
}

#[test]
fn typos_far_apart_are_all_reported_in_file_order() {
    // serde reads [[api]] before [server] (keys in order), so a one-error
    // report named only the later line.
    let mut text = BASE.replace("listen = ", "lisen = ");
    for n in 0..60 {
        text.push_str(&format!(
            "\n[[api]]\nname = \"a{n}\"\nhosts = [\"a{n}.example\"]\n[api.stages.prod]\n"
        ));
    }
    text.push_str("[[api.routes]]\nmethod = \"GET\"\npathh = \"/late\"\n");
    let late = text.lines().count();
    assert!(late > 250, "{late}");
    let stderr = assert_errors(
        &text,
        &[(3, 1, "server.lisen"), (late, 1, "api[60].routes[0].pathh")],
    );
    assert!(
        stderr.contains("= help: did you mean `listen`?"),
        "{stderr}"
    );
    assert!(stderr.contains("= help: did you mean `path`?"), "{stderr}");
}

#[test]
fn wrong_type_names_the_leaf_with_a_caret_under_the_value() {
    let (text, line, _) = break_line(
        BASE,
        "variables =",
        "variables = { backend = \"127.0.0.1:9000\" }\n[api.stages.prod.throttle]\nrate = 100\nburst = \"500\"",
    );
    let line = line + 3;
    let stderr = assert_errors(&text, &[(line, 9, "api[0].stages.prod.throttle.burst")]);
    let block = block_at(
        &stderr,
        &format!(":{line}:9 (api[0].stages.prod.throttle.burst)"),
    );
    let w = line.to_string().len();
    let pad = " ".repeat(w);
    assert_eq!(
        block[1..],
        [
            format!("{pad} |"),
            format!("{line} | burst = \"500\""),
            format!("{pad} |         ^^^^^"),
        ],
        "{stderr}"
    );
    assert!(
        stderr.starts_with("error: invalid type: string \"500\", expected u64\n"),
        "{stderr}"
    );
}

#[test]
fn unknown_plan_of_a_key_is_reported_at_the_value() {
    let text = format!(
        "{BASE}\n[[usage_plans]]\nname = \"basic\"\napi_stages = [ {{ api = \"demo\", stage = \"prod\" }} ]\n\n\
         [[api_keys]]\nname = \"k1\"\nvalue = \"k1-0123456789abcdef0123\"\nusage_plans = [\"basic\", \"gold\"]\n"
    );
    let line = text.lines().count();
    let stderr = assert_errors(&text, &[(line, 25, "api_keys[0].usage_plans[1]")]);
    assert!(stderr.contains("no usage plan is named `gold`"), "{stderr}");
}

#[test]
fn semantic_and_type_errors_are_reported_together() {
    let (text, workers, _) = break_line(BASE, "workers =", "workers = \"two\"");
    let (text, mapping, _) = break_line(
        &text,
        "mappings =",
        "mappings = [ { base_path = \"v1\", api = \"demo\", stage = \"dev\" } ]",
    );
    let stderr = assert_errors(
        &text,
        &[
            (workers, 11, "server.workers"),
            (mapping, 56, "domain[0].mappings[0].stage"),
        ],
    );
    assert!(stderr.contains("API `demo` has no stage `dev`"), "{stderr}");
}

#[test]
fn toml_syntax_error_is_reported_alone_and_says_so() {
    let (text, line, _) = break_line(BASE, "workers =", "workers = = 1");
    let (text, _, _) = break_line(&text, "driver =", "drivr = \"auto\"");
    let path = write_config(&text);
    let file = path.display().to_string();
    for out in [check_config(&path), start_config(&path)] {
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            out.stderr.contains(&format!("--> {file}:{line}:11\n")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("only error reported"), "{}", out.stderr);
        assert!(out
            .stderr
            .trim_end()
            .ends_with(&format!("1 error in {file}")));
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn compile_errors_are_all_reported_too() {
    // Two mistakes only the compiler sees (the file itself is well-formed):
    // an authorizer no API defines, and scopes on a route without one.
    let (text, first, _) = break_line(
        BASE,
        "path = \"/hello\"",
        "path = \"/hello\"\nauthorizer = \"nope\"",
    );
    let (text, second, _) = break_line(
        &text,
        "path = \"/proxy/{proxy+}\"",
        "path = \"/proxy/{proxy+}\"\nauthorization_scopes = [\"read\"]",
    );
    let stderr = assert_errors(
        &text,
        &[
            (first + 1, 14, "api[0].routes[0].authorizer"),
            (second + 1, 24, "api[0].routes[1].authorization_scopes"),
        ],
    );
    assert!(
        stderr.contains("no authorizer `nope` in this API"),
        "{stderr}"
    );
    assert!(stderr.contains("scopes need an authorizer"), "{stderr}");
}

#[test]
fn unknown_gateway_response_type_is_rejected() {
    assert_rejected(
        "hosts = []",
        "gateway_responses.THROTTLE = { status = 503 }",
        "api[0].gateway_responses.THROTTLE",
    );
}

#[test]
fn gateway_response_header_from_nowhere_is_rejected() {
    assert_rejected(
        "hosts = []",
        "gateway_responses.THROTTLED = { headers = { x-a = \"integration.response.body\" } }",
        "api[0].gateway_responses.THROTTLED",
    );
}
