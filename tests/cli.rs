//! The `portico` command line against the real binary: the generated admin
//! credentials (the local CLI and an independent SigV4 signer, boto3, use
//! them), config checks of the variables `[admin]` names, output into a
//! closed pipe, version, completions, man page, help, and createdDate of
//! the config file's APIs.

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const CMD_TIMEOUT: Duration = Duration::from_secs(20);

fn portico(args: &[&str]) -> CmdOutput {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    run_bin(&args, &[], CMD_TIMEOUT)
}

/// `portico ARGS --config PATH`.
fn with_config(args: &[&str], path: &Path) -> CmdOutput {
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.extend([OsStr::new("--config"), path.as_os_str()]);
    run_bin(&all, &[], CMD_TIMEOUT)
}

fn ok(out: &CmdOutput, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout,
        out.stderr
    );
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The shipped default config with its addresses and state directory
/// moved out of the way of other tests (one worker, unpinned): no admin
/// token or key pair is configured in it.
fn default_config(state: &Path, admin_port: u16) -> String {
    let text = std::fs::read_to_string(default_config_path()).unwrap();
    let moved = text
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "listen = \"127.0.0.1:9901\"",
            &format!("listen = \"127.0.0.1:{admin_port}\""),
        )
        .replace("workers = 0", "workers = 1")
        .replace("pin_workers = true", "pin_workers = false")
        .replace(
            "dir = \"portico-state\"",
            &format!("dir = {}", toml_str(&state.to_string_lossy())),
        );
    // Whole values, since a free port may contain "8080" or "9901".
    for (from, what) in [
        ("\"127.0.0.1:8080\"", "listen"),
        ("\"127.0.0.1:9901\"", "admin listen"),
        ("\"portico-state\"", "state dir"),
    ] {
        let left = moved
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains(from));
        assert!(!left, "the default config's {what} did not move: {from}");
    }
    moved
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn cache_flush_works_on_the_default_config_with_the_generated_token() {
    let state = TempDir::new("cli-default");
    let dir = state.path.join("state");
    let mut srv = Server::start_text(&default_config(&dir, refused_port()), &[]);
    let file = dir.join("admin-credentials.toml");
    let said = srv.startup.join("\n");
    assert!(
        said.contains(&file.display().to_string())
            && said.contains("portico admin credentials --config"),
        "the start does not say where the generated credentials are and how to print them: {said}"
    );
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    let generated = std::fs::read_to_string(&file).unwrap();

    // The admin endpoint wants a token: without one it is refused...
    let r = srv.admin_request("POST", "/cache/flush?stage=prod", None);
    assert_eq!(r.status, 401, "{}", r.body_str());
    // ...and the CLI finds the generated one.
    let path = srv.config_path().to_path_buf();
    let out = with_config(&["cache", "flush", "--stage", "prod"], &path);
    ok(&out, "portico cache flush --stage prod");
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v, serde_json::json!({"flushed": 1}));

    // Kept across a restart: the same credentials, and the CLI still works.
    let text = std::fs::read_to_string(&path).unwrap();
    srv.stop();
    drop(srv);
    let srv = Server::start_text(&text, &[]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), generated);
    let out = with_config(&["cache", "flush", "--stage", "prod"], srv.config_path());
    ok(&out, "flush after a restart");
}

#[test]
fn cli_refusals_name_flags() {
    let port = refused_port();
    let route = mock_route("GET", "/x", false, "x");
    let two = format!(
        "{}{}",
        api_toml("one", &[], &["prod"], std::slice::from_ref(&route)),
        api_toml("two", &["two.example"], &["prod"], &[route])
    );
    let cfg = Config::new(&two).admin("listen", &format!("\"127.0.0.1:{port}\""));
    let srv = Server::start(&cfg);
    let out = with_config(&["cache", "flush", "--stage", "prod"], srv.config_path());
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains("--api NAME") && !out.stderr.contains("?api="),
        "the CLI's refusal names the query parameter, not the flag: {}",
        out.stderr
    );
}

