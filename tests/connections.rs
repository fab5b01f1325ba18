//! Connections under pressure (issue 13, items 8–10): at the connection cap
//! the longest-idle keep-alive connection makes room for a newcomer, and a
//! newcomer that finds none gets 503; a request body must arrive within
//! `body_total_ms` however steadily it trickles; an answer that closes a
//! connection with input pending is read by the client, not lost to a
//! reset (lingering close); a final answer to a request expecting
//! `100 Continue` is never followed by one. Issue 19: an idle keep-alive
//! connection goes quiet (no buffer held, `[timeouts] quiet_ms`) and loses
//! no byte doing so.
mod common;

use common::*;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo API on one worker holding at most `cap` connections.
fn capped(cap: usize) -> Config {
    Config::demo(NO_BACKEND)
        .server("workers", "1")
        .server("max_connections_per_worker", &cap.to_string())
}

fn served(c: &mut Client, ctx: &str) {
    let r = c.get("/prod/hello");
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (200, HELLO_BODY),
        "{ctx}"
    );
}

#[test]
fn at_the_cap_the_longest_idle_connection_makes_room() {
    let srv = Server::start(&capped(8));
    let mut idle: Vec<Client> = (0..8)
        .map(|i| {
            let mut c = srv.connect();
            served(&mut c, &format!("idle client {i}"));
            c
        })
        .collect();
    // The first one is used again: the second is now the one idle longest.
    served(&mut idle[0], "idle client 0 again");

    let t0 = Instant::now();
    let mut newcomer = srv.connect();
    served(&mut newcomer, "the newcomer at the cap");
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "the newcomer waited {:?}",
        t0.elapsed()
    );
    // Closed quietly, as by the keep-alive timeout.
    idle[1].expect_eof();
    for (i, c) in idle.iter_mut().enumerate().filter(|(i, _)| *i != 1) {
        served(c, &format!("idle client {i} after the eviction"));
    }
    served(&mut newcomer, "the newcomer again");
}

#[test]
fn at_the_cap_with_every_connection_mid_request_a_newcomer_gets_503() {
    let srv = Server::start(&capped(4));
    let mut slow = mid_request(&srv, 4);

    for round in 0..3 {
        let mut newcomer = srv.connect();
        newcomer.send(get("/prod/hello"));
        let r = newcomer.read_response();
        assert_error_in(&r, 503, "Service Unavailable", &format!("round {round}"));
        assert_eq!(r.header("retry-after"), Some("1"), "{r:?}");
        assert!(r.closes(), "a refusal says it closes: {r:?}");
        newcomer.expect_eof();
    }
    // The requests in progress were not disturbed.
    for (i, c) in slow.iter_mut().enumerate() {
        c.send("\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200, "slow client {i} ends its head");
    }
    // Idle again, so reusable: the next newcomer is admitted.
    let mut newcomer = srv.connect();
    served(&mut newcomer, "a newcomer once connections are idle");
}

/// `cap` connections of the plain listener, each mid-request: answered once,
/// then a head started and not ended (not reusable from the moment its
/// answer is read).
fn mid_request(srv: &Server, cap: usize) -> Vec<Client> {
    (0..cap)
        .map(|i| {
            let mut c = srv.connect();
            c.send(format!(
                "{}GET /prod/hello HTTP/1.1\r\nHost: localhost\r\n",
                get("/prod/hello")
            ));
            assert_eq!(c.read_response().status, 200, "slow client {i}");
            c
        })
        .collect()
}

/// A `[tls]` section: an HTTPS listener on a free port with a certificate
/// for `a.test`, made in `dir`.
fn tls_listener(dir: &TempDir) -> String {
    let (crt, key) = make_cert(&dir.path, "a", &["a.test"], false);
    format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\n[[tls.certificates]]\ncert = \"{}\"\nkey = \"{}\"\n",
        crt.display(),
        key.display()
    )
}

