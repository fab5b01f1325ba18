//! Cache keys, as AWS builds them: the route (method, resource path) with
//! its path parameter values, plus only the query parameters and headers
//! the route names as cache key parameters; and the client's `Host`,
//! because it reaches the integration (`x-forwarded-host`, the Lambda
//! event) and so can change the answer: without it, one client's
//! `Host: evil.example` would plant the answer every other client gets.
//! A repeated named parameter or header is keyed by all its values in
//! order, since the integration gets them all.

use super::RouteCache;
use crate::http::{query, Head};

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
    field(out, head.host.map(|h| h.get(buf)));
    for (_, value) in params.iter() {
        field(out, Some(value.as_bytes()));
    }
    for name in &names.key_query {
        fields(out, query::values(query.unwrap_or_default(), name));
    }
    for name in &names.key_headers {
        fields(
            out,
            head.headers
                .iter()
                .filter(|(n, _)| n.get(buf).eq_ignore_ascii_case(name))
                .map(|(_, v)| v.get(buf)),
        );
    }
}

/// Every value of one name, counted, so `a=1&a=2` differs from `a=1` and
/// none (no value) differs from one empty value.
fn fields<'v>(out: &mut Vec<u8>, values: impl Iterator<Item = &'v [u8]>) {
    let at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut n: u32 = 0;
    for v in values {
        field(out, Some(v));
        n += 1;
    }
    out[at..at + 4].copy_from_slice(&n.to_le_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> Vec<u8> {
        key_on("x", path, query, headers)
    }

    fn key_on(host: &str, path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut router = matchit::Router::new();
        router.insert("/items/{id}", ()).unwrap();
        let m = router.at(path).unwrap();
        let mut raw = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n");
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

    #[test]
    fn the_host_and_every_value_of_a_repeated_name_split_the_cache() {
        let base = key_of("/items/1", Some("lang=en"), &[("accept-language", "en")]);
        assert_ne!(
            base,
            key_on(
                "evil.example",
                "/items/1",
                Some("lang=en"),
                &[("accept-language", "en")]
            ),
            "the Host reaches the integration"
        );
        assert_ne!(
            base,
            key_of(
                "/items/1",
                Some("lang=en&lang=EVIL"),
                &[("accept-language", "en")]
            )
        );
        assert_ne!(
            key_of("/items/1", Some("lang=en&lang=fr"), &[]),
            key_of("/items/1", Some("lang=fr&lang=en"), &[]),
            "in order"
        );
        assert_ne!(
            base,
            key_of(
                "/items/1",
                Some("lang=en"),
                &[("accept-language", "en"), ("Accept-Language", "EVIL")]
            )
        );
        assert_ne!(
            key_of("/items/1", Some("lang=&lang="), &[]),
            key_of("/items/1", Some("lang="), &[])
        );
    }
}
