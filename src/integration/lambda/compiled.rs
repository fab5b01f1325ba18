//! The Lambda proxy integration as the snapshot holds it. Apart from
//! `serve`, which runs it, so the snapshot does not depend on the runtime.

use crate::config::PayloadVersion;

use super::invoker::Invoker;

pub struct LambdaIntegration {
    pub payload: PayloadVersion,
    pub invoker: Invoker,
}
