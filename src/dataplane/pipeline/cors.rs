//! CORS, as HTTP APIs do it: a preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) to an API with CORS is answered by the
//! gateway, before routing and without the integration; an answer to an
//! allowed origin carries the CORS headers; other origins get none.

use crate::http::Head;
use crate::snapshot::Api;

/// Adds the CORS header lines for this request to `extra` when its origin
/// is allowed (and says so in `added`); whether it is a preflight the
/// gateway answers itself.
pub fn apply(api: &Api, head: &Head, buf: &[u8], extra: &mut Vec<u8>, added: &mut bool) -> bool {
    let Some(cors) = &api.cors else {
        return false;
    };
    let header = |name: &[u8]| head.header(buf, name);
    let preflight = head.method() == crate::http::Method::Options
        && header(b"access-control-request-method").is_some();
    if let Some(origin) = header(b"origin").filter(|o| cors.allows(o)) {
        cors.write(extra, origin, preflight);
        *added = true;
    }
    preflight
}
