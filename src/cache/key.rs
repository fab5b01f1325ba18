//! Cache keys, as AWS builds them: the route (method, resource path) with
//! its path parameter values, plus only the query parameters and headers
//! the route names as cache key parameters. Anything else in the request
//! does not split the cache.

use super::RouteCache;
use crate::http::Head;

/// Appends the key of a GET of `route` to `out` (cleared first).
pub fn build(
    out: &mut Vec<u8>,
    route: usize,
    params: &matchit::Params<'_, '_>,
    query: Option<&[u8]>,
    names: &RouteCache,
    head: &Head,
    buf: &[u8],
) {
    out.clear();
    out.extend_from_slice(&(route as u32).to_le_bytes());
    for (_, value) in params.iter() {
        field(out, Some(value.as_bytes()));
    }
    for name in &names.key_query {
        field(out, query.and_then(|q| query_value(q, name)));
    }
    for name in &names.key_headers {
        field(out, head.header(buf, name));
    }
}

/// A length-prefixed field, so `a`+`bc` never equals `ab`+`c`; absent
/// differs from empty.
fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

/// The first value of `name` in a raw query string (not decoded: two
/// spellings of one value are two entries, which is safe).
pub fn query_value<'q>(query: &'q [u8], name: &[u8]) -> Option<&'q [u8]> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values() {
        assert_eq!(query_value(b"a=1&b=2", b"b"), Some(&b"2"[..]));
        assert_eq!(query_value(b"a=1&a=2", b"a"), Some(&b"1"[..]));
        assert_eq!(query_value(b"flag&x=1", b"flag"), Some(&b""[..]));
        assert_eq!(query_value(b"ab=1", b"a"), None);
    }

    fn key_of(path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut router = matchit::Router::new();
        router.insert("/items/{id}", ()).unwrap();
        let m = router.at(path).unwrap();
        let mut raw = format!("GET {path} HTTP/1.1\r\nhost: x\r\n");
        for (n, v) in headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        raw.push_str("\r\n");
        let mut head = Head::default();
        crate::http::parse_request_head(
            raw.as_bytes(),
            &crate::config::LimitsConfig::default(),
            &mut head,
        )
        .unwrap();
        let mut out = Vec::new();
        build(
            &mut out,
            3,
            &m.params,
            query.map(str::as_bytes),
            &RouteCache {
                ttl: 60,
                key_query: vec![Box::from(&b"lang"[..])],
                key_headers: vec![Box::from(&b"accept-language"[..])],
                allow_set_cookie: false,
            },
            &head,
            raw.as_bytes(),
        );
        out
    }

    #[test]
    fn named_parameters_split_the_cache_and_others_do_not() {
        let base = key_of(
            "/items/1",
            Some("lang=en&x=1"),
            &[("Accept-Language", "en")],
        );
        assert_eq!(
            base,
            key_of(
                "/items/1",
                Some("x=2&lang=en"),
                &[("accept-language", "en"), ("x-other", "y")]
            )
        );
        assert_ne!(
            base,
            key_of("/items/2", Some("lang=en"), &[("accept-language", "en")])
        );
        assert_ne!(
            base,
            key_of("/items/1", Some("lang=fr"), &[("accept-language", "en")])
        );
        assert_ne!(
            base,
            key_of("/items/1", Some("lang=en"), &[("accept-language", "fr")])
        );
        assert_ne!(
            key_of("/items/1", Some("lang="), &[]),
            key_of("/items/1", None, &[]),
            "empty differs from absent"
        );
    }
}
