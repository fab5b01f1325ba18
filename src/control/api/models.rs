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

/// AWS's default models of a new API, with new ids.
pub(super) fn defaults(ids: &mut Ids) -> Vec<Model> {
    let mut m = Model::defaults();
    for model in &mut m {
        model.id = ids.next(6);
    }
    m
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
            if let Some(s) = flattened(&doc, &m) {
                m.schema = Some(s);
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

/// The model's schema with the API's models it refers to inlined
/// (GetModel's `flatten`; what request validation checks bodies with);
/// `None` for a model without a schema or whose schema is not JSON.
pub(super) fn flattened(doc: &ApiDoc, m: &Model) -> Option<String> {
    let mut v = serde_json::from_str::<Value>(m.schema.as_deref()?).ok()?;
    let mut seen = BTreeSet::from([m.name.clone()]);
    inline_refs(doc, &mut v, &mut seen);
    Some(v.to_string())
}

/// The model named `name`'s flattened schema.
pub(super) fn flattened_named(doc: &ApiDoc, name: &str) -> Option<String> {
    flattened(doc, doc.models.iter().find(|m| m.name == name)?)
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

/// OpenAPI import (ImportRestApi, PutRestApi): Swagger 2 `definitions` or
/// OpenAPI 3 `components.schemas` become models (their `#/definitions/X`
/// references become model URLs, as AWS rewrites them), the
/// `x-amazon-apigateway-request-validators` become validators (a name
/// already there is replaced), and each operation's body schema reference
/// and `x-amazon-apigateway-request-validator` (or the document's default)
/// are its method's `requestModels` and `requestValidatorId`.
pub(super) fn import_openapi(doc: &mut ApiDoc, d: &Value, ids: &mut Ids) -> Result<(), ApiError> {
    let api = doc.api.id.clone();
    let schemas = d
        .pointer("/components/schemas")
        .or_else(|| d.get("definitions"))
        .and_then(Value::as_object);
    let mut errors = Vec::new();
    for (name, schema) in schemas.into_iter().flatten() {
        if let Err(e) = check_name(name) {
            errors.push(format!("Unable to create model for '{name}': {e}"));
            continue;
        }
        let mut schema = schema.clone();
        refs_to_urls(&mut schema, &api);
        if let Value::Object(o) = &mut schema {
            o.entry("$schema")
                .or_insert_with(|| json!("http://json-schema.org/draft-04/schema#"));
            o.entry("title").or_insert_with(|| json!(name));
        }
        let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        match doc.models.iter_mut().find(|m| m.name == *name) {
            Some(m) => m.schema = Some(text),
            None => doc.models.push(Model {
                id: ids.next(6),
                name: name.clone(),
                description: None,
                schema: Some(text),
                content_type: "application/json".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Errors found during import:\n\t{}",
            errors.join("\n\t")
        )));
    }
    super::validators::import_openapi(doc, d, ids);
    let default_validator = d
        .get("x-amazon-apigateway-request-validator")
        .and_then(Value::as_str);
    for (path, item) in d
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(r) = doc.resources.iter().position(|r| r.path == *path) else {
            continue;
        };
        for (key, verb) in super::openapi::VERBS {
            let Some(op) = item.get(*key) else { continue };
            let validator = op
                .get("x-amazon-apigateway-request-validator")
                .and_then(Value::as_str)
                .or(default_validator);
            let validator_id = match validator {
                None => None,
                Some(n) => Some(super::validators::id_named(doc, n).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Errors found during import:\n\tInvalid request validator '{n}' for {verb} {path}"
                    ))
                })?),
            };
            let models = body_models(op);
            for name in models.values() {
                if !exists(doc, name) {
                    return Err(ApiError::BadRequest(format!(
                        "Errors found during import:\n\tInvalid model identifier specified: {name}"
                    )));
                }
            }
            if let Some(m) = doc.resources[r].resource_methods.get_mut(*verb) {
                m.request_validator_id = validator_id;
                m.request_models = models;
                m.request_parameters.extend(request_parameters(item, op));
            }
        }
    }
    Ok(())
}

/// The path item's and operation's `parameters` in the query, headers or
/// path, as `method.request.*` keys → required (what a validator checks).
fn request_parameters<'d>(
    item: &'d Value,
    op: &'d Value,
) -> impl Iterator<Item = (String, bool)> + 'd {
    [item, op]
        .into_iter()
        .filter_map(|v| v.get("parameters")?.as_array())
        .flatten()
        .filter_map(|p| {
            let place = match p.get("in")?.as_str()? {
                "query" => "querystring",
                "header" => "header",
                "path" => "path",
                _ => return None,
            };
            let name = p.get("name")?.as_str()?;
            let required = p.get("required").and_then(Value::as_bool) == Some(true);
            Some((format!("method.request.{place}.{name}"), required))
        })
}

