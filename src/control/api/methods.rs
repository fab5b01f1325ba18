//! Methods of a resource, their method responses, integrations and
//! integration responses: PutMethod … DeleteIntegrationResponse, with
//! UpdateMethodResponse and UpdateIntegrationResponse.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::error::ApiError;
use super::method_responses::{check_integration_response, check_method_response};
use super::model::{ApiDoc, Integration, IntegrationResponse, Method, MethodResponse, Resource};
use super::patch::patch_entry;
use super::{unescape, Call, ControlPlane, Reply};

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];
const INTEGRATION_TYPES: &[&str] = &["HTTP", "HTTP_PROXY", "MOCK", "AWS", "AWS_PROXY"];
const METHOD_PATHS: &[&str] = &[
    "/apiKeyRequired",
    "/authorizationType",
    "/authorizerId",
    "/operationName",
    "/requestParameters/{name}",
    "/requestValidatorId",
    "/requestModels/{contentType}",
    "/authorizationScopes",
];
const INTEGRATION_PATHS: &[&str] = &[
    "/uri",
    "/httpMethod",
    "/timeoutInMillis",
    "/passthroughBehavior",
    "/credentials",
    "/contentHandling",
    "/requestTemplates/{contentType}",
    "/requestParameters/{name}",
    "/cacheKeyParameters/{name}",
    "/connectionType",
    "/connectionId",
];

impl ControlPlane {
    /// Runs `f` on the method the call names; its change is stored.
    fn edit_method<T>(
        &mut self,
        c: &Call<'_>,
        f: impl FnOnce(&mut Method) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut doc = self.api(c)?;
        let r = resource_mut(&mut doc, c)?;
        let m = r
            .resource_methods
            .get_mut(c.param("http_method"))
            .ok_or_else(|| ApiError::NotFound("Invalid Method identifier specified".into()))?;
        let out = f(m)?;
        self.store.put_api(&doc)?;
        Ok(out)
    }

