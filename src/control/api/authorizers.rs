//! Authorizers of a REST API: CreateAuthorizer, GetAuthorizer(s),
//! UpdateAuthorizer, DeleteAuthorizer, FlushStageAuthorizersCache.
//!
//! Like models and request validators they live in the API's document
//! (`ApiDoc::authorizers`), so a deployment snapshots them with the
//! methods that name them; `publish` turns a deployed TOKEN or REQUEST
//! authorizer into the config file's `AuthorizerConfig`, so the data
//! plane runs the same engine for both.

use serde_json::{json, Value};

use crate::config::{AuthorizerConfig, PayloadVersion};

use super::error::ApiError;
use super::model::{ApiDoc, Authorizer, Method, Page};
use super::{page, Call, ControlPlane, Reply};

const AUTHORIZER_PATHS: &[&str] = &[
    "/name",
    "/type",
    "/providerARNs",
    "/authType",
    "/authorizerUri",
    "/authorizerCredentials",
    "/identitySource",
    "/identityValidationExpression",
    "/authorizerResultTtlInSeconds",
];

const TYPES: &[&str] = &["TOKEN", "REQUEST", "COGNITO_USER_POOLS"];

impl ControlPlane {
    pub(super) fn create_authorizer(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let ttl = match c.body.get("authorizerResultTtlInSeconds") {
            None | Some(Value::Null) => 300,
            Some(v) => v.as_i64().ok_or_else(|| {
                ApiError::BadRequest("Invalid authorizerResultTtlInSeconds: not an integer".into())
            })?,
        };
        let a = Authorizer {
            id: self.ids.next(6),
            name: c.required_str("name")?,
            kind: c.required_str("type")?,
            provider_arns: c.strings("providerARNs"),
            auth_type: c.str("authType"),
            authorizer_uri: c.str("authorizerUri"),
            authorizer_credentials: c.str("authorizerCredentials"),
            identity_source: c.str("identitySource"),
            identity_validation_expression: c.str("identityValidationExpression"),
            authorizer_result_ttl_in_seconds: Some(ttl),
        };
        validate(&a)?;
        if doc.authorizers.iter().any(|x| x.name == a.name) {
            return Err(ApiError::Conflict(format!(
                "Authorizer with name {} already exists",
                a.name
            )));
        }
        doc.authorizers.push(a.clone());
        self.store.put_api(&doc)?;
        Ok((201, json!(a)))
    }

    pub(super) fn get_authorizer(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let i = index(&doc, c.param("authorizer_id"))?;
        Ok((200, json!(doc.authorizers[i])))
    }

