//! A real nginx as a test upstream (a lenient, normalising one): started
//! with the `server { ... }` directives a test gives, on a free loopback
//! port, in a temp dir of its own (config, pid, logs, temp paths), as one
//! process (`master_process off`), killed on drop. tests/nginx/install.sh
//! installs it where it is missing. Every request it finishes is a line of
//! its access log: `$request_uri` (as received) and `$uri` (as nginx
//! decoded and normalised it), read back with [`Nginx::log`].

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::{poll_until, TempDir, POLL_FOR, STARTUP_TIMEOUT};

pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

/// One access log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxLogged {
    pub request_uri: String,
    pub uri: String,
    pub status: u16,
}

/// The nginx binary, installed on first use by any test of this binary.
fn nginx_binary() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| super::installed_path("tests/nginx/install.sh"))
}

impl Nginx {
    /// nginx serving `server_block` (the directives inside `server { }`,
    /// without `listen`).
    pub fn start(server_block: &str) -> Nginx {
        // The port is free when picked; another process may take it before
        // nginx binds it, so a failed start is retried on a new one.
        for _ in 0..5 {
            if let Some(n) = Nginx::try_start(server_block) {
                return n;
            }
        }
        panic!("nginx did not start in 5 tries");
    }

    fn try_start(server_block: &str) -> Option<Nginx> {
        let dir = TempDir::new("nginx");
        std::fs::create_dir_all(&dir.path).expect("create nginx dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("pick a free port")
            .port();
        let d = dir.path.display();
        let conf = format!(
            "daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
             client_body_temp_path {d}/client_body;\n\
             proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n\
             log_format portico_paths '$request_uri\\t$uri\\t$status';\n\
             access_log {d}/access.log portico_paths;\n\
             server {{\n\
             listen 127.0.0.1:{port};\n\
             {server_block}\n\
             }}\n\
             }}\n"
        );
        let conf_path = dir.path.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let mut child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir.path)
            .arg("-e")
            .arg(dir.path.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        // Some(true): listening; Some(false): exited (the port was taken).
        let up = poll_until(
            STARTUP_TIMEOUT,
            || match child.try_wait() {
                Ok(Some(_)) => Some(false),
                _ => TcpStream::connect(("127.0.0.1", port)).ok().map(|_| true),
            },
            Option::is_some,
            |_| {
                let log = std::fs::read_to_string(dir.path.join("error.log")).unwrap_or_default();
                format!("nginx did not start listening: {log}")
            },
        );
        if up == Some(false) {
            return None;
        }
        Some(Nginx { child, port, dir })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every access log line so far.
    pub fn log(&self) -> Vec<NginxLogged> {
        let text = std::fs::read_to_string(self.dir.path.join("access.log")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let mut f = l.split('\t');
                let mut next = || f.next().unwrap_or_default().to_string();
                let (request_uri, uri, status) = (next(), next(), next());
                NginxLogged {
                    request_uri,
                    uri,
                    status: status.parse().unwrap_or(0),
                }
            })
            .collect()
    }

    /// The access log once it has at least `n` lines (nginx writes a line
    /// after its answer, so a test that got the answer polls for it).
    pub fn log_lines(&self, n: usize) -> Vec<NginxLogged> {
        poll_until(
            POLL_FOR,
            || self.log(),
            |l| l.len() >= n,
            |l| format!("nginx logged {} requests, not {n}: {l:?}", l.len()),
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
