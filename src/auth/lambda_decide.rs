//! Deciding a call with a Lambda authorizer, on a worker: the decision
//! this worker kept for the identity, else the function invoked and its
//! answer read. Apart from `lambda_authorizer`, which the snapshot holds,
//! because it takes the worker's shard and calls the Invoke API.

use std::time::Instant;

use serde_json::Value;

use crate::dataplane::shard::Shard;
use crate::snapshot::Snapshot;
use crate::upstream::CallError;

use super::lambda_authorizer::{decision, Decision, Kind, LambdaAuthorizer, Refusal};

impl LambdaAuthorizer {
    /// Invokes the function with `event`, or reuses the decision kept for `identity`.
    pub async fn decide(
        &self,
        w: &Shard,
        snap: &Snapshot,
        identity: &str,
        event: &[u8],
    ) -> Result<Decision, Refusal> {
        let key = format!("{}\0{identity}", self.id);
        if !self.ttl.is_zero() {
            if let Some(d) = w.auth.borrow().results.get(&key) {
                return Ok(d);
            }
        }
        let simple = matches!(self.kind, Kind::Request { simple: true, .. });
        let reply = match self.invoker.invoke(w, snap, event).await {
            Ok(r) => r,
            Err(e @ (CallError::Failed | CallError::TimedOut)) => {
                crate::log!(
                    warn,
                    worker = w.id,
                    "authorizer `{}`: {e}",
                    self.invoker.function
                );
                return Err(Refusal::Unreachable);
            }
        };
        if reply.function_error {
            // Lambda's convention: an error whose message is `Unauthorized` means 401.
            let message = serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| {
                    v.get("errorMessage")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            if message.as_deref() == Some("Unauthorized") {
                return Err(Refusal::Unauthorized);
            }
            crate::log!(
                warn,
                worker = w.id,
                "authorizer `{}` failed: {}",
                self.invoker.function,
                message.unwrap_or_default()
            );
            return Err(Refusal::Failed);
        }
        if !(200..300).contains(&reply.status) {
            crate::log!(
                warn,
                worker = w.id,
                "authorizer `{}`: the Invoke API answered {}",
                self.invoker.function,
                reply.status
            );
            return Err(Refusal::Failed);
        }
        let d = decision(&reply.body, simple).map_err(|e| {
            crate::log!(
                warn,
                worker = w.id,
                "authorizer `{}`: {e}",
                self.invoker.function
            );
            Refusal::Failed
        })?;
        if !self.ttl.is_zero() {
            w.auth
                .borrow_mut()
                .results
                .insert(key, d.clone(), Instant::now() + self.ttl);
        }
        Ok(d)
    }
}
