//! boto3's API Gateway client driving one node's management API
//! (tests/fleet/apigateway_driver.py in the venv of tests/e2e/venv.sh): a
//! third party's SigV4 signing and request shapes, not portico's own.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{json, Value};

/// The venv's python (boto3), made on first use by any test of this binary.
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| super::installed_path("tests/e2e/venv.sh"))
}

/// One boto3 client, killed on drop.
pub struct ApiGatewayBoto3 {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ApiGatewayBoto3 {
    /// A client of `endpoint` (`http://127.0.0.1:ADMIN_PORT`) signing with
    /// the access key pair `(id, secret)`.
    pub fn start(endpoint: &str, key: (&str, &str)) -> ApiGatewayBoto3 {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fleet/apigateway_driver.py"
        );
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .arg(endpoint)
            .env("AWS_ACCESS_KEY_ID", key.0)
            .env("AWS_SECRET_ACCESS_KEY", key.1)
            // Nothing of this machine's own AWS set-up may stand in.
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for var in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"] {
            cmd.env_remove(var);
        }
        let mut child = cmd.spawn().expect("start apigateway_driver.py");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the driver's first line");
        assert_eq!(line.trim(), "ready", "apigateway_driver.py said {line:?}");
        ApiGatewayBoto3 {
            child,
            stdin,
            stdout,
        }
    }

    /// `client.op(**args)`: its result (or `Err` with the error's code
    /// and message) and the moment its answer was read.
    pub fn try_call(&mut self, op: &str, args: Value) -> (Result<Value, String>, Instant) {
        let cmd = json!({ "op": op, "args": args });
        writeln!(self.stdin, "{cmd}").expect("write to the driver");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read the driver's answer");
        let answered = Instant::now();
        let out: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("driver answered {line:?} to {op}: {e}"));
        let result = match out.get("ok") {
            Some(v) => Ok(v.clone()),
            None => Err(out["error"].as_str().unwrap_or("?").to_string()),
        };
        (result, answered)
    }

    /// [`ApiGatewayBoto3::try_call`], panicking on an error.
    pub fn call(&mut self, op: &str, args: Value) -> (Value, Instant) {
        let (result, at) = self.try_call(op, args.clone());
        let v = result.unwrap_or_else(|e| panic!("boto3 {op}({args}): {e}"));
        (v, at)
    }
}

impl Drop for ApiGatewayBoto3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
