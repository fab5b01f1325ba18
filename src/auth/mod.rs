//! Authorizers, as API Gateway has them: JWT (`jwt`, keys from `jwks`)
//! and Lambda (`lambda_authorizer`, IAM `policy`). What an authorizer
//! found about the caller (`Authorized`) goes to the integration: the
//! Lambda event, header mappings.

pub mod jwks;
pub mod jwt;
pub mod lambda_authorizer;
pub mod policy;
pub mod verified;

use serde_json::{Map, Value};

pub use jwt::JwtAuthorizer;
pub use lambda_authorizer::LambdaAuthorizer;

/// A compiled authorizer of an API. Built once per snapshot, so the
/// variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Authorizer {
    Jwt(JwtAuthorizer),
    Lambda(LambdaAuthorizer),
}

/// A route's authorizer and the scopes it requires (JWT).
pub struct RouteAuth {
    /// Index into the API's authorizers.
    pub authorizer: usize,
    pub scopes: Vec<String>,
}

/// What one worker keeps between calls: fetched keys, Lambda decisions.
#[derive(Default)]
pub struct WorkerAuth {
    pub jwks: jwks::JwksCache,
    pub verified: verified::Verified,
    pub results: lambda_authorizer::Results,
}

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
}
