//! The Lambda proxy integration (AWS_PROXY): the request becomes an event
//! (payload 1.0 or 2.0), the function's result becomes the answer. The
//! event is started while the request head is in the buffer (`event`),
//! the body is read whole, the function invoked (`invoke`), its result
//! mapped (`result`); `serve` does all that for one request.
//!
//! What the snapshot holds (`compiled`, `invoker`: built from config
//! alone) is apart from what runs per request (`serve`, `invoke`): the
//! snapshot names the compiled types, and the runtime names the snapshot.

mod compiled;
pub mod event;
mod invoke;
mod invoker;
pub mod result;
mod serve;

pub use compiled::LambdaIntegration;
pub use event::BodyEncoding;
pub use invoker::{AwsSettings, Credentials, Invoker};
pub use serve::serve;
