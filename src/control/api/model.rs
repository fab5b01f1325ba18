//! The management API's resources, in the JSON shapes of Amazon API
//! Gateway's service model (camelCase keys, absent optionals left out), so
//! boto3 and the AWS CLI read them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfiguration {
    #[serde(default)]
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestApi {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unix seconds (the service model's timestamps are epoch seconds).
    pub created_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binary_media_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_compression_size: Option<i64>,
    pub api_key_source: String,
    pub endpoint_configuration: EndpointConfiguration,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub disable_execute_api_endpoint: bool,
    pub root_resource_id: String,
    /// The resource policy document, stored and returned as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_part: Option<String>,
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_methods: BTreeMap<String, Method>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Method {
    pub http_method: String,
    pub authorization_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    #[serde(default)]
    pub api_key_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_models: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_validator_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub method_responses: BTreeMap<String, MethodResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_integration: Option<Integration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MethodResponse {
    pub status_code: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_models: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<String>,
    /// The VPC link of a `VPC_LINK` connection (its id, or `${stageVariables.x}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_templates: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_behavior: Option<String>,
    pub timeout_in_millis: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_namespace: Option<String>,
    /// AWS answers `cacheKeyParameters: []` when none are set.
    #[serde(default)]
    pub cache_key_parameters: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub integration_responses: BTreeMap<String, IntegrationResponse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationResponse {
    pub status_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_templates: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
}

/// A REST API with its resource tree: stored and changed as one document,
/// so every management call is one atomic write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiDoc {
    pub api: RestApi,
    pub resources: Vec<Resource>,
    /// Its models (a document stored before models were kept has AWS's
    /// two defaults): see `models.rs`.
    #[serde(default = "Model::defaults")]
    pub models: Vec<Model>,
    #[serde(default)]
    pub request_validators: Vec<RequestValidator>,
    /// The gateway responses it customises, by response type.
    #[serde(default)]
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
    /// See `authorizers.rs`.
    #[serde(default)]
    pub authorizers: Vec<Authorizer>,
    /// Its documentation parts and versions: see `documentation.rs`.
    #[serde(default)]
    pub documentation: Documentation,
}

/// A customised gateway response, as stored (AWS's shape less the type,
/// which is its key, and `defaultResponse`, which is false for these).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_templates: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorizer {
    pub id: String,
    pub name: String,
    /// TOKEN, REQUEST or COGNITO_USER_POOLS.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(
        default,
        rename = "providerARNs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_credentials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub content_type: String,
}

const EMPTY_SCHEMA: &str = "{\n  \"$schema\": \"http://json-schema.org/draft-04/schema#\",\n  \"title\" : \"Empty Schema\",\n  \"type\" : \"object\"\n}";
const ERROR_SCHEMA: &str = "{\n  \"$schema\" : \"http://json-schema.org/draft-04/schema#\",\n  \"title\" : \"Error Schema\",\n  \"type\" : \"object\",\n  \"properties\" : {\n    \"message\" : { \"type\" : \"string\" }\n  }\n}";

impl Model {
    /// AWS's default models with fixed ids (for documents that predate
    /// models, and the config file's APIs).
    pub fn defaults() -> Vec<Model> {
        vec![
            Model {
                id: "empty0".into(),
                name: "Empty".into(),
                description: Some("This is a default empty schema model".into()),
                schema: Some(EMPTY_SCHEMA.into()),
                content_type: "application/json".into(),
            },
            Model {
                id: "error0".into(),
                name: "Error".into(),
                description: Some("This is a default error schema model".into()),
                schema: Some(ERROR_SCHEMA.into()),
                content_type: "application/json".into(),
            },
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestValidator {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub validate_request_body: bool,
    #[serde(default)]
    pub validate_request_parameters: bool,
}

impl Resource {
    /// An API's root resource, `/`.
    pub fn root(id: String) -> Resource {
        Resource {
            id,
            parent_id: None,
            path_part: None,
            path: "/".into(),
            resource_methods: BTreeMap::new(),
        }
    }
}

impl ApiDoc {
    /// The id of the resource at `path`, created with its missing
    /// ancestors (`new_id` names each new one by its full path).
    pub fn ensure_path(&mut self, path: &str, mut new_id: impl FnMut(&str) -> String) -> String {
        let mut parent = self.api.root_resource_id.clone();
        let mut full = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            full.push('/');
            full.push_str(part);
            let found = self.resources.iter().find(|r| {
                r.parent_id.as_deref() == Some(&parent) && r.path_part.as_deref() == Some(part)
            });
            parent = match found {
                Some(r) => r.id.clone(),
                None => {
                    let id = new_id(&full);
                    self.resources.push(Resource {
                        id: id.clone(),
                        parent_id: Some(parent),
                        path_part: Some(part.to_string()),
                        path: full.clone(),
                        resource_methods: BTreeMap::new(),
                    });
                    id
                }
            };
        }
        parent
    }

    /// A deployment's `apiSummary`: path → method → its authorization.
    pub fn summary(&self) -> BTreeMap<String, BTreeMap<String, MethodSnapshot>> {
        let mut summary: BTreeMap<String, BTreeMap<String, MethodSnapshot>> = BTreeMap::new();
        for r in &self.resources {
            for (verb, m) in &r.resource_methods {
                summary.entry(r.path.clone()).or_default().insert(
                    verb.clone(),
                    MethodSnapshot {
                        authorization_type: m.authorization_type.clone(),
                        api_key_required: m.api_key_required,
                    },
                );
            }
        }
        summary
    }
}

/// `{"item": [...], "position": ...}`: the service model's list shape.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    pub item: Vec<T>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_date: i64,
    /// Path → method → `{authorizationType, apiKeyRequired}`.
    #[serde(default)]
    pub api_summary: BTreeMap<String, BTreeMap<String, MethodSnapshot>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodSnapshot {
    pub authorization_type: String,
    pub api_key_required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MethodSetting {
    #[serde(default)]
    pub metrics_enabled: bool,
    #[serde(default = "logging_off")]
    pub logging_level: String,
    #[serde(default)]
    pub data_trace_enabled: bool,
    pub throttling_burst_limit: i64,
    pub throttling_rate_limit: f64,
    #[serde(default)]
    pub caching_enabled: bool,
    pub cache_ttl_in_seconds: i64,
    #[serde(default)]
    pub cache_data_encrypted: bool,
    #[serde(default = "yes")]
    pub require_authorization_for_cache_control: bool,
    #[serde(default = "succeed_with_header")]
    pub unauthorized_cache_control_header_strategy: String,
}

fn logging_off() -> String {
    "OFF".into()
}

fn yes() -> bool {
    true
}

fn succeed_with_header() -> String {
    "SUCCEED_WITH_RESPONSE_HEADER".into()
}

impl MethodSetting {
    /// What a method gets before any setting is patched: the account
    /// throttle, caching off, the default TTL.
    pub fn defaults() -> MethodSetting {
        MethodSetting {
            logging_level: logging_off(),
            throttling_burst_limit: 5000,
            throttling_rate_limit: 10000.0,
            cache_ttl_in_seconds: 300,
            require_authorization_for_cache_control: true,
            unauthorized_cache_control_header_strategy: succeed_with_header(),
            ..MethodSetting::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CanarySettings {
    #[serde(default)]
    pub percent_traffic: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stage_variable_overrides: BTreeMap<String, String>,
    #[serde(default)]
    pub use_stage_cache: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub deployment_id: String,
    pub stage_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub cache_cluster_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_cluster_size: Option<String>,
    pub cache_cluster_status: String,
    /// `"*/*"` or `"{resourcePath}/{METHOD}"` (path without its leading slash).
    #[serde(default)]
    pub method_settings: BTreeMap<String, MethodSetting>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<AccessLogSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_settings: Option<CanarySettings>,
    #[serde(default)]
    pub tracing_enabled: bool,
    /// The client certificate presented to HTTP backends (UpdateStage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_id: Option<String>,
    /// The documentation version it is associated with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_version: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub created_date: i64,
    pub last_updated_date: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    /// An AWS Marketplace customer identifier (CreateApiKey, `/customerId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub created_date: i64,
    pub last_updated_date: i64,
    #[serde(default)]
    pub stage_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleSettings {
    #[serde(default)]
    pub burst_limit: i64,
    #[serde(default)]
    pub rate_limit: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaSettings {
    pub limit: i64,
    #[serde(default)]
    pub offset: i64,
    pub period: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiStage {
    pub api_id: String,
    pub stage: String,
    /// `"/pets/GET"` → the per-key throttle for that method.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub throttle: BTreeMap<String, ThrottleSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlan {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub api_stages: Vec<ApiStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSettings>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsagePlanKey {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub name: String,
}

/// The parts of an API and its versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Documentation {
    #[serde(default)]
    pub parts: Vec<Part>,
    #[serde(default)]
    pub versions: Vec<Version>,
}

/// A DocumentationPart as AWS shapes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub id: String,
    pub location: Location,
    /// A JSON object, as a string.
    pub properties: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A DocumentationVersion and the parts as they were when it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version: String,
    pub created_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Stored, not part of the answer (see `Version::shape`).
    #[serde(default)]
    pub parts: Vec<Part>,
}
