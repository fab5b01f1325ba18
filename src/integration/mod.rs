//! Integrations: where a routed request goes, and how what comes back
//! becomes the answer. `mock` answers from config; `http_proxy` forwards
//! to an upstream; `lambda` invokes a function with the request as its
//! event; `execute` runs the non-proxy model (mapping templates,
//! integration responses) around an integration; `params` evaluates
//! every kind's parameter mappings. Carrying requests to upstreams (pool, connect, retry, TLS) is
//! `crate::upstream`'s.

pub mod aws_service;
pub mod execute;
mod http_proxy;
pub mod lambda;
mod mock;
pub mod params;
mod routed;

pub use aws_service::AwsService;
pub use http_proxy::Parts as HttpParts;
pub use http_proxy::{forward, Deferred as DeferredProxyHead, HttpProxyIntegration};
pub use lambda::LambdaIntegration;
pub use mock::MockIntegration;
pub use routed::Routed;
