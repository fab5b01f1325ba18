//! CreateRestApi, GetRestApis, GetRestApi, UpdateRestApi, DeleteRestApi.

use serde_json::{json, Value};

use super::error::ApiError;
use super::model::{ApiDoc, EndpointConfiguration, Page, Resource, RestApi};
use super::{page, unescape, Call, ControlPlane, Reply};

const API_PATHS: &[&str] = &[
    "/name",
    "/description",
    "/version",
    "/apiKeySource",
    "/binaryMediaTypes/{type}",
    "/minimumCompressionSize",
    "/disableExecuteApiEndpoint",
    "/policy",
];

impl ControlPlane {
    pub(super) fn create_rest_api(&mut self, c: &Call<'_>) -> Reply {
        let name = c.required_str("name")?;
        let id = self.ids.next(10);
        let root = self.ids.next(10);
        let source = c.str("apiKeySource").unwrap_or_else(|| "HEADER".into());
        check_key_source(&source)?;
        let endpoint_configuration = match c.body.get("endpointConfiguration") {
            None | Some(Value::Null) => EndpointConfiguration {
                types: vec!["EDGE".into()],
            },
            Some(v) => {
                let e: EndpointConfiguration = serde_json::from_value(v.clone()).map_err(|e| {
                    ApiError::BadRequest(format!("Invalid endpointConfiguration: {e}"))
                })?;
                match e.types.as_slice() {
                    [t] if ["EDGE", "REGIONAL", "PRIVATE"].contains(&t.as_str()) => e,
                    _ => {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid endpointConfiguration types {:?}: give exactly one of \
                             [EDGE, REGIONAL, PRIVATE]",
                            e.types
                        )))
                    }
                }
            }
        };
        let api = RestApi {
            id: id.clone(),
            name,
            description: c.str("description"),
            created_date: c.now,
            version: c.str("version"),
            binary_media_types: c.strings("binaryMediaTypes"),
            minimum_compression_size: c.body.get("minimumCompressionSize").and_then(Value::as_i64),
            api_key_source: source,
            endpoint_configuration,
            tags: super::tags::given(c)?,
            disable_execute_api_endpoint: c
                .body
                .get("disableExecuteApiEndpoint")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            root_resource_id: root.clone(),
            policy: c.str("policy"),
        };
        let doc = ApiDoc {
            api,
            resources: vec![Resource::root(root)],
            models: super::models::defaults(&mut self.ids),
            request_validators: Vec::new(),
            gateway_responses: Default::default(),
            authorizers: Vec::new(),
            documentation: Default::default(),
        };
        self.store.put_api(&doc)?;
        Ok((201, json!(doc.api)))
    }

    pub(super) fn get_rest_apis(&mut self, c: &Call<'_>) -> Reply {
        let apis: Vec<RestApi> = self.store.listed()?.into_iter().map(|d| d.api).collect();
        let (item, position) = page(apis, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn get_rest_api(&mut self, c: &Call<'_>) -> Reply {
        Ok((200, json!(self.api(c)?.api)))
    }

    pub(super) fn update_rest_api(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let a = &mut doc.api;
        for op in c.patch()? {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/name") => a.name = op.value()?.to_string(),
                ("replace", "/description") => a.description = op.value.clone(),
                ("replace", "/version") => a.version = op.value.clone(),
                ("replace", "/policy") => a.policy = op.value.clone(),
                ("replace", "/apiKeySource") => {
                    check_key_source(op.value()?)?;
                    a.api_key_source = op.value()?.to_string();
                }
                ("replace", "/minimumCompressionSize") => {
                    a.minimum_compression_size = match op.value.as_deref() {
                        None | Some("") => None,
                        Some(v) => Some(v.parse().map_err(|_| {
                            ApiError::BadRequest(format!("Invalid minimumCompressionSize '{v}'"))
                        })?),
                    }
                }
                ("replace", "/disableExecuteApiEndpoint") => {
                    a.disable_execute_api_endpoint = op.bool()?
                }
                ("add", p) if p.starts_with("/binaryMediaTypes/") => {
                    let t = unescape(&p["/binaryMediaTypes/".len()..]);
                    if !a.binary_media_types.contains(&t) {
                        a.binary_media_types.push(t);
                    }
                }
                ("remove", p) if p.starts_with("/binaryMediaTypes/") => {
                    let t = unescape(&p["/binaryMediaTypes/".len()..]);
                    a.binary_media_types.retain(|x| *x != t);
                }
                _ => return Err(op.unsupported(API_PATHS)),
            }
        }
        self.store.put_api(&doc)?;
        Ok((200, json!(doc.api)))
    }

    pub(super) fn delete_rest_api(&mut self, c: &Call<'_>) -> Reply {
        let id = c.param("restapi_id");
        if !self.store.delete_api(id)? {
            return Err(not_found_api(id));
        }
        Ok((202, Value::Null))
    }

    /// The API the call names, or API Gateway's 404.
    pub(super) fn api(&self, c: &Call<'_>) -> Result<ApiDoc, ApiError> {
        let id = c.param("restapi_id");
        self.store.api(id)?.ok_or_else(|| not_found_api(id))
    }
}

fn not_found_api(id: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid API identifier specified {id}"))
}

fn check_key_source(s: &str) -> Result<(), ApiError> {
    match s {
        "HEADER" | "AUTHORIZER" => Ok(()),
        _ => Err(ApiError::BadRequest(format!(
            "Invalid apiKeySource '{s}'. Must be one of: [HEADER, AUTHORIZER]"
        ))),
    }
}
