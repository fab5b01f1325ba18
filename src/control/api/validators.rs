//! Request validators of a REST API: CreateRequestValidator,
//! GetRequestValidator(s), UpdateRequestValidator, DeleteRequestValidator.
//!
//! Like models (see `models.rs` for why), they live in the API's document
//! (`ApiDoc::request_validators`), next to the methods whose
//! `requestValidatorId` names them. Publishing turns a method's validator
//! into its route's validation (`request_validation.rs`).

use serde_json::{json, Value};

use super::error::ApiError;
use super::model::{ApiDoc, Page, RequestValidator};
use super::{page, Call, ControlPlane, Reply};

const VALIDATOR_PATHS: &[&str] = &[
    "/name",
    "/validateRequestBody",
    "/validateRequestParameters",
];

impl ControlPlane {
    pub(super) fn create_request_validator(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let flag = |k: &str| -> Result<bool, ApiError> {
            match c.body.get(k) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(ApiError::BadRequest(format!("Invalid {k}: not a boolean"))),
            }
        };
        let v = RequestValidator {
            id: self.ids.next(6),
            name: c.str("name"),
            validate_request_body: flag("validateRequestBody")?,
            validate_request_parameters: flag("validateRequestParameters")?,
        };
        doc.request_validators.push(v.clone());
        self.store.put_api(&doc)?;
        Ok((201, json!(v)))
    }

    pub(super) fn get_request_validator(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let i = index(&doc, c.param("requestvalidator_id"))?;
        Ok((200, json!(doc.request_validators[i])))
    }

    pub(super) fn get_request_validators(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let (item, position) = page(doc.request_validators, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_request_validator(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut doc = self.api(c)?;
        let i = index(&doc, c.param("requestvalidator_id"))?;
        let v = &mut doc.request_validators[i];
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/name") => v.name = op.value.clone(),
                ("replace", "/validateRequestBody") => v.validate_request_body = op.bool()?,
                ("replace", "/validateRequestParameters") => {
                    v.validate_request_parameters = op.bool()?
                }
                _ => return Err(op.unsupported(VALIDATOR_PATHS)),
            }
        }
        let v = v.clone();
        self.store.put_api(&doc)?;
        Ok((200, json!(v)))
    }

    /// Methods that named the validator no longer do.
    pub(super) fn delete_request_validator(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let id = c.param("requestvalidator_id").to_string();
        let i = index(&doc, &id)?;
        doc.request_validators.remove(i);
        for r in &mut doc.resources {
            for m in r.resource_methods.values_mut() {
                if m.request_validator_id.as_deref() == Some(id.as_str()) {
                    m.request_validator_id = None;
                }
            }
        }
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }
}

fn index(doc: &ApiDoc, id: &str) -> Result<usize, ApiError> {
    doc.request_validators
        .iter()
        .position(|v| v.id == id)
        .ok_or_else(invalid)
}

fn invalid() -> ApiError {
    ApiError::NotFound("Invalid Request Validator identifier specified".into())
}

/// Whether validator `id` exists (PutMethod's `requestValidatorId`).
pub(super) fn exists(doc: &ApiDoc, id: &str) -> bool {
    doc.request_validators.iter().any(|v| v.id == id)
}

/// The id of the validator named `name`.
pub(super) fn id_named(doc: &ApiDoc, name: &str) -> Option<String> {
    doc.request_validators
        .iter()
        .find(|v| v.name.as_deref() == Some(name))
        .map(|v| v.id.clone())
}

/// `x-amazon-apigateway-request-validators` of an OpenAPI document: each
/// a validator (one of that name already there is replaced in place).
pub(super) fn import_openapi(doc: &mut ApiDoc, d: &Value, ids: &mut super::Ids) {
    let declared = d
        .get("x-amazon-apigateway-request-validators")
        .and_then(Value::as_object);
    for (name, x) in declared.into_iter().flatten() {
        let flag = |k: &str| x.get(k).and_then(Value::as_bool).unwrap_or(false);
        let (body, params) = (
            flag("validateRequestBody"),
            flag("validateRequestParameters"),
        );
        match doc
            .request_validators
            .iter_mut()
            .find(|v| v.name.as_deref() == Some(name))
        {
            Some(v) => {
                v.validate_request_body = body;
                v.validate_request_parameters = params;
            }
            None => doc.request_validators.push(RequestValidator {
                id: ids.next(6),
                name: Some(name.clone()),
                validate_request_body: body,
                validate_request_parameters: params,
            }),
        }
    }
}

/// The validators as `x-amazon-apigateway-request-validators` (by name;
/// an unnamed one by its id).
pub(super) fn export_openapi(doc: &ApiDoc) -> Value {
    let all: serde_json::Map<String, Value> = doc
        .request_validators
        .iter()
        .map(|v| {
            (
                v.name.clone().unwrap_or_else(|| v.id.clone()),
                json!({
                    "validateRequestBody": v.validate_request_body,
                    "validateRequestParameters": v.validate_request_parameters,
                }),
            )
        })
        .collect();
    Value::Object(all)
}
