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
pub use http_proxy::{forward, HttpProxyIntegration};
pub use lambda::LambdaIntegration;
pub use mock::MockIntegration;
pub use pool::{Pool, PoolKey, UpstreamConn};
pub use routed::Routed;
pub use upstream_head::{parse_response_head, ResponseHead};
