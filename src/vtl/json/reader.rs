//! JSON text into a `Value`, byte by byte: the body of a mapping template's
//! request is parsed on every render that reads it, and serde_json's
//! visitor path cost half of a typical render. It takes exactly what
//! `visitor::parse` takes and builds the same value (held to it by the
//! property test in `mod.rs` and the `vtl_json` fuzz target); on a refusal
//! the caller asks serde_json why, so the reader keeps no error of its own.
//!
//! A string without escapes is copied once, straight from the text; object
//! keys are shared through `Keys`; a number that is not a short integer is
//! handed to serde_json, so floats round exactly as it rounds them.

use std::sync::Arc;

use super::super::value::{List, Value};
use super::keys::Keys;
use super::object::Object;
use super::visitor;

/// serde_json's recursion limit: 127 open containers parse, 128 do not.
const MAX_OPEN: u32 = 127;
/// Integers with at most this many digits fit an `i64` whatever they are.
const SHORT_DIGITS: usize = 18;

/// The value, or `None` when `text` is not JSON.
pub fn read(text: &str) -> Option<Value> {
    let mut r = Reader {
        text,
        b: text.as_bytes(),
        i: 0,
        keys: Keys::default(),
        scratch: String::new(),
        items: Vec::new(),
    };
    r.ws();
    let v = r.value(0)?;
    r.ws();
    (r.i == r.b.len()).then_some(v)
}

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    keys: Keys,
    /// Where a string with escapes is decoded, reused from one to the next.
    scratch: String,
    /// The items of the lists being read, innermost last: each list then
    /// takes its own in one allocation of the right size, where pushing
    /// onto its own vector would grow it several times.
    items: Vec<Value>,
}

/// Bytes that end a string's plain run: the quote, a backslash, and the
/// control characters JSON refuses unescaped.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A value at `open` containers deep, whitespace before it skipped.
    fn value(&mut self, open: u32) -> Option<Value> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                Some(match self.string()? {
                    Text::Plain(s) => Value::str(s),
                    Text::Decoded => Value::str(&self.scratch),
                })
            }
            b'{' => self.object(open + 1),
            b'[' => self.list(open + 1),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'n' => self.word("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Option<Value> {
        let end = self.i + w.len();
        (self.b.get(self.i..end)? == w.as_bytes()).then(|| {
            self.i = end;
            v
        })
    }

    fn list(&mut self, open: u32) -> Option<Value> {
        if open > MAX_OPEN {
            return None;
        }
        self.i += 1;
        let base = self.items.len();
        self.ws();
        if self.eat(b']').is_none() {
            loop {
                let v = self.value(open)?;
                self.items.push(v);
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let items = self.items.drain(base..).collect();
        Some(Value::List(Arc::new(List::new(items))))
    }

    fn object(&mut self, open: u32) -> Option<Value> {
        if open > MAX_OPEN {
            return None;
        }
        self.i += 1;
        let mut o = Object::default();
        self.ws();
        if self.eat(b'}').is_none() {
            loop {
                self.eat(b'"')?;
                let k = self.string()?;
                let k = match k {
                    Text::Plain(s) => self.keys.get(s),
                    Text::Decoded => self.keys.get(&self.scratch),
                };
                self.ws();
                self.eat(b':')?;
                self.ws();
                let v = self.value(open)?;
                o.put(k, v);
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        Some(o.finish())
    }

    /// The rest of a string whose opening quote is read.
    fn string(&mut self) -> Option<Text<'a>> {
        let start = self.i;
        let end = self.plain_run(start);
        if self.b.get(end) == Some(&b'"') {
            self.i = end + 1;
            let text: &'a str = self.text;
            return Some(Text::Plain(&text[start..end]));
        }
        self.scratch.clear();
        self.scratch.push_str(&self.text[start..end]);
        self.i = end;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(Text::Decoded);
                }
                b'\\' => {
                    self.i += 1;
                    self.escape()?;
                }
                _ => return None,
            }
            let from = self.i;
            let to = self.plain_run(from);
            self.scratch.push_str(&self.text[from..to]);
            self.i = to;
        }
    }

    /// Where the run of bytes from `from` that need no decoding ends.
    fn plain_run(&self, from: usize) -> usize {
        let rest = self.b.get(from..).unwrap_or_default();
        from + rest
            .iter()
            .position(|&c| STOP[usize::from(c)])
            .unwrap_or(rest.len())
    }

    /// One escape, its backslash read, decoded onto `scratch`.
    fn escape(&mut self) -> Option<()> {
        let c = self.peek()?;
        self.i += 1;
        let decoded = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode()?,
            _ => return None,
        };
        self.scratch.push(decoded);
        Some(())
    }

    /// `\uXXXX`, its `\u` read: a surrogate must be a leading one followed
    /// by `\u` and a trailing one, as serde_json requires of a string.
    fn unicode(&mut self) -> Option<char> {
        let n = self.hex4()?;
        match n {
            0xDC00..=0xDFFF => None,
            0xD800..=0xDBFF => {
                self.eat(b'\\')?;
                self.eat(b'u')?;
                let n2 = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&n2) {
                    return None;
                }
                char::from_u32((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000)
            }
            n => char::from_u32(n),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + char::from(d).to_digit(16)?;
        }
        self.i += 4;
        Some(n)
    }

    /// JSON's number grammar; a short integer is read here, anything else
    /// (fractions, exponents, long integers, `-0`) by serde_json.
    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let negative = self.eat(b'-').is_some();
        let int_start = self.i;
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_end = self.i;
        if self.eat(b'.').is_some() {
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        let digits = &self.b[int_start..int_end];
        if self.i == int_end && digits.len() <= SHORT_DIGITS {
            let n = digits
                .iter()
                .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
            if !negative {
                return Some(Value::Int(n));
            }
            if n != 0 {
                return Some(Value::Int(-n));
            }
        }
        visitor::parse(&self.text[start..self.i]).ok()
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let from = self.i;
        self.digits();
        (self.i > from).then_some(())
    }
}

/// A string just read: borrowed from the text, or decoded in `scratch`.
enum Text<'a> {
    Plain(&'a str),
    Decoded,
}