/// The AWS CLI's way: `eval "$(portico admin credentials)"`, then boto3
/// (an independent SigV4 signer) calls the management API with what it
/// exported, reaching it through AWS_ENDPOINT_URL_API_GATEWAY alone.
#[test]
fn admin_credentials_sign_boto3_calls() {
    let port = refused_port();
    let cfg = Config::new(&api_toml(
        "file-api",
        &[],
        &["prod"],
        &[mock_route("GET", "/x", false, "x")],
    ))
    .admin("listen", &format!("\"127.0.0.1:{port}\""));
    let srv = Server::start(&cfg);
    let out = with_config(&["admin", "credentials"], srv.config_path());
    ok(&out, "portico admin credentials");
    let endpoint = format!("http://127.0.0.1:{port}");
    for line in [
        "export AWS_ACCESS_KEY_ID=PORTICO".to_string(),
        "export AWS_SECRET_ACCESS_KEY=".into(),
        "export AWS_DEFAULT_REGION=".into(),
        format!("export AWS_ENDPOINT_URL_API_GATEWAY={endpoint}"),
        "export PORTICO_ADMIN_TOKEN=".into(),
    ] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(&line)),
            "no `{line}` line: {}",
            out.stdout
        );
    }
    let json = with_config(&["admin", "credentials", "--json"], srv.config_path());
    ok(&json, "portico admin credentials --json");
    let creds: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(creds["endpointUrl"], endpoint.as_str());
    assert!(out
        .stdout
        .contains(creds["secretAccessKey"].as_str().unwrap()));

    let python = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/e2e/venv.sh");
    assert!(python.status.success(), "tests/e2e/venv.sh failed");
    let python = String::from_utf8(python.stdout).unwrap();
    let python = python.lines().last().expect("venv.sh prints the python");
    const SCRIPT: &str = r#"
import json, os, boto3, botocore
c = boto3.client("apigateway")
out = {"endpoint": c.meta.endpoint_url}
out["apis"] = sorted(a["name"] for a in c.get_rest_apis()["items"])
out["created"] = c.create_rest_api(name="from-boto3")["name"]
bad = boto3.client("apigateway", aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                   aws_secret_access_key="not-the-secret-0123456789abcdefghijklmn")
try:
    bad.get_rest_apis()
    out["wrong_secret"] = "accepted"
except botocore.exceptions.ClientError as e:
    out["wrong_secret"] = e.response["Error"]["Code"]
print(json.dumps(out))
"#;
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        r#"set -e; eval "$("$PORTICO" admin credentials --config "$CONFIG")"; "$PYTHON" -c "$SCRIPT""#,
    ])
    .env("PORTICO", BIN)
    .env("CONFIG", srv.config_path())
    .env("PYTHON", python)
    .env("SCRIPT", SCRIPT)
    // Nothing of this machine's own AWS set-up may stand in.
    .env("AWS_CONFIG_FILE", "/nonexistent")
    .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    .env("AWS_EC2_METADATA_DISABLED", "true");
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        cmd.env_remove(var);
    }
    let run = cmd.output().expect("run bash");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "boto3 with the printed credentials failed: {:?}\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let got: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(got["endpoint"], endpoint.as_str(), "{got}");
    assert_eq!(got["apis"], serde_json::json!(["file-api"]), "{got}");
    assert_eq!(got["created"], "from-boto3", "{got}");
    assert_eq!(got["wrong_secret"], "InvalidSignatureException", "{got}");
}

