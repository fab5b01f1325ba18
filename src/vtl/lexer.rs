//! The scanner under the parser. VTL's lexing depends on where it is
//! (template text, a directive's arguments, a string), so this is a cursor
//! with the few token rules every mode shares, not a token stream.

use super::ast::Pos;

pub struct Cursor<'a> {
    pub src: &'a str,
    pub pos: usize,
    /// Where the current region ends: the source's end, or a string's
    /// closing quote while its contents are parsed as a template.
    pub end: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Cursor<'a> {
        Cursor {
            src,
            pos: 0,
            end: src.len(),
        }
    }
    pub fn rest(&self) -> &'a str {
        &self.src[self.pos..self.end]
    }
    pub fn peek(&self) -> Option<u8> {
        self.byte_at(self.pos)
    }
    pub fn byte_at(&self, i: usize) -> Option<u8> {
        if i < self.end {
            Some(self.src.as_bytes()[i])
        } else {
            None
        }
    }
    pub fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }
    pub fn eat(&mut self, s: &str) -> bool {
        if self.starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    pub fn here(&self) -> Pos {
        self.pos as Pos
    }
    /// Spaces, tabs and line breaks, as allowed between expression tokens.
    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }
    /// An identifier: a letter or `_`, then letters, digits and `_`
    /// (Velocity 2's rule; 1.7 also allowed `-`, which breaks `$a-$b`).
    pub fn ident(&mut self) -> Option<&'a str> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.pos += 1,
            _ => return None,
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        Some(&self.src[start..self.pos])
    }
    /// A property or method name: an identifier that may also hold `-`
    /// after its first character, as Velocity 1.7 (AWS's) allows, so
    /// `$context.requestOverride.header.X-Id` names a header.
    pub fn member(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.ident()?;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            self.pos += 1;
        }
        Some(&self.src[start..self.pos])
    }
    /// Whether an identifier starts at `i`.
    pub fn ident_at(&self, i: usize) -> bool {
        matches!(self.byte_at(i), Some(c) if c.is_ascii_alphabetic() || c == b'_')
    }
    /// A number literal's text: digits, and a fraction only when a digit
    /// follows the dot (so `1..3` is a range).
    pub fn number(&mut self) -> Option<(&'a str, bool)> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        let mut float = false;
        if self.peek() == Some(b'.')
            && matches!(self.byte_at(self.pos + 1), Some(c) if c.is_ascii_digit())
        {
            float = true;
            self.pos += 1;
            while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                float = true;
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        Some((&self.src[start..self.pos], float))
    }
    /// The index of the quote closing a string opened just before `pos`;
    /// a doubled quote is an escaped one.
    pub fn string_end(&self, quote: u8) -> Option<usize> {
        let b = self.src.as_bytes();
        let mut i = self.pos;
        while i < self.end {
            if b[i] == quote {
                if i + 1 < self.end && b[i + 1] == quote {
                    i += 2;
                    continue;
                }
                return Some(i);
            }
            i += 1;
        }
        None
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, pos: Pos) -> (usize, usize) {
    let pos = (pos as usize).min(src.len());
    let before = src.get(..pos).unwrap_or(src);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_leave_ranges_alone() {
        let mut c = Cursor::new("1..3");
        assert_eq!(c.number(), Some(("1", false)));
        assert!(c.starts_with(".."));
        let mut c = Cursor::new("2.50e3x");
        assert_eq!(c.number(), Some(("2.50e3", true)));
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("ab\ncé$x", 6), (2, 3));
        assert_eq!(line_col("", 0), (1, 1));
    }

    #[test]
    fn doubled_quotes_do_not_end_a_string() {
        let c = Cursor::new(r#"a""b"c"#);
        assert_eq!(c.string_end(b'"'), Some(4));
    }
}
