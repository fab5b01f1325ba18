//! Authorizers in OpenAPI documents: security schemes with
//! `x-amazon-apigateway-authorizer` and `x-amazon-apigateway-authtype`
//! (OpenAPI 3 `components.securitySchemes`, Swagger 2
//! `securityDefinitions`), and the methods' `security` naming them, on
//! import and export.

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::model::{ApiDoc, Authorizer, Method};

/// Creates (or, by name, replaces) the document's authorizers.
pub(super) fn import(
    doc: &mut ApiDoc,
    d: &Value,
    next_id: &mut dyn FnMut() -> String,
) -> Result<(), ApiError> {
    let Some(schemes) = d
        .pointer("/components/securitySchemes")
        .or_else(|| d.get("securityDefinitions"))
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    for (name, s) in schemes {
        let Some(x) = s.get("x-amazon-apigateway-authorizer") else {
            continue;
        };
        let text = |k: &str| x.get(k).and_then(Value::as_str).map(str::to_string);
        let kind = text("type").unwrap_or_default().to_ascii_uppercase();
        // A TOKEN authorizer's header is the scheme's `name`.
        let header = s
            .get("name")
            .and_then(Value::as_str)
            .map(|h| format!("method.request.header.{h}"));
        let identity_source = text("identitySource").or(match kind.as_str() {
            "TOKEN" | "COGNITO_USER_POOLS" => header,
            _ => None,
        });
        let existing = doc.authorizers.iter().position(|a| &a.name == name);
        let a = Authorizer {
            id: existing.map_or_else(&mut *next_id, |i| doc.authorizers[i].id.clone()),
            name: name.clone(),
            kind,
            provider_arns: x
                .get("providerARNs")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
            auth_type: s
                .get("x-amazon-apigateway-authtype")
                .and_then(Value::as_str)
                .map(str::to_string),
            authorizer_uri: text("authorizerUri"),
            authorizer_credentials: text("authorizerCredentials"),
            identity_source,
            identity_validation_expression: text("identityValidationExpression"),
            authorizer_result_ttl_in_seconds: Some(
                x.get("authorizerResultTtlInSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(300),
            ),
        };
        super::authorizers::validate(&a)?;
        match existing {
            Some(i) => doc.authorizers[i] = a,
            None => doc.authorizers.push(a),
        }
    }
    Ok(())
}

/// Sets `m`'s authorization from the first of its `security`
/// requirements naming an authorizer (with its scopes, for Cognito).
pub(super) fn apply_security(authorizers: &[Authorizer], m: &mut Method, op: &Value, d: &Value) {
    let security = op.get("security").or_else(|| d.get("security"));
    let Some(reqs) = security.and_then(Value::as_array) else {
        return;
    };
    for (name, scopes) in reqs.iter().filter_map(Value::as_object).flatten() {
        if let Some(a) = authorizers.iter().find(|a| &a.name == name) {
            m.authorization_type = match a.kind.as_str() {
                "COGNITO_USER_POOLS" => "COGNITO_USER_POOLS",
                _ => "CUSTOM",
            }
            .into();
            m.authorizer_id = Some(a.id.clone());
            m.authorization_scopes = serde_json::from_value(scopes.clone()).unwrap_or_default();
            return;
        }
    }
}

/// The security requirement naming `m`'s authorizer, if it has one.
pub(super) fn requirement(doc: &ApiDoc, m: &Method) -> Option<Value> {
    if !matches!(
        m.authorization_type.as_str(),
        "CUSTOM" | "COGNITO_USER_POOLS"
    ) {
        return None;
    }
    let id = m.authorizer_id.as_deref()?;
    let a = doc.authorizers.iter().find(|a| a.id == id)?;
    Some(json!({ a.name.clone(): m.authorization_scopes }))
}

/// The authorizers as security schemes, added to `schemes`.
pub(super) fn export(doc: &ApiDoc, schemes: &mut Map<String, Value>) {
    for a in &doc.authorizers {
        let header = a
            .identity_source
            .as_deref()
            .and_then(|s| s.trim().strip_prefix("method.request.header."))
            .unwrap_or("Unused");
        let mut x = Map::new();
        x.insert("type".into(), json!(a.kind.to_ascii_lowercase()));
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                x.insert(k.into(), json!(v));
            }
        };
        put("authorizerUri", &a.authorizer_uri);
        put("authorizerCredentials", &a.authorizer_credentials);
        put(
            "identityValidationExpression",
            &a.identity_validation_expression,
        );
        if a.kind == "REQUEST" {
            put("identitySource", &a.identity_source);
        }
        if !a.provider_arns.is_empty() {
            x.insert("providerARNs".into(), json!(a.provider_arns));
        }
        if let Some(ttl) = a.authorizer_result_ttl_in_seconds {
            x.insert("authorizerResultTtlInSeconds".into(), json!(ttl));
        }
        let auth_type = a.auth_type.clone().unwrap_or_else(|| {
            match a.kind.as_str() {
                "COGNITO_USER_POOLS" => "cognito_user_pools",
                _ => "custom",
            }
            .into()
        });
        schemes.insert(
            a.name.clone(),
            json!({
                "type": "apiKey", "name": header, "in": "header",
                "x-amazon-apigateway-authtype": auth_type,
                "x-amazon-apigateway-authorizer": x,
            }),
        );
    }
}