/// An unset variable named by `[admin]`: `check` fails, and so does the
/// start, before listening, both naming the key and the variable.
#[test]
fn an_unset_admin_variable_is_refused_by_check_and_start() {
    for (key, var, extra) in [
        (
            "secret_access_key_env",
            "PORTICO_CLI_TEST_UNSET_SECRET",
            Some(("access_key_id", "\"AKIDCLITEST\"")),
        ),
        ("token_env", "PORTICO_CLI_TEST_UNSET_TOKEN", None),
    ] {
        let mut cfg = Config::new("").admin(key, &toml_str(var));
        if let Some((k, v)) = extra {
            cfg = cfg.admin(k, v);
        }
        let path = write_config(&cfg.render());
        for (what, out) in [
            ("check", check_config(&path)),
            ("start", start_config(&path)),
        ] {
            assert_eq!(
                out.status.code(),
                Some(2),
                "{what} with {key} unset: {out:?}"
            );
            assert!(
                out.stderr.contains(key) && out.stderr.contains(var),
                "{what}: the refusal names neither `{key}` nor `{var}`: {}",
                out.stderr
            );
            assert!(
                !out.stderr.contains("listening on"),
                "{what}: refused only after listening: {}",
                out.stderr
            );
            if key.starts_with("secret") {
                assert!(
                    !out.stderr.contains("admin token"),
                    "{what}: the SigV4 secret called the admin token: {}",
                    out.stderr
                );
            }
        }
        // Set, both accept it.
        let set = run_bin(
            &["check".as_ref(), "--config".as_ref(), path.as_os_str()],
            &[(var, "a-value-0123456789")],
            CMD_TIMEOUT,
        );
        ok(&set, &format!("check with {var} set"));
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn audit_into_a_closed_pipe_exits_quietly() {
    let cfg = Config::new("");
    let dir = cfg.state_dir().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    // Far more than a pipe holds, so portico is still writing when head exits.
    let line = r#"{"eventTime":"2026-01-01T00:00:00Z","eventName":"GetRestApis","requestParameters":{"padding":"................................................................"}}"#;
    let mut log = String::new();
    for _ in 0..5000 {
        log.push_str(line);
        log.push('\n');
    }
    std::fs::write(dir.join("audit.jsonl"), log).unwrap();
    let path = write_config(&cfg.render());
    let run = Command::new("bash")
        .args([
            "-c",
            r#""$PORTICO" audit --config "$CONFIG" | head -1 >/dev/null; echo "exit ${PIPESTATUS[0]}""#,
        ])
        .env("PORTICO", BIN)
        .env("CONFIG", &path)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        stdout.trim(),
        "exit 0",
        "portico audit | head -1; stderr: {stderr}"
    );
    assert!(stderr.is_empty(), "portico audit | head -1 said: {stderr}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn version_names_the_commit_and_profile() {
    let out = portico(&["version"]);
    ok(&out, "portico version");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(concat!("portico ", env!("CARGO_PKG_VERSION"))),
        "{}",
        out.stdout
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let commit = format!("commit: {}", head.as_deref().unwrap_or("unknown"));
    assert!(
        lines.contains(&commit.as_str()),
        "wanted `{commit}`: {}",
        out.stdout
    );
    // The test binaries are built with the dev profile, in target/debug.
    assert!(lines.contains(&"profile: debug"), "{}", out.stdout);
}

#[test]
fn completions_and_man_page_cover_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = portico(&["completions", shell]);
        ok(&out, &format!("completions {shell}"));
        for word in ["flush", "credentials", "self-signed", "audit", "stage"] {
            assert!(out.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    let man = portico(&["man"]);
    ok(&man, "portico man");
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH portico"),
        "not roff"
    );
    for section in [
        "PORTICO CACHE FLUSH",
        "PORTICO ADMIN CREDENTIALS",
        "PORTICO VERSION",
    ] {
        assert!(man.stdout.contains(section), "man page lacks {section}");
    }
    assert!(man.stdout.contains("\\-\\-stage"), "man page lacks --stage");
}

/// Every command, found from `--help` itself, has examples in its help.
#[test]
fn every_command_help_has_examples() {
    fn commands(path: &[String]) -> Vec<Vec<String>> {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = portico(&args);
        ok(&out, &format!("{args:?}"));
        let subs: Vec<String> = out
            .stdout
            .split("\nCommands:\n")
            .nth(1)
            .map(|list| {
                list.lines()
                    .take_while(|l| l.starts_with("  "))
                    .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                    .filter(|c| c != "help")
                    .collect()
            })
            .unwrap_or_default();
        if subs.is_empty() {
            let example = format!("  portico {}", path.join(" "));
            assert!(
                out.stdout.contains("\nExamples:\n") && out.stdout.contains(example.trim_end()),
                "`portico {} --help` has no examples: {}",
                path.join(" "),
                out.stdout
            );
            return vec![path.to_vec()];
        }
        subs.iter()
            .flat_map(|s| {
                let mut p = path.to_vec();
                p.push(s.clone());
                commands(&p)
            })
            .collect()
    }
    let all = commands(&[]);
    for expected in [
        "run",
        "check",
        "keys",
        "usage",
        "audit",
        "version",
        "completions",
        "man",
    ] {
        assert!(all.iter().any(|c| c == &[expected.to_string()]), "{all:?}");
    }
    for nested in [
        ["cache", "flush"],
        ["admin", "credentials"],
        ["cert", "self-signed"],
        ["cluster", "status"],
        ["cluster", "migrate"],
    ] {
        assert!(all.iter().any(|c| c == &nested), "{all:?}");
    }
}

/// `portico`, `portico --config X` and `portico run --config X` all serve.
#[test]
fn run_is_the_default_command() {
    let cfg = Config::new(&api_toml(
        "a",
        &[],
        &["prod"],
        &[mock_route("GET", "/x", false, "x")],
    ));
    let mut srv = Server::start(&cfg);
    assert_eq!(srv.connect().get("/prod/x").status, 200);
    srv.stop();
    let path = write_config(&cfg.render());
    let mut child = Command::new(BIN)
        .args([OsStr::new("run"), OsStr::new("--config"), path.as_os_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // `--config` goes before or after a command.
    let before = run_bin(
        &[
            OsStr::new("--config"),
            path.as_os_str(),
            OsStr::new("check"),
        ],
        &[],
        CMD_TIMEOUT,
    );
    ok(&before, "portico --config X check");
    let listening = poll_until(
        STARTUP_TIMEOUT,
        || rx.recv_timeout(Duration::from_millis(100)).ok(),
        |l| {
            l.as_deref()
                .is_some_and(|l| l.contains("listening on http://"))
        },
        |_| "`portico run --config X` did not start".into(),
    );
    assert!(listening.is_some());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&path);
}

/// The config file's APIs, stages and deployment show when the file was
/// loaded, not 1970.
#[test]
fn config_file_apis_have_a_created_date() {
    let before = now();
    let cfg = Config::new(&api_toml(
        "a",
        &[],
        &["prod"],
        &[mock_route("GET", "/x", false, "x")],
    ))
    .admin("token", &toml_str("cli-test-token-0123456789"));
    let mut srv = Server::start(&cfg);
    let after = now();
    let auth = [("Authorization", "Bearer cli-test-token-0123456789")];
    let apis = srv.admin_json("GET", "/restapis", &auth, None);
    assert_eq!(apis.status, 200, "{}", apis.text);
    let api = &apis.json["item"][0];
    let id = api["id"].as_str().unwrap().to_string();
    let stage = srv.admin_json("GET", &format!("/restapis/{id}/stages/prod"), &auth, None);
    let deployments = srv.admin_json("GET", &format!("/restapis/{id}/deployments"), &auth, None);
    for (what, date) in [
        ("api", &api["createdDate"]),
        ("stage", &stage.json["createdDate"]),
        ("stage lastUpdatedDate", &stage.json["lastUpdatedDate"]),
        ("deployment", &deployments.json["item"][0]["createdDate"]),
    ] {
        let t = date.as_i64().unwrap_or_else(|| panic!("{what}: {date}"));
        assert!(
            (before..=after).contains(&t),
            "{what} createdDate {t} not within the start [{before}, {after}]"
        );
    }
}
