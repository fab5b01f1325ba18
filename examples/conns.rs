//! Many-connection steady load client for issue 19 (15,000 keep-alive
//! connections, one request a second each, p99 under 50 ms).
//!
//! `loadtest/conns.py` does the same in asyncio, but costs about 90 µs of CPU
//! per request: at 15,000 req/s that is more than a core, and on the 2-core
//! VM where portico and the client share the CPUs the client's own queueing
//! would be what gets measured. This one runs each connection as a monoio
//! task on io_uring (as portico does), a few µs per request, so the figures
//! are the server's. `conns.py` keeps the idle-memory mode.
//!
//! ```sh
//! cargo run --release --example conns -- --url http://127.0.0.1:18084/prod/mock \
//!     --conns 15000 --interval 1 --duration 30 [--header 'Name: value']... \
//!     [--pid "$(pgrep -nx portico)"] [--open-rate 5000] [--threads 1] [--timeout 10]
//! ```
//!
//! Each connection sends one GET every `--interval` s, the N start times spread
//! evenly over the interval, never pipelining. Latency is taken from the
//! *scheduled* send time to the last byte of the answer, so a client that falls
//! behind shows it in the result instead of hiding it; the send lag (schedule to
//! write) is reported apart. The `--duration` window starts once every
//! connection attempt has resolved; requests during the ramp are reported
//! apart. A slot that comes while the previous request is still in flight is
//! "late": the first such is sent when the answer arrives, the others are
//! dropped. A connection closed by the server or after an error is reopened
//! at its next slot (the connect time then counts in that request's latency).
//!
//! Output: a summary, then one JSON line (the last line of stdout). Exit status
//! 0 when every request got a 2xx/3xx answer and nothing failed, 1 otherwise,
//! 2 for a usage or setup problem.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser as _;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::{FusionDriver, RuntimeBuilder};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Descriptors besides the connections: stdio, the rings, the warm-up socket.
const FD_MARGIN: usize = 64;
/// A response head larger than this is malformed.
const MAX_HEAD: usize = 65536;
/// A chunk-size or trailer line longer than this is malformed.
const MAX_LINE: usize = 8192;
/// Read buffer kept per connection; grown for bigger answers.
const BUF: usize = 1024;

#[derive(clap::Parser)]
#[command(about = "Steady load over many keep-alive HTTP/1.1 connections (issue 19)")]
struct Args {
    /// http://HOST:PORT/path (plain HTTP)
    #[arg(long)]
    url: String,
    /// Connections.
    #[arg(long, default_value_t = 15000)]
    conns: usize,
    /// Seconds between one connection's requests.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Measured seconds (after every connection is open).
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Extra request header 'Name: value', repeatable.
    #[arg(long)]
    header: Vec<String>,
    /// Server process whose CPU and RSS to report.
    #[arg(long)]
    pid: Option<u32>,
    /// Connections opened per second (all threads together).
    #[arg(long, default_value_t = 5000.0)]
    open_rate: f64,
    /// Client threads, one runtime each; connections are split across them.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds per connect and per request before it counts as an error.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("conns: {msg}");
    std::process::exit(2)
}

// ------------------------------------------------------------------ stats

#[derive(Clone, Copy)]
enum Kind {
    Connect,
    Reset,
    Eof,
    Timeout,
    Malformed,
}
const KINDS: [&str; 5] = ["connect", "reset", "eof", "timeout", "malformed"];

/// What happened to the requests scheduled in one phase (ramp, window, after).
#[derive(Default)]
struct Phase {
    /// Scheduled slot -> full answer, µs.
    lat: Vec<u32>,
    /// Write -> full answer, µs.
    service: Vec<u32>,
    /// Scheduled slot -> write, µs.
    lag: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: [u64; 5],
    late: u64,
    reconnects: u64,
}

