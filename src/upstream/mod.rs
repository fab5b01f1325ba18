//! The client side of talking to upstreams, for every caller: the HTTP
//! proxy integration, the Lambda Invoke API (integrations and authorizers)
//! and JWKS fetches. Where an upstream is (`authority`, resolved when the
//! config is compiled), TLS to it (`tls`), this worker's keep-alive
//! connections (`pool`), getting one and when to try again (`acquire`),
//! reading its answer's head (`head`), and a whole request out, a whole
//! answer back (`call`).
//!
//! Nothing here knows about routes, integrations or authorizers: those
//! build the request and map the answer; this module only carries them.

mod acquire;
mod authority;
mod call;
mod head;
mod pool;
pub mod tls;

pub use acquire::{acquire_from, retry_once, Failure};
pub use authority::{resolve_authority, Endpoint, Resolve};
pub use call::{call, CallError, Reply};
pub use head::{parse_response_head, read_head, HeadError, ResponseHead};
pub use pool::{Pool, PoolKey, UpstreamConn};
