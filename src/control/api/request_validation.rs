//! A method's request validator, required parameters and models, as the
//! data plane's `ValidationConfig`: what API Gateway checks before the
//! integration. Only what the method's validator asks for is published:
//! `validateRequestParameters` the `method.request.*` parameters marked
//! `true`, `validateRequestBody` the flattened schema of each model in
//! `requestModels`.

use crate::config::ValidationConfig;

use super::model::{ApiDoc, Method};

/// `None`: nothing to check (no validator, or one that asks for nothing
/// the method declares).
pub(super) fn to_config(doc: &ApiDoc, m: &Method) -> Option<ValidationConfig> {
    let id = m.request_validator_id.as_deref()?;
    let v = doc.request_validators.iter().find(|v| v.id == id)?;
    let mut c = ValidationConfig::default();
    if v.validate_request_parameters {
        c.required = m
            .request_parameters
            .iter()
            .filter(|(_, required)| **required)
            .filter_map(|(k, _)| k.strip_prefix("method.request."))
            .filter(|k| {
                ["querystring.", "header.", "path."]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(str::to_string)
            .collect();
    }
    if v.validate_request_body {
        c.body_schema = m
            .request_models
            .iter()
            .filter_map(|(content_type, model)| {
                Some((
                    content_type.clone(),
                    super::models::flattened_named(doc, model)?,
                ))
            })
            .collect();
    }
    (!c.required.is_empty() || !c.body_schema.is_empty()).then_some(c)
}
