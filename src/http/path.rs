//! The request path in one canonical form, before anything looks at it.
//!
//! Routing, throttles, API keys, cache keys, authorizers' method ARNs and
//! policies, Lambda events and the upstream URI all work on the path this
//! module returns, so two spellings of one resource (`/tok/%61dmin`,
//! `/tok//admin/`) can never be told apart by one step and merged by
//! another (or by the backend). The form is RFC 3986's normalisation:
//! percent-encoded unreserved characters decoded (§6.2.2.2), hex digits in
//! upper case, dot segments removed (§5.2.4, `%2E` counted as a dot), `//`
//! merged and the trailing slash dropped (API Gateway matches `/keyed/` as
//! `/keyed`). Bytes a path may not hold raw (non-ASCII, `"`, `#`, `\`...)
//! are percent-encoded, and the decoded bytes must be UTF-8 without NUL, so
//! every path has exactly one spelling and an overlong `%C0%AE` is no dot.
//! A path that climbs above `/` is refused, never clamped.
//!
//! An encoded slash (`%2F`, and `%5C` or a raw `\`, which WHATWG URL
//! parsers read as `/`) is decoded into a separator, refused, or kept
//! encoded inside its segment as the rules say; kept, it may not sit next
//! to a dot segment (`..%2F`), which a backend that decodes it would climb
//! through. A double-encoded dot or slash (`%252e`) is refused for the
//! backends that decode twice, and a dot segment with path parameters
//! (`..;x`) for the servlet containers that drop the parameters first.

use serde::Deserialize;

/// What an encoded slash (`%2F`, `%5C`, raw `\`) in a path becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodedSlashes {
    /// A separator, as API Gateway decodes the path before matching routes.
    #[default]
    Decode,
    /// 400: the request is refused.
    Reject,
    /// Kept encoded, part of its segment (and of a path parameter).
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRules {
    /// Rewrite to the canonical form; `false`: refuse any path not already in it.
    pub normalize: bool,
    /// `//` becomes `/`; `false`: refused.
    pub merge_slashes: bool,
    pub encoded_slashes: EncodedSlashes,
}

impl Default for PathRules {
    fn default() -> Self {
        PathRules {
            normalize: true,
            merge_slashes: true,
            encoded_slashes: EncodedSlashes::Decode,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path climbs above its root")]
    Climbs,
    #[error("the path has an empty segment (`//`)")]
    EmptySegment,
    #[error("the path has an encoded slash")]
    EncodedSlash,
    #[error("the path has a dot segment next to an encoded slash")]
    DotBesideEncodedSlash,
    #[error("the path has a dot segment with parameters (`..;`)")]
    DotWithParameters,
    #[error("the path has a double-encoded dot or slash")]
    DoubleEncoded,
    #[error("the path has a malformed percent-encoding")]
    BadEncoding,
    #[error("the path is not UTF-8")]
    NotUtf8,
    #[error("the path has a NUL byte")]
    Nul,
    #[error("the path is not in normal form")]
    NotNormal,
}

impl PathError {
    /// The `{"message": ...}` of the 400 answer.
    pub fn message(self) -> &'static str {
        match self {
            PathError::Climbs => "Invalid request path: it climbs above its root",
            PathError::EmptySegment => "Invalid request path: empty segment",
            PathError::EncodedSlash => "Invalid request path: encoded slash",
            PathError::DotBesideEncodedSlash => {
                "Invalid request path: dot segment beside an encoded slash"
            }
            PathError::DotWithParameters => "Invalid request path: dot segment with parameters",
            PathError::DoubleEncoded => "Invalid request path: double-encoded dot or slash",
            PathError::BadEncoding => "Invalid request path: malformed percent-encoding",
            PathError::NotUtf8 => "Invalid request path: not UTF-8",
            PathError::Nul => "Invalid request path: NUL byte",
            PathError::NotNormal => "Invalid request path: not in normal form",
        }
    }
}

/// `raw` (origin-form, starting with `/`) in canonical form: `raw` itself
/// when it is canonical and has no `%` (a scan, no copy: the common case),
/// else rewritten into `out`, which the caller keeps for reuse.
pub fn normalize<'a>(
    raw: &'a [u8],
    rules: &PathRules,
    out: &'a mut Vec<u8>,
) -> Result<&'a [u8], PathError> {
    if is_canonical(raw) {
        return Ok(raw);
    }
    rewrite(raw, rules, out)?;
    check_double_encoding(out)?;
    if !rules.normalize && out.as_slice() != raw {
        return Err(PathError::NotNormal);
    }
    Ok(out)
}

