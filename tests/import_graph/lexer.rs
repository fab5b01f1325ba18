//! Rust source to tokens, with comments and literals dropped: a path that
//! appears in a doc comment or a string is no dependency, and a `'` or `"`
//! misread would turn the rest of a file into noise.
//!
//! It works on bytes: everything outside comments and literals is ASCII,
//! except identifiers, and a byte >= 0x80 is read as part of an identifier
//! so a slice never splits a character. (The check runs in a debug build
//! on every `cargo test`, so it is kept cheap.)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok<'s> {
    Ident(&'s str),
    /// `::`
    PathSep,
    Punct(u8),
    /// A literal or a lifetime: present so that neighbours stay apart.
    Other,
}

#[derive(Debug, Clone, Copy)]
pub struct Token<'s> {
    pub tok: Tok<'s>,
    pub line: u32,
}

pub fn lex(src: &str) -> Vec<Token<'_>> {
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(b.len() / 4);
    let mut line = 1u32;
    let mut i = 0;
    while i < b.len() {
        let start_line = line;
        let tok = match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if at(i + 1) == b'/' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if at(i + 1) == b'*' => {
                i = skip_block_comment(b, i, &mut line);
                continue;
            }
            b'"' => {
                i = skip_string(b, i + 1, &mut line);
                Tok::Other
            }
            b'\'' => {
                i = skip_quote(b, i);
                Tok::Other
            }
            b':' if at(i + 1) == b':' => {
                i += 2;
                Tok::PathSep
            }
            c if c.is_ascii_digit() => {
                while is_ident_byte(at(i)) {
                    i += 1;
                }
                Tok::Other
            }
            c if is_ident_byte(c) => {
                // Literal prefixes: b"..", br#".."#, r#".."#, c"..", b'x'.
                if let Some(end) = prefixed_literal(b, i, &mut line) {
                    i = end;
                    Tok::Other
                } else {
                    // A raw identifier r#name is the name.
                    if c == b'r' && at(i + 1) == b'#' && is_ident_byte(at(i + 2)) {
                        i += 2;
                    }
                    let s = i;
                    while is_ident_byte(at(i)) {
                        i += 1;
                    }
                    Tok::Ident(&src[s..i])
                }
            }
            c => {
                i += 1;
                Tok::Punct(c)
            }
        };
        out.push(Token {
            tok,
            line: start_line,
        });
    }
    out
}

fn is_ident_byte(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric() || c >= 0x80
}

/// Block comments nest.
fn skip_block_comment(b: &[u8], mut i: usize, line: &mut u32) -> usize {
    let mut depth = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                break;
            }
        } else {
            *line += (b[i] == b'\n') as u32;
            i += 1;
        }
    }
    i
}

/// From just after an opening `"` to just after the closing one.
fn skip_string(b: &[u8], mut i: usize, line: &mut u32) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => {
                *line += (b.get(i + 1) == Some(&b'\n')) as u32;
                i += 2;
            }
            b'"' => return i + 1,
            c => {
                *line += (c == b'\n') as u32;
                i += 1;
            }
        }
    }
    i
}

/// From `r`'s position past `r#*"..."#*`.
fn skip_raw(b: &[u8], mut i: usize, line: &mut u32) -> usize {
    i += 1; // r
    let mut hashes = 0;
    while b.get(i) == Some(&b'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // "
    while i < b.len() {
        if b[i] == b'"' && (0..hashes).all(|h| b.get(i + 1 + h) == Some(&b'#')) {
            return i + 1 + hashes;
        }
        *line += (b[i] == b'\n') as u32;
        i += 1;
    }
    i
}

/// A char literal or a lifetime, from the `'`.
fn skip_quote(b: &[u8], i: usize) -> usize {
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    if at(i + 1) == b'\\' {
        // Past the backslash and the escaped character: '\'' ends late.
        let mut k = i + 3;
        while k < b.len() && b[k] != b'\'' {
            k += 1;
        }
        return k + 1;
    }
    // 'x' where x may be several bytes long.
    let mut k = i + 2;
    while at(k) & 0xC0 == 0x80 {
        k += 1;
    }
    if at(k) == b'\'' {
        return k + 1;
    }
    // A lifetime or a label: 'a, 'static.
    let mut k = i + 1;
    while is_ident_byte(at(k)) {
        k += 1;
    }
    k
}

fn prefixed_literal(b: &[u8], i: usize, line: &mut u32) -> Option<usize> {
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    let raw_start = |k: usize| {
        at(k) == b'r'
            && (at(k + 1) == b'"' || (at(k + 1) == b'#' && matches!(at(k + 2), b'"' | b'#')))
    };
    match (at(i), at(i + 1)) {
        (b'b' | b'c', b'"') => Some(skip_string(b, i + 2, line)),
        (b'b', b'\'') => Some(skip_quote(b, i + 1)),
        (b'b' | b'c', b'r') if raw_start(i + 1) => Some(skip_raw(b, i + 1, line)),
        (b'r', _) if raw_start(i) => Some(skip_raw(b, i, line)),
        _ => None,
    }
}
