//! Gateway responses of a REST API: PutGatewayResponse,
//! GetGatewayResponse(s), UpdateGatewayResponse, DeleteGatewayResponse.
//!
//! Stored in the API's document (`ApiDoc::gateway_responses`), so a
//! deployment carries the ones it was made with and the data plane serves
//! them once deployed, as AWS does. Every type not customised reads as
//! AWS's default (`defaultResponse: true`); deleting a customised one
//! returns it to that default.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::model::{ApiDoc, GatewayResponse, Page};
use super::patch::patch_entry;
use super::{page, Call, ControlPlane, Reply};
use crate::config::GatewayResponseConfig;
use crate::http::ResponseType;

const PATHS: &[&str] = &[
    "/statusCode",
    "/responseParameters/{name}",
    "/responseTemplates/{type}",
];

/// The body template of every default gateway response.
const DEFAULT_TEMPLATE: &str = "{\"message\":$context.error.messageString}";
/// ACCESS_DENIED's: a Lambda authorizer's denial says `Message`.
const ACCESS_DENIED_TEMPLATE: &str = "{\"Message\":$context.error.messageString}";

impl ControlPlane {
    pub(super) fn put_gateway_response(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let kind = response_type(c)?;
        let r = GatewayResponse {
            status_code: c.str("statusCode").map(status).transpose()?,
            response_parameters: parameters(c.map("responseParameters")?)?,
            response_templates: c.map("responseTemplates")?,
        };
        check(kind, &r)?;
        doc.gateway_responses.insert(kind.name().into(), r);
        self.store.put_api(&doc)?;
        Ok((201, shape(&doc, kind)))
    }

    pub(super) fn get_gateway_response(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        Ok((200, shape(&doc, response_type(c)?)))
    }

    pub(super) fn get_gateway_responses(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let all: Vec<Value> = ResponseType::ALL.iter().map(|t| shape(&doc, *t)).collect();
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    /// A type not customised yet starts from nothing, as PutGatewayResponse
    /// with no fields would make it.
    pub(super) fn update_gateway_response(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut doc = self.api(c)?;
        let kind = response_type(c)?;
        let mut r = doc
            .gateway_responses
            .get(kind.name())
            .cloned()
            .unwrap_or_default();
        for op in &ops {
            if op.path == "/statusCode" {
                r.status_code = match op.op.as_str() {
                    "replace" | "add" => Some(status(op.value()?.to_string())?),
                    "remove" => None,
                    _ => return Err(op.unsupported(PATHS)),
                };
                continue;
            }
            let done = patch_entry(
                &mut r.response_parameters,
                "/responseParameters/",
                op,
                |op| op.value().map(str::to_string),
            )
            .or_else(|| {
                patch_entry(&mut r.response_templates, "/responseTemplates/", op, |op| {
                    op.value().map(str::to_string)
                })
            });
            match done {
                Some(result) => result?,
                None => return Err(op.unsupported(PATHS)),
            }
        }
        r.response_parameters = parameters(std::mem::take(&mut r.response_parameters))?;
        check(kind, &r)?;
        doc.gateway_responses.insert(kind.name().into(), r);
        self.store.put_api(&doc)?;
        Ok((200, shape(&doc, kind)))
    }

    pub(super) fn delete_gateway_response(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let kind = response_type(c)?;
        if doc.gateway_responses.remove(kind.name()).is_none() {
            return Err(ApiError::NotFound(
                "Invalid Gateway Response identifier specified".into(),
            ));
        }
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }
}

fn response_type(c: &Call<'_>) -> Result<ResponseType, ApiError> {
    let name = c.param("response_type");
    ResponseType::parse(name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "Invalid response type specified: {name}. Must be one of: [{}]",
            ResponseType::ALL.map(ResponseType::name).join(", ")
        ))
    })
}

fn status(s: String) -> Result<String, ApiError> {
    let ok = s.len() == 3
        && s.starts_with(|d: char| ('1'..='5').contains(&d))
        && s.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(s)
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid status code specified: {s}"
        )))
    }
}

