//! Which management operation a request is: its method and path matched
//! against the service model's URI templates (`operations.rs`). Literal
//! segments win over parameters, and a template's query (`?mode=import`)
//! must be present.

use super::operations::OPERATIONS;

pub struct Matched {
    pub name: &'static str,
    /// The template's `{name}` parameters, percent-decoded.
    pub params: Vec<(&'static str, String)>,
}

impl Matched {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

pub fn route(method: &str, path: &str, query: &str) -> Option<Matched> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut best: Option<(usize, Matched)> = None;
    for &(name, m, uri) in OPERATIONS {
        if m != method {
            continue;
        }
        let (tpath, tquery) = uri.split_once('?').unwrap_or((uri, ""));
        if !tquery.is_empty() && !query.split('&').any(|kv| kv == tquery) {
            continue;
        }
        let tsegs: Vec<&'static str> = tpath.trim_matches('/').split('/').collect();
        if tsegs.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let mut score = if tquery.is_empty() { 0 } else { 100 };
        let fits = tsegs.iter().zip(&segments).all(|(t, s)| {
            match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(p) if !s.is_empty() => {
                    params.push((p, decode(s)));
                    true
                }
                Some(_) => false,
                None if t == s => {
                    score += 1;
                    true
                }
                None => false,
            }
        });
        if fits && best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, Matched { name, params }));
        }
    }
    best.map(|(_, m)| m)
}

/// `%XX` escapes decoded; anything malformed is kept as it came.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_service_model() {
        let m = route("GET", "/restapis/abc/resources/r1/methods/GET", "").unwrap();
        assert_eq!(m.name, "GetMethod");
        assert_eq!(m.param("restapi_id"), "abc");
        assert_eq!(m.param("http_method"), "GET");
        assert_eq!(
            route("POST", "/restapis", "").unwrap().name,
            "CreateRestApi"
        );
        assert_eq!(
            route("POST", "/restapis", "mode=import&x=1").unwrap().name,
            "ImportRestApi"
        );
        assert_eq!(
            route("GET", "/restapis/a/authorizers", "").unwrap().name,
            "GetAuthorizers"
        );
        assert_eq!(
            route("DELETE", "/restapis/a/stages/s/cache/data", "")
                .unwrap()
                .name,
            "FlushStageCache"
        );
        assert!(route("GET", "/nothing/here", "").is_none());
        assert_eq!(decode("a%2Fb%zz"), "a/b%zz");
    }
}
