//! TestInvokeMethod's control-plane half: the method as it is now in the
//! API (not a deployment), as one hidden API definition whose only route is
//! that method, without its authorizer or API key requirement (AWS skips
//! authorization in a test invocation). The admin thread publishes it under
//! a secret stage name, sends the request to the data plane and builds the
//! answer (`control/admin/test_invoke.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};
use toml::Spanned;

use super::error::ApiError;
use super::model::{ApiDoc, Stage};
use super::router;
use super::ControlPlane;
use crate::config::ApiConfig;

/// One test invocation, ready to send.
pub struct TestInvoke {
    /// The hidden definition serving the method under `stage`.
    pub config: ApiConfig,
    pub rest_api_id: String,
    pub stage: String,
    pub http_method: String,
    /// The resource's path template (`/pets/{id}`).
    pub resource_path: String,
    /// What the call asked for: a path (with its query string).
    pub path_with_query: String,
    pub body: String,
    /// Header names and values, in order (multi-value ones repeated).
    pub headers: Vec<(String, String)>,
    /// The integration's URI as stored (HTTP integrations), and its type.
    pub integration_uri: Option<String>,
    pub integration_type: String,
    pub variables: BTreeMap<String, String>,
}

/// A test invocation's call: its route, JSON body and API.
pub struct TestCall {
    pub(super) matched: router::Matched,
    pub(super) input: Value,
    pub(super) id: String,
    pub(super) doc: ApiDoc,
}

impl ControlPlane {
    /// The call to operation `op` at `path`, with the API it names.
    pub fn test_call(
        &self,
        op: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<TestCall, ApiError> {
        let matched = router::route("POST", path, query)
            .filter(|m| m.name == op)
            .ok_or_else(|| ApiError::NotFound(format!("No management operation at POST {path}")))?;
        let input = input_of(body)?;
        let id = matched.param("restapi_id").to_string();
        let doc = self
            .store
            .api(&id)?
            .ok_or_else(|| ApiError::NotFound(format!("Invalid API identifier specified {id}")))?;
        Ok(TestCall {
            matched,
            input,
            id,
            doc,
        })
    }

    /// `doc` as the data plane serves it at stage `stage` with
    /// `variables`, and what could not be served.
    pub(super) fn hidden_config(
        &self,
        doc: &ApiDoc,
        stage: &str,
        variables: &BTreeMap<String, String>,
    ) -> Result<(ApiConfig, Vec<String>), ApiError> {
        let stage_doc = hidden_stage(stage, variables)?;
        let mut skipped = Vec::new();
        let mut config = super::publish::api_config(
            doc,
            doc,
            &stage_doc,
            &self.vpc_link_ids()?,
            Path::new(&self.state_dir),
            &mut skipped,
        );
        // The stage's name is new for every call: counting it would add a
        // metrics series per call (and put the name in the scrape).
        for s in config.stages.values_mut() {
            s.metrics = false;
            s.access_log = None;
        }
        Ok((config, skipped))
    }

    /// The call to TestInvokeMethod as a hidden API definition served at
    /// stage `stage`.
    pub fn test_invoke(&mut self, call: TestCall, stage: &str) -> Result<TestInvoke, ApiError> {
        let TestCall {
            matched: m,
            input,
            id,
            mut doc,
        } = call;
        let rid = m.param("resource_id");
        let verb = m.param("http_method").to_string();
        let resource = super::resources::resource(&doc, rid)?.clone();
        let mut method = resource
            .resource_methods
            .get(&verb)
            .cloned()
            .ok_or_else(|| ApiError::NotFound("Invalid Method identifier specified".into()))?;
        let integration = method
            .method_integration
            .clone()
            .ok_or_else(|| ApiError::BadRequest("No integration defined for method".into()))?;
        // Authorization is skipped, as AWS does in a test invocation.
        method.authorization_type = "NONE".into();
        method.authorizer_id = None;
        method.api_key_required = false;
        let mut only = resource.clone();
        only.resource_methods = BTreeMap::from([(verb.clone(), method)]);
        doc.resources = vec![only];
        doc.authorizers.clear();

        let sim = simulated(&input, &resource.path)?;
        let (mut config, skipped) = self.hidden_config(&doc, stage, &sim.variables)?;
        if config.routes.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "The method cannot be invoked: {}",
                skipped.join("; ")
            )));
        }
        // Named without the secret stage: names label metrics and logs.
        config.name = Spanned::new(0..0, format!("{} (test invoke)", doc.api.name));
        Ok(TestInvoke {
            config,
            rest_api_id: id,
            stage: stage.to_string(),
            http_method: verb,
            resource_path: resource.path,
            path_with_query: sim.path_with_query,
            body: sim.body,
            headers: sim.headers,
            integration_uri: integration.uri.clone(),
            integration_type: integration.kind.clone(),
            variables: sim.variables,
        })
    }
}

fn valid_header(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A test invocation's JSON body (none: `{}`).
fn input_of(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("Invalid JSON body: {e}")))
}

/// The simulated request of a test invocation (TestInvokeMethod,
/// TestInvokeAuthorizer): `stageVariables`, `headers` and
/// `multiValueHeaders`, `pathWithQueryString` (else `default_path`), `body`.
pub(super) struct Simulated {
    pub variables: BTreeMap<String, String>,
    pub headers: Vec<(String, String)>,
    pub path_with_query: String,
    pub body: String,
}

pub(super) fn simulated(input: &Value, default_path: &str) -> Result<Simulated, ApiError> {
    let str_of = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
    let map_of = |k: &str| -> Result<BTreeMap<String, Value>, ApiError> {
        match input.get(k) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| ApiError::BadRequest(format!("Invalid {k}: {e}"))),
        }
    };
    let variables: BTreeMap<String, String> = map_of("stageVariables")?
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, v) in map_of("headers")? {
        headers.push((name, v.as_str().unwrap_or_default().to_string()));
    }
    for (name, v) in map_of("multiValueHeaders")? {
        let values: Vec<String> = serde_json::from_value(v)
            .map_err(|e| ApiError::BadRequest(format!("Invalid multiValueHeaders: {e}")))?;
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        headers.extend(values.into_iter().map(|v| (name.clone(), v)));
    }
    if headers
        .iter()
        .any(|(n, v)| !valid_header(n) || v.bytes().any(|b| b == b'\r' || b == b'\n'))
    {
        return Err(ApiError::BadRequest("Invalid header name or value".into()));
    }
    let mut path_with_query = str_of("pathWithQueryString").unwrap_or_default();
    if path_with_query.is_empty() {
        path_with_query = default_path.to_string();
    }
    if !path_with_query.starts_with('/')
        || path_with_query
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(ApiError::BadRequest(format!(
            "Invalid pathWithQueryString {path_with_query}"
        )));
    }

    Ok(Simulated {
        body: str_of("body").unwrap_or_default(),
        variables,
        headers,
        path_with_query,
    })
}

/// The hidden definition's stage, named `stage`, with `variables`.
fn hidden_stage(stage: &str, variables: &BTreeMap<String, String>) -> Result<Stage, ApiError> {
    serde_json::from_value(json!({
        "deploymentId": "",
        "stageName": stage,
        "cacheClusterStatus": "NOT_AVAILABLE",
        "variables": variables,
        "createdDate": 0,
        "lastUpdatedDate": 0,
    }))
    .map_err(|e| ApiError::Internal(e.to_string()))
}
