//! Base path mappings of a custom domain name: CreateBasePathMapping,
//! GetBasePathMapping(s), UpdateBasePathMapping, DeleteBasePathMapping,
//! stored with their domain (`domain_names.rs`). A mapping names a REST
//! API and one of its stages; the data plane serves the stage's deployment
//! at `https://{domain}/{basePath}/...` (`(none)`: at the root). Without a
//! stage, as AWS allows, the path names it: `/{basePath}/{stage}/...`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::model::Page;
use super::{page, Call, ControlPlane, Reply};

const MAPPING_PATHS: &[&str] = &["/basePath", "/restapiId", "/stage"];

/// AWS's name for the empty base path.
pub(super) const NONE: &str = "(none)";

/// The BasePathMapping shape, as stored and answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) struct BasePathMapping {
    pub base_path: String,
    pub rest_api_id: String,
    /// Empty: the stage is the path's next segment.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stage: String,
}

impl ControlPlane {
    pub(super) fn create_base_path_mapping(&mut self, c: &Call<'_>) -> Reply {
        let mut d = self.domain(c.param("domain_name"))?;
        let base_path = base_path(c.str("basePath").as_deref(), d.regional())?;
        let m = BasePathMapping {
            base_path,
            rest_api_id: c.required_str("restApiId")?,
            stage: c.str("stage").unwrap_or_default(),
        };
        self.check_mapping(&m)?;
        if d.mappings.iter().any(|o| o.base_path == m.base_path) {
            return Err(ApiError::Conflict(
                "Base path already exists for this domain name".into(),
            ));
        }
        d.mappings.push(m.clone());
        self.store
            .put_domain_name(&d.domain.domain_name.clone(), &d)?;
        Ok((201, json!(m)))
    }

    pub(super) fn get_base_path_mapping(&mut self, c: &Call<'_>) -> Reply {
        let d = self.domain(c.param("domain_name"))?;
        let i = mapping_index(&d.mappings, c.param("base_path"))?;
        Ok((200, json!(d.mappings[i])))
    }

    pub(super) fn get_base_path_mappings(&mut self, c: &Call<'_>) -> Reply {
        let d = self.domain(c.param("domain_name"))?;
        let (item, position) = page(d.mappings, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_base_path_mapping(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut d = self.domain(c.param("domain_name"))?;
        let i = mapping_index(&d.mappings, c.param("base_path"))?;
        let mut m = d.mappings[i].clone();
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/basePath") => {
                    m.base_path = base_path(op.value.as_deref(), d.regional())?
                }
                ("replace", "/restapiId") => m.rest_api_id = op.value()?.to_string(),
                ("replace", "/stage") => m.stage = op.value.clone().unwrap_or_default(),
                _ => return Err(op.unsupported(MAPPING_PATHS)),
            }
        }
        self.check_mapping(&m)?;
        if d.mappings
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && o.base_path == m.base_path)
        {
            return Err(ApiError::Conflict(
                "Base path already exists for this domain name".into(),
            ));
        }
        d.mappings[i] = m.clone();
        self.store
            .put_domain_name(&d.domain.domain_name.clone(), &d)?;
        Ok((200, json!(m)))
    }

    pub(super) fn delete_base_path_mapping(&mut self, c: &Call<'_>) -> Reply {
        let mut d = self.domain(c.param("domain_name"))?;
        let i = mapping_index(&d.mappings, c.param("base_path"))?;
        d.mappings.remove(i);
        self.store
            .put_domain_name(&d.domain.domain_name.clone(), &d)?;
        Ok((202, Value::Null))
    }

    /// The mapping names a REST API of the management API and, if any,
    /// one of its stages.
    fn check_mapping(&self, m: &BasePathMapping) -> Result<(), ApiError> {
        if self.store.api(&m.rest_api_id)?.is_none() {
            return Err(ApiError::BadRequest(
                "Invalid REST API identifier specified".into(),
            ));
        }
        if !m.stage.is_empty() && self.store.stage(&m.rest_api_id, &m.stage)?.is_none() {
            return Err(ApiError::BadRequest(
                "Invalid stage identifier specified".into(),
            ));
        }
        Ok(())
    }
}

/// The mapping whose base path is `given` (URL-decoded; `(none)` or empty: the root).
fn mapping_index(all: &[BasePathMapping], given: &str) -> Result<usize, ApiError> {
    let given = if given.is_empty() { NONE } else { given };
    let given = given.trim_matches('/');
    all.iter()
        .position(|m| m.base_path == given)
        .ok_or_else(|| ApiError::NotFound("Invalid base path mapping identifier specified".into()))
}

/// A base path as stored: `(none)` for the root; letters, digits and
/// `$-_.+!*'()`, with `/` between levels on a REGIONAL domain only.
fn base_path(given: Option<&str>, regional: bool) -> Result<String, ApiError> {
    let p = given.unwrap_or("").trim_matches('/');
    if p.is_empty() || p == NONE {
        return Ok(NONE.into());
    }
    let bad = |why: &str| ApiError::BadRequest(format!("Invalid base path {p}: {why}"));
    if p.contains('/') && !regional {
        return Err(bad(
            "multi-level base paths are for REGIONAL domain names only",
        ));
    }
    for seg in p.split('/') {
        if seg.is_empty() {
            return Err(bad("empty path segment"));
        }
        if !seg
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "$-_.+!*'()".contains(ch))
        {
            return Err(bad("may contain letters, digits and $-_.+!*'() only"));
        }
    }
    Ok(p.to_string())
}
