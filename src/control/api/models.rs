//! Models of a REST API: CreateModel, GetModel (`flatten`), GetModels,
//! UpdateModel, DeleteModel, GetModelTemplate.
//!
//! Models live in the API's document (`ApiDoc::models`), not in a table of
//! their own: a method names them (`requestModels`, `responseModels`) in
//! that same document, so a change that checks a reference and the change
//! it guards are one atomic write; a deployment's snapshot of the document
//! carries the models it was deployed with (what request validation will
//! run against); DeleteRestApi removes them with the API; and the
//! OpenAPI import and export read and write the one document.
//!
//! A new API has AWS's two default models, `Empty` and `Error`, listed by
//! GetModels as AWS lists them. Request validation (executing the models)
//! is a later issue: for now they are stored, listed and exported.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::error::ApiError;
use super::model::{ApiDoc, Model, Page};
use super::{page, Call, ControlPlane, Ids, Reply};

const MODEL_PATHS: &[&str] = &["/schema", "/description"];

/// Where an external model reference in a schema points:
/// `https://apigateway.amazonaws.com/restapis/{api}/models/{name}`.
const REF_PREFIX: &str = "https://apigateway.amazonaws.com/restapis/";

const EMPTY_SCHEMA: &str = "{\n  \"$schema\": \"http://json-schema.org/draft-04/schema#\",\n  \"title\" : \"Empty Schema\",\n  \"type\" : \"object\"\n}";
const ERROR_SCHEMA: &str = "{\n  \"$schema\" : \"http://json-schema.org/draft-04/schema#\",\n  \"title\" : \"Error Schema\",\n  \"type\" : \"object\",\n  \"properties\" : {\n    \"message\" : { \"type\" : \"string\" }\n  }\n}";

/// AWS's default models of a new API, with new ids.
pub(super) fn defaults(ids: &mut Ids) -> Vec<Model> {
    let mut m = defaults_without_ids();
    for model in &mut m {
        model.id = ids.next(6);
    }
    m
}

/// AWS's default models with fixed ids (for documents that predate
/// models, and the config file's APIs).
pub(super) fn defaults_without_ids() -> Vec<Model> {
    vec![
        Model {
            id: "empty0".into(),
            name: "Empty".into(),
            description: Some("This is a default empty schema model".into()),
            schema: Some(EMPTY_SCHEMA.into()),
            content_type: "application/json".into(),
        },
        Model {
            id: "error0".into(),
            name: "Error".into(),
            description: Some("This is a default error schema model".into()),
            schema: Some(ERROR_SCHEMA.into()),
            content_type: "application/json".into(),
        },
    ]
}

impl ControlPlane {
    pub(super) fn create_model(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let name = c.required_str("name")?;
        check_name(&name)?;
        let content_type = c.required_str("contentType")?;
        let schema = c.str("schema");
        if let Some(s) = &schema {
            check_schema(&content_type, s)?;
        }
        if doc.models.iter().any(|m| m.name == name) {
            return Err(ApiError::Conflict(
                "Model name already exists for this REST API".into(),
            ));
        }
        let m = Model {
            id: self.ids.next(6),
            name,
            description: c.str("description"),
            schema,
            content_type,
        };
        doc.models.push(m.clone());
        self.store.put_api(&doc)?;
        Ok((201, json!(m)))
    }

    pub(super) fn get_model(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let mut m = model(&doc, c.param("model_name"))?.clone();
        if c.query_all("flatten").first().map(String::as_str) == Some("true") {
            if let Some(s) = &m.schema {
                if let Ok(mut v) = serde_json::from_str::<Value>(s) {
                    let mut seen = BTreeSet::from([m.name.clone()]);
                    inline_refs(&doc, &mut v, &mut seen);
                    m.schema = Some(v.to_string());
                }
            }
        }
        Ok((200, json!(m)))
    }

