//! ImportRestApi, PutRestApi and GetExport: OpenAPI 3.0 and Swagger 2.0
//! documents (JSON or YAML in, JSON out) with API Gateway's extensions
//! (`x-amazon-apigateway-integration`, `x-amazon-apigateway-api-key-source`,
//! `x-amazon-apigateway-binary-media-types`, `x-amazon-apigateway-any-method`)
//! to and from the REST API model.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::model::{ApiDoc, EndpointConfiguration, Integration, Method, Resource, RestApi};
use super::{Call, ControlPlane, Reply};

pub(super) const VERBS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("delete", "DELETE"),
    ("patch", "PATCH"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

impl ControlPlane {
    pub(super) fn import_rest_api(&mut self, c: &Call<'_>) -> Reply {
        let (name, description, version) = info(&c.body)?;
        let mut doc = ApiDoc {
            api: RestApi {
                id: self.ids.next(10),
                name,
                description,
                created_date: c.now,
                version,
                binary_media_types: Vec::new(),
                minimum_compression_size: None,
                api_key_source: "HEADER".into(),
                endpoint_configuration: EndpointConfiguration {
                    types: vec!["EDGE".into()],
                },
                tags: BTreeMap::new(),
                disable_execute_api_endpoint: false,
                root_resource_id: self.ids.next(10),
                policy: None,
            },
            resources: Vec::new(),
            models: super::models::defaults(&mut self.ids),
            request_validators: Vec::new(),
            gateway_responses: Default::default(),
            authorizers: Vec::new(),
            documentation: Default::default(),
        };
        doc.resources
            .push(Resource::root(doc.api.root_resource_id.clone()));
        self.apply_document(&mut doc, &c.body)?;
        super::documentation::import_openapi(&mut doc, &c.body, &mut self.ids, c.now);
        self.store.put_api(&doc)?;
        Ok((201, json!(doc.api)))
    }

    /// `mode=merge` (the default, as in AWS) adds to the resources, a method
    /// in the document replacing the same method; `overwrite` replaces them
    /// (the root resource keeps its id) and takes the API's name,
    /// description and version from the document's `info`.
    pub(super) fn put_rest_api(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        match c.import_mode().as_str() {
            "overwrite" => {
                let (name, description, version) = info(&c.body)?;
                doc.api.name = name;
                doc.api.description = description;
                doc.api.version = version;
                doc.resources = vec![Resource::root(doc.api.root_resource_id.clone())];
            }
            "merge" => {
                info(&c.body)?;
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "Enumeration value of OpenAPI import mode must be \"overwrite\" or \"merge\""
                        .into(),
                ))
            }
        }
        self.apply_document(&mut doc, &c.body)?;
        super::documentation::import_openapi(&mut doc, &c.body, &mut self.ids, c.now);
        self.store.put_api(&doc)?;
        Ok((200, json!(doc.api)))
    }

    pub(super) fn get_export(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?;
        let stage = self
            .store
            .stage(&api.api.id, c.param("stage_name"))?
            .ok_or_else(ApiError::no_stage)?;
        let (_, deployed) = self.deployment(&api.api.id, &stage.deployment_id)?;
        let extensions = c.query_all("extensions");
        let with_integrations = extensions
            .iter()
            .any(|e| e == "integrations" || e == "apigateway");
        let kind = c.param("export_type");
        let doc = match kind {
            "oas30" => export(&deployed, &stage.stage_name, true, with_integrations),
            "swagger" => export(&deployed, &stage.stage_name, false, with_integrations),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "No API exporter for type '{other}'"
                )))
            }
        };
        let mut doc = doc;
        let with_documentation = extensions
            .iter()
            .any(|e| e == "documentation" || e == "apigateway");
        let parts = match stage.documentation_version.as_deref() {
            Some(v) => super::documentation::export_openapi(&api, Some(v)),
            None => super::documentation::export_openapi(&deployed, None),
        };
        if let (true, Some(x), Some(o)) = (with_documentation, parts, doc.as_object_mut()) {
            o.insert("x-amazon-apigateway-documentation".into(), x);
        }
        Ok((200, doc))
    }

    fn apply_document(&mut self, doc: &mut ApiDoc, d: &Value) -> Result<(), ApiError> {
        if let Some(s) = d
            .get("x-amazon-apigateway-api-key-source")
            .and_then(Value::as_str)
        {
            doc.api.api_key_source = s.to_string();
        }
        if let Some(types) = d.get("x-amazon-apigateway-binary-media-types") {
            doc.api.binary_media_types = serde_json::from_value(types.clone()).unwrap_or_default();
        }
        super::gateway_responses::import_openapi(doc, d)?;
        let key_schemes = api_key_schemes(d);
        let ids = &mut self.ids;
        super::openapi_authorizers::import(doc, d, &mut || ids.next(6))?;
        let paths = d
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| unparsable("'paths' is a required property"))?;
        for (path, item) in paths {
            let ids = &mut self.ids;
            let rid = doc.ensure_path(path, |_| ids.next(6));
            let Some(item) = item.as_object() else {
                continue;
            };
            for (key, verb) in VERBS {
                let Some(op) = item.get(*key) else {
                    continue;
                };
                let mut m = method(verb, op, &key_schemes, d)?;
                super::openapi_authorizers::apply_security(&doc.authorizers, &mut m, op, d);
                if let Some(r) = doc.resources.iter_mut().find(|r| r.id == rid) {
                    r.resource_methods.insert((*verb).to_string(), m);
                }
            }
        }
        super::models::import_openapi(doc, d, &mut self.ids)?;
        declared_everywhere(doc)
    }
}

