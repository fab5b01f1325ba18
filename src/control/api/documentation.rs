//! Documentation of a REST API: CreateDocumentationPart,
//! GetDocumentationPart(s), UpdateDocumentationPart, DeleteDocumentationPart,
//! ImportDocumentationParts, and the versions (snapshots of the parts):
//! CreateDocumentationVersion, GetDocumentationVersion(s),
//! UpdateDocumentationVersion, DeleteDocumentationVersion.
//!
//! Parts and versions live in the API's document (`ApiDoc::documentation`);
//! OpenAPI documents carry them as `x-amazon-apigateway-documentation`.

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::model::{ApiDoc, Location, Page, Part, Version};
use super::{page, Call, ControlPlane, Ids, Reply};

impl Version {
    /// AWS's DocumentationVersion.
    fn shape(&self) -> Value {
        let mut v = json!({ "version": self.version, "createdDate": self.created_date });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }
}

const TYPES: &[&str] = &[
    "API",
    "AUTHORIZER",
    "MODEL",
    "RESOURCE",
    "METHOD",
    "PATH_PARAMETER",
    "QUERY_PARAMETER",
    "REQUEST_HEADER",
    "REQUEST_BODY",
    "RESPONSE",
    "RESPONSE_HEADER",
    "RESPONSE_BODY",
];

/// Which location fields a type takes: (path, method, statusCode, name),
/// name being `Need` where it is required.
#[derive(PartialEq, Clone, Copy)]
enum Field {
    No,
    May,
    Need,
}

fn fields(kind: &str) -> (bool, bool, bool, Field) {
    use Field::*;
    match kind {
        "API" => (false, false, false, No),
        "AUTHORIZER" | "MODEL" => (false, false, false, Need),
        "RESOURCE" => (true, false, false, No),
        "METHOD" => (true, true, false, No),
        "PATH_PARAMETER" | "QUERY_PARAMETER" | "REQUEST_HEADER" => (true, true, false, Need),
        // AWS's reference calls the name required here, its examples and
        // service do without it: a body has no name of its own.
        "REQUEST_BODY" => (true, true, false, May),
        "RESPONSE" | "RESPONSE_BODY" => (true, true, true, No),
        _ => (true, true, true, Need), // RESPONSE_HEADER
    }
}

/// The location as given, checked against its type, with the defaults
/// (`/` path, `*` method and status code) for the fields it takes.
fn location(v: Option<&Value>) -> Result<Location, ApiError> {
    let v = match v {
        None | Some(Value::Null) => {
            return Err(ApiError::BadRequest(
                "Documentation part location must not be empty".into(),
            ))
        }
        Some(v) => v,
    };
    let l: Location = serde_json::from_value(v.clone())
        .map_err(|e| ApiError::BadRequest(format!("Invalid documentation part location: {e}")))?;
    if !TYPES.contains(&l.kind.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "Invalid documentation part type '{}'. Must be one of: [{}]",
            l.kind,
            TYPES.join(", ")
        )));
    }
    let (path, method, status, name) = fields(&l.kind);
    let refuse = |f: &str| {
        ApiError::BadRequest(format!(
            "Invalid location: {f} is not a valid field for type {}",
            l.kind
        ))
    };
    let out = Location {
        path: match (path, &l.path) {
            (false, Some(_)) => return Err(refuse("path")),
            (true, p) => Some(p.clone().unwrap_or_else(|| "/".into())),
            (false, None) => None,
        },
        method: match (method, &l.method) {
            (false, Some(_)) => return Err(refuse("method")),
            (true, m) => Some(m.clone().unwrap_or_else(|| "*".into())),
            (false, None) => None,
        },
        status_code: match (status, &l.status_code) {
            (false, Some(_)) => return Err(refuse("statusCode")),
            (true, s) => Some(s.clone().unwrap_or_else(|| "*".into())),
            (false, None) => None,
        },
        name: match (name, &l.name) {
            (Field::No, Some(_)) => return Err(refuse("name")),
            (Field::Need, None) => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid location: name is required for type {}",
                    l.kind
                )))
            }
            (_, n) => n.clone(),
        },
        kind: l.kind.clone(),
    };
    if let Some(p) = &out.path {
        if !p.starts_with('/') {
            return Err(ApiError::BadRequest(format!(
                "Invalid location: path '{p}' must start with /"
            )));
        }
    }
    Ok(out)
}

/// `properties`: a JSON object, as a string.
fn properties(v: Option<&Value>) -> Result<String, ApiError> {
    let s = v.and_then(Value::as_str).ok_or_else(|| {
        ApiError::BadRequest("Documentation part properties must be a JSON string".into())
    })?;
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(_)) => Ok(s.to_string()),
        _ => Err(ApiError::BadRequest(format!(
            "Invalid documentation part properties: {s} is not a JSON object"
        ))),
    }
}

fn invalid_part() -> ApiError {
    ApiError::NotFound("Invalid Documentation part identifier specified".into())
}

fn invalid_version() -> ApiError {
    ApiError::NotFound("Invalid Documentation version identifier specified".into())
}

