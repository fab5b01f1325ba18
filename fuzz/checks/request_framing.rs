//! The differential target: a client's byte stream on one connection, read
//! by portico as its server loop and HTTP proxy do, re-framed as portico
//! sends it upstream, then read back by a strict RFC 9112 reader and a
//! lenient nginx-like one. Each must see exactly the requests portico
//! accepted, with the same bodies, and nothing more; and portico must
//! never accept a client request the strict reference refuses.

use portico::config::LimitsConfig;
use portico::http::{
    buffered_body_len, forward, parse_request_head, write_chunk, BodyKind, ChunkedDecoder, Head,
    CHUNKED_END,
};

use super::gen::{mutate, Gen, Rng};
use super::lenient;
use super::strict::{read_all, End, Message, Strict};

/// What portico accepted of the client's stream, and what it sends upstream.
#[derive(Debug)]
struct Accepted {
    message: Message,
    chunked: bool,
    upstream: Vec<u8>,
}

const LIMITS: LimitsConfig = LimitsConfig {
    max_header_bytes: 4096,
    max_headers: 32,
    max_uri_bytes: 1024,
    max_body_bytes: 64 * 1024,
};

const CLIENT_REFERENCE: Strict = Strict {
    crlf_heads: false,
    tolerate_syntax: false,
};

/// A fuzz input: a first byte below 48 means raw bytes (the next byte
/// seeds how bodies arrive), else a generated stream of requests.
pub fn check(data: &[u8]) -> Result<(), String> {
    check_counted(data).map(|_| ())
}

/// What one input exercised, so the corpus replay can show it covers
/// pipelining, chunked bodies and the tolerated deviations.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Requests portico accepted.
    pub accepted: usize,
    /// Of those, with a chunked body.
    pub chunked: usize,
    /// Of those, refused by the exact reference over chunk-extension or
    /// trailer syntax that portico drops.
    pub tolerated: usize,
}

pub fn check_counted(data: &[u8]) -> Result<Counts, String> {
    let mut g = Gen::new(data);
    let (stream, seed) = if g.byte() < 48 {
        let seed = g.byte();
        (g.rest().to_vec(), seed)
    } else {
        let stream = generate(&mut g);
        (stream, g.byte())
    };
    check_stream(&stream, seed)
}

/// The fuzz input that replays `stream` as it is.
pub fn raw_input(stream: &[u8], seed: u8) -> Vec<u8> {
    let mut input = vec![0, seed];
    input.extend_from_slice(stream);
    input
}

pub fn check_stream(client: &[u8], seed: u8) -> Result<Counts, String> {
    let accepted = portico_reads(client, &mut Rng::new(seed))?;
    let mut counts = Counts {
        accepted: accepted.len(),
        chunked: accepted.iter().filter(|a| a.chunked).count(),
        tolerated: 0,
    };
    let (reference, end) = read_all(client, |b| CLIENT_REFERENCE.read_one(b));
    let mut at = 0;
    for (i, a) in accepted.iter().enumerate() {
        match reference.get(i) {
            Some(r) if *r == a.message => {}
            Some(r) => {
                return Err(format!(
                    "request {i}: portico read {:?}, the reference {r:?}",
                    a.message
                ))
            }
            None => {
                tolerated(&client[at..], &a.message, &end)
                    .map_err(|e| format!("request {i}: {e}"))?;
                counts.tolerated += 1;
            }
        }
        at += a.message.len;
    }
    let mut upstream = Vec::new();
    for a in &accepted {
        read_upstream(&a.upstream, std::slice::from_ref(a))?;
        upstream.extend_from_slice(&a.upstream);
    }
    read_upstream(&upstream, &accepted)?;
    Ok(counts)
}

/// portico accepted a request the reference refused: fine only when the
/// refusal was over syntax portico drops (chunk extensions, trailers).
fn tolerated(stream: &[u8], portico: &Message, end: &End) -> Result<(), String> {
    let tolerant = Strict {
        tolerate_syntax: true,
        ..CLIENT_REFERENCE
    };
    match tolerant.read_one(stream) {
        Ok(Some(r)) if r == *portico => Ok(()),
        other => Err(format!(
            "portico accepted {portico:?} where the RFC 9112 reference ended {end:?} \
             (tolerant: {other:?})"
        )),
    }
}

type Reader<'a> = dyn Fn(&[u8]) -> Result<Option<Message>, String> + 'a;

