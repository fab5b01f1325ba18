//! A real `redis-server` for the cluster tests: started on a free loopback
//! port in a temp dir of its own (append-only file on, so a restart keeps
//! what was acknowledged), killed on drop. The file is never fsynced
//! (`appendfsync no`): Redis writes it before it answers, so a killed
//! server loses nothing (only a power cut would), and with `always` a
//! disk busy writing back a build's output stalled Redis's every write
//! for seconds, up to 100 s measured, which the tests read as an outage. tests/redis/install.sh installs
//! Debian's package where it is missing. The outage tests stop it with
//! SIGSTOP (a Redis that accepts connections and never answers, the worst
//! case for a client) or kill it, and start it again on the same port and
//! data.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::{poll_until, Config, Server, TempDir, STARTUP_TIMEOUT};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
    extra: Vec<String>,
}

/// redis-server, installed on first use by any test of this binary.
pub fn redis_server_binary() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| super::installed_path("tests/redis/install.sh"))
}

impl Redis {
    /// A standalone server with an append-only file.
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// A server with extra `--option value` arguments (e.g. for a Redis
    /// Cluster member: `--cluster-enabled yes`).
    pub fn start_with(extra: &[&str]) -> Redis {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        // The port is free when picked; another process may take it first,
        // so a failed start is retried on a new one.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("pick a free port")
                .port();
            let mut r = Redis {
                child: None,
                port,
                dir: TempDir::new("redis"),
                extra: extra.clone(),
            };
            std::fs::create_dir_all(&r.dir.path).expect("create redis dir");
            if r.spawn() {
                return r;
            }
        }
        panic!("redis-server did not start in 5 tries");
    }

    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new(redis_server_binary());
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir.path)
            .arg("--logfile")
            .arg(self.log_path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start redis-server");
        let port = self.port;
        let up = started(&mut child, port, || {
            format!("redis-server did not start: {}", self.log())
        });
        self.child = Some(child);
        up
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path.join("redis.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli -p PORT ARGS...` and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        assert!(out.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("redis runs").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    /// Freezes the server: connections stay open and nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Kills the server (SIGKILL, which a paused one takes too).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and data directory; what was
    /// acknowledged before [`Redis::kill`] is read back from the AOF.
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server did not restart: {}", self.log());
    }
}

/// Waits until `child` answers PING on `port` (true) or exits, its port
/// taken (false); `failure` says why when it does neither in time.
fn started(child: &mut Child, port: u16, failure: impl FnOnce() -> String) -> bool {
    let up = poll_until(
        STARTUP_TIMEOUT,
        || match child.try_wait() {
            Ok(Some(_)) => Some(false),
            _ => ping(port).then_some(true),
        },
        Option::is_some,
        |_| failure(),
    );
    up == Some(true)
}

/// Whether a server on `port` answers PING.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A 3-master Redis Cluster on loopback (no replicas): three
/// `--cluster-enabled` servers joined by `redis-cli --cluster create`,
/// returned once every member says `cluster_state:ok`.
pub struct RedisCluster {
    pub members: Vec<Redis>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let members: Vec<Redis> = (0..3)
            .map(|_| {
                Redis::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
            })
            .collect();
        let addrs: Vec<String> = members
            .iter()
            .map(|r| format!("127.0.0.1:{}", r.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for r in &members {
            poll_until(
                STARTUP_TIMEOUT,
                || r.cli(&["CLUSTER", "INFO"]),
                |info| info.contains("cluster_state:ok"),
                |info| format!("cluster not ok on {}: {info}", r.port),
            );
        }
        RedisCluster { members }
    }

    /// Every member's `redis://` URL.
    pub fn urls(&self) -> Vec<String> {
        self.members.iter().map(Redis::url).collect()
    }
}

/// A Redis Sentinel (`redis-server CONF --sentinel`) watching `master`
/// under `name`, with quorum 1; killed on drop.
pub struct Sentinel {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Sentinel {
    pub fn start(name: &str, master: &Redis) -> Sentinel {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("pick a free port")
                .port();
            let dir = TempDir::new("sentinel");
            std::fs::create_dir_all(&dir.path).expect("create sentinel dir");
            let conf = dir.path.join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\nsentinel monitor {name} 127.0.0.1 {} 1\n",
                    dir.path.display(),
                    dir.path.join("sentinel.log").display(),
                    master.port
                ),
            )
            .expect("write sentinel.conf");
            let mut child = Command::new(redis_server_binary())
                .arg(&conf)
                .arg("--sentinel")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start redis-server --sentinel");
            if started(&mut child, port, || "sentinel did not start".into()) {
                return Sentinel {
                    child,
                    port,
                    _dir: dir,
                };
            }
        }
        panic!("redis-server --sentinel did not start in 5 tries");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The state key every node of a test fleet shares (a fleet node whose key
/// cannot open the fleet's sealed state refuses to start).
pub const FLEET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A fleet node: `cfg` (with its `[cluster]`) started with [`FLEET_KEY`].
pub fn fleet_node(cfg: &Config) -> Server {
    Server::start_with_env(cfg, &[("PORTICO_STATE_KEY", FLEET_KEY)])
}
