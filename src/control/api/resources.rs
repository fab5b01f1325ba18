//! GetResources, GetResource, CreateResource, UpdateResource, DeleteResource:
//! the API's path tree, each resource one path segment under its parent.

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::model::{ApiDoc, Page, Resource};
use super::{page, Call, ControlPlane, Reply};

impl ControlPlane {
    pub(super) fn get_resources(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let embed = c.query_all("embed").iter().any(|e| e == "methods");
        let all: Vec<Value> = doc.resources.iter().map(|r| shown(r, embed)).collect();
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn get_resource(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let embed = c.query_all("embed").iter().any(|e| e == "methods");
        let r = resource(&doc, c.param("resource_id"))?;
        Ok((200, shown(r, embed)))
    }

    pub(super) fn create_resource(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let parent = resource(&doc, c.param("parent_id"))?.clone();
        let part = c.required_str("pathPart")?;
        check_path_part(&part)?;
        if doc.resources.iter().any(|r| {
            r.parent_id.as_deref() == Some(&parent.id) && r.path_part.as_deref() == Some(&part)
        }) {
            return Err(ApiError::Conflict(format!(
                "Another resource with the same parent already has this name: {part}"
            )));
        }
        let r = Resource {
            id: self.ids.next(6),
            parent_id: Some(parent.id.clone()),
            path: child_path(&parent.path, &part),
            path_part: Some(part),
            resource_methods: Default::default(),
        };
        doc.resources.push(r.clone());
        self.store.put_api(&doc)?;
        Ok((201, shown(&r, true)))
    }

    pub(super) fn update_resource(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let id = c.param("resource_id").to_string();
        let mut r = resource(&doc, &id)?.clone();
        for op in c.patch()? {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/pathPart") => {
                    let part = op.value()?.to_string();
                    check_path_part(&part)?;
                    r.path_part = Some(part);
                }
                ("replace", "/parentId") => {
                    let parent = op.value()?;
                    resource(&doc, parent)?;
                    if subtree(&doc, &id).iter().any(|x| x == parent) {
                        return Err(ApiError::BadRequest(
                            "A resource cannot be moved under itself".into(),
                        ));
                    }
                    r.parent_id = Some(parent.to_string());
                }
                _ => return Err(op.unsupported(&["/pathPart", "/parentId"])),
            }
        }
        if r.parent_id.is_none() {
            return Err(ApiError::BadRequest(
                "The root resource cannot be changed".into(),
            ));
        }
        if doc
            .resources
            .iter()
            .any(|x| x.id != r.id && x.parent_id == r.parent_id && x.path_part == r.path_part)
        {
            return Err(ApiError::Conflict(format!(
                "Another resource with the same parent already has this name: {}",
                r.path_part.as_deref().unwrap_or_default()
            )));
        }
        if let Some(slot) = doc.resources.iter_mut().find(|x| x.id == id) {
            *slot = r;
        }
        repath(&mut doc);
        self.store.put_api(&doc)?;
        Ok((200, shown(resource(&doc, &id)?, true)))
    }

    pub(super) fn delete_resource(&mut self, c: &Call<'_>) -> Reply {
        let mut doc = self.api(c)?;
        let id = c.param("resource_id");
        let r = resource(&doc, id)?;
        if r.parent_id.is_none() {
            return Err(ApiError::BadRequest(
                "Cannot delete the root resource".into(),
            ));
        }
        let gone = subtree(&doc, id);
        doc.resources.retain(|r| !gone.contains(&r.id));
        self.store.put_api(&doc)?;
        Ok((202, Value::Null))
    }
}

pub(super) fn resource<'d>(doc: &'d ApiDoc, id: &str) -> Result<&'d Resource, ApiError> {
    doc.resources
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(ApiError::no_resource)
}

/// A resource as GetResource shows it: methods whole with `embed=methods`
/// (and after a change), else only their names.
fn shown(r: &Resource, embed: bool) -> Value {
    let mut v = json!(r);
    if !embed && !r.resource_methods.is_empty() {
        let names: Map<String, Value> = r
            .resource_methods
            .keys()
            .map(|k| (k.clone(), json!({})))
            .collect();
        v["resourceMethods"] = Value::Object(names);
    }
    v
}

fn child_path(parent: &str, part: &str) -> String {
    if parent == "/" {
        format!("/{part}")
    } else {
        format!("{parent}/{part}")
    }
}

/// `name`, `{param}` or a final greedy `{param+}`: one segment, no slash.
fn check_path_part(part: &str) -> Result<(), ApiError> {
    let param = part.strip_prefix('{').and_then(|p| p.strip_suffix('}'));
    let ok = match param {
        Some(p) => {
            let p = p.strip_suffix('+').unwrap_or(p);
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~:@!$&'()*,;=".contains(c))
        }
    };
    if ok {
        Ok(())
    } else {
        // AWS's own words, which name no part.
        Err(ApiError::BadRequest(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.".into(),
        ))
    }
}

/// `id` and every resource below it.
fn subtree(doc: &ApiDoc, id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i].clone();
        out.extend(
            doc.resources
                .iter()
                .filter(|r| r.parent_id.as_deref() == Some(cur.as_str()))
                .map(|r| r.id.clone()),
        );
        i += 1;
    }
    out
}

/// Recomputes every path from the parents, after a move or rename.
fn repath(doc: &mut ApiDoc) {
    let root = doc.api.root_resource_id.clone();
    let mut order = subtree(doc, &root);
    // Resources left unreachable (none should be) keep their paths.
    order.retain(|id| *id != root);
    for id in order {
        let Some(r) = doc.resources.iter().find(|r| r.id == id) else {
            continue;
        };
        let parent_path = r
            .parent_id
            .as_deref()
            .and_then(|p| doc.resources.iter().find(|x| x.id == p))
            .map(|p| p.path.clone())
            .unwrap_or_else(|| "/".into());
        let part = r.path_part.clone().unwrap_or_default();
        if let Some(r) = doc.resources.iter_mut().find(|r| r.id == id) {
            r.path = child_path(&parent_path, &part);
        }
    }
}