/// Refuses, as AWS's import does ("Errors found during import"), an
/// integration that maps a method request parameter its operation's
/// `parameters` do not declare; checked once the document's parameters
/// are on the methods.
fn declared_everywhere(doc: &ApiDoc) -> Result<(), ApiError> {
    for r in &doc.resources {
        for (verb, m) in &r.resource_methods {
            let Some(i) = &m.method_integration else {
                continue;
            };
            super::execution::check_declared(i, m).map_err(|e| {
                ApiError::BadRequest(format!(
                    "Errors found during import:\n\tUnable to put integration on '{verb}' \
                     for resource at path '{}': {e}",
                    r.path
                ))
            })?;
        }
    }
    Ok(())
}

/// A document API Gateway cannot read, in AWS's words.
fn unparsable(cause: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Failed to parse the uploaded OpenAPI document due to: {cause}"
    ))
}

fn info(d: &Value) -> Result<(String, Option<String>, Option<String>), ApiError> {
    match (d.get("openapi"), d.get("swagger")) {
        (None, None) => {
            return Err(unparsable(
                "'openapi' (3.0.x) or 'swagger' (2.0) is a required property",
            ))
        }
        // OpenAPI 3.0.x, or Swagger 2.0 under its own `swagger` key.
        (Some(v), _) if !v.as_str().is_some_and(|v| v.starts_with("3.")) => {
            return Err(ApiError::BadRequest(
                "Only OpenAPI 3.x.x are currently supported".into(),
            ))
        }
        _ => {}
    }
    let info = d.get("info").cloned().unwrap_or(Value::Null);
    let name = info
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unparsable("'title' is a required property of 'info'"))?;
    let text = |k: &str| info.get(k).and_then(Value::as_str).map(str::to_string);
    Ok((name.to_string(), text("description"), text("version")))
}

