//! The one query-string parser: `a=1&b=x%20y&a=2&flag`. Raw values (as
//! the client spelled them) key the cache, where two spellings of one
//! value are safely two entries; decoded values go to integrations and
//! identity checks, grouped by name as AWS's multi-value parameters are.

use percent_encoding::percent_decode;

/// Every `name=value` pair, raw, in order; a pair without `=` has an empty value.
pub fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

/// The raw values of `name`, in order.
pub fn values<'q, 'n>(
    query: &'q [u8],
    name: &'n [u8],
) -> impl Iterator<Item = &'q [u8]> + use<'q, 'n> {
    pairs(query).filter_map(move |(k, v)| (k == name).then_some(v))
}

/// The first raw value of `name`.
pub fn first<'q>(query: &'q [u8], name: &[u8]) -> Option<&'q [u8]> {
    values(query, name).next()
}

/// Names and values decoded, grouped by name in order of first appearance.
pub fn decoded(query: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut params: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    for (k, v) in pairs(query.unwrap_or_default()) {
        let (k, v): (Vec<u8>, Vec<u8>) = (percent_decode(k).collect(), percent_decode(v).collect());
        match params.iter_mut().find(|(n, _)| *n == k) {
            Some((_, values)) => values.push(v),
            None => params.push((k, vec![v])),
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_raw_value() {
        assert_eq!(first(b"a=1&b=2", b"b"), Some(&b"2"[..]));
        assert_eq!(first(b"a=1&a=2", b"a"), Some(&b"1"[..]));
        assert_eq!(first(b"flag&x=1", b"flag"), Some(&b""[..]));
        assert_eq!(first(b"ab=1", b"a"), None);
        assert_eq!(first(b"", b"a"), None);
        assert_eq!(first(b"a=x%20y", b"a"), Some(&b"x%20y"[..]));
    }

    #[test]
    fn decoded_and_grouped() {
        let p = decoded(Some(b"a=1&b=x%20y&a=2&flag&&"));
        assert_eq!(
            p,
            vec![
                (b"a".to_vec(), vec![b"1".to_vec(), b"2".to_vec()]),
                (b"b".to_vec(), vec![b"x y".to_vec()]),
                (b"flag".to_vec(), vec![b"".to_vec()]),
            ]
        );
    }
}