impl Phase {
    fn merge(&mut self, o: Phase) {
        self.lat.extend(o.lat);
        self.service.extend(o.service);
        self.lag.extend(o.lag);
        for (s, n) in o.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        for (a, b) in self.errors.iter_mut().zip(o.errors) {
            *a += b;
        }
        self.late += o.late;
        self.reconnects += o.reconnects;
    }
    fn non_ok(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..400).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }
    fn total_errors(&self) -> u64 {
        self.errors.iter().sum::<u64>() + self.non_ok()
    }
    fn statuses_str(&self) -> String {
        if self.statuses.is_empty() {
            return "none".into();
        }
        let v: Vec<_> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        v.join(", ")
    }
    fn errors_str(&self) -> String {
        let mut v: Vec<_> = KINDS
            .iter()
            .zip(self.errors)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        v.push(format!("non-2xx/3xx {}", self.non_ok()));
        format!("{} ({})", self.total_errors(), v.join(", "))
    }
}

/// Nearest-rank percentile of a sorted list, in ms.
fn pct(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i] as f64 / 1000.0)
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn us(d: u64) -> u32 {
    (d / 1000).min(u32::MAX as u64) as u32
}

// ------------------------------------------------------------------ parser

enum State {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkCrlf,
    Trailer,
    UntilEof,
}

/// Incremental response parser: `feed` consumes what it has parsed from the
/// front of the buffer and returns the status and whether the connection must
/// be closed once the whole answer (head and body) is in.
struct Resp {
    state: State,
    status: u16,
    close: bool,
}

impl Resp {
    fn new() -> Self {
        Resp {
            state: State::Head,
            status: 0,
            close: false,
        }
    }

    fn feed(&mut self, buf: &mut Vec<u8>) -> Result<Option<(u16, bool)>, Kind> {
        loop {
            match self.state {
                State::Head => {
                    let mut headers = [httparse::EMPTY_HEADER; 64];
                    let mut r = httparse::Response::new(&mut headers);
                    let n = match r.parse(buf) {
                        Ok(httparse::Status::Complete(n)) => n,
                        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(None),
                        _ => return Err(Kind::Malformed),
                    };
                    let status = r.code.ok_or(Kind::Malformed)?;
                    let http10 = r.version == Some(0);
                    let (mut clen, mut chunked, mut other_te, mut close) =
                        (None, false, false, http10);
                    for h in r.headers.iter() {
                        let v = h.value;
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let s = std::str::from_utf8(v).map_err(|_| Kind::Malformed)?.trim();
                            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                                return Err(Kind::Malformed);
                            }
                            let l: u64 = s.parse().map_err(|_| Kind::Malformed)?;
                            if clen.is_some_and(|c| c != l) {
                                return Err(Kind::Malformed);
                            }
                            clen = Some(l);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            let last = v
                                .split(|&b| b == b',')
                                .map(|c| c.trim_ascii())
                                .rfind(|c| !c.is_empty());
                            match last {
                                Some(c) if c.eq_ignore_ascii_case(b"chunked") => chunked = true,
                                Some(_) => other_te = true,
                                None => {}
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            for t in v.split(|&b| b == b',').map(|t| t.trim_ascii()) {
                                if t.eq_ignore_ascii_case(b"close") {
                                    close = true;
                                } else if http10 && t.eq_ignore_ascii_case(b"keep-alive") {
                                    close = false;
                                }
                            }
                        }
                    }
                    buf.drain(..n);
                    if (100..200).contains(&status) {
                        if status == 101 {
                            return Err(Kind::Malformed);
                        }
                        continue; // interim answer: the real one follows
                    }
                    self.status = status;
                    self.close = close;
                    self.state = if status == 204 || status == 304 {
                        return Ok(Some((status, close)));
                    } else if chunked {
                        State::ChunkSize
                    } else if other_te {
                        self.close = true;
                        State::UntilEof
                    } else if let Some(l) = clen {
                        if l == 0 {
                            return Ok(Some((status, close)));
                        }
                        State::Body(l)
                    } else {
                        self.close = true;
                        State::UntilEof
                    };
                }
                State::Body(rem) | State::ChunkData(rem) => {
                    let n = (buf.len() as u64).min(rem);
                    buf.drain(..n as usize);
                    let rem = rem - n;
                    match self.state {
                        _ if rem > 0 => {
                            self.state = match self.state {
                                State::Body(_) => State::Body(rem),
                                _ => State::ChunkData(rem),
                            };
                            return Ok(None);
                        }
                        State::Body(_) => return Ok(Some((self.status, self.close))),
                        _ => self.state = State::ChunkCrlf,
                    }
                }
                State::ChunkCrlf => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Kind::Malformed);
                    }
                    buf.drain(..2);
                    self.state = State::ChunkSize;
                }
                State::ChunkSize => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        buf.drain(..n);
                        self.state = if size == 0 {
                            State::Trailer
                        } else {
                            State::ChunkData(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if buf.len() <= MAX_LINE => return Ok(None),
                    _ => return Err(Kind::Malformed),
                },
                State::Trailer => match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        buf.drain(..2);
                        return Ok(Some((self.status, self.close)));
                    }
                    Some(i) => {
                        buf.drain(..i + 2);
                    }
                    None if buf.len() <= MAX_HEAD => return Ok(None),
                    None => return Err(Kind::Malformed),
                },
                State::UntilEof => {
                    buf.clear();
                    return Ok(None);
                }
            }
        }
    }
}

