//! A route's request validation, as API Gateway's request validators run
//! it: parameters that must be present, and per content type the JSON
//! Schema (draft 4) the body must satisfy. The management API publishes a
//! method's validator, required `method.request.*` parameters and models
//! as one; a config file writes it under a route as
//! `validation = { required = ["querystring.name", "header.x-id"],
//! body_schema = { "application/json" = '{...}' } }`.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// `querystring.NAME`, `header.NAME` or `path.NAME`: AWS's
    /// `method.request.*` keys without the prefix.
    #[serde(default)]
    pub required: Vec<String>,
    /// Content type (or `$default`) → a JSON Schema, as text.
    #[serde(default)]
    pub body_schema: BTreeMap<String, String>,
}
