//! Request smuggling through portico: every known technique, sent as raw
//! bytes, through portico to an upstream that counts what it executed.
//! Whatever portico does with a message (refuse it or forward it), the
//! upstream must execute exactly the requests portico answered for it,
//! never a request hidden in a body or a trailer, and answers must never
//! shift between clients afterwards (no desync of a pooled connection).
//!
//! Each case runs against two upstreams: the test harness's own (which
//! reads framing as given) and nginx (lenient: it ends a trailer section
//! at a bare `\n\n`, as the attack in issue 13 used); and once more where
//! the proxy route maps its body, so reads it whole first.

mod common;

use std::io;
use std::time::Duration;

use common::*;

/// One attack: raw bytes for one connection (an END request closes it).
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
}

const END: &str = "GET /prod/proxy/end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
const HIDDEN: &str = "GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";

fn case(name: &'static str, attack: impl AsRef<[u8]>) -> Case {
    let mut bytes = attack.as_ref().to_vec();
    bytes.extend_from_slice(END.as_bytes());
    Case { name, bytes }
}

fn chunked(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n0\r\n\r\n", data.len())
}

fn cases() -> Vec<Case> {
    let post = "POST /prod/proxy/a HTTP/1.1\r\nHost: x\r\n";
    vec![
        // Issue 13 item 1: a Connection list naming the framing header.
        case(
            "connection-content-length",
            format!(
                "{post}Connection: content-length\r\nContent-Length: {}\r\n\r\n{HIDDEN}",
                HIDDEN.len()
            ),
        ),
        case(
            "connection-transfer-encoding",
            format!(
                "{post}Connection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n{}",
                chunked(HIDDEN)
            ),
        ),
        case(
            "connection-keep-alive-content-length",
            format!(
                "{post}Connection: keep-alive, Content-Length\r\nContent-Length: {}\r\n\r\n{HIDDEN}",
                HIDDEN.len()
            ),
        ),
        // CL.TE and TE.CL.
        case(
            "cl-te",
            format!(
                "{post}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{HIDDEN}"
            ),
        ),
        case(
            "te-cl",
            format!(
                "{post}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{}",
                chunked(HIDDEN)
            ),
        ),
        // TE.TE obfuscations.
        case(
            "te-xchunked",
            format!("{post}Transfer-Encoding: xchunked\r\n\r\n{}", chunked(HIDDEN)),
        ),
        case(
            "te-two-fields",
            format!(
                "{post}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n{}",
                chunked(HIDDEN)
            ),
        ),
        case(
            "te-list",
            format!("{post}Transfer-Encoding: identity, chunked\r\n\r\n{}", chunked(HIDDEN)),
        ),
        case(
            "te-chunked-twice",
            format!("{post}Transfer-Encoding: chunked, chunked\r\n\r\n{}", chunked(HIDDEN)),
        ),
        case(
            "te-vertical-tab",
            format!("{post}Transfer-Encoding:\x0bchunked\r\n\r\n{}", chunked(HIDDEN)),
        ),
        case(
            "te-space-before-colon",
            format!("{post}Transfer-Encoding : chunked\r\n\r\n{}", chunked(HIDDEN)),
        ),
        case(
            "te-obs-fold",
            format!("{post}Transfer-Encoding: identity\r\n chunked\r\n\r\n{}", chunked(HIDDEN)),
        ),
        case(
            "te-http10",
            format!(
                "POST /prod/proxy/a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{}",
                chunked(HIDDEN)
            ),
        ),
        // Chunk extensions and lines.
        case(
            "chunk-extension",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n5;a=\"b\";c\r\nhello\r\n0;x\r\n\r\n"),
        ),
        case(
            "chunk-extension-bare-lf",
            format!(
                "{post}Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n{HIDDEN}"
            ),
        ),
        case(
            "chunk-size-bare-lf",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n{HIDDEN}"),
        ),
        case(
            "chunk-data-bare-lf",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n{HIDDEN}"),
        ),
        case(
            "chunk-size-overflow",
            format!(
                "{post}Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"
            ),
        ),
        case(
            "chunk-size-prefix",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
        ),
        // Issue 13 item 2: bare LF (and CR) in a trailer.
        case(
            "trailer-bare-lf",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\n\n{HIDDEN}"),
        ),
        case(
            "trailer-bare-cr",
            format!(
                "{post}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: a\rY: b\r\n\r\n"
            ),
        ),
        case(
            "trailer-only-lf",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n0\r\n\n{HIDDEN}"),
        ),
        case(
            "trailer-allowed",
            format!(
                "{post}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
            ),
        ),
        // Content-Length lists and forms.
        case(
            "cl-list-equal",
            format!("{post}Content-Length: 5, 5\r\n\r\nhello"),
        ),
        case(
            "cl-list-differ",
            format!("{post}Content-Length: 5, 41\r\n\r\nhello{HIDDEN}"),
        ),
        case(
            "cl-two-fields",
            format!("{post}Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello{HIDDEN}"),
        ),
        case("cl-plus", format!("{post}Content-Length: +5\r\n\r\nhello")),
        case("cl-hex", format!("{post}Content-Length: 0x5\r\n\r\nhello")),
        case(
            "cl-zero-body-follows",
            format!("GET /prod/proxy/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n{HIDDEN}"),
        ),
        // HTTP/1.0 keep-alive and pipelining.
        case(
            "http10-keep-alive",
            "POST /prod/proxy/a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
        ),
        case(
            "pipelined",
            format!(
                "{post}Content-Length: 5\r\n\r\nhello{post}Transfer-Encoding: chunked\r\n\r\n{}",
                chunked("world")
            ),
        ),
        // Bytes no header may hold.
        case("header-nul", format!("{post}X: a\0b\r\nContent-Length: 0\r\n\r\n")),
        case(
            "header-bare-cr",
            format!("{post}X: a\rContent-Length: 41\r\nContent-Length: 0\r\n\r\n"),
        ),
        case(
            "expect-continue",
            format!("{post}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"),
        ),
    ]
}