/// The upstream byte stream must read as exactly `expected` under both readers.
fn read_upstream(upstream: &[u8], expected: &[Accepted]) -> Result<(), String> {
    let strict = Strict {
        crlf_heads: true,
        tolerate_syntax: false,
    };
    let readers: [(&str, &Reader<'_>); 2] = [
        ("strict", &|b| strict.read_one(b)),
        ("lenient", &lenient::read_one),
    ];
    for (name, reader) in readers {
        let (messages, end) = read_all(upstream, reader);
        let sent: Vec<(&[u8], &[u8], &[u8])> = expected
            .iter()
            .map(|a| {
                let m = &a.message;
                (&m.method[..], &m.target[..], &m.body[..])
            })
            .collect();
        let read: Vec<(&[u8], &[u8], &[u8])> = messages
            .iter()
            .map(|m| (&m.method[..], &m.target[..], &m.body[..]))
            .collect();
        if end != End::Clean || sent != read {
            return Err(format!(
                "the {name} upstream reader got {} requests ({end:?}) for {} accepted:\n\
                 sent {sent:?}\nread {read:?}\nupstream bytes {:?}",
                read.len(),
                sent.len(),
                String::from_utf8_lossy(upstream)
            ));
        }
    }
    Ok(())
}

/// portico's server loop over one connection, and its HTTP proxy's
/// framing of each accepted request (src/dataplane/serve.rs,
/// src/integration/http_proxy/forward.rs, src/http/relay.rs).
fn portico_reads(client: &[u8], rng: &mut Rng) -> Result<Vec<Accepted>, String> {
    let mut accepted = Vec::new();
    let mut head = Head::default();
    let mut at = 0;
    while at < client.len() {
        let buf = &client[at..];
        match parse_request_head(buf, &LIMITS, &mut head) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        heads_in_pieces(buf, &head)?;
        let rest = &buf[head.len..];
        let Ok(Some(n)) = buffered_body_len(head.body, rest, LIMITS.max_body_bytes) else {
            break;
        };
        let mut upstream = upstream_head(&head, buf);
        let body = match head.body {
            BodyKind::Chunked => {
                let mut d = ChunkedDecoder::default();
                let mut data = Vec::new();
                d.feed(&rest[..n], |r| data.extend_from_slice(&rest[r]))
                    .map_err(|e| format!("decoder refused a body it measured: {e:?}"))?;
                data
            }
            _ => rest[..n].to_vec(),
        };
        if rng.below(2) == 0 {
            // The whole body was here with the head: one write.
            if head.body == BodyKind::Chunked {
                forward::end_with_dechunked(&mut upstream, &rest[..n]);
            } else {
                forward::end_request_head(&mut upstream, Some(n as u64));
                upstream.extend_from_slice(&rest[..n]);
            }
        } else {
            forward::end_request_head(&mut upstream, forward::upstream_length(head.body));
            relay(head.body, rest, n, rng, &mut upstream)?;
        }
        accepted.push(Accepted {
            message: Message {
                len: head.len + n,
                method: head.method_span.get(buf).to_vec(),
                target: head.target.get(buf).to_vec(),
                body,
            },
            chunked: head.body == BodyKind::Chunked,
            upstream,
        });
        at += head.len + n;
        if head.close {
            break;
        }
    }
    Ok(accepted)
}

/// A head that parses whole must read as incomplete at every shorter
/// prefix: the server parses whatever has arrived so far.
fn heads_in_pieces(buf: &[u8], whole: &Head) -> Result<(), String> {
    if whole.len > 600 {
        return Ok(());
    }
    let mut head = Head::default();
    for end in 0..whole.len {
        match parse_request_head(&buf[..end], &LIMITS, &mut head) {
            Ok(false) => {}
            other => {
                return Err(format!(
                    "head of {} bytes, its first {end} read as {other:?}",
                    whole.len
                ))
            }
        }
    }
    Ok(())
}

/// The request line and headers portico writes upstream
/// (`HttpProxyIntegration::write_request_head`, target as received).
fn upstream_head(head: &Head, buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(head.method_span.get(buf));
    out.push(b' ');
    out.extend_from_slice(head.target.get(buf));
    out.extend_from_slice(b" HTTP/1.1\r\nhost: upstream.test\r\n");
    let mut forwarded_for: Option<&[u8]> = None;
    for (name, value) in forward::end_to_end_headers(head, buf) {
        if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            forwarded_for = Some(value);
        } else {
            header(&mut out, name, value);
        }
    }
    let mut xff = forwarded_for.unwrap_or_default().to_vec();
    if !xff.is_empty() {
        xff.extend_from_slice(b", ");
    }
    xff.extend_from_slice(b"127.0.0.1");
    header(&mut out, b"x-forwarded-for", &xff);
    header(&mut out, b"x-forwarded-proto", b"http");
    if let Some(host) = head.host {
        header(&mut out, b"x-forwarded-host", host.get(buf));
    }
    header(&mut out, b"x-request-id", b"0123456789abcdef");
    out
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for part in [name, b": ", value, b"\r\n"] {
        out.extend_from_slice(part);
    }
}

