//! Replays the fuzz corpus (`fuzz/corpus/<target>/`, minimised with
//! `cargo fuzz cmin`) and hand-written seeds through the fuzz targets'
//! checks, so `cargo test` on stable keeps every case the fuzzer found
//! interesting passing without nightly or libFuzzer.

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

/// Every file of `fuzz/corpus/<target>/` through `check`; the number replayed.
fn replay(target: &str, check: fn(&[u8]) -> Result<(), String>) -> usize {
    let entries: Vec<PathBuf> = corpus(target);
    for path in &entries {
        let input = std::fs::read(path).unwrap();
        if let Err(e) = check(&input) {
            panic!("{}: {e}", path.display());
        }
    }
    entries.len()
}

/// The corpus also has to reach what matters: pipelined requests portico
/// accepts, chunked bodies, and syntax only the tolerant reference takes.
#[test]
fn request_framing_corpus() {
    assert!(replay("request_framing", checks::request_framing::check) > 0);
    let mut pipelined = 0;
    let mut total = checks::request_framing::Counts::default();
    for path in corpus("request_framing") {
        let c = checks::request_framing::check_counted(&std::fs::read(path).unwrap()).unwrap();
        pipelined += usize::from(c.accepted > 1);
        total.accepted += c.accepted;
        total.chunked += c.chunked;
        total.tolerated += c.tolerated;
    }
    eprintln!("request_framing corpus: {pipelined} pipelined inputs, {total:?}");
    assert!(pipelined > 0 && total.chunked > 0, "{total:?}");
}

/// The issue's reproducers and the classic smuggling shapes, as raw streams
/// through every way a body can arrive.
#[test]
fn request_framing_seeds() {
    let streams: &[&[u8]] = &[
        b"POST /prod/proxy/a HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\n\
          Content-Length: 40\r\n\r\nGET /SMUGGLED-CL-0 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\nX: a\n\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\n\r\nG",
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n\
          0\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=\"a b\"\r\nhello\r\n0\r\nTrailer: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\nHost: x\n\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\nA\r\n0\r\n\r\n",
    ];
    for stream in streams {
        for seed in 0..8 {
            let input = checks::request_framing::raw_input(stream, seed);
            if let Err(e) = checks::request_framing::check(&input) {
                panic!("{:?} (seed {seed}): {e}", String::from_utf8_lossy(stream));
            }
        }
    }
}

#[test]
fn chunked_decoder_corpus() {
    assert!(replay("chunked_decoder", checks::chunked_decoder::check) > 0);
    for body in [
        &b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT"[..],
        b"0\r\nX: a\n\nGET /SMUGGLED HTTP/1.1\r\n",
        b"1\r\nA\r\n0\r\n\r",
    ] {
        checks::chunked_decoder::check_body(body, 7).unwrap();
    }
}

#[test]
fn response_head_corpus() {
    assert!(replay("response_head", checks::response_head::check) > 0);
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        checks::response_head::check_head(head, false).unwrap();
    }
}

/// Found by the response_head target (fixed): a reason phrase with
/// obs-text bytes, or none at all, made `parse_response_head` span
/// httparse's static `""` outside the buffer. The corpus keeps both
/// reproducers; this names them so they are never minimised away unseen.
#[test]
fn response_head_reason_outside_buffer() {
    for bug in [
        "response_head/bug-reason-obs-text",
        "response_head/bug-no-reason",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(bug);
        checks::response_head::check(&std::fs::read(path).unwrap()).unwrap();
    }
}

#[test]
fn sigv4_canonical_corpus() {
    assert!(replay("sigv4_canonical", checks::sigv4_canonical::check) > 0);
}

#[test]
fn route_template_corpus() {
    assert!(replay("route_template", checks::route_template::check) > 0);
    checks::route_template::check(b"\0/items/{id}/{proxy+}").unwrap();
}

#[test]
fn config_loader_corpus() {
    assert!(replay("config_loader", checks::config_loader::check) > 0);
    checks::config_loader::check(portico::config::DEFAULT_CONFIG.as_bytes()).unwrap();
}

/// Mapping templates: AWS's documented examples (seeded from `tests/vtl.rs`)
/// and what the fuzzer kept, rendered twice under `fuzz/checks/vtl.rs`'s limits.
#[test]
fn vtl_corpus() {
    assert!(replay("vtl", checks::vtl::check) > 0);
}

/// JSON bodies, valid and not, through the VTL engine's byte-level reader
/// and serde_json: what the fuzzer kept, replayed.
#[test]
fn vtl_json_corpus() {
    assert!(replay("vtl_json", checks::vtl_json::check) > 0);
}

/// The two upstream readers disagree exactly where real servers did in the
/// issue's reproducers, so the differential check can fail: a bare-LF
/// trailer is refused by the reference and splits in two for the lenient
/// reader; a body sent without its Content-Length is a second request to both.
#[test]
fn reference_readers_see_the_known_smuggling() {
    use checks::strict::{read_all, End, Strict};
    let strict = Strict {
        crlf_heads: true,
        tolerate_syntax: false,
    };
    let bare_lf = b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                    0\r\nX: a\n\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";
    let (read, end) = read_all(bare_lf, |b| strict.read_one(b));
    assert!(read.is_empty() && matches!(end, End::Refused(_)), "{end:?}");
    let (read, end) = read_all(bare_lf, checks::lenient::read_one);
    assert_eq!((read.len(), end), (2, End::Clean));
    assert_eq!(read[1].target, b"/SMUGGLED");

    let unframed = b"POST /a HTTP/1.1\r\nHost: x\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";
    for reader in [
        &|b: &[u8]| strict.read_one(b) as Result<_, _>,
        &checks::lenient::read_one as &dyn Fn(&[u8]) -> _,
    ] {
        let (read, end) = read_all(unframed, reader);
        assert_eq!((read.len(), end), (2, End::Clean));
    }
}