#[test]
fn a_tls_newcomer_finding_no_room_gets_503_over_tls() {
    let dir = TempDir::new("conns-tls");
    let mut srv = Server::start(&capped(2).append(&tls_listener(&dir)));
    let port = srv.https_port();
    let _slow = mid_request(&srv, 2);
    let seen = tls_get(&client_config(&[], &[]), port, "a.test", "/prod/hello")
        .unwrap_or_else(|e| panic!("TLS newcomer at the cap: {e}"));
    assert!(
        seen.answer.starts_with("HTTP/1.1 503 ")
            && seen
                .answer
                .to_ascii_lowercase()
                .contains("retry-after: 1\r\n")
            && seen
                .answer
                .ends_with(r#"{"message":"Service Unavailable"}"#),
        "{:?}",
        seen.answer
    );
}

/// Sends the head of `POST path` with a 1000-byte body, then the body one
/// byte every 100 ms (each gap well within `body_ms`) until told to stop.
fn trickle(c: &Client, path: &str) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let mut s = c.stream().try_clone().unwrap();
    s.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        for _ in 0..1000 {
            if stop2.load(Ordering::SeqCst) || s.write_all(b"x").is_err() {
                return;
            }
            // The slow client's pace, not synchronisation.
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (stop, writer)
}

#[test]
fn a_body_trickling_past_body_total_ms_gets_408() {
    let up = Upstream::ok(b"up");
    let srv = Server::start(
        &Config::demo(&up.addr())
            .timeouts("body_ms", "2000")
            .timeouts("body_total_ms", "800"),
    );
    // A body nobody needs (mock) and one streamed to an upstream.
    for path in ["/prod/any", "/prod/proxy/upload"] {
        let mut c = srv.connect();
        let t0 = Instant::now();
        let (stop, writer) = trickle(&c, path);
        let r = c.try_read_response(false);
        let took = t0.elapsed();
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        let r = r.unwrap_or_else(|e| panic!("{path}: no answer to a trickled body: {e}"));
        assert_error(&r, 408, None);
        assert!(r.closes(), "{path}: {r:?}");
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_secs(4),
            "{path}: 408 after {took:?}, body_total_ms = 800"
        );
    }
    assert_serving(srv.port);
}