// ------------------------------------------------------------------ the load

/// What the threads share with the main thread: the schedule's origin and the
/// window, set by the main thread once every connection attempt resolved.
struct Shared {
    base: Instant,
    /// Window start, ns after `base`; u64::MAX until known.
    window: AtomicU64,
    dur_ns: u64,
    resolved: AtomicUsize,
    connected: AtomicUsize,
    open_at_end: AtomicUsize,
}

impl Shared {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
    fn end(&self) -> u64 {
        self.window.load(Relaxed).saturating_add(self.dur_ns)
    }
    /// 0 ramp, 1 window, 2 after, for something scheduled at `t`.
    fn phase(&self, t: u64) -> usize {
        let w = self.window.load(Relaxed);
        if t < w {
            0
        } else if t < w.saturating_add(self.dur_ns) {
            1
        } else {
            2
        }
    }
    fn at(&self, t: u64) -> monoio::time::Instant {
        monoio::time::Instant::from_std(self.base + Duration::from_nanos(t))
    }
}

/// One thread's part.
struct Ctx {
    sh: Arc<Shared>,
    addr: SocketAddr,
    req: &'static [u8],
    n: u64,
    interval_ns: u64,
    timeout: Duration,
    stats: RefCell<[Phase; 3]>,
}

impl Ctx {
    fn error(&self, t: u64, k: Kind) {
        self.stats.borrow_mut()[self.sh.phase(t)].errors[k as usize] += 1;
    }
    async fn connect(&self) -> Option<TcpStream> {
        match monoio::time::timeout(self.timeout, TcpStream::connect_addr(self.addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Some(s)
            }
            _ => None,
        }
    }
}

/// One request and its whole answer.
async fn exchange(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    req: &'static [u8],
) -> Result<(u16, bool), Kind> {
    let (r, _) = s.write_all(req).await;
    r.map_err(|_| Kind::Reset)?;
    buf.clear();
    let mut p = Resp::new();
    loop {
        if buf.capacity() - buf.len() < BUF / 2 {
            buf.reserve(buf.capacity().max(BUF));
        }
        let (len, cap) = (buf.len(), buf.capacity());
        let (r, slice) = s.read(std::mem::take(buf).slice_mut(len..cap)).await;
        *buf = slice.into_inner();
        match r {
            Err(_) => return Err(Kind::Reset),
            Ok(0) if matches!(p.state, State::UntilEof) => return Ok((p.status, true)),
            Ok(0) => return Err(Kind::Eof),
            Ok(_) => {}
        }
        if let Some(done) = p.feed(buf)? {
            if !buf.is_empty() {
                return Err(Kind::Malformed); // bytes beyond the answer
            }
            return Ok(done);
        }
    }
}

