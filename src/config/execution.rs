//! A route's non-proxy execution, as API Gateway's REST APIs define it:
//! request templates chosen by content type, the passthrough behaviour for
//! the rest, integration responses chosen by selection pattern with their
//! header mappings and response templates, and the method responses.
//! The management API publishes a MOCK integration's settings as one; a
//! config file writes it under a route as `execution = { ... }`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionConfig {
    /// Content type → VTL source.
    #[serde(default)]
    pub request_templates: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub passthrough_behavior: PassthroughBehavior,
    /// Tried in order of their selection patterns; the one without a
    /// pattern is the default.
    #[serde(default)]
    pub integration_responses: Vec<IntegrationResponseConfig>,
    /// Status → the response header names the method declares. Informative:
    /// nothing is refused for a status or header not named here yet.
    #[serde(default)]
    pub method_responses: BTreeMap<String, Vec<String>>,
    /// `integration.request.header|querystring|path.X` → AWS's mapping
    /// expression (`method.request.header.Y`, `'literal'`, …): what an
    /// HTTP integration's request carries.
    #[serde(default)]
    pub request_parameters: BTreeMap<String, String>,
    /// An HTTP integration's method (AWS's `httpMethod` of the
    /// integration); none: the client's.
    #[serde(default)]
    pub http_method: Option<String>,
    /// AWS's `contentHandling` of the integration: how the request payload
    /// is converted between text and binary (`integration::execute::content_handling`).
    #[serde(default)]
    pub content_handling: Option<ContentHandling>,
}

/// AWS's `contentHandling`: the payload converted to a binary blob (from
/// Base64 text) or to text (Base64 of the binary); absent, passed as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ContentHandling {
    #[serde(rename = "CONVERT_TO_BINARY")]
    ConvertToBinary,
    #[serde(rename = "CONVERT_TO_TEXT")]
    ConvertToText,
}

impl ContentHandling {
    /// AWS's spelling; anything else (or nothing) is no conversion.
    pub fn parse(s: Option<&str>) -> Option<ContentHandling> {
        match s? {
            "CONVERT_TO_BINARY" => Some(ContentHandling::ConvertToBinary),
            "CONVERT_TO_TEXT" => Some(ContentHandling::ConvertToText),
            _ => None,
        }
    }
}

/// AWS's `passthroughBehavior`: what a request whose content type has no
/// template gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum PassthroughBehavior {
    /// Its body goes through unchanged.
    #[default]
    #[serde(rename = "WHEN_NO_MATCH")]
    WhenNoMatch,
    /// Through unchanged only if no template is defined at all; else 415.
    #[serde(rename = "WHEN_NO_TEMPLATES")]
    WhenNoTemplates,
    /// 415 Unsupported Media Type.
    #[serde(rename = "NEVER")]
    Never,
}

impl PassthroughBehavior {
    /// AWS's spelling; anything else is AWS's default, WHEN_NO_MATCH.
    pub fn parse(s: &str) -> PassthroughBehavior {
        match s {
            "WHEN_NO_TEMPLATES" => PassthroughBehavior::WhenNoTemplates,
            "NEVER" => PassthroughBehavior::Never,
            _ => PassthroughBehavior::WhenNoMatch,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationResponseConfig {
    /// The method response status it answers with.
    pub status: u16,
    /// A regex the whole integration status must match; absent (or
    /// empty): the default response.
    #[serde(default)]
    pub selection_pattern: Option<String>,
    /// `method.response.header.X` → `'literal'`,
    /// `integration.response.header.Y`, `integration.response.body` or
    /// `integration.response.body.a.b`.
    #[serde(default)]
    pub response_parameters: BTreeMap<String, String>,
    /// Content type → VTL source.
    #[serde(default)]
    pub response_templates: BTreeMap<String, Spanned<String>>,
    /// AWS's `contentHandling` of the integration response.
    #[serde(default)]
    pub content_handling: Option<ContentHandling>,
}