/// Writes `data` whole before reading anything (as a client uploading a
/// body does), then reads the answer to its end.
fn write_all_then_read(port: u16, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.write_all(data)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn an_answer_closing_with_input_pending_is_read_not_reset() {
    let srv = Server::start(
        &Config::demo(NO_BACKEND)
            .limits("max_uri_bytes", "1024")
            .limits("max_header_bytes", "4096"),
    );
    let long_uri = format!(
        "GET /prod/hello?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(2000)
    );
    let big_header = format!(
        "GET /prod/hello HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "v".repeat(8000)
    );
    // Far more than the server reads before answering, within what it
    // drains before closing.
    let pending = vec![b'x'; 192 * 1024];
    for (head, status) in [(long_uri, 414), (big_header, 431)] {
        // A reset races the client's reads: a few rounds.
        for round in 0..5 {
            let mut data = head.clone().into_bytes();
            data.extend_from_slice(&pending);
            let out = write_all_then_read(srv.port, &data)
                .unwrap_or_else(|e| panic!("{status}, round {round}: {e}"));
            let want = format!("HTTP/1.1 {status} ");
            assert!(
                out.starts_with(want.as_bytes()),
                "{status}, round {round}: got {:?}",
                String::from_utf8_lossy(&out[..out.len().min(200)])
            );
        }
    }
    assert_serving(srv.port);
}

/// A stage cache in front of an upstream answering `stored`.
fn cached(up: &Upstream) -> Config {
    Config::new(&format!(
        r#"[[api]]
name = "a"
hosts = []

[api.stages.prod]
variables = {{}}

[api.stages.prod.cache]
capacity = "1MB"

[[api.routes]]
method = "GET"
path = "/items/{{id}}"
integration = {{ type = "http_proxy", uri = "http://{}/items/{{id}}" }}
"#,
        up.addr()
    ))
}

const EXPECTING: &str = "GET /prod/items/1 HTTP/1.1\r\nHost: localhost\r\n\
Expect: 100-continue\r\nContent-Length: 5\r\n\r\n";

fn assert_hit(r: &Response, ctx: &str) {
    assert_eq!(
        (r.status, r.header("x-cache"), r.body_str().as_str()),
        (200, Some("Hit"), "stored"),
        "{ctx}: {r:?}"
    );
}

#[test]
fn a_cache_hit_expecting_100_continue_is_not_followed_by_one() {
    let up = Upstream::ok(b"stored");
    let srv = Server::start(&cached(&up));
    let mut c = srv.connect();
    assert_eq!(c.get("/prod/items/1").header("x-cache"), Some("Miss"));
    up.recv();

    c.send(EXPECTING);
    assert_hit(&c.read_response(), "the hit");
    // The client sends its body anyway, then another request: what comes
    // next is that request's answer, no interim one.
    c.send(format!("hello{}", get("/prod/items/1")));
    assert_hit(&c.read_response(), "the request after the late body");

    // A client that does not send its body: no interim answer either, and
    // the connection ends soon after the answer.
    let mut c = srv.connect();
    c.send(EXPECTING);
    assert_hit(&c.read_response(), "the hit, body never sent");
    c.expect_eof();
    up.assert_nothing();
}

const HELLO_GET: &[u8] = b"GET /prod/hello HTTP/1.1\r\nHost: t\r\n\r\n";

/// `quiet_ms` after its answer an idle keep-alive connection goes quiet:
/// its pending read is cancelled and its buffers freed (the gauge counts
/// it). A request then sent in two pieces, or two pipelined in one write,
/// is read whole.
#[test]
fn an_idle_connection_goes_quiet_and_loses_no_byte() {
    goes_quiet_and_loses_no_byte("100");
}

/// `quiet_ms = 0`: quiet as soon as it has answered, with no read made.
#[test]
fn with_quiet_ms_0_a_connection_goes_quiet_at_once() {
    goes_quiet_and_loses_no_byte("0");
}

fn quiet_after(ms: &str) -> Config {
    Config::demo(NO_BACKEND)
        .server("workers", "1")
        .timeouts("quiet_ms", ms)
}

fn goes_quiet_and_loses_no_byte(quiet_ms: &str) {
    let mut srv = Server::start(&quiet_after(quiet_ms));
    let mut conns: Vec<Client> = (0..20)
        .map(|i| {
            let mut c = srv.connect();
            served(&mut c, &format!("client {i}"));
            c
        })
        .collect();
    scrape_until(&mut srv, "20 quiet connections", |m| {
        m.sum("portico_worker_quiet_connections") == 20.0
    });

    let (head, rest) = HELLO_GET.split_at(20);
    for c in &mut conns[..10] {
        c.send(head);
    }
    // The ten with a head begun are reading again; the other ten stay quiet.
    scrape_until(&mut srv, "10 quiet connections", |m| {
        m.sum("portico_worker_quiet_connections") == 10.0
    });
    for (i, c) in conns[..10].iter_mut().enumerate() {
        c.send(rest);
        let r = c.read_response();
        assert_eq!(
            (r.status, r.body_str().as_str()),
            (200, HELLO_BODY),
            "split request {i}"
        );
    }
    for (i, c) in conns[10..].iter_mut().enumerate() {
        c.send([HELLO_GET, HELLO_GET].concat());
        for n in 0..2 {
            let r = c.read_response();
            assert_eq!(
                (r.status, r.body_str().as_str()),
                (200, HELLO_BODY),
                "pipelined request {n} on quiet client {i}"
            );
        }
    }
}

/// A quiet connection's wait ends on the worker's timing wheel, not a
/// timer of its own: with `quiet_ms` 0 every wait is quiet, so a client
/// that sends nothing is closed, without a word, once `header_ms` (before
/// its first request) or `keepalive_ms` (after an answer) has passed, and
/// not before.
#[test]
fn a_quiet_connection_is_closed_when_its_wait_is_over() {
    let srv = Server::start(
        &quiet_after("0")
            .timeouts("header_ms", "300")
            .timeouts("keepalive_ms", "400"),
    );
    let t0 = Instant::now();
    let mut silent = srv.connect();
    let mut answered = srv.connect();
    // Before the request, so before the server's wait begins.
    let t1 = Instant::now();
    served(&mut answered, "the client that is then silent");
    for (c, since, wait, who) in [
        (&mut silent, t0, 300, "a client that never sent a byte"),
        (&mut answered, t1, 400, "a client silent after an answer"),
    ] {
        c.set_read_timeout(POLL_FOR);
        c.expect_eof();
        assert!(
            since.elapsed() >= Duration::from_millis(wait),
            "{who} was closed after {:?}, before its {wait} ms",
            since.elapsed()
        );
    }
    let mut later = srv.connect();
    served(&mut later, "a client after the two were closed");
}

/// Requests that come just as a connection goes quiet, while its pending
/// read is being cancelled, are all read whole. The pauses are the load's
/// shape (spread around `quiet_ms`, 100 ms here), not
/// synchronisation: every answer is read before the next pause.
#[test]
fn requests_racing_the_quiet_transition_are_all_answered() {
    let srv = Server::start(&quiet_after("100"));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let mut c = srv.connect();
            std::thread::spawn(move || {
                for round in 0..25u64 {
                    served(&mut c, &format!("thread {t} round {round}"));
                    let pause = 94 + (t * 5 + round * 7) % 13;
                    std::thread::sleep(Duration::from_millis(pause));
                    if round % 2 == 1 {
                        // Split mid-head, the second piece a moment later.
                        let (head, rest) = HELLO_GET.split_at(17);
                        c.send(head);
                        std::thread::sleep(Duration::from_millis(pause % 7));
                        c.send(rest);
                        let r = c.read_response();
                        assert_eq!(
                            (r.status, r.body_str().as_str()),
                            (200, HELLO_BODY),
                            "thread {t} round {round}, split"
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread failed");
    }
}

/// Reads one answer with a `Content-Length` body from `r`: (head, body).
fn read_answer(r: &mut impl Read) -> (String, String) {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        r.read_exact(&mut byte).expect("reading an answer's head");
        got.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&got).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).expect("reading an answer's body");
    (head, String::from_utf8(body).unwrap())
}

/// Over TLS as over TCP: a quiet connection releases its ciphertext
/// buffers and then reads a request split over two records, and two
/// pipelined in one record, whole.
#[test]
fn a_quiet_tls_connection_loses_no_byte() {
    let dir = TempDir::new("conns-tls-quiet");
    let mut srv = Server::start(&quiet_after("100").append(&tls_listener(&dir)));
    let port = srv.https_port();
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&[], &[]), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let hello = |s: &mut rustls::StreamOwned<_, _>, ctx: &str| {
        let (head, body) = read_answer(s);
        assert!(head.starts_with("HTTP/1.1 200 "), "{ctx}: {head}");
        assert_eq!(body, HELLO_BODY, "{ctx}");
    };
    s.write_all(HELLO_GET).unwrap();
    hello(&mut s, "the first request");
    scrape_until(&mut srv, "the TLS connection quiet", |m| {
        m.sum("portico_worker_quiet_connections") == 1.0
    });
    let (head, rest) = HELLO_GET.split_at(20);
    s.write_all(head).unwrap();
    s.flush().unwrap();
    scrape_until(&mut srv, "the TLS connection reading again", |m| {
        m.sum("portico_worker_quiet_connections") == 0.0
    });
    s.write_all(rest).unwrap();
    hello(&mut s, "the split request");
    scrape_until(&mut srv, "the TLS connection quiet again", |m| {
        m.sum("portico_worker_quiet_connections") == 1.0
    });
    s.write_all(&[HELLO_GET, HELLO_GET].concat()).unwrap();
    hello(&mut s, "the first pipelined request");
    hello(&mut s, "the second pipelined request");
}