/// The security schemes that are API keys (OpenAPI 3 `components.securitySchemes`
/// or Swagger 2 `securityDefinitions` of type `apiKey`).
fn api_key_schemes(d: &Value) -> Vec<String> {
    let schemes = d
        .pointer("/components/securitySchemes")
        .or_else(|| d.get("securityDefinitions"))
        .and_then(Value::as_object);
    schemes
        .map(|s| {
            s.iter()
                .filter(|(_, v)| v.get("type").and_then(Value::as_str) == Some("apiKey"))
                // An authorizer's scheme is `apiKey` too.
                .filter(|(_, v)| v.get("x-amazon-apigateway-authorizer").is_none())
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn method(verb: &str, op: &Value, key_schemes: &[String], d: &Value) -> Result<Method, ApiError> {
    let security = op.get("security").or_else(|| d.get("security"));
    let api_key_required = security.and_then(Value::as_array).is_some_and(|reqs| {
        reqs.iter()
            .filter_map(Value::as_object)
            .any(|r| r.keys().any(|k| key_schemes.contains(k)))
    });
    let method_responses = super::openapi_responses::method_responses(op);
    let method_integration = match op.get("x-amazon-apigateway-integration") {
        None => None,
        Some(x) => Some(checked(integration(x)?)?),
    };
    Ok(Method {
        http_method: verb.to_string(),
        authorization_type: "NONE".into(),
        api_key_required,
        operation_name: op
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_string),
        method_responses,
        method_integration,
        ..Method::default()
    })
}

fn integration(x: &Value) -> Result<Integration, ApiError> {
    let text = |k: &str| x.get(k).and_then(Value::as_str).map(str::to_string);
    let map = |k: &str| -> BTreeMap<String, String> {
        x.get(k)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    };
    let kind = text("type")
        .ok_or_else(|| {
            ApiError::BadRequest("x-amazon-apigateway-integration: `type` is required".into())
        })?
        .to_ascii_uppercase();
    // AWS's documents spell it in lower case (`when_no_match`), its API in
    // upper case, the only spelling the data plane reads.
    let passthrough_behavior = text("passthroughBehavior").map(|p| p.to_ascii_uppercase());
    Ok(Integration {
        kind,
        http_method: text("httpMethod").map(|m| m.to_ascii_uppercase()),
        uri: text("uri"),
        connection_type: text("connectionType"),
        connection_id: text("connectionId"),
        request_parameters: map("requestParameters"),
        request_templates: map("requestTemplates"),
        passthrough_behavior,
        timeout_in_millis: x
            .get("timeoutInMillis")
            .and_then(Value::as_i64)
            .unwrap_or(29_000),
        cache_namespace: text("cacheNamespace"),
        cache_key_parameters: x
            .get("cacheKeyParameters")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        credentials: text("credentials"),
        content_handling: text("contentHandling"),
        tls_config: x.get("tlsConfig").filter(|v| !v.is_null()).cloned(),
        integration_responses: super::openapi_responses::integration_responses(x),
    })
}

/// Refuses what PutIntegration and PutIntegrationResponse refuse (a
/// template that does not compile, a parameter mapping that is not AWS's
/// syntax): imported, it would deploy a method that can only fail.
fn checked(i: Integration) -> Result<Integration, ApiError> {
    super::execution::check_templates(&i.request_templates)?;
    super::execution::check_parameters(&i.request_parameters)?;
    for r in i.integration_responses.values() {
        super::execution::check_templates(&r.response_templates)?;
    }
    Ok(i)
}

/// The deployed API as an OpenAPI 3.0 (`oas30`) or Swagger 2.0 document.
fn export(doc: &ApiDoc, stage: &str, oas30: bool, with_integrations: bool) -> Value {
    let mut paths = Map::new();
    let mut any_key = false;
    for r in &doc.resources {
        if r.resource_methods.is_empty() {
            continue;
        }
        let mut item = Map::new();
        for (verb, m) in &r.resource_methods {
            let key = VERBS
                .iter()
                .find(|(_, v)| v == verb)
                .map_or("x-amazon-apigateway-any-method", |(k, _)| *k);
            let mut op = Map::new();
            if let Some(n) = &m.operation_name {
                op.insert("operationId".into(), json!(n));
            }
            let mut params: Vec<Value> = r
                .path
                .split('/')
                .filter_map(|p| p.strip_prefix('{')?.strip_suffix('}'))
                .map(|p| p.trim_end_matches('+'))
                .map(|p| {
                    if oas30 {
                        json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}})
                    } else {
                        json!({"name": p, "in": "path", "required": true, "type": "string"})
                    }
                })
                .collect();
            params.extend(query_and_header_parameters(m, oas30));
            if !params.is_empty() {
                op.insert("parameters".into(), Value::Array(params));
            }
            let local = if oas30 {
                "#/components/schemas/"
            } else {
                "#/definitions/"
            };
            let mut responses = Map::new();
            for (code, mr) in &m.method_responses {
                let r = super::openapi_responses::export_method_response(mr, oas30, local);
                responses.insert(code.clone(), r);
            }
            if responses.is_empty() {
                responses.insert("200".into(), json!({"description": "200 response"}));
            }
            op.insert("responses".into(), Value::Object(responses));
            let mut security = Vec::new();
            if m.api_key_required {
                any_key = true;
                security.push(json!({"api_key": []}));
            }
            security.extend(super::openapi_authorizers::requirement(doc, m));
            if !security.is_empty() {
                op.insert("security".into(), Value::Array(security));
            }
            if let (true, Some(i)) = (with_integrations, &m.method_integration) {
                op.insert(
                    "x-amazon-apigateway-integration".into(),
                    integration_extension(i),
                );
            }
            item.insert(key.to_string(), Value::Object(op));
        }
        paths.insert(r.path.clone(), Value::Object(item));
    }
    let mut info = Map::new();
    info.insert("title".into(), json!(doc.api.name));
    info.insert(
        "version".into(),
        json!(doc.api.version.clone().unwrap_or_else(|| "1".into())),
    );
    if let Some(d) = &doc.api.description {
        info.insert("description".into(), json!(d));
    }
    let mut key_scheme = Map::new();
    if any_key {
        key_scheme.insert(
            "api_key".into(),
            json!({"type": "apiKey", "name": "x-api-key", "in": "header"}),
        );
    }
    super::openapi_authorizers::export(doc, &mut key_scheme);
    let mut out = Map::new();
    if oas30 {
        out.insert("openapi".into(), json!("3.0.1"));
        out.insert("info".into(), Value::Object(info));
        out.insert(
            "servers".into(),
            json!([{"url": format!("/restapis/{}/{stage}/_user_request_", doc.api.id)}]),
        );
        out.insert("paths".into(), Value::Object(paths));
        if !key_scheme.is_empty() {
            out.insert("components".into(), json!({"securitySchemes": key_scheme}));
        }
    } else {
        out.insert("swagger".into(), json!("2.0"));
        out.insert("info".into(), Value::Object(info));
        out.insert(
            "basePath".into(),
            json!(format!("/restapis/{}/{stage}/_user_request_", doc.api.id)),
        );
        out.insert("schemes".into(), json!(["http"]));
        out.insert("paths".into(), Value::Object(paths));
        if !key_scheme.is_empty() {
            out.insert("securityDefinitions".into(), Value::Object(key_scheme));
        }
    }
    if with_integrations {
        out.insert(
            "x-amazon-apigateway-api-key-source".into(),
            json!(doc.api.api_key_source),
        );
        if !doc.api.binary_media_types.is_empty() {
            out.insert(
                "x-amazon-apigateway-binary-media-types".into(),
                json!(doc.api.binary_media_types),
            );
        }
        if let Some(g) = super::gateway_responses::export_openapi(doc) {
            out.insert("x-amazon-apigateway-gateway-responses".into(), g);
        }
    }
    super::models::export_openapi(doc, oas30, with_integrations, &mut out);
    Value::Object(out)
}