/// The body relayed as it arrives in pieces (`Relay::run`): raw for a
/// length, re-chunked by portico (`Framing::Rechunk`) for chunked.
fn relay(
    kind: BodyKind,
    rest: &[u8],
    n: usize,
    rng: &mut Rng,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if kind != BodyKind::Chunked {
        out.extend_from_slice(&rest[..n]);
        return Ok(());
    }
    let mut d = ChunkedDecoder::default();
    let mut at = 0;
    while !d.is_done() {
        if at >= rest.len() {
            return Err(format!("relay ran out of body at {at}, whole said {n}"));
        }
        let piece = &rest[at..(at + 1 + rng.below(16)).min(rest.len())];
        let mut data = Vec::new();
        let used = d
            .feed(piece, |r| data.extend_from_slice(&piece[r]))
            .map_err(|e| format!("relay refused at {at} a body read whole: {e:?}"))?;
        write_chunk(out, &data);
        if d.is_done() {
            out.extend_from_slice(CHUNKED_END);
        } else if used != piece.len() {
            return Err("decoder left bytes of a piece unused before the end".into());
        }
        at += used;
    }
    if at != n {
        return Err(format!("relayed body ended at {at}, measured whole at {n}"));
    }
    Ok(())
}

// ---- the structure-aware generator ----

/// One to three requests, each valid or a near-miss, pipelined.
fn generate(g: &mut Gen<'_>) -> Vec<u8> {
    let mut stream = Vec::new();
    for _ in 0..1 + g.below(3) {
        let mut msg = request(g);
        if g.one_in(3) {
            mutate(g, &mut msg);
        }
        stream.extend_from_slice(&msg);
    }
    stream
}

const CL_NAMES: &[&str] = &[
    "Content-Length",
    "content-length",
    "CONTENT-LENGTH",
    "Content-Length ",
    "Content_Length",
    " Content-Length",
    "Content-Lengthx",
];
const TE_NAMES: &[&str] = &[
    "Transfer-Encoding",
    "transfer-encoding",
    "TRANSFER-ENCODING",
    "Transfer-Encoding ",
    "Transfer_Encoding",
    " Transfer-Encoding",
    "Transfer-Encodingx",
];
const TE_VALUES: &[&str] = &[
    "chunked",
    "Chunked",
    " chunked",
    "chunked ",
    "\tchunked",
    "chunked, chunked",
    "gzip, chunked",
    "chunked, gzip",
    "identity",
    "chunked;q=1",
    "xchunked",
    "chunked\x0b",
    "\"chunked\"",
    "",
    ",chunked",
    "chunked,",
];
const CONNECTION: &[&str] = &[
    "close",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "Content-Length, close",
    "host",
    "x-a",
    "te, trailer, upgrade",
    "keep-alive, transfer-encoding",
];
const OTHER: &[&str] = &[
    "Expect: 100-continue",
    "X-Forwarded-For: 1.2.3.4",
    "Trailer: X",
    "TE: trailers",
    "Upgrade: h2c",
    "Keep-Alive: timeout=5",
    "X-Request-Id: abc",
    "Proxy-Connection: keep-alive",
];