    pub(super) fn get_authorizers(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let (item, position) = page(doc.authorizers, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_authorizer(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut doc = self.api(c)?;
        let i = index(&doc, c.param("authorizer_id"))?;
        let mut a = doc.authorizers[i].clone();
        for op in &ops {
            let v = || op.value.clone().filter(|v| !v.is_empty());
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/name") => a.name = op.value()?.to_string(),
                ("replace", "/type") => a.kind = op.value()?.to_string(),
                ("replace", "/providerARNs") => {
                    a.provider_arns = v().into_iter().collect();
                }
                ("add", p) if p.starts_with("/providerARNs/") => {
                    a.provider_arns
                        .push(super::unescape(&p["/providerARNs/".len()..]));
                }
                ("remove", p) if p.starts_with("/providerARNs/") => {
                    let arn = super::unescape(&p["/providerARNs/".len()..]);
                    a.provider_arns.retain(|x| *x != arn);
                }
                ("replace", "/authType") => a.auth_type = v(),
                ("replace", "/authorizerUri") => a.authorizer_uri = v(),
                ("replace", "/authorizerCredentials") => a.authorizer_credentials = v(),
                ("replace", "/identitySource") => a.identity_source = v(),
                ("replace", "/identityValidationExpression") => {
                    a.identity_validation_expression = v()
                }
                ("replace", "/authorizerResultTtlInSeconds") => {
                    let ttl = op.value()?;
                    a.authorizer_result_ttl_in_seconds = Some(ttl.parse().map_err(|_| {
                        ApiError::BadRequest(format!("Invalid authorizerResultTtlInSeconds: {ttl}"))
                    })?);
                }
                _ => return Err(op.unsupported(AUTHORIZER_PATHS)),
            }
        }
        validate(&a)?;
        if doc
            .authorizers
            .iter()
            .any(|x| x.name == a.name && x.id != a.id)
        {
            return Err(ApiError::Conflict(format!(
                "Authorizer with name {} already exists",
                a.name
            )));
        }
        doc.authorizers[i] = a.clone();
        self.store.put_api(&doc)?;
        Ok((200, json!(a)))
    }

    /// Refused while a method names the authorizer, as AWS does.
    pub(super) fn delete_authorizer(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let id = c.param("authorizer_id").to_string();
        let i = index(&doc, &id)?;
        let used = doc.resources.iter().any(|r| {
            r.resource_methods
                .values()
                .any(|m| m.authorizer_id.as_deref() == Some(id.as_str()))
        });
        if used {
            return Err(ApiError::Conflict(
                "Cannot delete authorizer, is referenced in method".into(),
            ));
        }
        doc.authorizers.remove(i);
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }

    /// Checks the stage exists; the admin listener then empties the
    /// authorizer results on every worker (the control plane has no
    /// mailboxes).
    pub(super) fn flush_stage_authorizers_cache(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let name = c.param("stage_name");
        if self.store.stage(&api, name)?.is_none() {
            return Err(ApiError::NotFound(format!(
                "Invalid Stage identifier specified {name}"
            )));
        }
        Ok((202, Value::Null))
    }
}

/// AWS's rules for an authorizer's settings.
pub(super) fn validate(a: &Authorizer) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::BadRequest(m.to_string()));
    if a.name.is_empty() {
        return bad("Authorizer name must not be empty");
    }
    if !TYPES.contains(&a.kind.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "Invalid authorizer type {}: one of {}",
            a.kind,
            TYPES.join(", ")
        )));
    }
    let ttl = a.authorizer_result_ttl_in_seconds.unwrap_or(300);
    if !(0..=3600).contains(&ttl) {
        return bad("Authorizer result TTL must be between 0 and 3600 seconds");
    }
    match a.kind.as_str() {
        "COGNITO_USER_POOLS" => {
            if a.provider_arns.is_empty() {
                return bad("ProviderARNs need to be specified for COGNITO_USER_POOLS authorizer");
            }
            if a.identity_source.is_none() {
                return bad("IdentitySource must be specified for COGNITO_USER_POOLS authorizer");
            }
        }
        kind => {
            let Some(uri) = &a.authorizer_uri else {
                return bad("AuthorizerUri must be specified for TOKEN and REQUEST authorizers");
            };
            if function_of(uri).is_none() {
                return Err(ApiError::BadRequest(format!(
                    "Invalid authorizer URI {uri}: arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations"
                )));
            }
            let source = a.identity_source.as_deref().unwrap_or("");
            if kind == "TOKEN" && header_of(source).is_none() {
                return bad(
                    "Identity source for TOKEN authorizer must be method.request.header.NAME",
                );
            }
            if kind == "REQUEST" && source.is_empty() && ttl > 0 {
                return bad("Identity source must be specified for REQUEST authorizer when caching is enabled");
            }
        }
    }
    if let Some(re) = &a.identity_validation_expression {
        if regex::Regex::new(re).is_err() {
            return Err(ApiError::BadRequest(format!(
                "Invalid identityValidationExpression {re}"
            )));
        }
    }
    Ok(())
}