fn conflict(l: &Location) -> ApiError {
    ApiError::Conflict(format!(
        "Documentation part already exists for the given location: {}",
        json!(l)
    ))
}

impl ControlPlane {
    pub(super) fn create_documentation_part(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let loc = location(c.body.get("location"))?;
        let props = properties(c.body.get("properties"))?;
        if doc.documentation.parts.iter().any(|p| p.location == loc) {
            return Err(conflict(&loc));
        }
        let part = Part {
            id: self.ids.next(6),
            location: loc,
            properties: props,
        };
        doc.documentation.parts.push(part.clone());
        self.store.put_api(&doc)?;
        Ok((201, json!(part)))
    }

    pub(super) fn get_documentation_part(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let i = part_index(&doc, c.param("part_id"))?;
        Ok((200, json!(doc.documentation.parts[i])))
    }

    pub(super) fn get_documentation_parts(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let one = |k: &str| c.query_all(k).into_iter().next();
        let kind = one("type");
        if let Some(k) = &kind {
            if !TYPES.contains(&k.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "Invalid type '{k}'. Must be one of: [{}]",
                    TYPES.join(", ")
                )));
            }
        }
        let status = one("locationStatus");
        let documented = match status.as_deref() {
            None => None,
            Some("DOCUMENTED") => Some(true),
            Some("UNDOCUMENTED") => Some(false),
            Some(s) => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid locationStatus '{s}'. Must be one of: [DOCUMENTED, UNDOCUMENTED]"
                )))
            }
        };
        let (name, path) = (one("name"), one("path"));
        let all: Vec<Part> = doc
            .documentation
            .parts
            .into_iter()
            .filter(|p| kind.as_ref().is_none_or(|k| &p.location.kind == k))
            .filter(|p| {
                name.as_ref().is_none_or(|n| {
                    p.location
                        .name
                        .as_deref()
                        .is_some_and(|pn| pn.contains(n.as_str()))
                })
            })
            .filter(|p| {
                path.as_ref()
                    .is_none_or(|x| p.location.path.as_ref() == Some(x))
            })
            .filter(|p| documented.is_none_or(|d| has_content(p) == d))
            .collect();
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_documentation_part(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut doc = self.api(c)?;
        let i = part_index(&doc, c.param("part_id"))?;
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/properties") => {
                    doc.documentation.parts[i].properties = properties(Some(&json!(op.value()?)))?;
                }
                _ => return Err(op.unsupported(&["/properties"])),
            }
        }
        self.store.put_api(&doc)?;
        Ok((200, json!(doc.documentation.parts[i])))
    }

    pub(super) fn delete_documentation_part(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let i = part_index(&doc, c.param("part_id"))?;
        doc.documentation.parts.remove(i);
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }

    /// `mode=merge` (the default) adds the document's parts, replacing the
    /// properties of a part at the same location; `overwrite` replaces all
    /// parts. A part that cannot be imported is a warning (and with
    /// `failonwarnings=true` the whole import is refused).
    pub(super) fn import_documentation_parts(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let mode = c.import_mode();
        let fail = c.fail_on_warnings()?;
        match mode.as_str() {
            "overwrite" => doc.documentation.parts.clear(),
            "merge" => {}
            m => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid mode {m}. Must be one of: [merge, overwrite]"
                )))
            }
        }
        if c.body.get("openapi").is_none() && c.body.get("swagger").is_none() {
            return Err(ApiError::BadRequest(
                "Invalid OpenAPI input: neither `openapi` (3.0) nor `swagger` (2.0) is set".into(),
            ));
        }
        let (ids, warnings) = import(&mut doc, &c.body, &mut self.ids);
        if fail && !warnings.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Warnings found during import: {}",
                warnings.join("; ")
            )));
        }
        self.store.put_api(&doc)?;
        let mut out = json!({ "ids": ids });
        if !warnings.is_empty() {
            out["warnings"] = json!(warnings);
        }
        Ok((200, out))
    }

    /// A snapshot of the parts; with `stageName`, the stage's
    /// `documentationVersion` becomes it.
    pub(super) fn create_documentation_version(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let name = c.required_str("documentationVersion")?;
        if doc.documentation.versions.iter().any(|v| v.version == name) {
            return Err(ApiError::Conflict(format!(
                "Documentation version already exists: {name}"
            )));
        }
        let stage = match c.str("stageName") {
            None => None,
            Some(s) => Some(self.store.stage(&doc.api.id, &s)?.ok_or_else(|| {
                ApiError::NotFound(format!("Invalid Stage identifier specified {s}"))
            })?),
        };
        let v = Version {
            version: name.clone(),
            created_date: c.now,
            description: c.str("description"),
            parts: doc.documentation.parts.clone(),
        };
        doc.documentation.versions.push(v.clone());
        self.store.put_api(&doc)?;
        if let Some(mut s) = stage {
            s.documentation_version = Some(name);
            s.last_updated_date = c.now;
            self.store.put_stage(&doc.api.id, &s)?;
        }
        Ok((201, v.shape()))
    }

    pub(super) fn get_documentation_version(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let i = version_index(&doc, c.param("doc_version"))?;
        Ok((200, doc.documentation.versions[i].shape()))
    }

    pub(super) fn get_documentation_versions(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let all: Vec<Value> = doc
            .documentation
            .versions
            .iter()
            .map(Version::shape)
            .collect();
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_documentation_version(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut doc = self.api(c)?;
        let i = version_index(&doc, c.param("doc_version"))?;
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/description") => {
                    doc.documentation.versions[i].description = op.value.clone()
                }
                _ => return Err(op.unsupported(&["/description"])),
            }
        }
        self.store.put_api(&doc)?;
        Ok((200, doc.documentation.versions[i].shape()))
    }

    /// A version a stage is associated with is not deleted.
    pub(super) fn delete_documentation_version(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let name = c.param("doc_version").to_string();
        let i = version_index(&doc, &name)?;
        if let Some(s) = self
            .store
            .stages(&doc.api.id)?
            .into_iter()
            .find(|s| s.documentation_version.as_deref() == Some(name.as_str()))
        {
            return Err(ApiError::BadRequest(format!(
                "Documentation version {name} is associated with stage {}",
                s.stage_name
            )));
        }
        doc.documentation.versions.remove(i);
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }
}