/// Connection `i` of all: its slots are at `i * interval / n + k * interval`.
async fn conn_task(cx: Rc<Ctx>, i: u64) {
    let sh = &cx.sh;
    let iv = cx.interval_ns;
    let off = (i as u128 * iv as u128 / cx.n as u128) as u64;
    let slot = |k: u64| off + k * iv;
    let mut stream = cx.connect().await;
    sh.resolved.fetch_add(1, Relaxed);
    if stream.is_none() {
        cx.error(sh.now(), Kind::Connect);
        return;
    }
    sh.connected.fetch_add(1, Relaxed);
    let mut buf = Vec::with_capacity(BUF);
    // the first slot at or after now
    let mut k = sh.now().saturating_sub(off).div_ceil(iv);
    let mut skip_to = 0;
    loop {
        let t = slot(k);
        if t >= sh.end() {
            break;
        }
        if t > sh.now() {
            monoio::time::sleep_until(sh.at(t)).await;
            if t >= sh.end() {
                break;
            }
        }
        let ph = sh.phase(t);
        if stream.is_none() {
            cx.stats.borrow_mut()[ph].reconnects += 1;
            stream = cx.connect().await;
            if stream.is_none() {
                cx.error(t, Kind::Connect);
                return;
            }
        }
        let s = stream.as_mut().unwrap();
        let sent = sh.now();
        let r = monoio::time::timeout(cx.timeout, exchange(s, &mut buf, cx.req)).await;
        let done = sh.now();
        {
            let mut st = cx.stats.borrow_mut();
            let p = &mut st[ph];
            match r {
                Ok(Ok((status, close))) => {
                    p.lat.push(us(done - t));
                    p.service.push(us(done - sent));
                    p.lag.push(us(sent.saturating_sub(t)));
                    *p.statuses.entry(status).or_default() += 1;
                    if close {
                        stream = None;
                    }
                }
                Ok(Err(e)) => {
                    p.errors[e as usize] += 1;
                    stream = None;
                }
                Err(_) => {
                    p.errors[Kind::Timeout as usize] += 1;
                    stream = None;
                }
            }
        }
        if buf.capacity() > 16 * BUF {
            buf = Vec::with_capacity(BUF); // a big answer's buffer is not kept
        }
        // slots that came while this one was in flight: the first is sent now, the others dropped
        k = (k + 1).max(skip_to);
        skip_to = 0;
        if slot(k) <= done {
            let end = sh.end();
            let mut due = (done - off) / iv;
            if end != u64::MAX && end > off {
                due = due.min((end - 1 - off) / iv);
            }
            if due >= k {
                let mut st = cx.stats.borrow_mut();
                for j in k..=due {
                    st[sh.phase(slot(j))].late += 1;
                }
                skip_to = due + 1;
            }
        }
    }
    if stream.is_some() {
        sh.open_at_end.fetch_add(1, Relaxed);
    }
}

/// One thread: opens its connections at its share of the open rate and runs them.
async fn thread_main(cx: Rc<Ctx>, first: u64, step: u64, count: u64, rate: f64) {
    let mut handles = Vec::with_capacity(count as usize);
    for j in 0..count {
        let due = (j as f64 / rate * 1e9) as u64;
        if due > cx.sh.now() {
            monoio::time::sleep_until(cx.sh.at(due)).await;
        }
        handles.push(monoio::spawn(conn_task(cx.clone(), first + j * step)));
    }
    for h in handles {
        h.await;
    }
}

fn uring_setup() -> io_uring::Builder {
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun().setup_single_issuer();
    if tuned.build(8).is_ok() {
        tuned
    } else {
        io_uring::IoUring::builder()
    }
}

// ------------------------------------------------------------------ setup

