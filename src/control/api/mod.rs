//! The management API: Amazon API Gateway's REST (v1) management
//! operations, wire-compatible with boto3 and the AWS CLI (paths, JSON
//! shapes, status codes, error types, `patchOperations`, `position`/`limit`
//! pagination), with its state in an ACID store in the state directory.
//! Requests are matched against the service model (`operations`), so one
//! portico does not implement yet is answered with its name.

mod account;
mod authorizers;
mod base_path_mappings;
mod client_certificates;
mod deployments;
mod documentation;
mod domain_access;
mod domain_names;
mod error;
mod execution;
mod file_apis;
mod gateway_responses;
mod input_check;
mod input_types;
mod keys;
mod keys_import;
mod method_responses;
mod methods;
mod model;
mod models;
mod openapi;
mod openapi_authorizers;
mod openapi_responses;
mod operations;
mod patch;
pub mod publish;
mod request_validation;
mod resources;
mod rest_apis;
mod router;
mod sdk;
mod stages;
mod store;
mod tags;
pub mod test_invoke;
mod test_invoke_authorizer;
mod usage_records;
mod validators;
mod vpc_links;

pub use error::ApiError;
pub use model::{ApiDoc, Integration, Method, Resource, RestApi};
pub use operations::OPERATIONS;
pub use store::ControlStore;
pub use store::{migrate, MigrateError, Migrated};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::Value;

use patch::{unescape, PatchOp};
use router::Matched;

/// A status and a JSON body (`Null`: no body).
pub type Reply = Result<(u16, Value), ApiError>;

/// What UpdateUsage asks of the running data plane (the publisher, which
/// knows the workers and the reconciler): a key's remaining quota in a
/// plan, set live; `None` when the plan has no quota for it. A trait, so
/// the management API does not depend on the publisher that depends on it.
pub trait LiveQuota: Send + Sync {
    fn set_remaining(
        &self,
        plan: &str,
        key_id: &str,
        remaining: u64,
    ) -> Result<Option<(chrono::NaiveDate, i64)>, String>;
}

/// The control plane's model and its store; one thread owns it.
pub struct ControlPlane {
    store: ControlStore,
    ids: Ids,
    /// Where the usage records are (GetUsage).
    state_dir: std::path::PathBuf,
    /// The whole config the data plane serves, as of this call (GetUsage
    /// reads plans and keys from it).
    view: crate::config::Config,
    /// What the data plane serves (UpdateUsage sets a quota there live).
    deployed: Option<std::sync::Arc<dyn LiveQuota>>,
    /// A fleet node's Redis, where usage is recorded (`[cluster]`).
    fleet: Option<crate::config::ClusterConfig>,
}

/// One management call, parsed.
pub struct Call<'a> {
    m: &'a Matched,
    query: &'a str,
    body: Value,
    /// The body as sent (ImportApiKeys reads CSV).
    raw: &'a [u8],
    /// Unix seconds.
    now: i64,
}

impl ControlPlane {
    /// With the state key the server installed at start (else the one
    /// `state_dir`'s default key file holds).
    pub fn open(state_dir: &Path) -> Result<ControlPlane, crate::control::state::StoreError> {
        let key =
            crate::control::state::state_key::installed_or_load(&crate::config::StateConfig {
                dir: state_dir.to_path_buf(),
                ..Default::default()
            })?;
        Ok(ControlPlane {
            store: ControlStore::open(state_dir, key)?,
            ids: Ids::seeded(),
            state_dir: state_dir.to_path_buf(),
            view: crate::config::Config::default(),
            deployed: None,
            fleet: None,
        })
    }

    /// A fleet node's control plane: its state in the fleet's Redis
    /// (`[cluster]`), sealed with the same state key as every other node's.
    pub fn open_fleet(
        state: &crate::config::StateConfig,
        cluster: &crate::config::ClusterConfig,
        revision: std::sync::Arc<crate::cluster::Revision>,
    ) -> Result<ControlPlane, crate::control::state::StoreError> {
        let key = crate::control::state::state_key::installed_or_load(state)?;
        Ok(ControlPlane {
            store: ControlStore::open_fleet(cluster, key, revision)?,
            ids: Ids::seeded(),
            state_dir: state.dir.clone(),
            view: crate::config::Config::default(),
            deployed: None,
            fleet: Some(cluster.clone()),
        })
    }

    /// The control thread published every change up to the fleet's
    /// `revision`.
    pub fn published(&self, revision: u64) {
        self.store.published(revision);
    }

