//! What an authorizer found about the caller, as the integration gets it
//! (the Lambda event, header mappings). Its own file because both kinds of
//! authorizer make one and `Authorizer` holds both kinds: here, neither
//! needs the file that lists them.

use std::sync::Arc;

use serde_json::{json, Map, Value};

/// A caller an authorizer let through.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorized {
    /// A JWT authorizer: the token's claims and its scopes.
    Jwt {
        claims: Map<String, Value>,
        scopes: Vec<String>,
    },
    /// A Lambda authorizer: its principal and the context it returned.
    Lambda {
        principal_id: Option<String>,
        context: Map<String, Value>,
        /// The API key the call is metered against (`usageIdentifierKey`).
        usage_key: Option<String>,
        /// The policy document the function returned, as JSON text
        /// (TestInvokeAuthorizer shows it); `None`: a simple response.
        policy: Option<Arc<str>>,
    },
}

impl Authorized {
    /// `$context.authorizer.{name}` (JWT: `claims.{name}` too): a context
    /// value or claim as text, for header mappings.
    pub fn value(&self, name: &str) -> Option<String> {
        let v = match self {
            Authorized::Jwt { claims, .. } => claims.get(name.strip_prefix("claims.")?)?,
            Authorized::Lambda {
                principal_id,
                context,
                ..
            } => {
                if name == "principalId" {
                    return principal_id.clone();
                }
                context.get(name)?
            }
        };
        Some(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// What the authorizer found, as TestInvokeAuthorizer's hidden route
    /// answers it: `principalId`, `policy` and `context`, or `claims`.
    pub fn describe(&self) -> Value {
        match self {
            Authorized::Jwt { claims, .. } => json!({ "claims": claims }),
            Authorized::Lambda {
                principal_id,
                context,
                policy,
                ..
            } => json!({
                "principalId": principal_id,
                "policy": policy.as_deref(),
                "context": context,
            }),
        }
    }
}