/// `gatewayresponse.header.NAME` keys only: a gateway response sets headers.
fn parameters(p: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    for k in p.keys() {
        if !k.starts_with("gatewayresponse.header.") {
            return Err(ApiError::BadRequest(format!(
                "Invalid mapping expression specified: {k}. Response parameters of a gateway response are gatewayresponse.header.NAME"
            )));
        }
    }
    Ok(p)
}

/// What the data plane would refuse is refused by the call.
fn check(kind: ResponseType, r: &GatewayResponse) -> Result<(), ApiError> {
    let mut one = BTreeMap::new();
    one.insert(kind.name().to_string(), toml::Spanned::new(0..0, config(r)));
    crate::snapshot::GatewayResponses::compile(&one)
        .map(|_| ())
        .map_err(|(_, m)| ApiError::BadRequest(format!("Invalid gateway response: {m}")))
}

/// The stored response as the data plane's config.
fn config(r: &GatewayResponse) -> GatewayResponseConfig {
    GatewayResponseConfig {
        status: r.status_code.as_deref().and_then(|s| s.parse().ok()),
        headers: r
            .response_parameters
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("gatewayresponse.header.")?;
                Some((name.to_string(), v.clone()))
            })
            .collect(),
        templates: r.response_templates.clone(),
    }
}

/// What a deployed API's gateway responses serve (see `publish.rs`).
pub(super) fn configs(doc: &ApiDoc) -> BTreeMap<String, toml::Spanned<GatewayResponseConfig>> {
    doc.gateway_responses
        .iter()
        .map(|(k, r)| (k.clone(), toml::Spanned::new(0..0, config(r))))
        .collect()
}

/// AWS's `GatewayResponse`: the customised one, else the default.
fn shape(doc: &ApiDoc, kind: ResponseType) -> Value {
    let mut out = Map::new();
    out.insert("responseType".into(), json!(kind.name()));
    match doc.gateway_responses.get(kind.name()) {
        Some(r) => {
            if let Some(s) = &r.status_code {
                out.insert("statusCode".into(), json!(s));
            }
            if !r.response_parameters.is_empty() {
                out.insert("responseParameters".into(), json!(r.response_parameters));
            }
            if !r.response_templates.is_empty() {
                out.insert("responseTemplates".into(), json!(r.response_templates));
            }
            out.insert("defaultResponse".into(), json!(false));
        }
        None => {
            if let Some(s) = kind.default_status() {
                out.insert("statusCode".into(), json!(s.to_string()));
            }
            out.insert("responseParameters".into(), json!({}));
            let template = match kind {
                ResponseType::AccessDenied => ACCESS_DENIED_TEMPLATE,
                _ => DEFAULT_TEMPLATE,
            };
            out.insert(
                "responseTemplates".into(),
                json!({ "application/json": template }),
            );
            out.insert("defaultResponse".into(), json!(true));
        }
    }
    Value::Object(out)
}

/// `x-amazon-apigateway-gateway-responses` of an OpenAPI document (its
/// `statusCode` a number or a string); a type it does not know is skipped.
pub(super) fn import_openapi(doc: &mut ApiDoc, d: &Value) -> Result<(), ApiError> {
    let declared = d
        .get("x-amazon-apigateway-gateway-responses")
        .and_then(Value::as_object);
    for (name, x) in declared.into_iter().flatten() {
        let Some(kind) = ResponseType::parse(name) else {
            continue;
        };
        let map = |k: &str| -> BTreeMap<String, String> {
            x.get(k)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default()
        };
        let r = GatewayResponse {
            status_code: match x.get("statusCode") {
                Some(Value::Number(n)) => Some(status(n.to_string())?),
                Some(Value::String(s)) => Some(status(s.clone())?),
                _ => None,
            },
            response_parameters: parameters(map("responseParameters"))?,
            response_templates: map("responseTemplates"),
        };
        check(kind, &r)?;
        doc.gateway_responses.insert(kind.name().into(), r);
    }
    Ok(())
}

/// The customised responses as `x-amazon-apigateway-gateway-responses`.
pub(super) fn export_openapi(doc: &ApiDoc) -> Option<Value> {
    if doc.gateway_responses.is_empty() {
        return None;
    }
    Some(json!(doc.gateway_responses))
}