/// Bytes a path segment holds raw in canonical form: RFC 3986's `pchar`
/// less `%` (unreserved, sub-delims, `:`, `@`).
const fn raw_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
            // sub-delims
            || matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
            || matches!(b, b':' | b'@');
        c += 1;
    }
    t
}

static RAW: [bool; 256] = raw_table();

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The common case: only raw bytes and single slashes, no dot segment, no
/// trailing slash.
fn is_canonical(raw: &[u8]) -> bool {
    let mut segment_start = 1;
    for (i, &b) in raw.iter().enumerate().skip(1) {
        if b == b'/' {
            let segment = &raw[segment_start..i];
            if is_dots(segment) || dots_with_parameters(segment) || segment.is_empty() {
                return false;
            }
            segment_start = i + 1;
        } else if !RAW[b as usize] {
            return false;
        }
    }
    let last = &raw[segment_start.min(raw.len())..];
    raw.first() == Some(&b'/')
        && (raw.len() == 1 || !(last.is_empty() || is_dots(last) || dots_with_parameters(last)))
}

fn is_dots(segment: &[u8]) -> bool {
    segment == b"." || segment == b".."
}

/// `..;x`: Tomcat and other servlet containers drop `;x`, then climb.
fn dots_with_parameters(segment: &[u8]) -> bool {
    segment
        .iter()
        .position(|&c| c == b';')
        .is_some_and(|i| is_dots(&segment[..i]))
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn push_encoded(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
}

/// One byte of the path as decoded, and how it arrived.
enum Unit {
    Separator,
    /// A kept `%2F`/`%5C`: inside the segment, but a separator to a
    /// backend that decodes it.
    KeptSlash(u8),
    /// A byte, and whether it came percent-encoded: a reserved character
    /// keeps the spelling it came with (`%3B` is not `;`).
    Byte(u8, bool),
}

fn rewrite(raw: &[u8], rules: &PathRules, out: &mut Vec<u8>) -> Result<(), PathError> {
    out.clear();
    let mut segment = Segment::default();
    let mut utf8 = Utf8::default();
    let mut i = 1;
    // Every segment is written as `/` + its bytes; `segment.start` is
    // where its `/` went.
    segment.begin(out);
    while i <= raw.len() {
        let unit = match raw.get(i) {
            None => Unit::Separator,
            Some(b'/') => Unit::Separator,
            Some(b'%') => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathError::BadEncoding);
                };
                i += 2;
                match hi << 4 | lo {
                    d @ (b'/' | b'\\') => slash(rules, d)?,
                    0 => return Err(PathError::Nul),
                    d => Unit::Byte(d, true),
                }
            }
            Some(b'\\') => slash(rules, b'\\')?,
            Some(&b) => Unit::Byte(b, false),
        };
        i += 1;
        match unit {
            Unit::Separator => {
                if utf8.pending() {
                    return Err(PathError::NotUtf8);
                }
                segment.end(out, rules, i > raw.len())?;
                if i <= raw.len() {
                    segment.begin(out);
                }
            }
            Unit::KeptSlash(d) => {
                if utf8.pending() {
                    return Err(PathError::NotUtf8);
                }
                segment.piece_end(out)?;
                push_encoded(out, d);
                segment.piece_start = out.len();
            }
            Unit::Byte(b, encoded) => {
                utf8.push(b)?;
                if is_unreserved(b) || RAW[b as usize] && !encoded {
                    out.push(b);
                } else {
                    push_encoded(out, b);
                }
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(())
}

fn slash(rules: &PathRules, d: u8) -> Result<Unit, PathError> {
    match rules.encoded_slashes {
        EncodedSlashes::Decode => Ok(Unit::Separator),
        EncodedSlashes::Reject => Err(PathError::EncodedSlash),
        EncodedSlashes::Keep => Ok(Unit::KeptSlash(d)),
    }
}

/// The segment being written: where its `/` is, and where the piece after
/// its last kept encoded slash begins.
#[derive(Default)]
struct Segment {
    start: usize,
    piece_start: usize,
}

impl Segment {
    fn begin(&mut self, out: &mut Vec<u8>) {
        self.start = out.len();
        out.push(b'/');
        self.piece_start = out.len();
    }

    fn piece_end(&self, out: &[u8]) -> Result<(), PathError> {
        let piece = &out[self.piece_start..];
        if is_dots(piece) {
            return Err(PathError::DotBesideEncodedSlash);
        }
        if dots_with_parameters(piece) {
            return Err(PathError::DotWithParameters);
        }
        Ok(())
    }

    /// Resolves the segment just written: empty, `.` and `..` leave it.
    fn end(&self, out: &mut Vec<u8>, rules: &PathRules, last: bool) -> Result<(), PathError> {
        let bytes = &out[self.start + 1..];
        if self.piece_start != self.start + 1 {
            // It holds a kept encoded slash: no piece may be a dot segment.
            self.piece_end(out)?;
            return Ok(());
        }
        if dots_with_parameters(bytes) {
            return Err(PathError::DotWithParameters);
        }
        match bytes {
            b"" if !last && !rules.merge_slashes => return Err(PathError::EmptySegment),
            b"" | b"." => out.truncate(self.start),
            b".." => {
                out.truncate(self.start);
                let parent = out
                    .iter()
                    .rposition(|&c| c == b'/')
                    .ok_or(PathError::Climbs)?;
                out.truncate(parent);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Checks that the decoded bytes are UTF-8, a sequence at a time
/// (`from_utf8` refuses overlong forms, surrogates and bytes past U+10FFFF).
#[derive(Default)]
struct Utf8 {
    bytes: [u8; 4],
    have: usize,
    need: usize,
}

impl Utf8 {
    fn pending(&self) -> bool {
        self.have < self.need
    }

    fn push(&mut self, b: u8) -> Result<(), PathError> {
        if !self.pending() {
            self.need = match b {
                0x00..=0x7F => return Ok(()),
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return Err(PathError::NotUtf8),
            };
            self.have = 0;
        } else if !(0x80..=0xBF).contains(&b) {
            return Err(PathError::NotUtf8);
        }
        self.bytes[self.have] = b;
        self.have += 1;
        if !self.pending() && std::str::from_utf8(&self.bytes[..self.have]).is_err() {
            return Err(PathError::NotUtf8);
        }
        Ok(())
    }
}

/// `%25` followed by the hex of `.`, `/` or `\`: one more decoding away
/// from path structure.
fn check_double_encoding(out: &[u8]) -> Result<(), PathError> {
    for w in out.windows(5) {
        if w[..3] == *b"%25" {
            if let (Some(hi), Some(lo)) = (hex_value(w[3]), hex_value(w[4])) {
                if matches!(hi << 4 | lo, b'.' | b'/' | b'\\') {
                    return Err(PathError::DoubleEncoded);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(rules: PathRules, raw: &str) -> Result<String, PathError> {
        let mut out = Vec::new();
        normalize(raw.as_bytes(), &rules, &mut out).map(|p| String::from_utf8(p.to_vec()).unwrap())
    }

    fn norm(raw: &str) -> Result<String, PathError> {
        with(PathRules::default(), raw)
    }

    fn keep() -> PathRules {
        PathRules {
            encoded_slashes: EncodedSlashes::Keep,
            ..PathRules::default()
        }
    }

    #[test]
    fn canonical_paths_are_borrowed_unchanged() {
        for p in [
            "/",
            "/a",
            "/prod/items/42",
            "/a/b.c/..d/.e",
            "/a;b=c/x@y:z/~u_-",
        ] {
            let mut out = Vec::new();
            let got = normalize(p.as_bytes(), &PathRules::default(), &mut out).unwrap();
            assert_eq!(got, p.as_bytes());
            assert!(out.is_empty(), "{p} was copied");
        }
    }

    #[test]
    fn dot_segments_are_removed_literal_or_encoded() {
        assert_eq!(norm("/a/b/../c").unwrap(), "/a/c");
        assert_eq!(norm("/a/./b/.").unwrap(), "/a/b");
        assert_eq!(norm("/a/b/..").unwrap(), "/a");
        assert_eq!(norm("/a/%2e%2E/b").unwrap(), "/b");
        assert_eq!(norm("/a/.%2e/b").unwrap(), "/b");
        assert_eq!(norm("/a/%2e/b").unwrap(), "/a/b");
        assert_eq!(norm("/a/..").unwrap(), "/");
        assert_eq!(norm("/..").unwrap_err(), PathError::Climbs);
        assert_eq!(norm("/a/../..").unwrap_err(), PathError::Climbs);
        assert_eq!(
            norm("/p/f/%2e%2e/%2e%2e/%2e%2e/x").unwrap_err(),
            PathError::Climbs
        );
        // Not dot segments.
        assert_eq!(norm("/a/...").unwrap(), "/a/...");
        assert_eq!(norm("/a/..b/.c").unwrap(), "/a/..b/.c");
    }

    #[test]
    fn slashes_merge_or_are_refused_and_trailing_ones_go() {
        assert_eq!(norm("//keyed").unwrap(), "/keyed");
        assert_eq!(norm("/tok//admin").unwrap(), "/tok/admin");
        assert_eq!(norm("/keyed/").unwrap(), "/keyed");
        assert_eq!(norm("/a///").unwrap(), "/a");
        let strict = PathRules {
            merge_slashes: false,
            ..PathRules::default()
        };
        assert_eq!(with(strict, "/a//b").unwrap_err(), PathError::EmptySegment);
        assert_eq!(with(strict, "//a").unwrap_err(), PathError::EmptySegment);
        assert_eq!(with(strict, "/a/").unwrap(), "/a");
    }

    #[test]
    fn unreserved_characters_are_decoded_and_others_kept_encoded() {
        assert_eq!(norm("/tok/%61dmin").unwrap(), "/tok/admin");
        assert_eq!(norm("/%6Beyed").unwrap(), "/keyed");
        assert_eq!(norm("/a%7e%2D%5f").unwrap(), "/a~-_");
        assert_eq!(norm("/a%3b%3Fb%20c").unwrap(), "/a%3B%3Fb%20c");
        // A raw reserved character and its encoding stay apart.
        assert_eq!(norm("/a;b%3B").unwrap(), "/a;b%3B");
        // Bytes a path may not hold raw are encoded.
        assert_eq!(norm("/a\"b#c{d}").unwrap(), "/a%22b%23c%7Bd%7D");
        assert_eq!(norm("/caf\u{e9}").unwrap(), "/caf%C3%A9");
        assert_eq!(norm("/caf%c3%a9").unwrap(), "/caf%C3%A9");
    }

    #[test]
    fn malformed_and_dangerous_encodings_are_refused() {
        assert_eq!(norm("/a%2").unwrap_err(), PathError::BadEncoding);
        assert_eq!(norm("/a%zz").unwrap_err(), PathError::BadEncoding);
        assert_eq!(norm("/a%00b").unwrap_err(), PathError::Nul);
        // Overlong `.` and `/`, a lone continuation byte, a cut sequence.
        assert_eq!(norm("/%c0%ae%c0%ae/x").unwrap_err(), PathError::NotUtf8);
        assert_eq!(norm("/%e0%80%ae").unwrap_err(), PathError::NotUtf8);
        assert_eq!(norm("/%c0%af").unwrap_err(), PathError::NotUtf8);
        assert_eq!(norm("/%80").unwrap_err(), PathError::NotUtf8);
        assert_eq!(norm("/%c3/%a9").unwrap_err(), PathError::NotUtf8);
        assert_eq!(norm("/%ed%a0%80").unwrap_err(), PathError::NotUtf8);
        // Double encoding, however spelt.
        assert_eq!(norm("/%252e%252e/x").unwrap_err(), PathError::DoubleEncoded);
        assert_eq!(norm("/a%252Fb").unwrap_err(), PathError::DoubleEncoded);
        assert_eq!(norm("/a%25%32%65").unwrap_err(), PathError::DoubleEncoded);
        assert_eq!(norm("/a%255c").unwrap_err(), PathError::DoubleEncoded);
        assert_eq!(norm("/100%25").unwrap(), "/100%25");
        // Servlet path parameters on a dot segment.
        for p in ["/a/..;/b", "/a/..;x=1/b", "/a/.;", "/a/%2e%2e;/b"] {
            assert_eq!(norm(p).unwrap_err(), PathError::DotWithParameters, "{p}");
        }
        assert_eq!(
            with(keep(), "/a/b%2F..;x").unwrap_err(),
            PathError::DotWithParameters
        );
        assert_eq!(norm("/a/..x;y/b;c").unwrap(), "/a/..x;y/b;c");
    }

    #[test]
    fn encoded_slashes_decode_by_default() {
        assert_eq!(norm("/files/a%2F..%2F..%2Fb").unwrap(), "/b");
        assert_eq!(norm("/tok/admin%2f").unwrap(), "/tok/admin");
        assert_eq!(norm("/a/b/..%5C..%5Cx").unwrap(), "/x");
        assert_eq!(norm("/a/..\\x").unwrap(), "/x");
        assert_eq!(norm("/a%2F..%2F..%2F..").unwrap_err(), PathError::Climbs);
    }

    #[test]
    fn encoded_slashes_can_be_refused() {
        let reject = PathRules {
            encoded_slashes: EncodedSlashes::Reject,
            ..PathRules::default()
        };
        for p in ["/a%2Fb", "/a%2fb", "/a%5cb", "/a\\b"] {
            assert_eq!(with(reject, p).unwrap_err(), PathError::EncodedSlash, "{p}");
        }
        assert_eq!(with(reject, "/a/b").unwrap(), "/a/b");
    }

    #[test]
    fn kept_encoded_slashes_stay_in_their_segment_but_never_beside_dots() {
        assert_eq!(with(keep(), "/a%2fb/c").unwrap(), "/a%2Fb/c");
        assert_eq!(with(keep(), "/a\\b").unwrap(), "/a%5Cb");
        assert_eq!(with(keep(), "/a%2F%2Fb").unwrap(), "/a%2F%2Fb");
        for p in [
            "/x/..%2F..%2Fadmin",
            "/x/a%2F..",
            "/x/%2e%2e%2fa",
            "/x/.%5Ca",
            "/x/..\\a",
        ] {
            assert_eq!(
                with(keep(), p).unwrap_err(),
                PathError::DotBesideEncodedSlash,
                "{p}"
            );
        }
        assert_eq!(with(keep(), "/x/..a%2Fb.").unwrap(), "/x/..a%2Fb.");
    }

    #[test]
    fn without_normalize_only_canonical_paths_pass() {
        let strict = PathRules {
            normalize: false,
            ..PathRules::default()
        };
        assert_eq!(with(strict, "/a/b").unwrap(), "/a/b");
        assert_eq!(with(strict, "/a%20b").unwrap(), "/a%20b");
        for p in ["/a/../b", "/%61", "/a/", "//a", "/a%2fb", "/a%3b"] {
            assert_eq!(with(strict, p).unwrap_err(), PathError::NotNormal, "{p}");
        }
        assert_eq!(with(strict, "/..").unwrap_err(), PathError::Climbs);
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point() {
        for p in [
            "/a/./b/../c//d/",
            "/%61%2F%2e%2e/x%3b",
            "/caf\u{e9}/%7e",
            "/a\\b/..%5Cc",
        ] {
            for rules in [PathRules::default(), keep()] {
                let Ok(once) = with(rules, p) else { continue };
                assert_eq!(with(rules, &once).unwrap(), once, "{p}");
                if !once.contains('%') {
                    let mut out = Vec::new();
                    normalize(once.as_bytes(), &rules, &mut out).unwrap();
                    assert!(out.is_empty(), "{once} is canonical but was copied");
                }
            }
        }
    }
}
