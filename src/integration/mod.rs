//! Integrations: where a routed request goes. `mock` answers from config;
//! `http_proxy` forwards to an upstream over this worker's connection pool;
//! `lambda` invokes a function with the request as its event.

mod authority;
pub mod call;
mod http_proxy;
pub mod lambda;
mod mock;
mod pool;
mod routed;
mod upstream_head;

pub use authority::{resolve_authority, Endpoint, Resolve};

/// What a client is told when its integration fails (AWS's words).
pub const BAD_GATEWAY: crate::http::ErrorResponse =
    crate::http::ErrorResponse::new(502, "Internal server error");
pub use http_proxy::{forward, HttpProxyIntegration};
pub use lambda::LambdaIntegration;
pub use mock::MockIntegration;
pub use pool::{Pool, PoolKey, UpstreamConn};
pub use routed::Routed;
pub use upstream_head::{parse_response_head, ResponseHead};
