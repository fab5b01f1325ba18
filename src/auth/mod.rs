//! Authorizers, as API Gateway has them: JWT (`jwt`, keys from `jwks`)
//! and Lambda (`lambda_authorizer`, IAM `policy`). What an authorizer
//! found about the caller (`Authorized`) goes to the integration: the
//! Lambda event, header mappings.
//!
//! The compiled authorizers the snapshot holds are defined in files that
//! import no runtime (this one, `authorized`, `jwt`, `jwks`,
//! `lambda_authorizer`, `policy`); what runs on a worker is apart:
//! fetching keys (`jwks_fetch`), invoking a Lambda authorizer
//! (`lambda_decide`), and the worker's caches (`caches`, which the shard
//! owns). The snapshot names the compiled types, and the runtime names
//! the snapshot, so neither imports the other back.

mod authorized;
pub mod caches;
pub mod jwks;
pub mod jwks_fetch;
pub mod jwt;
pub mod lambda_authorizer;
mod lambda_decide;
pub mod policy;
pub mod verified;

pub use authorized::Authorized;
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