/// The Lambda function an authorizer URI invokes:
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`.
pub(super) fn function_of(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("arn:aws:apigateway:")?;
    let (_, rest) = rest.split_once(":lambda:path/2015-03-31/functions/")?;
    let f = rest.strip_suffix("/invocations")?;
    (!f.is_empty()).then_some(f)
}

/// The header of `method.request.header.NAME`.
pub(super) fn header_of(source: &str) -> Option<&str> {
    source
        .trim()
        .strip_prefix("method.request.header.")
        .filter(|h| !h.is_empty())
}

fn index(doc: &ApiDoc, id: &str) -> Result<usize, ApiError> {
    doc.authorizers
        .iter()
        .position(|a| a.id == id)
        .ok_or_else(|| ApiError::NotFound("Invalid Authorizer identifier specified".into()))
}

/// A method with `authorizationType` CUSTOM or COGNITO_USER_POOLS names an
/// authorizer of this API of that kind.
pub(super) fn check_method(authorizers: &[Authorizer], m: &Method) -> Result<(), ApiError> {
    let wanted: &[&str] = match m.authorization_type.as_str() {
        "CUSTOM" => &["TOKEN", "REQUEST"],
        "COGNITO_USER_POOLS" => &["COGNITO_USER_POOLS"],
        _ => return Ok(()),
    };
    let found = m
        .authorizer_id
        .as_deref()
        .and_then(|id| authorizers.iter().find(|a| a.id == id));
    match found {
        None => Err(ApiError::BadRequest(
            "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.".into(),
        )),
        Some(a) if !wanted.contains(&a.kind.as_str()) => Err(ApiError::BadRequest(format!(
            "Unable to set authorization type {} with an authorizer of type {}",
            m.authorization_type, a.kind
        ))),
        Some(_) => Ok(()),
    }
}

/// A deployed authorizer as the config file's: TOKEN and REQUEST run the
/// Lambda authorizer engine through `[aws] lambda_endpoint`.
pub(super) fn to_config(a: &Authorizer) -> Result<AuthorizerConfig, String> {
    if a.kind == "COGNITO_USER_POOLS" {
        return cognito_config(a);
    }
    let function = a
        .authorizer_uri
        .as_deref()
        .and_then(function_of)
        .ok_or("no Lambda function in its authorizerUri")?
        .to_string();
    let ttl_s = a.authorizer_result_ttl_in_seconds.unwrap_or(300).max(0) as u64;
    let source = a.identity_source.as_deref().unwrap_or("");
    match a.kind.as_str() {
        "TOKEN" => Ok(AuthorizerConfig::Token {
            function,
            endpoint: None,
            header: header_of(source)
                .ok_or("its identitySource is not method.request.header.NAME")?
                .to_string(),
            validation_regex: a.identity_validation_expression.clone(),
            ttl_s,
            timeout_ms: TIMEOUT_MS,
        }),
        "REQUEST" => Ok(AuthorizerConfig::Request {
            function,
            endpoint: None,
            identity_sources: source
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            payload_version: PayloadVersion::V1,
            simple_responses: false,
            ttl_s,
            timeout_ms: TIMEOUT_MS,
        }),
        kind => Err(format!("{kind} authorizers are not served")),
    }
}

/// A COGNITO_USER_POOLS authorizer as a JWT authorizer: the pool's
/// issuer and keys, any of its app clients, ID or access tokens.
fn cognito_config(a: &Authorizer) -> Result<AuthorizerConfig, String> {
    let [arn] = a.provider_arns.as_slice() else {
        return Err("only one user pool (providerARNs) is served".into());
    };
    let issuer = cognito_issuer(arn).ok_or("its providerARN is not a user pool's ARN")?;
    Ok(AuthorizerConfig::Jwt {
        jwks_uri: Some(format!("{issuer}/.well-known/jwks.json")),
        issuer,
        audience: Vec::new(),
        jwks_file: None,
        identity_source: a
            .identity_source
            .clone()
            .unwrap_or_else(|| "method.request.header.Authorization".into()),
        leeway_s: 0,
        cognito: true,
    })
}

/// `arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}`'s issuer,
/// `https://cognito-idp.{region}.amazonaws.com/{poolId}`.
pub(super) fn cognito_issuer(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("cognito-idp"), Some(region), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let pool = resource.strip_prefix("userpool/")?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(region) && ok(pool)).then(|| format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

/// How long a Lambda authorizer may take.
const TIMEOUT_MS: u64 = 10_000;
