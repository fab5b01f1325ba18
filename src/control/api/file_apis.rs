//! The config file's APIs as the management API shows them: read-only
//! REST APIs with their resources, methods, integrations, stages and one
//! deployment named `config`. The file is their source of truth, so a
//! management call that would change one is refused.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use super::model::{
    ApiDoc, Deployment, EndpointConfiguration, Integration, IntegrationResponse, Method,
    MethodSetting, Resource, RestApi, Stage,
};
use crate::config::{ApiConfig, IntegrationConfig};

pub(super) const FROM_FILE: &str = "declared in the config file";

/// The id of the one deployment a file API has.
pub const DEPLOYMENT: &str = "config";

pub struct FileApi {
    pub doc: ApiDoc,
    pub stages: Vec<Stage>,
    pub deployment: Deployment,
}

/// A short id that stays the same for the same path.
fn id_of(api: &str, path: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (api, path).hash(&mut h);
    format!("{:010x}", h.finish() & 0xff_ffff_ffff)
}

/// `api` as loaded from the file at `loaded_at` (Unix seconds), which is
/// its, its stages' and its deployment's creation time.
pub fn from_config(api: &ApiConfig, loaded_at: i64) -> FileApi {
    let id = api.id().to_string();
    let root = id_of(&id, "/");
    let mut doc = ApiDoc {
        api: RestApi {
            id: id.clone(),
            name: api.name.get_ref().clone(),
            description: Some(FROM_FILE.into()),
            created_date: loaded_at,
            version: None,
            binary_media_types: Vec::new(),
            minimum_compression_size: None,
            api_key_source: "HEADER".into(),
            endpoint_configuration: EndpointConfiguration {
                types: vec!["REGIONAL".into()],
            },
            tags: BTreeMap::new(),
            disable_execute_api_endpoint: false,
            root_resource_id: root.clone(),
            policy: None,
        },
        resources: vec![Resource::root(root)],
        models: super::model::Model::defaults(),
        request_validators: Vec::new(),
        gateway_responses: Default::default(),
        authorizers: Vec::new(),
        documentation: Default::default(),
    };
    for route in &api.routes {
        let key = route.key();
        let (verb, path) = key.split_once(' ').unwrap_or(("ANY", "/"));
        let rid = doc.ensure_path(path, |full| id_of(&id, full));
        let method = Method {
            http_method: verb.to_string(),
            authorization_type: "NONE".into(),
            api_key_required: route.api_key_required,
            method_integration: Some(integration(route.integration.get_ref())),
            ..Method::default()
        };
        if let Some(r) = doc.resources.iter_mut().find(|r| r.id == rid) {
            r.resource_methods.insert(verb.to_string(), method);
        }
    }
    let stages = api
        .stages
        .iter()
        .map(|(name, s)| {
            let mut settings = BTreeMap::new();
            if s.throttle.is_some() || s.cache.is_some() {
                let mut all = MethodSetting::defaults();
                if let Some(t) = s.throttle {
                    all.throttling_rate_limit = t.rate;
                    all.throttling_burst_limit = t.burst as i64;
                }
                if let Some(c) = &s.cache {
                    all.caching_enabled = true;
                    all.cache_ttl_in_seconds = i64::from(c.ttl_s.0);
                }
                all.metrics_enabled = s.metrics;
                settings.insert("*/*".to_string(), all);
            }
            Stage {
                deployment_id: DEPLOYMENT.into(),
                stage_name: name.clone(),
                description: Some(FROM_FILE.into()),
                cache_cluster_enabled: s.cache.is_some(),
                cache_cluster_size: s
                    .cache
                    .as_ref()
                    .map(|c| format!("{}", c.capacity.0 as f64 / 1e9)),
                cache_cluster_status: if s.cache.is_some() {
                    "AVAILABLE"
                } else {
                    "NOT_AVAILABLE"
                }
                .into(),
                method_settings: settings,
                variables: s.variables.clone(),
                access_log_settings: None,
                canary_settings: None,
                tracing_enabled: false,
                client_certificate_id: None,
                documentation_version: None,
                tags: BTreeMap::new(),
                created_date: loaded_at,
                last_updated_date: loaded_at,
            }
        })
        .collect();
    let deployment = Deployment {
        id: DEPLOYMENT.into(),
        description: Some("the config file".into()),
        created_date: loaded_at,
        api_summary: doc.summary(),
    };
    FileApi {
        doc,
        stages,
        deployment,
    }
}

fn integration(i: &IntegrationConfig) -> Integration {
    match i {
        IntegrationConfig::Mock { status, body, .. } => {
            let mut templates = BTreeMap::new();
            templates.insert(
                "application/json".to_string(),
                format!("{{\"statusCode\": {status}}}"),
            );
            let mut responses = BTreeMap::new();
            let mut body_template = BTreeMap::new();
            body_template.insert("application/json".to_string(), body.clone());
            responses.insert(
                status.to_string(),
                IntegrationResponse {
                    status_code: status.to_string(),
                    response_templates: body_template,
                    ..IntegrationResponse::default()
                },
            );
            Integration {
                kind: "MOCK".into(),
                request_templates: templates,
                integration_responses: responses,
                timeout_in_millis: 29_000,
                ..Integration::default()
            }
        }
        IntegrationConfig::Lambda {
            function,
            timeout_ms,
            ..
        } => Integration {
            kind: "AWS_PROXY".into(),
            http_method: Some("POST".into()),
            uri: Some(format!(
                "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations",
                // A function ARN names its region; a bare name gets AWS's default.
                region = function.split(':').nth(3).unwrap_or("us-east-1")
            )),
            timeout_in_millis: (*timeout_ms).min(29_000) as i64,
            ..Integration::default()
        },
        // Never in a file (the management API's hidden test routes only).
        IntegrationConfig::AuthorizerEcho => Integration {
            kind: "MOCK".into(),
            ..Integration::default()
        },
        IntegrationConfig::HttpProxy {
            uri,
            timeout_ms,
            request_parameters,
            ..
        } => Integration {
            kind: "HTTP_PROXY".into(),
            http_method: Some("ANY".into()),
            uri: Some(uri.raw.clone()),
            request_parameters: request_parameters.clone(),
            timeout_in_millis: (*timeout_ms).min(29_000) as i64,
            ..Integration::default()
        },
        IntegrationConfig::Aws(a) => Integration {
            kind: "AWS".into(),
            http_method: Some(a.http_method.clone()),
            uri: Some(a.uri.clone()),
            credentials: a.credentials.clone(),
            request_parameters: a.request_parameters.clone(),
            timeout_in_millis: a.timeout_ms.min(29_000) as i64,
            ..Integration::default()
        },
    }
}