fn build_request(args: &Args) -> (SocketAddr, &'static [u8]) {
    let rest = args.url.strip_prefix("http://").unwrap_or_else(|| {
        die(format!(
            "--url must be http://HOST:PORT/path, got {:?}",
            args.url
        ))
    });
    let (auth, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let auth = auth.rsplit('@').next().unwrap_or(auth);
    if auth.is_empty() {
        die(format!("--url has no host: {:?}", args.url));
    }
    let has_port = auth.rfind(':').is_some_and(|i| !auth[i..].contains(']'));
    let hostport = if has_port {
        auth.to_string()
    } else {
        format!("{auth}:80")
    };
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| die(format!("cannot resolve {hostport:?}")));
    let mut extra = String::new();
    let mut has_host = false;
    for h in &args.header {
        let (name, value) = h.split_once(':').unwrap_or(("", ""));
        let name = name.trim();
        if name.is_empty() || name.contains([' ', '\t', '\r', '\n']) || value.contains(['\r', '\n'])
        {
            die(format!("--header must be 'Name: value', got {h:?}"));
        }
        if name.eq_ignore_ascii_case("connection") {
            die("--header Connection: the client always sends 'Connection: keep-alive'");
        }
        has_host |= name.eq_ignore_ascii_case("host");
        extra.push_str(&format!("{name}: {}\r\n", value.trim()));
    }
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !has_host {
        req.push_str(&format!("Host: {auth}\r\n"));
    }
    req.push_str("User-Agent: portico-conns/1\r\nAccept: */*\r\nConnection: keep-alive\r\n");
    req.push_str(&extra);
    req.push_str("\r\n");
    (addr, Box::leak(req.into_bytes().into_boxed_slice()))
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; refuses when N won't fit.
fn raise_nofile(conns: usize) -> u64 {
    let need = (conns + FD_MARGIN) as u64;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a plain syscall on a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        die("getrlimit(RLIMIT_NOFILE) failed");
    }
    if rl.rlim_cur < rl.rlim_max {
        let up = libc::rlimit {
            rlim_cur: rl.rlim_max,
            rlim_max: rl.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &up) } == 0 {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    if rl.rlim_cur < need {
        die(format!(
            "--conns {conns} needs {need} file descriptors, but RLIMIT_NOFILE is {} (hard {}): \
             use fewer connections or raise it (ulimit -n {need}; as root ulimit -Hn)",
            rl.rlim_cur, rl.rlim_max
        ));
    }
    rl.rlim_cur
}

fn client_cpu_s() -> f64 {
    // SAFETY: getrusage fills the zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// utime + stime of a process, all threads, in seconds.
fn proc_cpu_s(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    // f[0] is field 3 (state); utime and stime are fields 14 and 15
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    Some(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

/// A field of /proc/PID/status in KiB (VmRSS, RssAnon).
fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn proc_nofile(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let l = s.lines().find(|l| l.starts_with("Max open files"))?;
    l.split_whitespace().nth(3)?.parse().ok()
}

/// One request on its own blocking connection, closed after: checks the URL
/// and lets the server do its one-time work outside the measurement.
fn warmup(addr: SocketAddr, req: &[u8], timeout: Duration, url: &str) {
    let t = Instant::now();
    let go = || -> Result<u16, String> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        s.write_all(req).map_err(|e| format!("write: {e}"))?;
        let mut p = Resp::new();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        loop {
            let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return match p.state {
                    State::UntilEof => Ok(p.status),
                    _ => Err("EOF before a full answer".into()),
                };
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some((status, _)) = p
                .feed(&mut buf)
                .map_err(|_| "malformed answer".to_string())?
            {
                return Ok(status);
            }
        }
    };
    match go() {
        Ok(status) => {
            println!(
                "warm-up request: status {status}, {:.2} ms",
                t.elapsed().as_secs_f64() * 1000.0
            );
            if !(200..400).contains(&status) {
                println!(
                    "WARNING: the warm-up request got {status}: every request will count as an error \
                     (wrong path, missing --header, throttled?)"
                );
            }
        }
        Err(e) => die(format!("warm-up request to {url} got no answer: {e}")),
    }
}

fn main() {
    let args = Args::parse();
    if args.conns < 1 || args.threads < 1 {
        die("--conns and --threads must be at least 1");
    }
    for (name, v) in [
        ("interval", args.interval),
        ("duration", args.duration),
        ("open-rate", args.open_rate),
        ("timeout", args.timeout),
    ] {
        if !(v > 0.0 && v.is_finite()) {
            die(format!("--{name} must be positive"));
        }
    }
    let threads = args.threads.min(args.conns);
    let (addr, req) = build_request(&args);
    let nofile = raise_nofile(args.conns);
    if let Some(pid) = args.pid {
        if proc_status(pid, "VmRSS").is_none() {
            die(format!("--pid {pid}: cannot read /proc/{pid}/status"));
        }
        if proc_nofile(pid).is_some_and(|l| l < args.conns as u64 + 16) {
            eprintln!(
                "WARNING: the server's open-files limit is {}, too few for {} connections",
                proc_nofile(pid).unwrap_or(0),
                args.conns
            );
        }
    }
    if let Ok(r) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") {
        let v: Vec<usize> = r
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() == 2 && args.conns > v[1] - v[0] + 1 {
            eprintln!(
                "WARNING: {} connections to one address need more local ports than \
                 ip_local_port_range gives ({}-{})",
                args.conns, v[0], v[1]
            );
        }
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    println!(
        "conns: steady, {} connections to {} ({addr}), open rate {}/s, timeout {} s, \
         one request per {} s each for {} s, {threads} thread(s); RLIMIT_NOFILE {nofile}",
        args.conns, args.url, args.open_rate, args.timeout, args.interval, args.duration
    );
    warmup(addr, req, timeout, &args.url);

    let sh = Arc::new(Shared {
        base: Instant::now() + Duration::from_millis(10),
        window: AtomicU64::new(u64::MAX),
        dur_ns: (args.duration * 1e9) as u64,
        resolved: AtomicUsize::new(0),
        connected: AtomicUsize::new(0),
        open_at_end: AtomicUsize::new(0),
    });
    let mem0 = args.pid.and_then(|p| proc_status(p, "VmRSS"));
    let anon0 = args.pid.and_then(|p| proc_status(p, "RssAnon"));
    let ccpu0 = client_cpu_s();
    let t_start = Instant::now();
    let interval_ns = (args.interval * 1e9) as u64;
    let n = args.conns as u64;
    let handles: Vec<_> = (0..threads as u64)
        .map(|t| {
            let sh = sh.clone();
            let rate = args.open_rate / threads as f64;
            let count = (n - t).div_ceil(threads as u64);
            std::thread::Builder::new()
                .name(format!("conns-{t}"))
                .spawn(move || {
                    let cx = Rc::new(Ctx {
                        sh,
                        addr,
                        req,
                        n,
                        interval_ns,
                        timeout,
                        stats: RefCell::default(),
                    });
                    let cx2 = cx.clone();
                    let mut rt = RuntimeBuilder::<FusionDriver>::new()
                        .uring_builder(uring_setup())
                        .with_entries(8192)
                        .enable_timer()
                        .build()
                        .unwrap_or_else(|e| die(format!("cannot start a runtime: {e}")));
                    rt.block_on(thread_main(cx2, t, threads as u64, count, rate));
                    let st = std::mem::take(&mut *cx.stats.borrow_mut());
                    st
                })
                .expect("spawn client thread")
        })
        .collect();

    // the window opens once every connection attempt has resolved (or at a deadline)
    let open_deadline = t_start
        + Duration::from_secs_f64(2.0 * args.conns as f64 / args.open_rate + args.timeout + 10.0);
    while sh.resolved.load(Relaxed) < args.conns && Instant::now() < open_deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let ramp_s = t_start.elapsed().as_secs_f64();
    let cpu0 = args.pid.and_then(proc_cpu_s);
    let wcpu0 = client_cpu_s();
    let w = sh.now();
    sh.window.store(w, Relaxed);
    let connected = sh.connected.load(Relaxed);
    println!(
        "opened {connected} of {} connections in {ramp_s:.1} s; measuring {} s",
        args.conns, args.duration
    );
    let end = sh.base + Duration::from_nanos(sh.end());
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let window = (sh.now().min(sh.end()) - w) as f64 / 1e9;
    let wcpu = client_cpu_s() - wcpu0;
    let cpu1 = args.pid.and_then(proc_cpu_s);
    let mem1 = args.pid.and_then(|p| proc_status(p, "VmRSS"));
    let anon1 = args.pid.and_then(|p| proc_status(p, "RssAnon"));

    // the tasks finish their requests in flight (each bounded by --timeout)
    let mut all: [Phase; 3] = Default::default();
    for h in handles {
        let st = h.join().unwrap_or_else(|_| die("a client thread panicked"));
        for (a, b) in all.iter_mut().zip(st) {
            a.merge(b);
        }
    }
    let wall = t_start.elapsed().as_secs_f64();
    let ccpu = client_cpu_s() - ccpu0;
    let open = sh.open_at_end.load(Relaxed);
    report(
        &args,
        all,
        Report {
            connected,
            open,
            ramp_s,
            window,
            wcpu,
            ccpu,
            wall,
            server: args.pid.map(|_| (cpu0, cpu1, mem0, mem1, anon0, anon1)),
        },
    );
}

struct Report {
    connected: usize,
    open: usize,
    ramp_s: f64,
    window: f64,
    wcpu: f64,
    ccpu: f64,
    wall: f64,
    #[allow(clippy::type_complexity)]
    server: Option<(
        Option<f64>,
        Option<f64>,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        Option<u64>,
    )>,
}

fn report(args: &Args, mut ph: [Phase; 3], r: Report) -> ! {
    for p in ph.iter_mut() {
        p.lat.sort_unstable();
        p.service.sort_unstable();
        p.lag.sort_unstable();
    }
    let [ramp, st, after] = &ph;
    let n_resp = st.lat.len();
    let rps = if r.window > 0.0 {
        n_resp as f64 / r.window
    } else {
        0.0
    };
    let q = |v: &[u32], p| pct(v, p);
    println!(
        "ramp ({:.1} s): {} answers, p99 {} ms, errors {}",
        r.ramp_s,
        ramp.lat.len(),
        fmt_ms(q(&ramp.lat, 99.0)),
        ramp.errors_str()
    );
    println!(
        "steady window {:.1} s: {n_resp} answers, {rps:.0} req/s (offered {:.0} req/s); statuses {}",
        r.window,
        r.connected as f64 / args.interval,
        st.statuses_str()
    );
    println!(
        "latency (scheduled slot -> full answer, ms): p50 {}  p90 {}  p99 {}  max {}",
        fmt_ms(q(&st.lat, 50.0)),
        fmt_ms(q(&st.lat, 90.0)),
        fmt_ms(q(&st.lat, 99.0)),
        fmt_ms(q(&st.lat, 100.0))
    );
    println!(
        "  of which write -> full answer: p50 {}  p99 {}  max {}",
        fmt_ms(q(&st.service, 50.0)),
        fmt_ms(q(&st.service, 99.0)),
        fmt_ms(q(&st.service, 100.0))
    );
    println!(
        "send lag (slot -> write, ms): p50 {}  p99 {}  max {}; late slots (previous request still in flight) {}",
        fmt_ms(q(&st.lag, 50.0)),
        fmt_ms(q(&st.lag, 99.0)),
        fmt_ms(q(&st.lag, 100.0)),
        st.late
    );
    println!(
        "errors in the window: {}; reconnects {}",
        st.errors_str(),
        st.reconnects
    );
    let total_errors: u64 = ph.iter().map(Phase::total_errors).sum();
    if !after.lat.is_empty() || after.total_errors() > 0 {
        println!(
            "after the window: {} answers, errors {}",
            after.lat.len(),
            after.errors_str()
        );
    }
    println!("errors in the whole run (ramp + window + after): {total_errors}");
    println!("connections open at the end: {} of {}", r.open, args.conns);
    let share = if r.window > 0.0 {
        100.0 * r.wcpu / r.window
    } else {
        0.0
    };
    let cpu_per_req = (n_resp > 0).then(|| r.wcpu * 1e6 / n_resp as f64);
    println!(
        "client CPU (getrusage, window): {:.2} s in {:.1} s ({share:.0} % of one core), {} µs per request",
        r.wcpu,
        r.window,
        cpu_per_req.map_or("-".into(), |v| format!("{v:.1}"))
    );
    let mut server = serde_json::json!({
        "server_cpu_s": null, "server_cpu_us_per_req": null, "rss_before_kib": null,
        "rss_after_kib": null, "rss_delta_kib_per_conn": null, "rss_anon_delta_kib_per_conn": null,
    });
    if let (Some(pid), Some((c0, c1, m0, m1, a0, a1))) = (args.pid, r.server) {
        if let (Some(c0), Some(c1)) = (c0, c1) {
            let per = (n_resp > 0).then(|| (c1 - c0) * 1e6 / n_resp as f64);
            println!(
                "server pid {pid} CPU in the window (utime+stime, 10 ms ticks): {:.2} s, {} µs per request",
                c1 - c0,
                per.map_or("-".into(), |v| format!("{v:.1}"))
            );
            server["server_cpu_s"] = serde_json::json!(((c1 - c0) * 1000.0).round() / 1000.0);
            server["server_cpu_us_per_req"] =
                serde_json::json!(per.map(|v| (v * 10.0).round() / 10.0));
        }
        if let (Some(m0), Some(m1)) = (m0, m1) {
            let d = m1 as i64 - m0 as i64;
            println!(
                "server pid {pid} VmRSS: before {m0} KiB, at the window's end {m1} KiB ({:.1} MiB), delta {d} KiB",
                m1 as f64 / 1024.0
            );
            server["rss_before_kib"] = m0.into();
            server["rss_after_kib"] = m1.into();
            if r.open > 0 {
                server["rss_delta_kib_per_conn"] =
                    serde_json::json!(((d as f64 / r.open as f64) * 1000.0).round() / 1000.0);
                if let (Some(a0), Some(a1)) = (a0, a1) {
                    let da = a1 as i64 - a0 as i64;
                    server["rss_anon_delta_kib_per_conn"] =
                        serde_json::json!(((da as f64 / r.open as f64) * 1000.0).round() / 1000.0);
                }
            }
        }
    }
    let ms = |v: Option<f64>| v.map(|v| (v * 1000.0).round() / 1000.0);
    let mut kinds = serde_json::Map::new();
    for (i, k) in KINDS.iter().enumerate() {
        kinds.insert(
            (*k).into(),
            ph.iter().map(|p| p.errors[i]).sum::<u64>().into(),
        );
    }
    let statuses: serde_json::Map<_, _> = st
        .statuses
        .iter()
        .map(|(s, n)| (s.to_string(), (*n).into()))
        .collect();
    let ok = total_errors == 0 && n_resp > 0;
    let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut res = serde_json::json!({
        "mode": "steady", "client": "rust", "url": args.url, "conns": args.conns,
        "threads": args.threads, "connected": r.connected, "open": r.open,
        "duration_s": r3(r.window), "interval_s": args.interval, "ramp_s": r3(r.ramp_s),
        "requests": n_resp, "req_per_s": (rps * 10.0).round() / 10.0, "statuses": statuses,
        "errors": total_errors, "window_errors": st.total_errors(), "error_kinds": kinds,
        "non_2xx": ph.iter().map(Phase::non_ok).sum::<u64>(),
        "reconnects": ph.iter().map(|p| p.reconnects).sum::<u64>(), "late": st.late,
        "p50_ms": ms(q(&st.lat, 50.0)), "p90_ms": ms(q(&st.lat, 90.0)),
        "p99_ms": ms(q(&st.lat, 99.0)), "max_ms": ms(q(&st.lat, 100.0)),
        "service_p99_ms": ms(q(&st.service, 99.0)),
        "lag_p99_ms": ms(q(&st.lag, 99.0)), "lag_max_ms": ms(q(&st.lag, 100.0)),
        "client_cpu_s": r3(r.wcpu), "client_cpu_pct": (share * 10.0).round() / 10.0,
        "client_cpu_us_per_req": cpu_per_req.map(|v| (v * 10.0).round() / 10.0),
        "client_cpu_total_s": r3(r.ccpu), "wall_s": r3(r.wall),
    });
    if let (Some(o), serde_json::Value::Object(s)) = (res.as_object_mut(), server) {
        o.extend(s);
        o.insert("ok".into(), ok.into());
    }
    println!("{res}");
    let _ = std::io::stdout().flush();
    std::process::exit(if ok { 0 } else { 1 })
}