/// The method's query string and header parameters (`method.request.*`,
/// required as declared): what a request validator checks, so an export
/// that dropped them would import as an API that validates less.
fn query_and_header_parameters(m: &Method, oas30: bool) -> impl Iterator<Item = Value> + '_ {
    m.request_parameters.iter().filter_map(move |(k, required)| {
        let rest = k.strip_prefix("method.request.")?;
        let (place, name) = rest.split_once('.')?;
        let place = match place {
            "querystring" => "query",
            "header" => "header",
            _ => return None,
        };
        Some(if oas30 {
            json!({"name": name, "in": place, "required": required, "schema": {"type": "string"}})
        } else {
            json!({"name": name, "in": place, "required": required, "type": "string"})
        })
    })
}

fn integration_extension(i: &Integration) -> Value {
    let mut x = Map::new();
    x.insert("type".into(), json!(i.kind.to_ascii_lowercase()));
    let mut optional = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            x.insert(k.into(), json!(v));
        }
    };
    optional("httpMethod", &i.http_method);
    optional("uri", &i.uri);
    optional("connectionType", &i.connection_type);
    optional("connectionId", &i.connection_id);
    optional("credentials", &i.credentials);
    optional("contentHandling", &i.content_handling);
    optional("cacheNamespace", &i.cache_namespace);
    if !i.request_parameters.is_empty() {
        x.insert("requestParameters".into(), json!(i.request_parameters));
    }
    if !i.request_templates.is_empty() {
        x.insert("requestTemplates".into(), json!(i.request_templates));
    }
    if let Some(p) = &i.passthrough_behavior {
        x.insert("passthroughBehavior".into(), json!(p.to_ascii_lowercase()));
    }
    if let Some(c) = &i.content_handling {
        x.insert("contentHandling".into(), json!(c));
    }
    x.insert("timeoutInMillis".into(), json!(i.timeout_in_millis));
    if !i.cache_key_parameters.is_empty() {
        x.insert("cacheKeyParameters".into(), json!(i.cache_key_parameters));
    }
    if let Some(t) = &i.tls_config {
        x.insert("tlsConfig".into(), t.clone());
    }
    if !i.integration_responses.is_empty() {
        let rs = super::openapi_responses::export_integration_responses(&i.integration_responses);
        x.insert("responses".into(), Value::Object(rs));
    }
    Value::Object(x)
}