    pub(super) fn get_models(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let (item, position) = page(doc.models, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_model(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut doc = self.api(c)?;
        let m = model_mut(&mut doc, c.param("model_name"))?;
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/schema") => {
                    let s = op.value()?;
                    check_schema(&m.content_type, s)?;
                    m.schema = Some(s.to_string());
                }
                ("replace", "/description") => m.description = op.value.clone(),
                _ => return Err(op.unsupported(MODEL_PATHS)),
            }
        }
        let m = m.clone();
        self.store.put_api(&doc)?;
        Ok((200, json!(m)))
    }

    /// Refused while a method request or method response names the model.
    pub(super) fn delete_model(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let name = c.param("model_name").to_string();
        model(&doc, &name)?;
        for r in &doc.resources {
            for (verb, m) in &r.resource_methods {
                let in_request = m.request_models.values().any(|n| *n == name);
                let in_response = m
                    .method_responses
                    .values()
                    .any(|mr| mr.response_models.values().any(|n| *n == name));
                if in_request || in_response {
                    let place = if in_request {
                        "method request"
                    } else {
                        "method response"
                    };
                    return Err(ApiError::Conflict(format!(
                        "Cannot delete model '{name}', is referenced in {place}: {}/{verb}",
                        r.path
                    )));
                }
            }
        }
        doc.models.retain(|m| m.name != name);
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }

    pub(super) fn get_model_template(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let m = model(&doc, c.param("model_name"))?;
        let schema: Value = m
            .schema
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        let mut seen = BTreeSet::from([m.name.clone()]);
        let mut schema = schema;
        inline_refs(&doc, &mut schema, &mut seen);
        let mut out = String::from("#set($inputRoot = $input.path('$'))\n");
        template(&schema, "$inputRoot", 0, &mut out);
        Ok((200, json!({ "value": out })))
    }
}

fn model<'a>(doc: &'a ApiDoc, name: &str) -> Result<&'a Model, ApiError> {
    doc.models
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| not_found(name))
}

fn model_mut<'a>(doc: &'a mut ApiDoc, name: &str) -> Result<&'a mut Model, ApiError> {
    doc.models
        .iter_mut()
        .find(|m| m.name == name)
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid model name specified: {name}"))
}

/// Whether model `name` exists (PutMethod's `requestModels`).
pub(super) fn exists(doc: &ApiDoc, name: &str) -> bool {
    doc.models.iter().any(|m| m.name == name)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "Model name must be alphanumeric: {name}"
        )))
    }
}

/// A JSON content type's schema must be a JSON object.
fn check_schema(content_type: &str, schema: &str) -> Result<(), ApiError> {
    if !content_type.to_ascii_lowercase().contains("json") {
        return Ok(());
    }
    match serde_json::from_str::<Value>(schema) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(ApiError::BadRequest(
            "Invalid model specified: Validation Result: warnings : [], errors : [Invalid model schema specified]"
                .into(),
        )),
    }
}

/// Replaces each `$ref` to another model of the API by that model's
/// schema (GetModel's `flatten`); a reference back to a model already
/// being inlined is left as it is.
fn inline_refs(doc: &ApiDoc, v: &mut Value, seen: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
                .and_then(|r| r.split_once("/models/"))
                .map(|(_, name)| name.to_string());
            if let Some(name) = target {
                let found = doc
                    .models
                    .iter()
                    .find(|m| m.name == name)
                    .and_then(|m| m.schema.as_deref())
                    .and_then(|s| serde_json::from_str::<Value>(s).ok());
                if let Some(mut inner) = found {
                    if seen.insert(name.clone()) {
                        inline_refs(doc, &mut inner, seen);
                        seen.remove(&name);
                        if let Value::Object(o) = &mut inner {
                            o.remove("$schema");
                        }
                        *v = inner;
                        return;
                    }
                }
            }
            for x in map.values_mut() {
                inline_refs(doc, x, seen);
            }
        }
        Value::Array(items) => {
            for x in items {
                inline_refs(doc, x, seen);
            }
        }
        _ => {}
    }
}

/// The VTL that builds a value of `schema` from `path` (AWS's generated
/// mapping template: strings quoted, numbers and booleans bare, objects
/// member by member, arrays with `#foreach`).
fn template(schema: &Value, path: &str, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or(
        if schema.get("properties").is_some() {
            "object"
        } else {
            "string"
        },
    );
    match kind {
        "object" => {
            out.push_str("{\n");
            let props = schema.get("properties").and_then(Value::as_object);
            let n = props.map_or(0, |p| p.len());
            for (i, (name, sub)) in props.into_iter().flatten().enumerate() {
                out.push_str(&format!("{pad}  \"{name}\" : "));
                template(sub, &format!("{path}.{name}"), depth + 1, out);
                if i + 1 < n {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&format!("{pad}}}"));
        }
        "array" => {
            let elem = format!("$elem{depth}");
            out.push_str(&format!("[\n{pad}#foreach({elem} in {path})\n{pad}  "));
            template(
                schema.get("items").unwrap_or(&Value::Null),
                &elem,
                depth + 1,
                out,
            );
            out.push_str(&format!("#if($foreach.hasNext),#end\n{pad}#end\n{pad}]"));
        }
        "number" | "integer" | "boolean" => out.push_str(path),
        _ => out.push_str(&format!("\"{path}\"")),
    }
}