/// An operation's body models: OpenAPI 3 `requestBody.content.{type}.schema`,
/// Swagger 2 the `in: body` parameter's schema (as `application/json`),
/// each a reference to a definition.
fn body_models(op: &Value) -> std::collections::BTreeMap<String, String> {
    let name = |schema: &Value| -> Option<String> {
        let r = schema.get("$ref")?.as_str()?;
        Some(r.rsplit('/').next()?.to_string())
    };
    let mut out = std::collections::BTreeMap::new();
    if let Some(content) = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
    {
        for (ct, media) in content {
            if let Some(n) = media.get("schema").and_then(name) {
                out.insert(ct.clone(), n);
            }
        }
    }
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if p.get("in").and_then(Value::as_str) == Some("body") {
            if let Some(n) = p.get("schema").and_then(name) {
                out.insert("application/json".into(), n);
            }
        }
    }
    out
}

/// `#/definitions/X` and `#/components/schemas/X` → the model URL of `X`.
fn refs_to_urls(v: &mut Value, api: &str) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match (k.as_str(), x.as_str()) {
                    ("$ref", Some(r)) if r.starts_with("#/") => {
                        let name = r.rsplit('/').next().unwrap_or_default();
                        *x = json!(format!("{REF_PREFIX}{api}/models/{name}"));
                    }
                    _ => refs_to_urls(x, api),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| refs_to_urls(x, api)),
        _ => {}
    }
}

/// Model URLs → `#/definitions/X` (Swagger 2) or `#/components/schemas/X`.
fn urls_to_refs(v: &mut Value, local: &str) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                let name = (k == "$ref")
                    .then(|| x.as_str())
                    .flatten()
                    .and_then(|r| r.strip_prefix(REF_PREFIX))
                    .and_then(|r| r.split_once("/models/"))
                    .map(|(_, n)| n.to_string());
                match name {
                    Some(n) => *x = json!(format!("{local}{n}")),
                    None => urls_to_refs(x, local),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| urls_to_refs(x, local)),
        _ => {}
    }
}

/// GetExport: the models as `definitions` (Swagger 2) or
/// `components.schemas` (OpenAPI 3), each method's `requestModels` as its
/// body schema reference, and (with the API Gateway extensions) the
/// validators and each method's validator by name.
pub(super) fn export_openapi(
    doc: &ApiDoc,
    oas30: bool,
    extensions: bool,
    out: &mut serde_json::Map<String, Value>,
) {
    let local = if oas30 {
        "#/components/schemas/"
    } else {
        "#/definitions/"
    };
    let mut schemas = serde_json::Map::new();
    for m in &doc.models {
        let Some(mut s) = m
            .schema
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
        else {
            continue;
        };
        urls_to_refs(&mut s, local);
        if let Value::Object(o) = &mut s {
            o.remove("$schema");
        }
        schemas.insert(m.name.clone(), s);
    }
    if oas30 {
        let components = out.entry("components").or_insert_with(|| json!({}));
        if let Some(c) = components.as_object_mut() {
            c.insert("schemas".into(), Value::Object(schemas));
        }
    } else {
        out.insert("definitions".into(), Value::Object(schemas));
    }
    if extensions && !doc.request_validators.is_empty() {
        out.insert(
            "x-amazon-apigateway-request-validators".into(),
            super::validators::export_openapi(doc),
        );
    }
    let Some(paths) = out.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for r in &doc.resources {
        for (verb, m) in &r.resource_methods {
            let key = super::openapi::VERBS
                .iter()
                .find(|(_, v)| v == verb)
                .map_or("x-amazon-apigateway-any-method", |(k, _)| *k);
            let Some(op) = paths
                .get_mut(&r.path)
                .and_then(|i| i.get_mut(key))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            if !m.request_models.is_empty() {
                if oas30 {
                    let content: serde_json::Map<String, Value> = m
                        .request_models
                        .iter()
                        .map(|(ct, n)| {
                            (
                                ct.clone(),
                                json!({"schema": {"$ref": format!("{local}{n}")}}),
                            )
                        })
                        .collect();
                    op.insert(
                        "requestBody".into(),
                        json!({"content": content, "required": true}),
                    );
                } else if let Some(n) = m.request_models.values().next() {
                    let body = json!({"in": "body", "name": n, "required": true,
                                      "schema": {"$ref": format!("{local}{n}")}});
                    match op.get_mut("parameters").and_then(Value::as_array_mut) {
                        Some(ps) => ps.push(body),
                        None => {
                            op.insert("parameters".into(), json!([body]));
                        }
                    }
                }
            }
            let named = m
                .request_validator_id
                .as_deref()
                .and_then(|id| doc.request_validators.iter().find(|v| v.id == id))
                .and_then(|v| v.name.clone());
            if let (true, Some(n)) = (extensions, named) {
                op.insert("x-amazon-apigateway-request-validator".into(), json!(n));
            }
        }
    }
}