    /// The change just stored could not be published here; on a fleet
    /// node the follower publishes it again.
    pub fn unpublished(&self) {
        self.store.unpublished();
    }

    /// What the data plane serves now: the config file's APIs are shown
    /// read-only from it (created when the file was loaded, `loaded_at`,
    /// Unix seconds), and GetUsage reads plans and keys from it.
    pub fn set_view(&mut self, config: crate::config::Config, loaded_at: i64) {
        self.store.set_file(
            config
                .api
                .iter()
                .filter(|a| a.control.is_none())
                .map(|api| file_apis::from_config(api, loaded_at))
                .collect(),
        );
        self.view = config;
    }

    /// Where UpdateUsage sets a key's remaining quota live.
    pub fn set_deployed(&mut self, deployed: std::sync::Arc<dyn LiveQuota>) {
        self.deployed = Some(deployed);
    }

    /// The service model's operation at this method and path, and its
    /// path parameters (for the audit log).
    pub fn operation(
        method: &str,
        path: &str,
        query: &str,
    ) -> Option<(&'static str, Vec<(&'static str, String)>)> {
        router::route(method, path, query).map(|m| (m.name, m.params))
    }

    /// Whether a request path belongs to the management API.
    pub fn owns(path: &str) -> bool {
        router::route("GET", path, "").is_some()
            || ["POST", "PUT", "PATCH", "DELETE"]
                .iter()
                .any(|m| router::route(m, path, "").is_some())
    }

    /// Serves one call: the status and the JSON to answer with.
    pub fn handle(&mut self, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
        let Some(m) = router::route(method, path, query) else {
            let e = ApiError::NotFound(format!("No management operation at {method} {path}"));
            return (e.status(), e.body());
        };
        let raw = body;
        let body = if m.name == "ImportApiKeys" || body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            match serde_json::from_slice(body) {
                Ok(v) => v,
                // OpenAPI documents also come as YAML.
                Err(_)
                    if matches!(
                        m.name,
                        "ImportRestApi" | "PutRestApi" | "ImportDocumentationParts"
                    ) =>
                {
                    match serde_yaml_ng::from_slice::<Value>(body) {
                        Ok(v) => v,
                        Err(e) => {
                            let e = ApiError::BadRequest(format!(
                                "Invalid OpenAPI input: neither JSON nor YAML: {e}"
                            ));
                            return (e.status(), e.body());
                        }
                    }
                }
                Err(e) => {
                    let e = ApiError::BadRequest(format!("Invalid JSON body: {e}"));
                    return (e.status(), e.body());
                }
            }
        };
        if let Err(e) = input_check::check(m.name, &body) {
            return (e.status(), e.body());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let call = Call {
            m: &m,
            query,
            body,
            raw,
            now,
        };
        match self.dispatch(&call) {
            Ok(r) => r,
            Err(e) => (e.status(), e.body()),
        }
    }

    fn dispatch(&mut self, c: &Call<'_>) -> Reply {
        match c.m.name {
            "CreateRestApi" => self.create_rest_api(c),
            "GetRestApis" => self.get_rest_apis(c),
            "GetRestApi" => self.get_rest_api(c),
            "UpdateRestApi" => self.update_rest_api(c),
            "DeleteRestApi" => self.delete_rest_api(c),
            "GetResources" => self.get_resources(c),
            "GetResource" => self.get_resource(c),
            "CreateResource" => self.create_resource(c),
            "UpdateResource" => self.update_resource(c),
            "DeleteResource" => self.delete_resource(c),
            "PutMethod" => self.put_method(c),
            "GetMethod" => self.get_method(c),
            "UpdateMethod" => self.update_method(c),
            "DeleteMethod" => self.delete_method(c),
            "PutMethodResponse" => self.put_method_response(c),
            "GetMethodResponse" => self.get_method_response(c),
            "UpdateMethodResponse" => self.update_method_response(c),
            "DeleteMethodResponse" => self.delete_method_response(c),
            "PutIntegration" => self.put_integration(c),
            "GetIntegration" => self.get_integration(c),
            "UpdateIntegration" => self.update_integration(c),
            "DeleteIntegration" => self.delete_integration(c),
            "PutIntegrationResponse" => self.put_integration_response(c),
            "GetIntegrationResponse" => self.get_integration_response(c),
            "UpdateIntegrationResponse" => self.update_integration_response(c),
            "DeleteIntegrationResponse" => self.delete_integration_response(c),
            "ImportRestApi" => self.import_rest_api(c),
            "PutRestApi" => self.put_rest_api(c),
            "GetExport" => self.get_export(c),
            "CreateDeployment" => self.create_deployment(c),
            "GetDeployments" => self.get_deployments(c),
            "GetDeployment" => self.get_deployment(c),
            "UpdateDeployment" => self.update_deployment(c),
            "DeleteDeployment" => self.delete_deployment(c),
            "CreateStage" => self.create_stage(c),
            "GetStages" => self.get_stages(c),
            "GetStage" => self.get_stage(c),
            "UpdateStage" => self.update_stage(c),
            "DeleteStage" => self.delete_stage(c),
            "FlushStageCache" => self.flush_stage_cache(c),
            "CreateApiKey" => self.create_api_key(c),
            "GetApiKeys" => self.get_api_keys(c),
            "GetApiKey" => self.get_api_key(c),
            "UpdateApiKey" => self.update_api_key(c),
            "DeleteApiKey" => self.delete_api_key(c),
            "ImportApiKeys" => self.import_api_keys(c),
            "CreateUsagePlan" => self.create_usage_plan(c),
            "GetUsagePlans" => self.get_usage_plans(c),
            "GetUsagePlan" => self.get_usage_plan(c),
            "UpdateUsagePlan" => self.update_usage_plan(c),
            "DeleteUsagePlan" => self.delete_usage_plan(c),
            "CreateUsagePlanKey" => self.create_usage_plan_key(c),
            "GetUsagePlanKeys" => self.get_usage_plan_keys(c),
            "GetUsagePlanKey" => self.get_usage_plan_key(c),
            "DeleteUsagePlanKey" => self.delete_usage_plan_key(c),
            "GetUsage" => self.get_usage(c),
            "UpdateUsage" => self.update_usage(c),
            "GetSdkTypes" => self.get_sdk_types(c),
            "GetSdkType" => self.get_sdk_type(c),
            "GetSdk" => self.get_sdk(c),
            "GetAccount" => self.get_account(c),
            "UpdateAccount" => self.update_account(c),
            "TagResource" => self.tag_resource(c),
            "UntagResource" => self.untag_resource(c),
            "GetTags" => self.get_tags(c),
            "CreateModel" => self.create_model(c),
            "GetModel" => self.get_model(c),
            "GetModels" => self.get_models(c),
            "UpdateModel" => self.update_model(c),
            "DeleteModel" => self.delete_model(c),
            "GetModelTemplate" => self.get_model_template(c),
            "CreateRequestValidator" => self.create_request_validator(c),
            "GetRequestValidator" => self.get_request_validator(c),
            "GetRequestValidators" => self.get_request_validators(c),
            "UpdateRequestValidator" => self.update_request_validator(c),
            "DeleteRequestValidator" => self.delete_request_validator(c),
            "GenerateClientCertificate" => self.generate_client_certificate(c),
            "GetClientCertificate" => self.get_client_certificate(c),
            "GetClientCertificates" => self.get_client_certificates(c),
            "UpdateClientCertificate" => self.update_client_certificate(c),
            "DeleteClientCertificate" => self.delete_client_certificate(c),
            "CreateVpcLink" => self.create_vpc_link(c),
            "GetVpcLink" => self.get_vpc_link(c),
            "GetVpcLinks" => self.get_vpc_links(c),
            "UpdateVpcLink" => self.update_vpc_link(c),
            "DeleteVpcLink" => self.delete_vpc_link(c),
            "PutGatewayResponse" => self.put_gateway_response(c),
            "GetGatewayResponse" => self.get_gateway_response(c),
            "GetGatewayResponses" => self.get_gateway_responses(c),
            "UpdateGatewayResponse" => self.update_gateway_response(c),
            "DeleteGatewayResponse" => self.delete_gateway_response(c),
            "CreateDomainName" => self.create_domain_name(c),
            "GetDomainName" => self.get_domain_name(c),
            "GetDomainNames" => self.get_domain_names(c),
            "UpdateDomainName" => self.update_domain_name(c),
            "DeleteDomainName" => self.delete_domain_name(c),
            "CreateBasePathMapping" => self.create_base_path_mapping(c),
            "GetBasePathMapping" => self.get_base_path_mapping(c),
            "GetBasePathMappings" => self.get_base_path_mappings(c),
            "UpdateBasePathMapping" => self.update_base_path_mapping(c),
            "DeleteBasePathMapping" => self.delete_base_path_mapping(c),
            "CreateDomainNameAccessAssociation" => self.create_domain_name_access_association(c),
            "GetDomainNameAccessAssociations" => self.get_domain_name_access_associations(c),
            "DeleteDomainNameAccessAssociation" => self.delete_domain_name_access_association(c),
            "RejectDomainNameAccessAssociation" => self.reject_domain_name_access_association(c),
            "CreateAuthorizer" => self.create_authorizer(c),
            "GetAuthorizer" => self.get_authorizer(c),
            "GetAuthorizers" => self.get_authorizers(c),
            "UpdateAuthorizer" => self.update_authorizer(c),
            "DeleteAuthorizer" => self.delete_authorizer(c),
            "FlushStageAuthorizersCache" => self.flush_stage_authorizers_cache(c),
            "CreateDocumentationPart" => self.create_documentation_part(c),
            "GetDocumentationPart" => self.get_documentation_part(c),
            "GetDocumentationParts" => self.get_documentation_parts(c),
            "UpdateDocumentationPart" => self.update_documentation_part(c),
            "DeleteDocumentationPart" => self.delete_documentation_part(c),
            "ImportDocumentationParts" => self.import_documentation_parts(c),
            "CreateDocumentationVersion" => self.create_documentation_version(c),
            "GetDocumentationVersion" => self.get_documentation_version(c),
            "GetDocumentationVersions" => self.get_documentation_versions(c),
            "UpdateDocumentationVersion" => self.update_documentation_version(c),
            "DeleteDocumentationVersion" => self.delete_documentation_version(c),
            name => Err(ApiError::NotImplemented(format!(
                "portico does not implement the {name} operation"
            ))),
        }
    }
}

