//! `$util`: the six functions AWS documents. An unknown function is null
//! (AWS: "no error is shown"), which renders as nothing.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;

use super::json::parse_json;
use super::limits::{Fail, Limit};
use super::value::Value;

/// `$util.name(args)`; `Err` carries the message of a failed conversion.
pub fn call(name: &str, args: &[Value], max: usize) -> Result<Value, Fail> {
    if name == "parseJson" {
        let Some(arg) = args.first().filter(|a| !a.is_null()) else {
            return Ok(Value::Null);
        };
        let text = arg.text(max).ok_or(Limit::Output(max))?;
        return parse_json(&text).map_err(|e| format!("$util.parseJson: {e}").into());
    }
    let mut out = String::new();
    Ok(match write(name, args, &mut out, max)? {
        true => Value::Str(Arc::from(out)),
        false => Value::Null,
    })
}

/// Whether `write` takes this function: all but `parseJson`, which
/// returns a value rather than text.
pub fn is_text(name: &str) -> bool {
    matches!(
        name,
        "escapeJavaScript" | "urlEncode" | "urlDecode" | "base64Encode" | "base64Decode"
    )
}

/// `$util.name(args)` appended to `out`, so a reference rendered into a
/// template's output needs no string of its own; `Ok(false)` (nothing
/// written) when the result is null. `out` staying within `max` bytes is
/// the bound.
pub fn write(name: &str, args: &[Value], out: &mut String, max: usize) -> Result<bool, Fail> {
    let Some(arg) = args.first().filter(|a| !a.is_null()) else {
        return Ok(false);
    };
    let text = arg.text(max).ok_or(Limit::Output(max))?;
    match name {
        "escapeJavaScript" => escape_javascript_into(&text, out),
        "urlEncode" => url_encode_into(&text, out),
        "urlDecode" => out.push_str(&url_decode(&text)?),
        "base64Encode" => {
            base64::engine::general_purpose::STANDARD.encode_string(text.as_bytes(), out)
        }
        "base64Decode" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim().as_bytes())
                .map_err(|e| format!("$util.base64Decode: {e}"))?;
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
        _ => return Ok(false),
    }
    if out.len() > max {
        return Err(Limit::Output(max).into());
    }
    Ok(true)
}

/// Apache Commons Lang's `StringEscapeUtils.escapeJavaScript`, which AWS
/// uses: `'` becomes `\'` and `/` becomes `\/`, control characters their
/// short escapes or `\u00XX`, and every character past ASCII a `\uXXXX` per
/// UTF-16 unit, in upper-case hex. It runs on every string a typical
/// template writes, so it walks bytes through a table and copies the runs
/// that need no escape whole.
pub fn escape_javascript_into(s: &str, out: &mut String) {
    out.reserve(s.len());
    let b = s.as_bytes();
    let (mut plain, mut i) = (0, 0);
    while let Some(&c) = b.get(i) {
        let short = JS_ESCAPES.get(usize::from(c)).copied();
        if short == Some(0) {
            i += 1;
            continue;
        }
        out.push_str(&s[plain..i]);
        match short {
            Some(b'u') => {
                push_utf16_escape(u16::from(c), out);
                i += 1;
            }
            Some(short) => {
                out.push('\\');
                out.push(char::from(short));
                i += 1;
            }
            None => {
                // Past ASCII: `i` starts a character, since every step
                // before it covered whole ones.
                let ch = s[i..].chars().next().unwrap_or_default();
                let mut units = [0u16; 2];
                for &u in ch.encode_utf16(&mut units).iter() {
                    push_utf16_escape(u, out);
                }
                i += ch.len_utf8().max(1);
            }
        }
        plain = i;
    }
    out.push_str(&s[plain..]);
}

/// What each ASCII byte becomes after a backslash: 0 for a byte written as
/// itself, `u` for one written as `\u00XX`.
static JS_ESCAPES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 0x20 {
        t[c] = b'u';
        c += 1;
    }
    t[0x08] = b'b';
    t[b'\n' as usize] = b'n';
    t[b'\t' as usize] = b't';
    t[0x0c] = b'f';
    t[b'\r' as usize] = b'r';
    t[b'\'' as usize] = b'\'';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t
};

fn push_utf16_escape(u: u16, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let digit = |shift: u16| char::from(HEX[usize::from((u >> shift) & 0xf)]);
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(digit(shift));
    }
}

/// Java's `URLEncoder.encode(s, "UTF-8")`: form encoding, space as `+`.
fn url_encode_into(s: &str, out: &mut String) {
    out.reserve(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Java's `URLDecoder.decode(s, "UTF-8")`: `+` is a space; a broken
/// escape is an error, as Java throws.
pub fn url_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("$util.urlDecode: bad escape at byte {i}"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape_javascript(s: &str) -> String {
        let mut out = String::new();
        escape_javascript_into(s, &mut out);
        out
    }

    fn url_encode(s: &str) -> String {
        let mut out = String::new();
        url_encode_into(s, &mut out);
        out
    }

    #[test]
    fn escape_javascript_matches_commons_lang() {
        assert_eq!(
            escape_javascript(r#"it's "x" a/b\c"#),
            r#"it\'s \"x\" a\/b\\c"#
        );
        assert_eq!(
            escape_javascript("\n\t\r\u{8}\u{c}\u{1}\u{7f}"),
            "\\n\\t\\r\\b\\f\\u0001\u{7f}"
        );
        assert_eq!(escape_javascript("é😀"), "\\u00E9\\uD83D\\uDE00");
    }

    /// Commons Lang's rules one character at a time, as the engine had them
    /// before the byte table.
    fn escape_by_chars(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                '\u{8}' => out.push_str("\\b"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn escape_javascript_matches_the_rules_char_by_char(s in "(\\PC|[\\x00-\\x7f])*") {
            proptest::prop_assert_eq!(escape_javascript(&s), escape_by_chars(&s));
        }
    }

    #[test]
    fn url_forms_round_trip() {
        assert_eq!(url_encode("a b&c=d/é*~"), "a+b%26c%3Dd%2F%C3%A9*%7E");
        assert_eq!(
            url_decode("a+b%26c%3Dd%2F%C3%A9*%7E").unwrap(),
            "a b&c=d/é*~"
        );
        assert!(url_decode("%zz").is_err());
        assert!(url_decode("%4").is_err());
    }

    #[test]
    fn functions_by_name() {
        let s = |x: &str| vec![Value::str(x)];
        assert_eq!(
            call("base64Encode", &s("hi?"), 100).unwrap(),
            Value::str("aGk/")
        );
        assert_eq!(
            call("base64Decode", &s("aGk/"), 100).unwrap(),
            Value::str("hi?")
        );
        assert!(call("base64Decode", &s("!!"), 100).is_err());
        assert!(call("parseJson", &s("{"), 100).is_err());
        assert_eq!(call("nope", &s("x"), 100).unwrap(), Value::Null);
        assert!(call("escapeJavaScript", &s(&"'".repeat(60)), 100).is_err());
    }
}
