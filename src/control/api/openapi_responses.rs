//! The response side of an OpenAPI operation, both ways: the operation's
//! `responses` (status, `headers`, body schema) as method responses, and
//! `x-amazon-apigateway-integration.responses` as integration responses.
//! Kept apart from `openapi.rs` because AWS keys the integration's
//! responses by their selection pattern, not by status ("The Response
//! status pattern property name refers to a response status code or
//! regular expression describing a group of response status codes. It does
//! not correspond to any identifier of an IntegrationResponse resource"),
//! and a header mapping only reaches the client when the method response
//! declares that header: losing either on import silently changes what
//! the deployed API answers.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::model::{IntegrationResponse, MethodResponse};

/// The key of the response that catches what no pattern selects.
const DEFAULT_KEY: &str = "default";

/// The operation's `responses` of a three-digit status: each response's
/// `headers` as `method.response.header.{name}` (required as the header
/// says) and its body schema reference (OpenAPI 3 `content.{type}.schema`,
/// Swagger 2 `schema` as `application/json`) as a response model.
pub(super) fn method_responses(op: &Value) -> BTreeMap<String, MethodResponse> {
    let Some(rs) = op.get("responses").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    rs.iter()
        .filter(|(k, _)| k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()))
        .map(|(code, r)| {
            let response_parameters = r
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, h)| {
                    let required = h.get("required").and_then(Value::as_bool) == Some(true);
                    (format!("method.response.header.{name}"), required)
                })
                .collect();
            let mut response_models = BTreeMap::new();
            for (ct, media) in r
                .get("content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(n) = media.get("schema").and_then(model_name) {
                    response_models.insert(ct.clone(), n);
                }
            }
            if let Some(n) = r.get("schema").and_then(model_name) {
                response_models.insert("application/json".into(), n);
            }
            let m = MethodResponse {
                status_code: code.clone(),
                response_parameters,
                response_models,
            };
            (code.clone(), m)
        })
        .collect()
}

/// `#/components/schemas/X` or `#/definitions/X` → `X`.
fn model_name(schema: &Value) -> Option<String> {
    let r = schema.get("$ref")?.as_str()?;
    Some(r.rsplit('/').next()?.to_string())
}

/// `x-amazon-apigateway-integration.responses`: the key is the selection
/// pattern (`default`: none), by the status each answers with.
pub(super) fn integration_responses(x: &Value) -> BTreeMap<String, IntegrationResponse> {
    let Some(rs) = x.get("responses").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    let map = |r: &Value, k: &str| -> BTreeMap<String, String> {
        r.get(k)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    };
    rs.iter()
        .filter_map(|(pattern, r)| {
            let status = match r.get("statusCode")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let selection_pattern = (pattern != DEFAULT_KEY).then(|| pattern.clone());
            let ir = IntegrationResponse {
                status_code: status.clone(),
                selection_pattern,
                response_parameters: map(r, "responseParameters"),
                response_templates: map(r, "responseTemplates"),
                content_handling: r
                    .get("contentHandling")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            };
            Some((status, ir))
        })
        .collect()
}

/// The integration responses as `x-amazon-apigateway-integration.responses`,
/// keyed by selection pattern (`default` for the one without).
pub(super) fn export_integration_responses(
    rs: &BTreeMap<String, IntegrationResponse>,
) -> Map<String, Value> {
    rs.values()
        .map(|r| {
            let mut v = Map::new();
            v.insert("statusCode".into(), json!(r.status_code));
            if !r.response_parameters.is_empty() {
                v.insert("responseParameters".into(), json!(r.response_parameters));
            }
            if !r.response_templates.is_empty() {
                v.insert("responseTemplates".into(), json!(r.response_templates));
            }
            if let Some(c) = &r.content_handling {
                v.insert("contentHandling".into(), json!(c));
            }
            let key = r
                .selection_pattern
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_KEY.into());
            (key, Value::Object(v))
        })
        .collect()
}

/// A method response as an OpenAPI response object: its declared headers
/// and (with `local`, the schemas' reference prefix) its body models.
pub(super) fn export_method_response(m: &MethodResponse, oas30: bool, local: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "description".into(),
        json!(format!("{} response", m.status_code)),
    );
    let headers: Map<String, Value> = m
        .response_parameters
        .iter()
        .filter_map(|(k, required)| {
            let name = k.strip_prefix("method.response.header.")?;
            let h = if oas30 {
                json!({"schema": {"type": "string"}, "required": required})
            } else {
                json!({"type": "string"})
            };
            Some((name.to_string(), h))
        })
        .collect();
    if !headers.is_empty() {
        out.insert("headers".into(), Value::Object(headers));
    }
    let reference = |n: &String| json!({"$ref": format!("{local}{n}")});
    if oas30 {
        let content: Map<String, Value> = m
            .response_models
            .iter()
            .map(|(ct, n)| (ct.clone(), json!({"schema": reference(n)})))
            .collect();
        if !content.is_empty() {
            out.insert("content".into(), Value::Object(content));
        }
    } else if let Some(n) = m.response_models.values().next() {
        out.insert("schema".into(), reference(n));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's own example of `x-amazon-apigateway-integration.responses`
    /// ("2\\d{2}" and "302"), plus `default`.
    fn extension() -> Value {
        json!({"responses": {
            "2\\d{2}": {"statusCode": "200", "responseTemplates": {"application/json": "{}"}},
            "302": {"statusCode": 302, "responseParameters": {
                "method.response.header.Location": "integration.response.body.redirect.url"}},
            "default": {"statusCode": "500"},
            "no status": {"responseTemplates": {}},
        }})
    }

    #[test]
    fn the_key_is_the_selection_pattern_and_default_has_none() {
        let rs = integration_responses(&extension());
        assert_eq!(rs.len(), 3, "{rs:?}");
        assert_eq!(rs["200"].selection_pattern.as_deref(), Some("2\\d{2}"));
        assert_eq!(rs["302"].selection_pattern.as_deref(), Some("302"));
        assert_eq!(
            rs["302"].response_parameters["method.response.header.Location"],
            "integration.response.body.redirect.url"
        );
        assert_eq!(rs["500"].selection_pattern, None);
    }

    #[test]
    fn integration_responses_export_as_they_were_imported() {
        let rs = integration_responses(&extension());
        let out = Value::Object(export_integration_responses(&rs));
        assert_eq!(integration_responses(&json!({ "responses": out })), rs);
        assert_eq!(out["default"]["statusCode"], "500", "{out}");
    }

    #[test]
    fn method_responses_keep_headers_and_body_models_both_ways() {
        let op = json!({"responses": {
            "200": {"description": "ok",
                    "headers": {"X-A": {"schema": {"type": "string"}},
                                "X-B": {"required": true, "schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
            "default": {"description": "not a status"},
        }});
        let ms = method_responses(&op);
        assert_eq!(ms.len(), 1, "{ms:?}");
        let m = &ms["200"];
        assert!(!m.response_parameters["method.response.header.X-A"]);
        assert!(m.response_parameters["method.response.header.X-B"]);
        assert_eq!(m.response_models["application/json"], "Pet");
        let out = export_method_response(m, true, "#/components/schemas/");
        let again = method_responses(&json!({ "responses": { "200": out } }));
        assert_eq!(&again["200"], m);
        // Swagger 2: `schema` beside the headers.
        let swagger = export_method_response(m, false, "#/definitions/");
        assert_eq!(swagger["schema"]["$ref"], "#/definitions/Pet", "{swagger}");
        let again = method_responses(&json!({ "responses": { "200": swagger } }));
        assert_eq!(again["200"].response_models, m.response_models);
    }
}