    pub(super) fn put_method(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let verb = c.param("http_method").to_string();
        if !METHODS.contains(&verb.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "Invalid HttpMethod specified. Valid options are {}",
                METHODS.join(",")
            )));
        }
        let authorization_type = c.required_str("authorizationType")?;
        let r = resource_mut(&mut doc, c)?;
        if r.resource_methods.contains_key(&verb) {
            return Err(ApiError::Conflict(
                "Method already exists for this resource".into(),
            ));
        }
        let m = Method {
            http_method: verb.clone(),
            authorization_type,
            authorizer_id: c.str("authorizerId"),
            api_key_required: c
                .body
                .get("apiKeyRequired")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            operation_name: c.str("operationName"),
            request_parameters: c.map("requestParameters")?,
            request_models: c.map("requestModels")?,
            request_validator_id: c.str("requestValidatorId"),
            method_responses: Default::default(),
            method_integration: None,
            authorization_scopes: c.strings("authorizationScopes"),
        };
        r.resource_methods.insert(verb, m.clone());
        check_references(&doc, &m)?;
        self.store.put_api(&doc)?;
        Ok((201, json!(m)))
    }

    pub(super) fn get_method(&mut self, c: &Call<'_>) -> Reply {
        let m = self.read_method(c)?;
        Ok((200, json!(m)))
    }

    pub(super) fn update_method(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let doc = self.api(c)?;
        for op in ops.iter().filter(|op| op.op != "remove") {
            let named = Method {
                request_validator_id: (op.path == "/requestValidatorId")
                    .then(|| op.value.clone().filter(|v| !v.is_empty()))
                    .flatten(),
                request_models: op
                    .path
                    .starts_with("/requestModels/")
                    .then(|| op.value.clone().map(|v| (String::new(), v)))
                    .flatten()
                    .into_iter()
                    .collect(),
                ..Method::default()
            };
            check_references(&doc, &named)?;
        }
        let authorizers = doc.authorizers.clone();
        let m = self.edit_method(c, |m| {
            for op in &ops {
                match (op.op.as_str(), op.path.as_str()) {
                    ("replace", "/apiKeyRequired") => m.api_key_required = op.bool()?,
                    ("replace", "/authorizationType") => {
                        m.authorization_type = op.value()?.to_string()
                    }
                    ("replace", "/authorizerId") => m.authorizer_id = op.value.clone(),
                    ("replace", "/operationName") => m.operation_name = op.value.clone(),
                    ("replace", "/requestValidatorId") => {
                        m.request_validator_id = op.value.clone().filter(|v| !v.is_empty())
                    }
                    ("add", "/authorizationScopes") => {
                        let scope = op.value()?.to_string();
                        if !m.authorization_scopes.contains(&scope) {
                            m.authorization_scopes.push(scope);
                        }
                    }
                    ("remove", "/authorizationScopes") => match op.value.as_deref() {
                        Some(v) => m.authorization_scopes.retain(|s| s != v),
                        None => m.authorization_scopes.clear(),
                    },
                    _ => patch_entry(&mut m.request_parameters, "/requestParameters/", op, |op| {
                        Ok(op.value.as_deref() == Some("true"))
                    })
                    .or_else(|| {
                        patch_entry(&mut m.request_models, "/requestModels/", op, |op| {
                            op.value().map(str::to_string)
                        })
                    })
                    .unwrap_or_else(|| Err(op.unsupported(METHOD_PATHS)))?,
                }
            }
            super::authorizers::check_method(&authorizers, m)?;
            Ok(m.clone())
        })?;
        Ok((200, json!(m)))
    }

    pub(super) fn delete_method(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let r = resource_mut(&mut doc, c)?;
        if r.resource_methods.remove(c.param("http_method")).is_none() {
            return Err(ApiError::NotFound(
                "Invalid Method identifier specified".into(),
            ));
        }
        self.store.put_api(&doc)?;
        Ok((204, Value::Null))
    }

    pub(super) fn put_method_response(&mut self, c: &Call<'_>) -> Reply {
        let status = status_code(c)?;
        let mr = MethodResponse {
            status_code: status.clone(),
            response_parameters: c.map("responseParameters")?,
            response_models: c.map("responseModels")?,
        };
        check_method_response(&mr)?;
        let stored = mr.clone();
        self.edit_method(c, |m| {
            m.method_responses.insert(status, stored);
            Ok(())
        })?;
        Ok((201, json!(mr)))
    }

    pub(super) fn get_method_response(&mut self, c: &Call<'_>) -> Reply {
        let m = self.read_method(c)?;
        Ok((200, json!(by_status(&m.method_responses, c)?)))
    }

    pub(super) fn update_method_response(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let code = c.param("status_code").to_string();
        let mr = self.edit_method(c, |m| {
            let mr = m.method_responses.get_mut(&code).ok_or_else(no_status)?;
            for op in &ops {
                patch_entry(
                    &mut mr.response_parameters,
                    "/responseParameters/",
                    op,
                    |op| Ok(op.value.as_deref() == Some("true")),
                )
                .or_else(|| {
                    patch_entry(&mut mr.response_models, "/responseModels/", op, |op| {
                        op.value().map(str::to_string)
                    })
                })
                .unwrap_or_else(|| Err(op.unsupported(METHOD_RESPONSE_PATHS)))?;
            }
            check_method_response(mr)?;
            Ok(mr.clone())
        })?;
        Ok((201, json!(mr)))
    }

    pub(super) fn delete_method_response(&mut self, c: &Call<'_>) -> Reply {
        let code = c.param("status_code").to_string();
        self.edit_method(c, |m| {
            m.method_responses
                .remove(&code)
                .map(|_| ())
                .ok_or_else(no_status)
        })?;
        Ok((204, Value::Null))
    }

    pub(super) fn put_integration(&mut self, c: &Call<'_>) -> Reply {
        let kind = c.required_str("type")?;
        if !INTEGRATION_TYPES.contains(&kind.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "Invalid integration type specified. Valid options are {}",
                INTEGRATION_TYPES.join(",")
            )));
        }
        let i = Integration {
            http_method: c.str("httpMethod"),
            uri: c.str("uri"),
            connection_type: c.str("connectionType"),
            connection_id: c.str("connectionId"),
            request_parameters: c.map("requestParameters")?,
            request_templates: c.map("requestTemplates")?,
            passthrough_behavior: c.str("passthroughBehavior"),
            timeout_in_millis: c
                .body
                .get("timeoutInMillis")
                .and_then(Value::as_i64)
                .unwrap_or(29_000),
            cache_namespace: c.str("cacheNamespace"),
            cache_key_parameters: c.strings("cacheKeyParameters"),
            credentials: c.str("credentials"),
            content_handling: c.str("contentHandling"),
            tls_config: c.body.get("tlsConfig").filter(|v| !v.is_null()).cloned(),
            integration_responses: Default::default(),
            kind,
        };
        check_integration(&i)?;
        super::execution::check_templates(&i.request_templates)?;
        super::execution::check_parameters(&i.request_parameters)?;
        super::vpc_links::check_connection(&i, &self.vpc_link_ids()?)?;
        let stored = i.clone();
        self.edit_method(c, |m| {
            super::execution::check_declared(&stored, m)?;
            m.method_integration = Some(stored);
            Ok(())
        })?;
        Ok((201, json!(i)))
    }

    pub(super) fn get_integration(&mut self, c: &Call<'_>) -> Reply {
        let m = self.read_method(c)?;
        let i = m.method_integration.ok_or_else(no_integration)?;
        Ok((200, json!(i)))
    }

    pub(super) fn update_integration(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let links = self.vpc_link_ids()?;
        let i = self.edit_method(c, |m| {
            let mut i = m.method_integration.clone().ok_or_else(no_integration)?;
            for op in &ops {
                match (op.op.as_str(), op.path.as_str()) {
                    ("replace", "/uri") => i.uri = op.value.clone(),
                    ("replace", "/connectionType") => i.connection_type = op.value.clone(),
                    ("replace", "/connectionId") => i.connection_id = op.value.clone(),
                    ("replace", "/httpMethod") => i.http_method = op.value.clone(),
                    ("replace", "/timeoutInMillis") => {
                        i.timeout_in_millis = op
                            .value()?
                            .parse()
                            .map_err(|_| ApiError::BadRequest("Invalid timeoutInMillis".into()))?
                    }
                    ("replace", "/credentials") => i.credentials = op.value.clone(),
                    ("replace", "/contentHandling") => i.content_handling = op.value.clone(),
                    ("replace", "/passthroughBehavior") => {
                        i.passthrough_behavior = op.value.clone()
                    }
                    ("add", p) if p.starts_with("/cacheKeyParameters/") => {
                        let k = unescape(&p["/cacheKeyParameters/".len()..]);
                        if !i.cache_key_parameters.contains(&k) {
                            i.cache_key_parameters.push(k);
                        }
                    }
                    ("remove", p) if p.starts_with("/cacheKeyParameters/") => {
                        let k = unescape(&p["/cacheKeyParameters/".len()..]);
                        i.cache_key_parameters.retain(|x| *x != k);
                    }
                    _ => patch_entry(&mut i.request_templates, "/requestTemplates/", op, |op| {
                        Ok(op.value.clone().unwrap_or_default())
                    })
                    .or_else(|| {
                        patch_entry(&mut i.request_parameters, "/requestParameters/", op, |op| {
                            op.value().map(str::to_string)
                        })
                    })
                    .unwrap_or_else(|| Err(op.unsupported(INTEGRATION_PATHS)))?,
                }
            }
            check_integration(&i)?;
            super::execution::check_templates(&i.request_templates)?;
            super::execution::check_parameters(&i.request_parameters)?;
            super::execution::check_declared(&i, m)?;
            super::vpc_links::check_connection(&i, &links)?;
            m.method_integration = Some(i.clone());
            Ok(i)
        })?;
        Ok((200, json!(i)))
    }

    pub(super) fn delete_integration(&mut self, c: &Call<'_>) -> Reply {
        self.edit_method(c, |m| {
            m.method_integration
                .take()
                .map(|_| ())
                .ok_or_else(no_integration)
        })?;
        Ok((204, Value::Null))
    }

    pub(super) fn put_integration_response(&mut self, c: &Call<'_>) -> Reply {
        let status = status_code(c)?;
        let ir = IntegrationResponse {
            status_code: status.clone(),
            selection_pattern: c.str("selectionPattern"),
            response_parameters: c.map("responseParameters")?,
            response_templates: c.map("responseTemplates")?,
            content_handling: c.str("contentHandling"),
        };
        super::execution::check_templates(&ir.response_templates)?;
        let stored = ir.clone();
        self.edit_method(c, |m| {
            let i = m.method_integration.as_mut().ok_or_else(no_integration)?;
            check_integration_response(&stored, &m.method_responses)?;
            i.integration_responses.insert(status, stored);
            Ok(())
        })?;
        Ok((201, json!(ir)))
    }

    pub(super) fn get_integration_response(&mut self, c: &Call<'_>) -> Reply {
        let m = self.read_method(c)?;
        let i = m.method_integration.ok_or_else(no_integration)?;
        Ok((200, json!(by_status(&i.integration_responses, c)?)))
    }

    pub(super) fn update_integration_response(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let code = c.param("status_code").to_string();
        let ir = self.edit_method(c, |m| {
            let i = m.method_integration.as_mut().ok_or_else(no_integration)?;
            let ir = i
                .integration_responses
                .get_mut(&code)
                .ok_or_else(no_status)?;
            for op in &ops {
                if (op.op.as_str(), op.path.as_str()) == ("replace", "/selectionPattern") {
                    ir.selection_pattern = op.value.clone();
                    continue;
                }
                if (op.op.as_str(), op.path.as_str()) == ("replace", "/contentHandling") {
                    ir.content_handling = op.value.clone();
                    continue;
                }
                patch_entry(
                    &mut ir.response_parameters,
                    "/responseParameters/",
                    op,
                    |op| op.value().map(str::to_string),
                )
                .or_else(|| {
                    patch_entry(
                        &mut ir.response_templates,
                        "/responseTemplates/",
                        op,
                        |op| Ok(op.value.clone().unwrap_or_default()),
                    )
                })
                .unwrap_or_else(|| Err(op.unsupported(INTEGRATION_RESPONSE_PATHS)))?;
            }
            super::execution::check_templates(&ir.response_templates)?;
            check_integration_response(ir, &m.method_responses)?;
            Ok(ir.clone())
        })?;
        Ok((200, json!(ir)))
    }

    pub(super) fn delete_integration_response(&mut self, c: &Call<'_>) -> Reply {
        let code = c.param("status_code").to_string();
        self.edit_method(c, |m| {
            let i = m.method_integration.as_mut().ok_or_else(no_integration)?;
            i.integration_responses
                .remove(&code)
                .map(|_| ())
                .ok_or_else(no_status)
        })?;
        Ok((204, Value::Null))
    }

    fn read_method(&self, c: &Call<'_>) -> Result<Method, ApiError> {
        let doc = self.api(c)?;
        let r = super::resources::resource(&doc, c.param("resource_id"))?;
        r.resource_methods
            .get(c.param("http_method"))
            .cloned()
            .ok_or_else(|| ApiError::NotFound("Invalid Method identifier specified".into()))
    }
}

