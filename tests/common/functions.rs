//! The local Lambda Invoke API of tests/lambda/invoke_server.py: real
//! handler code (Mangum, aws-lambda-powertools) behind
//! `POST /2015-03-31/functions/{name}/invocations`, in the venv that
//! tests/lambda/venv.sh makes (from PyPI, once).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::{call_once, request};

pub struct Functions {
    child: Child,
    pub port: u16,
}

/// The venv's python, made on first use by any test of this binary.
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| super::installed_path("tests/lambda/venv.sh"))
}

impl Functions {
    pub fn start() -> Functions {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lambda/invoke_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start invoke_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the invoke server's first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("invoke server said {line:?}"));
        Functions { child, port }
    }

    /// `http://127.0.0.1:PORT`, for `[aws] lambda_endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many times `name` has been invoked.
    pub fn count(&self, name: &str) -> u64 {
        let a = call_once(
            self.port,
            &request(
                "GET",
                &format!("/invocations/{name}"),
                "localhost",
                &[],
                b"",
            ),
        );
        let v: serde_json::Value = serde_json::from_slice(&a.body).expect("count JSON");
        v["count"].as_u64().expect("count")
    }

    /// The event `name` last received, exactly as it arrived.
    pub fn last_event(&self, name: &str) -> serde_json::Value {
        let a = call_once(
            self.port,
            &request("GET", &format!("/last-event/{name}"), "localhost", &[], b""),
        );
        assert_eq!(a.status, 200, "no event for {name}");
        serde_json::from_slice(&a.body).expect("event JSON")
    }
}

impl Drop for Functions {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tests/lambda/{script}` with the venv's python (so third-party
/// libraries, not portico's code, judge portico: botocore, PyJWT), `input`
/// on stdin; its stdout, panicking with its stderr when it fails.
pub fn venv_script(script: &str, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let path = format!("{}/tests/lambda/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python())
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {path}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