fn has_content(p: &Part) -> bool {
    serde_json::from_str::<Value>(&p.properties)
        .ok()
        .and_then(|v| v.as_object().map(|o| !o.is_empty()))
        .unwrap_or(false)
}

fn part_index(doc: &ApiDoc, id: &str) -> Result<usize, ApiError> {
    doc.documentation
        .parts
        .iter()
        .position(|p| p.id == id)
        .ok_or_else(invalid_part)
}

fn version_index(doc: &ApiDoc, v: &str) -> Result<usize, ApiError> {
    doc.documentation
        .versions
        .iter()
        .position(|x| x.version == v)
        .ok_or_else(invalid_version)
}

/// The parts of `x-amazon-apigateway-documentation` into `doc` (one at a
/// location that has a part replaces its properties): the ids of the
/// parts imported, and a warning for each that could not be.
pub(super) fn import(doc: &mut ApiDoc, d: &Value, ids: &mut Ids) -> (Vec<String>, Vec<String>) {
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    let parts = d
        .pointer("/x-amazon-apigateway-documentation/documentationParts")
        .and_then(Value::as_array);
    for (n, p) in parts.into_iter().flatten().enumerate() {
        let loc = match location(p.get("location")) {
            Ok(l) => l,
            Err(e) => {
                warnings.push(format!("documentationParts[{n}]: {e}"));
                continue;
            }
        };
        let props = match p.get("properties") {
            Some(Value::Object(o)) => Value::Object(o.clone()).to_string(),
            None | Some(Value::Null) => "{}".to_string(),
            Some(_) => {
                warnings.push(format!(
                    "documentationParts[{n}]: properties must be an object"
                ));
                continue;
            }
        };
        match doc
            .documentation
            .parts
            .iter_mut()
            .find(|x| x.location == loc)
        {
            Some(x) => {
                x.properties = props;
                out.push(x.id.clone());
            }
            None => {
                let id = ids.next(6);
                doc.documentation.parts.push(Part {
                    id: id.clone(),
                    location: loc,
                    properties: props,
                });
                out.push(id);
            }
        }
    }
    (out, warnings)
}

/// ImportRestApi and PutRestApi: the document's parts, and its `version`
/// as a documentation version of them (unless one of that name exists).
pub(super) fn import_openapi(doc: &mut ApiDoc, d: &Value, ids: &mut Ids, now: i64) {
    let Some(x) = d.get("x-amazon-apigateway-documentation") else {
        return;
    };
    import(doc, d, ids);
    if let Some(v) = x.get("version").and_then(Value::as_str) {
        if !doc.documentation.versions.iter().any(|x| x.version == v) {
            doc.documentation.versions.push(Version {
                version: v.to_string(),
                created_date: now,
                description: None,
                parts: doc.documentation.parts.clone(),
            });
        }
    }
}

/// `x-amazon-apigateway-documentation` for an export: the stage's
/// documentation version's parts, else the API's parts as they are now
/// (without a version); `None` when there are none.
pub(super) fn export_openapi(doc: &ApiDoc, stage_version: Option<&str>) -> Option<Value> {
    let version =
        stage_version.and_then(|v| doc.documentation.versions.iter().find(|x| x.version == v));
    let parts = version.map_or(&doc.documentation.parts, |v| &v.parts);
    if parts.is_empty() && version.is_none() {
        return None;
    }
    let mut out = Map::new();
    if let Some(v) = version {
        out.insert("version".into(), json!(v.version));
        out.insert("createdDate".into(), json!(rfc3339(v.created_date)));
    }
    let parts: Vec<Value> = parts
        .iter()
        .map(|p| {
            json!({
                "location": p.location,
                "properties": serde_json::from_str::<Value>(&p.properties).unwrap_or(json!({})),
            })
        })
        .collect();
    out.insert("documentationParts".into(), Value::Array(parts));
    Some(Value::Object(out))
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