/// The resource the call's `resource_id` names, to change.
fn resource_mut<'d>(doc: &'d mut ApiDoc, c: &Call<'_>) -> Result<&'d mut Resource, ApiError> {
    let rid = c.param("resource_id");
    doc.resources
        .iter_mut()
        .find(|r| r.id == rid)
        .ok_or_else(ApiError::no_resource)
}

/// The response the call's `status_code` names.
fn by_status<'m, T>(responses: &'m BTreeMap<String, T>, c: &Call<'_>) -> Result<&'m T, ApiError> {
    responses.get(c.param("status_code")).ok_or_else(no_status)
}

const METHOD_RESPONSE_PATHS: &[&str] = &["/responseParameters/{name}", "/responseModels/{type}"];
const INTEGRATION_RESPONSE_PATHS: &[&str] = &[
    "/selectionPattern",
    "/contentHandling",
    "/responseParameters/{name}",
    "/responseTemplates/{type}",
];

fn no_status() -> ApiError {
    ApiError::NotFound("Invalid Response status code specified".into())
}

fn no_integration() -> ApiError {
    ApiError::NotFound("No integration defined for method".into())
}

fn status_code(c: &Call<'_>) -> Result<String, ApiError> {
    let s = c.param("status_code");
    if s.len() == 3
        && s.starts_with(|d: char| ('1'..='5').contains(&d))
        && s.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(s.to_string())
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid status code specified: {s}"
        )))
    }
}