/// One request: a valid base with framing headers chosen, obfuscated,
/// duplicated or contradicted.
fn request(g: &mut Gen<'_>) -> Vec<u8> {
    let eol: &[u8] = g.pick(&[&b"\r\n"[..], b"\r\n", b"\r\n", b"\n"]);
    let method = g.pick(&[
        "GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "get", "CONNECT", "X",
    ]);
    let target = g.pick(&[
        "/",
        "/prod/a",
        "/a?b=1&b=2",
        "/%2e%2e/x",
        "*",
        "http://h/a",
        "/a b",
        "/\u{e9}",
    ]);
    let version = g.pick(&[
        "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "http/1.1",
    ]);
    let data = g.bytes(40).to_vec();
    let mut headers: Vec<Vec<u8>> = Vec::new();
    match g.below(8) {
        0 => {}
        1 => headers.extend([b"Host: a".to_vec(), b"Host: b".to_vec()]),
        _ => headers.push(b"Host: x".to_vec()),
    }
    let mut chunked = false;
    let cl = |g: &mut Gen<'_>, headers: &mut Vec<Vec<u8>>, n: usize| {
        let name = if g.one_in(3) {
            g.pick(CL_NAMES)
        } else {
            "Content-Length"
        };
        let value = match g.below(14) {
            0 => format!("+{n}"),
            1 => format!("0{n}"),
            2 => format!(" {n} "),
            3 => format!("{n}, {n}"),
            4 => format!("{n},{}", n + 1),
            5 => format!("{n} {n}"),
            6 => format!("0x{n:x}"),
            7 => format!("-{n}"),
            8 => String::new(),
            9 => "99999999999999999999".into(),
            10 => format!("{n},"),
            _ => n.to_string(),
        };
        headers.push(format!("{name}: {value}").into_bytes());
    };
    let te = |g: &mut Gen<'_>, headers: &mut Vec<Vec<u8>>| {
        let (name, value) = if g.one_in(2) {
            ("Transfer-Encoding", "chunked")
        } else {
            (g.pick(TE_NAMES), g.pick(TE_VALUES))
        };
        headers.push(format!("{name}: {value}").into_bytes());
    };
    match g.below(9) {
        0 => {}
        1 | 2 => cl(g, &mut headers, data.len()),
        3 | 4 => {
            chunked = true;
            te(g, &mut headers);
        }
        5 => {
            chunked = g.one_in(2);
            cl(g, &mut headers, data.len());
            te(g, &mut headers);
        }
        6 => {
            cl(g, &mut headers, data.len());
            let n = data.len() + g.below(2);
            cl(g, &mut headers, n);
        }
        7 => {
            chunked = true;
            te(g, &mut headers);
            te(g, &mut headers);
        }
        _ => {
            let n = data.len() + g.below(5);
            cl(g, &mut headers, n.saturating_sub(2));
        }
    }
    for _ in 0..g.below(3) {
        match g.below(3) {
            0 => headers.push(format!("Connection: {}", g.pick(CONNECTION)).into_bytes()),
            1 => headers.push(g.pick(OTHER).as_bytes().to_vec()),
            _ => {
                let mut h = b"X-A: ".to_vec();
                h.extend_from_slice(g.bytes(8));
                headers.push(h);
            }
        }
    }
    let turn = g.below(headers.len() + 1).min(headers.len());
    headers.rotate_left(turn);
    let mut msg = format!("{method} {target} {version}").into_bytes();
    msg.extend_from_slice(eol);
    for h in headers {
        msg.extend_from_slice(&h);
        msg.extend_from_slice(if g.one_in(16) { b"\n" } else { eol });
    }
    msg.extend_from_slice(eol);
    if chunked {
        chunked_body(g, &data, &mut msg);
    } else {
        msg.extend_from_slice(&data);
    }
    msg
}

/// `data` as chunks, with the chunk grammar's corners: sizes in either
/// case or wrong, extensions, line ends other than CRLF, trailers.
pub fn chunked_body(g: &mut Gen<'_>, data: &[u8], out: &mut Vec<u8>) {
    let line_end = |g: &mut Gen<'_>| -> &'static [u8] {
        match g.below(12) {
            0 => b"\n",
            1 => b"\r",
            2 => b"\r\r\n",
            _ => b"\r\n",
        }
    };
    let ext = |g: &mut Gen<'_>| -> &'static str {
        if !g.one_in(4) {
            return "";
        }
        g.pick(&[
            ";a=b",
            ";a=\"x y\"",
            " ;a",
            ";",
            "; a = b",
            ";a=\x01",
            "\t",
            ";a=\"\\\"\"",
            ";a=\"unterminated",
            " x",
        ])
    };
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + g.below(rest.len())).min(rest.len());
        let declared = match g.below(12) {
            0 => n + 1,
            1 => n - 1,
            _ => n,
        };
        let size = match g.below(4) {
            0 => format!("{declared:X}"),
            1 => format!("00{declared:x}"),
            _ => format!("{declared:x}"),
        };
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(ext(g).as_bytes());
        out.extend_from_slice(line_end(g));
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(line_end(g));
        rest = &rest[n..];
    }
    out.extend_from_slice(g.pick(&[&b"0"[..], b"0", b"00", b"000000000000000000"]));
    out.extend_from_slice(ext(g).as_bytes());
    out.extend_from_slice(line_end(g));
    for _ in 0..g.below(3) {
        out.extend_from_slice(g.pick(&[
            &b"X: a"[..],
            b"X:a",
            b"X : a",
            b" X: a",
            b"X a",
            b"Content-Length: 5",
            b"Transfer-Encoding: chunked",
            b"X: a\nGET /SMUGGLED HTTP/1.1",
        ]));
        out.extend_from_slice(line_end(g));
    }
    out.extend_from_slice(line_end(g));
}