/// An answer as the client saw it: from the upstream (the path it
/// executed) or from portico itself (its status).
#[derive(Debug)]
enum Seen {
    Upstream(String),
    Gateway(u16),
}

/// Sends `bytes` on a new connection and reads answers until portico closes it.
fn answers(srv: &Server, bytes: &[u8]) -> Vec<Seen> {
    let mut c = srv.connect();
    c.set_read_timeout(Duration::from_secs(10));
    // Refused input is answered and the connection closed: a write after
    // that may fail, which changes nothing about what was sent before.
    let _ = io::Write::write_all(&mut c.r.inner, bytes);
    let mut seen = Vec::new();
    loop {
        match c.try_read_response(false) {
            Ok(r) if r.status == 100 => {}
            Ok(r) => match r.header("x-upstream") {
                Some(_) => seen.push(Seen::Upstream(r.body_str())),
                None => seen.push(Seen::Gateway(r.status)),
            },
            Err(_) => return seen,
        }
    }
}

/// What one upstream says it executed since the last call.
trait Executed {
    fn executed(&self, at_least: usize) -> Vec<String>;
}

impl Executed for Upstream {
    fn executed(&self, _at_least: usize) -> Vec<String> {
        // Answers reached the client only after the upstream recorded them.
        std::iter::from_fn(|| self.rx.try_recv().ok())
            .map(|r| r.target)
            .collect()
    }
}

struct NginxLog {
    nginx: Nginx,
    read: std::cell::Cell<usize>,
}

impl Executed for NginxLog {
    fn executed(&self, at_least: usize) -> Vec<String> {
        // nginx logs a request after answering it: wait for the ones answered.
        let lines = self.nginx.log_lines(self.read.get() + at_least);
        let new: Vec<String> = lines[self.read.get()..]
            .iter()
            .map(|l| l.request_uri.clone())
            .collect();
        self.read.set(lines.len());
        new
    }
}

