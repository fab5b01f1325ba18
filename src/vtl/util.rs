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
/// UTF-16 unit, in upper-case hex. Runs that need no escape are copied
/// whole.
pub fn escape_javascript_into(s: &str, out: &mut String) {
    out.reserve(s.len());
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '\'' => "\\'",
            '"' => "\\\"",
            '\\' => "\\\\",
            '/' => "\\/",
            '\u{8}' => "\\b",
            '\n' => "\\n",
            '\t' => "\\t",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        plain = i + c.len_utf8();
        if !short.is_empty() {
            out.push_str(short);
            continue;
        }
        let mut units = [0u16; 2];
        for &u in c.encode_utf16(&mut units).iter() {
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(char::from(
                    b"0123456789ABCDEF"[usize::from((u >> shift) & 0xf)],
                ));
            }
        }
    }
    out.push_str(&s[plain..]);
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
