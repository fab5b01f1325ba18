//! Integrations: where a routed request goes. `mock` answers from config;
//! `http_proxy` forwards to an upstream over this worker's connection pool.

mod http_proxy;
mod mock;
mod pool;
mod upstream_head;

pub use http_proxy::{forward, HttpProxyIntegration};
pub use mock::MockIntegration;
pub use pool::{Pool, UpstreamConn};
pub use upstream_head::{parse_response_head, ResponseHead};
