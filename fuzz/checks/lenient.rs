//! A lenient reader modelled on nginx's request parsing: lines end at LF
//! (a CR before it optional), invalid header lines are skipped, the first
//! Content-Length and Transfer-Encoding count, Transfer-Encoding `chunked`
//! overrides Content-Length, chunk lines and the trailer section end at a
//! bare LF. What portico sends upstream must read the same here as under
//! the strict reference: a lenient upstream is where smuggled requests run.

use super::strict::Message;

/// The next line: its content (a trailing CR dropped) and the bytes used.
fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let i = buf.iter().position(|&c| c == b'\n')?;
    let content = &buf[..i];
    Some((content.strip_suffix(b"\r").unwrap_or(content), i + 1))
}

fn trim(s: &[u8]) -> &[u8] {
    super::strict::ows_trim(s)
}

/// `Ok(None)`: more bytes needed. `Err`: refused (nginx's 400 or 501).
pub fn read_one(buf: &[u8]) -> Result<Option<Message>, String> {
    let mut at = 0;
    // Empty lines before a request line are skipped.
    let request_line = loop {
        let Some((l, used)) = line(&buf[at..]) else {
            return Ok(None);
        };
        at += used;
        if !l.is_empty() {
            break l;
        }
    };
    let mut parts = request_line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("request line".into());
    };
    if !version.starts_with(b"HTTP/1.") {
        return Err("version".into());
    }
    let mut length: Option<&[u8]> = None;
    let mut te: Option<&[u8]> = None;
    loop {
        let Some((l, used)) = line(&buf[at..]) else {
            return Ok(None);
        };
        at += used;
        if l.is_empty() {
            break;
        }
        // A line without a name and colon is skipped, as nginx's
        // `ignore_invalid_headers` does.
        let Some(colon) = l.iter().position(|&c| c == b':') else {
            continue;
        };
        let name = &l[..colon];
        if name.is_empty() || name.iter().any(|&c| c == b' ' || c == b'\t') {
            continue;
        }
        let value = trim(&l[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") && length.is_none() {
            length = Some(value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") && te.is_none() {
            te = Some(value);
        }
    }
    let rest = &buf[at..];
    let (used, body) = match (te, length) {
        (Some(te), _) if te.eq_ignore_ascii_case(b"chunked") => match chunked(rest)? {
            Some(b) => b,
            None => return Ok(None),
        },
        (Some(_), _) => return Err("unknown transfer coding".into()),
        (None, Some(l)) => {
            let n = super::strict::decimal(l).ok_or("Content-Length")? as usize;
            if rest.len() < n {
                return Ok(None);
            }
            (n, rest[..n].to_vec())
        }
        (None, None) => (0, Vec::new()),
    };
    Ok(Some(Message {
        len: at + used,
        method: method.to_vec(),
        target: target.to_vec(),
        body,
    }))
}

/// nginx's chunked parser, loosely: hex size, anything up to LF after it,
/// data, then CRLF or LF; trailer lines until an empty one.
pub fn chunked(buf: &[u8]) -> Result<Option<(usize, Vec<u8>)>, String> {
    let mut at = 0;
    let mut data = Vec::new();
    loop {
        let Some((l, used)) = line(&buf[at..]) else {
            return Ok(None);
        };
        at += used;
        let digits = l.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if digits == 0 || digits > 16 {
            return Err("chunk size".into());
        }
        let size = u64::from_str_radix(std::str::from_utf8(&l[..digits]).unwrap_or("x"), 16)
            .map_err(|_| "chunk size")?;
        if size == 0 {
            break;
        }
        let size = usize::try_from(size).map_err(|_| "chunk size")?;
        if buf.len() - at < size {
            return Ok(None);
        }
        data.extend_from_slice(&buf[at..at + size]);
        at += size;
        match &buf[at..] {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] => at += 1,
            _ => return Err("after chunk data".into()),
        }
    }
    loop {
        let Some((l, used)) = line(&buf[at..]) else {
            return Ok(None);
        };
        at += used;
        if l.is_empty() {
            return Ok(Some((at, data)));
        }
    }
}