impl Call<'_> {
    fn param(&self, name: &str) -> &str {
        self.m.param(name)
    }

    /// Every value of a query parameter (`embed=methods&embed=x`, or `a,b`).
    fn query_all(&self, name: &str) -> Vec<String> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .flat_map(|(_, v)| {
                router::decode(v)
                    .split(',')
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// An import's `mode` (ImportDocumentationParts, PutRestApi): `merge`
    /// unless given; each caller refuses what it does not take.
    fn import_mode(&self) -> String {
        self.query_all("mode")
            .first()
            .cloned()
            .unwrap_or_else(|| "merge".into())
    }

    /// An import's `failonwarnings` (the service model's name; the SDKs'
    /// `failOnWarnings` too): false unless given.
    fn fail_on_warnings(&self) -> Result<bool, ApiError> {
        let given = ["failonwarnings", "failOnWarnings"]
            .iter()
            .find_map(|q| self.query_all(q).into_iter().next());
        match given.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(ApiError::BadRequest(format!(
                "Invalid failonwarnings '{v}': true or false"
            ))),
        }
    }

    fn str(&self, key: &str) -> Option<String> {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn required_str(&self, key: &str) -> Result<String, ApiError> {
        self.str(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::BadRequest(format!("{key} must not be empty")))
    }

    fn strings(&self, key: &str) -> Vec<String> {
        self.body
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    fn map<V: DeserializeOwned>(&self, key: &str) -> Result<BTreeMap<String, V>, ApiError> {
        match self.body.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| ApiError::BadRequest(format!("Invalid {key}: {e}"))),
        }
    }

    fn patch(&self) -> Result<Vec<PatchOp>, ApiError> {
        patch::operations(&self.body)
    }
}

/// `limit` (1–500, default 25) items from `position` (an index, as a
/// string), and the position of the next page if there is one.
fn page<T>(all: Vec<T>, c: &Call<'_>) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = match c.query_all("limit").first() {
        None => 25,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return Err(ApiError::BadRequest(format!("Invalid limit {l}: 1 to 500"))),
        },
    };
    let start = match c.query_all("position").first() {
        None => 0,
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("Invalid position {p}")))?,
    };
    let total = all.len();
    let item: Vec<T> = all.into_iter().skip(start).take(limit).collect();
    let next = start + item.len();
    Ok((item, (next < total).then(|| next.to_string())))
}

/// Identifiers like API Gateway's: lower-case letters and digits.
struct Ids(u64);

impl Ids {
    fn seeded() -> Ids {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ids(t ^ (u64::from(std::process::id()) << 32) | 1)
    }

    fn next(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| {
                // splitmix64
                self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.0;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                ALPHABET[(z % ALPHABET.len() as u64) as usize] as char
            })
            .collect()
    }
}
