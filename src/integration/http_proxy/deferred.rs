//! A proxy route whose `requestParameters` read the body
//! (`method.request.body`, `method.request.body.a.b`): its upstream head
//! cannot be written while the client's head is in the buffer, since
//! mapped values may fill the path, the query and headers. What the head
//! gives is kept here, owned, and the head is written once `forward` has
//! read the body whole (bounded, as body validation reads it); the body's
//! bytes then travel unchanged. Decided per snapshot (`reads_body`): every
//! other route writes its head at once and streams its body.

use crate::http::Head;
use crate::integration::{params, Routed};

use super::compiled::HttpProxyIntegration;
use super::request::{Params, Source};

/// The request's head, its route's parameters and the mapping's values
/// from the head, kept until the body is read.
pub struct Deferred {
    /// The client's head bytes: `head`'s spans point into them.
    buf: Vec<u8>,
    head: Head,
    params: Vec<(String, String)>,
    added: Vec<Option<String>>,
    source_ip: String,
    https: bool,
    request_id: Vec<u8>,
    /// `params::from_head`: each mapping's value but the body's.
    values: Vec<Option<String>>,
}

impl HttpProxyIntegration {
    /// The mapping reads the body: the body is read whole before the head
    /// is written (`defer_request_head`, `write_deferred_head`).
    pub fn reads_body(&self) -> bool {
        self.mapping.reads_body()
    }

    pub fn defer_request_head(&self, r: &Routed<'_>) -> Box<Deferred> {
        let len = r.head.len.min(r.buf.len());
        Box::new(Deferred {
            buf: r.buf[..len].to_vec(),
            head: r.head.clone(),
            params: r
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            added: self.added_values(r),
            source_ip: r.source_ip.to_string(),
            https: r.https,
            request_id: r.request_id.to_vec(),
            values: params::from_head(&self.mapping, r, None),
        })
    }

    /// The head, with the mapping's body sources evaluated on `body` (as
    /// non-proxy integrations evaluate them: `params::finish`).
    pub fn write_deferred_head(&self, out: &mut Vec<u8>, d: Deferred, body: &[u8]) {
        let text = String::from_utf8_lossy(body);
        let mapped = params::finish(&self.mapping, d.values, Some(&text));
        let source = Source {
            head: &d.head,
            buf: &d.buf,
            params: Params::Owned(&d.params),
            added: &d.added,
            source_ip: &d.source_ip,
            https: d.https,
            request_id: &d.request_id,
        };
        self.write_head(out, &source, Some(&mapped));
    }
}