fn run_all(srv: &Server, up: &dyn Executed, label: &str) {
    let mut failures = Vec::new();
    for case in cases() {
        let seen = answers(srv, &case.bytes);
        let answered: Vec<String> = seen
            .iter()
            .filter_map(|s| match s {
                Seen::Upstream(p) => Some(p.clone()),
                Seen::Gateway(_) => None,
            })
            .collect();
        let executed = up.executed(answered.len());
        // Afterwards, on a new connection, every answer is its own request's.
        let mut c = srv.connect();
        let mut shifted = Vec::new();
        for i in 0..3 {
            let r = c.get(&format!("/prod/proxy/sentinel-{i}"));
            if r.body_str() != format!("/sentinel-{i}") {
                shifted.push(format!("sentinel-{i} got {:?}", r.body_str()));
            }
        }
        let after = up.executed(3);
        let problem = if let Some(Seen::Gateway(s)) = seen
            .iter()
            .find(|s| matches!(s, Seen::Gateway(st) if *st < 400))
        {
            Some(format!("portico answered {s} itself"))
        } else if executed.iter().any(|p| p.contains("SMUGGLED")) {
            Some(format!("a hidden request was executed: {executed:?}"))
        } else if executed != answered {
            Some(format!(
                "upstream executed {executed:?}, portico answered {seen:?}"
            ))
        } else if !shifted.is_empty() || after.len() != 3 {
            Some(format!(
                "later answers shifted: {shifted:?}, executed {after:?}"
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            failures.push(format!("{label} / {}: {p}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn server_for(upstream: &str) -> Server {
    Server::start(&Config::demo(upstream).server("workers", "1"))
}

#[test]
fn no_technique_smuggles_through_to_the_harness_upstream() {
    let up = Upstream::start(|r| {
        Reply::Send(http_response(
            200,
            &[("x-upstream", "yes")],
            r.target.as_bytes(),
        ))
    });
    let srv = server_for(&up.addr());
    run_all(&srv, &up, "harness");
}

/// Every technique again where the proxy route maps its body into
/// headers (`method.request.body`, `method.request.body.a`): the body is
/// then read whole before the upstream head is written, and what it holds
/// (a hidden request after a CRLF) never reaches the head.
#[test]
fn no_technique_smuggles_through_a_body_mapping_route() {
    let up = Upstream::start(|r| {
        Reply::Send(http_response(
            200,
            &[("x-upstream", "yes")],
            r.target.as_bytes(),
        ))
    });
    let maps = r#"timeout_ms = 29000, request_parameters = { "integration.request.header.X-Body" = "method.request.body", "integration.request.header.X-Field" = "method.request.body.a" } }"#;
    let text = demo_api(&up.addr()).replace("timeout_ms = 29000 }", maps);
    assert!(
        text.contains("method.request.body.a"),
        "the proxy route maps its body"
    );
    let srv = Server::start(&Config::new(&text).server("workers", "1"));
    run_all(&srv, &up, "body-mapping");
}

#[test]
fn no_technique_smuggles_through_to_nginx() {
    let nginx = Nginx::start(
        r#"location / {
            add_header x-upstream yes always;
            return 200 "$request_uri";
        }"#,
    );
    let srv = server_for(&nginx.addr());
    let up = NginxLog {
        nginx,
        read: std::cell::Cell::new(0),
    };
    run_all(&srv, &up, "nginx");
}

/// What the upstream receives is framed by portico alone: one length (or
/// portico's own chunks), no client trailer, no Connection-named framing.
#[test]
fn upstream_gets_portico_framing_only() {
    let up =
        Upstream::start(|r| Reply::Send(http_response(200, &[("x-upstream", "yes")], &r.body)));
    let srv = server_for(&up.addr());
    let mut c = srv.connect();
    let post = "POST /prod/proxy/a HTTP/1.1\r\nHost: x\r\n";
    let r = c.request(format!(
        "{post}Connection: content-length\r\nContent-Length: 5, 5\r\n\r\nhello"
    ));
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello"));
    let got = up.recv();
    assert_eq!(got.header_all("content-length"), ["5"], "{}", got.raw_head);
    assert!(!got.has("transfer-encoding"));
    let r = c.request(format!(
        "{post}Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n"
    ));
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello"));
    let got = up.recv();
    assert_eq!(
        got.header_all("content-length"),
        ["5"],
        "a whole chunked body goes with its length"
    );
    assert!(!got.has("x-trailer") && !got.raw_head.contains("ext=1"));
}

/// A raw upstream on one connection at a time, scripted by the test: each
/// accepted connection's requests are answered with what `answer` returns,
/// and the test may push unsolicited bytes on the latest connection.
struct Scripted {
    port: u16,
    push: std::sync::mpsc::Sender<(Vec<u8>, std::sync::mpsc::Sender<()>)>,
    conns: std::sync::mpsc::Receiver<usize>,
}

impl Scripted {
    fn start(answer: fn(&Recorded) -> Vec<u8>) -> Scripted {
        use std::io::Write;
        use std::sync::{mpsc, Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (push, pushed) = mpsc::channel::<(Vec<u8>, mpsc::Sender<()>)>();
        let (conn_tx, conns) = mpsc::channel();
        let latest: Arc<Mutex<Option<std::net::TcpStream>>> = Arc::default();
        let writer = latest.clone();
        std::thread::spawn(move || {
            for (bytes, written) in pushed {
                if let Some(s) = writer.lock().unwrap().as_mut() {
                    s.write_all(&bytes).unwrap();
                }
                let _ = written.send(());
            }
        });
        std::thread::spawn(move || {
            for (n, s) in listener.incoming().enumerate() {
                let Ok(s) = s else { return };
                *latest.lock().unwrap() = Some(s.try_clone().unwrap());
                let _ = conn_tx.send(n);
                std::thread::spawn(move || {
                    let mut w = s.try_clone().unwrap();
                    let mut r = Reader::new(s);
                    while let Ok(Some(req)) = read_request(&mut r, n) {
                        if w.write_all(&answer(&req)).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Scripted { port, push, conns }
    }
}

fn echo_target(r: &Recorded) -> Vec<u8> {
    http_response(200, &[], r.target.as_bytes())
}

/// Issue 13 item 3: bytes an idle upstream sends after its answer (an
/// answer to a request never sent) must not become the next client's
/// answer: the connection is dropped, never reused.
#[test]
fn unsolicited_upstream_bytes_never_answer_the_next_request() {
    let up = Scripted::start(echo_target);
    let srv = server_for(&format!("127.0.0.1:{}", up.port));
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/proxy/first").body_str(), "/first");
    assert_eq!(up.conns.recv().unwrap(), 0);
    // Loopback: once written, the bytes wait in portico's socket.
    let (written, done) = std::sync::mpsc::channel();
    up.push
        .send((http_response(200, &[], b"EVIL").to_vec(), written))
        .unwrap();
    done.recv().unwrap();
    let r = c.get("/prod/proxy/second");
    assert_eq!(
        r.body_str(),
        "/second",
        "a desynced pooled connection answered"
    );
    assert_eq!(up.conns.recv().unwrap(), 1, "on a new upstream connection");
}

/// An answer framed two ways is refused (502), and its connection with it.
#[test]
fn upstream_answer_with_both_framings_is_refused() {
    fn both(r: &Recorded) -> Vec<u8> {
        if r.target == "/both" {
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL".to_vec()
        } else {
            echo_target(r)
        }
    }
    let up = Scripted::start(both);
    let srv = server_for(&format!("127.0.0.1:{}", up.port));
    let mut c = srv.connect();
    let r = c.get("/prod/proxy/both");
    assert_error(&r, 502, Some("Internal server error"));
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/proxy/next").body_str(), "/next");
}

/// Issue 13 item 7: a POST the upstream read on a reused connection and
/// then closed on is not sent again (it may have been executed); a GET is.
#[test]
fn only_idempotent_requests_are_retried_on_a_new_connection() {
    let up = Upstream::start(|r| {
        if r.conn == 0 && r.target != "/warm" {
            Reply::Close
        } else {
            Reply::Send(http_response(200, &[], r.target.as_bytes()))
        }
    });
    let srv = server_for(&up.addr());
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/proxy/warm").body_str(), "/warm");
    let r = c.request(request("POST", "/prod/proxy/pay", "x", &[], b"once"));
    assert_error(&r, 502, Some("Internal server error"));
    let received: Vec<String> = std::iter::from_fn(|| up.rx.try_recv().ok())
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(
        received,
        ["GET /warm", "POST /pay"],
        "the POST was sent once"
    );

    // A GET on a connection that closes the same way is sent again.
    let up = Upstream::start(|r| {
        if r.conn == 0 && r.target != "/warm" {
            Reply::Close
        } else {
            Reply::Send(http_response(200, &[], r.target.as_bytes()))
        }
    });
    let srv = server_for(&up.addr());
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/proxy/warm").body_str(), "/warm");
    assert_eq!(c.get("/prod/proxy/read").body_str(), "/read");
}

/// Found by fuzzing `response_head`: an upstream status line without a
/// reason phrase (or with obs-text in it) made portico compute a span
/// outside its buffer. It is answered with the standard reason.
#[test]
fn upstream_status_line_without_reason_phrase_is_served() {
    fn bare(r: &Recorded) -> Vec<u8> {
        let body = r.target.as_bytes();
        let mut v = format!("HTTP/1.1 200\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        v.extend_from_slice(body);
        v
    }
    let up = Scripted::start(bare);
    let srv = server_for(&format!("127.0.0.1:{}", up.port));
    let mut c = srv.connect();
    for i in 0..3 {
        let r = c.get(&format!("/prod/proxy/bare-{i}"));
        assert_eq!((r.status, r.body_str()), (200, format!("/bare-{i}")));
    }
}
