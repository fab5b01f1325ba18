//! portico's chunked decoder: the same answer however the body is split
//! across reads, its own re-chunking reads back as the same data, it
//! never reads past the body's end, and it agrees with the reference
//! chunk grammar on where a body ends.

use portico::http::{write_chunk, ChunkedDecoder, CHUNKED_END};

use super::gen::{Gen, Rng};
use super::strict::Strict;

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Body complete after this many bytes.
    Done(usize, Vec<u8>),
    /// All input used, body not complete.
    More(Vec<u8>),
    Refused,
}

/// Feeds `input` in pieces whose lengths come from `piece`, as a relay
/// would: each piece from where the last call stopped.
fn decode(input: &[u8], mut piece: impl FnMut(usize) -> usize) -> Result<Outcome, String> {
    let mut d = ChunkedDecoder::default();
    let mut data = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let end = (at + piece(input.len() - at)).min(input.len());
        let part = &input[at..end];
        let Ok(used) = d.feed(part, |r| data.extend_from_slice(&part[r])) else {
            return Ok(Outcome::Refused);
        };
        if used > part.len() {
            return Err(format!("consumed {used} of a {}-byte piece", part.len()));
        }
        at += used;
        if d.is_done() {
            return Ok(Outcome::Done(at, data));
        }
        if used != part.len() {
            return Err("stopped inside a piece without ending the body".into());
        }
    }
    if d.total != data.len() as u64 {
        return Err(format!("total {} for {} data bytes", d.total, data.len()));
    }
    Ok(Outcome::More(data))
}

/// A fuzz input: the first byte seeds the piece sizes, the rest is the body.
pub fn check(input: &[u8]) -> Result<(), String> {
    let mut g = Gen::new(input);
    let seed = g.byte();
    let body = if seed & 0x80 == 0 {
        g.rest().to_vec()
    } else {
        // A generated body from the rest, valid or nearly.
        let data = g.bytes(64).to_vec();
        let mut out = Vec::new();
        super::request_framing::chunked_body(&mut g, &data, &mut out);
        out.extend_from_slice(g.rest());
        out
    };
    check_body(&body, seed)
}

pub fn check_body(body: &[u8], seed: u8) -> Result<(), String> {
    let whole = decode(body, |n| n)?;
    let pieces = [
        decode(body, |_| 1)?,
        decode(body, {
            let mut rng = Rng::new(seed);
            move |n| 1 + rng.below(n)
        })?,
    ];
    for (i, p) in pieces.iter().enumerate() {
        if *p != whole {
            return Err(format!("split {i}: {p:?}, whole: {whole:?}"));
        }
    }
    // Every split into two pieces, for bodies short enough to afford it.
    if body.len() <= 256 {
        for split in 1..body.len() {
            let mut first = true;
            let two = decode(body, |n| {
                let size = if first { split } else { n };
                first = false;
                size
            })?;
            if two != whole {
                return Err(format!("split at {split}: {two:?}, whole: {whole:?}"));
            }
        }
    }
    let reference = Strict {
        crlf_heads: true,
        tolerate_syntax: true,
    }
    .chunked(body);
    match (&whole, &reference) {
        (Outcome::Done(used, data), Ok(Some((r_used, r_data))))
            if used == r_used && data == r_data => {}
        (Outcome::Done(..), _) => {
            return Err(format!("decoder: {whole:?}, reference: {reference:?}"));
        }
        (Outcome::More(_), Ok(None)) | (Outcome::Refused, _) => {}
        (Outcome::More(_), _) => {
            return Err(format!("decoder wants more, reference: {reference:?}"));
        }
    }
    if let Outcome::Done(_, data) = &whole {
        let mut again = Vec::new();
        for piece in data.chunks(7) {
            write_chunk(&mut again, piece);
        }
        again.extend_from_slice(CHUNKED_END);
        let back = decode(&again, |n| n)?;
        if back != Outcome::Done(again.len(), data.clone()) {
            return Err(format!("re-chunked data read back as {back:?}"));
        }
    }
    Ok(())
}
