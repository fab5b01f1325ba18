//! What of the request an API's gateway responses may read, taken while
//! the head is in the buffer: the answer may be written after the head's
//! bytes are gone (a body refused by its model, an integration failing).

use percent_encoding::percent_decode;

use crate::http::Head;

/// A request value a header mapping refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Header(String),
    Query(String),
    Path(String),
}

/// The request values an answer may need; empty for an API without
/// gateway responses.
#[derive(Debug, Default)]
pub struct Captured {
    /// The values of `GatewayResponses::wanted`, in order.
    pub values: Box<[Option<Box<str>>]>,
    /// The request as a body template reads it; only for an API with a
    /// body template, so no other API pays for the copy.
    pub request: Option<Box<RequestView>>,
}

/// `$context.httpMethod`, `.path`, `.domainName` and `$input.params()`.
#[derive(Debug, Default)]
pub struct RequestView {
    pub http_method: String,
    pub path: String,
    pub domain_name: String,
    /// Empty unless a template reads `$input`: copying every header of
    /// every request is paid only by an API whose templates want them.
    pub path_params: Vec<(String, String)>,
    pub querystring: Vec<(String, String)>,
    pub header: Vec<(String, String)>,
}

/// The request view of `head`; `params` only when `with_params`.
pub fn view(
    head: &Head,
    buf: &[u8],
    params: Option<&matchit::Params<'_, '_>>,
    with_params: bool,
) -> RequestView {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (path, query) = head.path_and_query(buf);
    let host = head.header(buf, b"host").unwrap_or_default();
    let host = match host.iter().rposition(|&c| c == b':') {
        Some(i) if !host[i..].contains(&b']') => &host[..i],
        _ => host,
    };
    let mut v = RequestView {
        http_method: text(head.method_span.get(buf)),
        path: text(path),
        domain_name: text(host),
        ..RequestView::default()
    };
    if !with_params {
        return v;
    }
    v.path_params = params
        .into_iter()
        .flat_map(|p| p.iter())
        .map(|(k, val)| {
            let decoded: Vec<u8> = percent_decode(val.as_bytes()).collect();
            (k.to_string(), text(&decoded))
        })
        .collect();
    // As AWS's `$input.params()`: one value per name, the last.
    v.querystring = crate::http::query::decoded(query)
        .into_iter()
        .map(|(k, values)| (text(&k), values.last().map(|x| text(x)).unwrap_or_default()))
        .collect();
    for (n, val) in &head.headers {
        let (name, value) = (text(n.get(buf)), text(val.get(buf)));
        match v
            .header
            .iter_mut()
            .find(|(h, _)| h.eq_ignore_ascii_case(&name))
        {
            Some((_, last)) => *last = value,
            None => v.header.push((name, value)),
        }
    }
    v
}
