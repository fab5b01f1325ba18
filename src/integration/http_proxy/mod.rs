//! The HTTP proxy integration: forwards the request to the upstream over a
//! pooled keep-alive connection and streams the answer back.
//!
//! Small messages (the common case) go out in one write each way; large
//! or slow bodies are relayed as they arrive, never buffered whole, but
//! on a route that validates its body or maps from it (`deferred`).
//!
//! What the snapshot holds (`compiled`) is apart from what runs per
//! request (`request`, `forward`, `answer`): the snapshot names the
//! compiled type, and the runtime names the snapshot.

mod answer;
mod compiled;
mod deferred;
mod forward;
mod request;
mod whole;

pub use compiled::HttpProxyIntegration;
pub use deferred::Deferred;
pub use forward::forward;
pub use whole::Parts;