/// HTTP integrations need an http(s) URI and a method, AWS_PROXY ones a
/// Lambda invocation ARN, AWS service ones a role; timeouts are 50 ms to 29 s.
fn check_integration(i: &Integration) -> Result<(), ApiError> {
    // AWS: an HTTP or AWS integration calls its backend with a method of its own.
    if matches!(i.kind.as_str(), "HTTP" | "HTTP_PROXY" | "AWS" | "AWS_PROXY")
        && i.http_method.as_deref().is_none_or(str::is_empty)
    {
        return Err(ApiError::BadRequest(
            "Enumeration value for HttpMethod must be non-empty".into(),
        ));
    }
    // AWS's own words for each refusal.
    let uri = i.uri.as_deref().unwrap_or_default();
    if matches!(i.kind.as_str(), "AWS" | "AWS_PROXY") {
        if !uri.starts_with("arn:aws:apigateway:") {
            return Err(ApiError::BadRequest(
                "Invalid ARN specified in the request".into(),
            ));
        }
        let lambda = super::publish::lambda_function(uri).is_ok();
        if i.kind == "AWS_PROXY" && uri.contains(":firehose:") {
            return Err(ApiError::BadRequest(
                "portico serves AWS_PROXY integrations of Lambda functions, not of Firehose streams"
                    .into(),
            ));
        }
        if i.kind == "AWS_PROXY" && !lambda {
            return Err(ApiError::BadRequest(
                "Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.".into(),
            ));
        }
        // S3 has no resource policy API Gateway can use: it must act as a
        // role (where AWS refuses, as moto records it).
        if i.kind == "AWS"
            && uri.split(':').nth(4) == Some("s3")
            && i.credentials.as_deref().is_none_or(str::is_empty)
        {
            return Err(ApiError::BadRequest(
                "Role ARN must be specified for AWS integrations".into(),
            ));
        }
    }
    if matches!(i.kind.as_str(), "HTTP" | "HTTP_PROXY")
        && !(uri.starts_with("http://") || uri.starts_with("https://"))
    {
        return Err(ApiError::BadRequest(
            "Invalid HTTP endpoint specified for URI".into(),
        ));
    }
    if !(50..=29_000).contains(&i.timeout_in_millis) {
        return Err(ApiError::BadRequest(
            "Timeout should be between 50 ms and 29000 ms".into(),
        ));
    }
    Ok(())
}

/// A method's `requestValidatorId` and `requestModels` must name ones the
/// API has.
fn check_references(doc: &ApiDoc, m: &Method) -> Result<(), ApiError> {
    if let Some(id) = &m.request_validator_id {
        if !super::validators::exists(doc, id) {
            return Err(ApiError::BadRequest(
                "Invalid Request Validator identifier specified".into(),
            ));
        }
    }
    super::authorizers::check_method(&doc.authorizers, m)?;
    for name in m.request_models.values() {
        if !super::models::exists(doc, name) {
            return Err(ApiError::BadRequest(format!(
                "Invalid model identifier specified: {name}"
            )));
        }
    }
    Ok(())
}
