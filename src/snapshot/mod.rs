//! The gateway's model as workers see it: an immutable, compiled snapshot
//! of APIs, stages, routes and integrations, published by the control
//! plane. A request keeps the snapshot it started with.

mod authorizers;
mod caching;
mod compile;
mod cors;
mod execution;
mod gateway_responses;
mod limits;
pub mod param_mapping;
mod uri_template;
mod validation;

pub use compile::{
    system_resolve, AccessLog, Api, CompileError, CompileErrors, Integration, Mapping, Resolver,
    Snapshot, Stage, Unavailable,
};
pub use cors::Cors;
pub use execution::{
    parse_source, parse_target, Execution, ExecutionError, IntegrationResponse, Source,
};
pub use gateway_responses::{Captured, ErrorContext, GatewayResponses};
pub use limits::{ApiKey, KeyStage, Keys, StageLimits};
pub use uri_template::{UriPart, UriTemplate};
pub use validation::{body_valid, Location, Validation, ValidationError};
