//! VPC links: CreateVpcLink, GetVpcLink(s), UpdateVpcLink, DeleteVpcLink,
//! kept in `control.db` (`vpc_links`). AWS provisions a link to a network
//! load balancer (status PENDING, then AVAILABLE); portico has nothing to
//! provision, so a link is AVAILABLE at once. An integration with
//! `connectionType: VPC_LINK` names one by `connectionId` (checked at
//! PutIntegration, see `methods.rs`) and reaches its `uri` as any HTTP
//! backend.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::model::{Integration, Page};
use super::store::ControlStore;
use super::{page, tags, Call, ControlPlane, Reply};
use crate::config::IntegrationConfig;

const VPC_LINK_PATHS: &[&str] = &["/name", "/description"];

/// AWS's status message for a link that is ready.
const READY: &str = "Your vpc link is ready for use";

/// The VpcLink shape, as stored and answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VpcLink {
    id: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    target_arns: Vec<String>,
    status: String,
    status_message: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) tags: BTreeMap<String, String>,
}

impl ControlPlane {
    pub(super) fn create_vpc_link(&mut self, c: &Call<'_>) -> Reply {
        let name = c.required_str("name")?;
        let target_arns: Vec<String> = match c.body.get("targetArns") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) if !s.is_empty() => Ok(s.to_string()),
                    _ => Err(ApiError::BadRequest(
                        "Invalid targetArns: each must be a non-empty string".into(),
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(ApiError::BadRequest("targetArns must not be empty".into())),
        };
        let l = VpcLink {
            id: self.ids.next(6),
            name,
            description: c.str("description"),
            target_arns,
            status: "AVAILABLE".into(),
            status_message: READY.into(),
            tags: tags::given(c)?,
        };
        self.store.put_vpc_link(&l.id, &l)?;
        Ok((202, json!(l)))
    }

    pub(super) fn get_vpc_link(&mut self, c: &Call<'_>) -> Reply {
        Ok((200, json!(self.vpc_link(c.param("vpclink_id"))?)))
    }

    pub(super) fn get_vpc_links(&mut self, c: &Call<'_>) -> Reply {
        let all: Vec<VpcLink> = self.store.vpc_links()?;
        let (item, position) = page(all, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn update_vpc_link(&mut self, c: &Call<'_>) -> Reply {
        let ops = c.patch()?;
        let mut l = self.vpc_link(c.param("vpclink_id"))?;
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/name") => {
                    l.name = op.value()?.to_string();
                    if l.name.is_empty() {
                        return Err(ApiError::BadRequest("name must not be empty".into()));
                    }
                }
                ("replace", "/description") => {
                    l.description = op.value.clone().filter(|d| !d.is_empty())
                }
                _ => return Err(op.unsupported(VPC_LINK_PATHS)),
            }
        }
        self.store.put_vpc_link(&l.id, &l)?;
        Ok((200, json!(l)))
    }

    pub(super) fn delete_vpc_link(&mut self, c: &Call<'_>) -> Reply {
        let id = c.param("vpclink_id");
        self.vpc_link(id)?;
        // AWS refuses to delete a link an integration names.
        let users: Vec<String> = self
            .store
            .listed()?
            .iter()
            .flat_map(|doc| &doc.resources)
            .flat_map(|r| r.resource_methods.values().map(move |m| (r, m)))
            .filter(|(_, m)| {
                m.method_integration
                    .as_ref()
                    .is_some_and(|i| i.connection_id.as_deref() == Some(id))
            })
            .map(|(r, m)| format!("{}:{}", m.http_method, r.id))
            .collect();
        if !users.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Cannot delete vpc link. Vpc link '{id}', is referenced in [{}] in format of [Method:Resource].",
                users.join(", ")
            )));
        }
        if !self.store.delete_vpc_link(id)? {
            return Err(vpc_link_gone(id));
        }
        Ok((202, Value::Null))
    }

    /// Link `id`; NotFoundException when there is none.
    pub(super) fn vpc_link(&self, id: &str) -> Result<VpcLink, ApiError> {
        self.store.vpc_link(id)?.ok_or_else(|| vpc_link_gone(id))
    }

    /// Applies `f` to link `id`'s tags and stores it (TagResource, UntagResource).
    pub(super) fn change_vpc_link_tags(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), ApiError> {
        let mut l = self.vpc_link(id)?;
        f(&mut l.tags);
        self.store.put_vpc_link(id, &l)
    }
}

fn vpc_link_gone(id: &str) -> ApiError {
    ApiError::NotFound(format!("Invalid VPC link identifier specified {id}"))
}

impl ControlPlane {
    /// The ids of the stored VPC links (what a `VPC_LINK` integration may name).
    pub(super) fn vpc_link_ids(&self) -> Result<Vec<String>, ApiError> {
        ids(&self.store)
    }
}

/// A `VPC_LINK` integration names a VPC link of `known` (or a stage
/// variable, resolved when called); `INTERNET` (or none) names none.
pub(super) fn check_connection(i: &Integration, known: &[String]) -> Result<(), ApiError> {
    match (i.connection_type.as_deref(), i.connection_id.as_deref()) {
        (None | Some("INTERNET"), None) => Ok(()),
        (None | Some("INTERNET"), Some(_)) => Err(ApiError::BadRequest(
            "connectionId is only for connectionType VPC_LINK".into(),
        )),
        (Some("VPC_LINK"), None | Some("")) => Err(ApiError::BadRequest(
            "connectionId must be set for connectionType VPC_LINK".into(),
        )),
        (Some("VPC_LINK"), Some(id)) if id.starts_with("${stageVariables.") => Ok(()),
        (Some("VPC_LINK"), Some(id)) if known.iter().any(|k| k == id) => Ok(()),
        (Some("VPC_LINK"), Some(id)) => Err(ApiError::BadRequest(format!(
            "Invalid VPC link identifier specified {id}"
        ))),
        (Some(t), _) => Err(ApiError::BadRequest(format!(
            "Invalid connection type specified {t}. Valid options are INTERNET,VPC_LINK"
        ))),
    }
}

/// The ids of the VPC links in `store`.
pub(super) fn ids(store: &ControlStore) -> Result<Vec<String>, ApiError> {
    let all: Vec<VpcLink> = store.vpc_links()?;
    Ok(all.into_iter().map(|l| l.id).collect())
}

/// Whether a `VPC_LINK` integration names a stored link once the stage's
/// `variables` fill a `${stageVariables.NAME}` connectionId; the reason
/// if not (AWS answers such a call 500 Internal server error).
pub(super) fn reachable(
    i: &Integration,
    variables: &BTreeMap<String, String>,
    known: &[String],
) -> Result<(), String> {
    let Some(cid) = i.connection_id.as_deref() else {
        return Ok(());
    };
    if i.connection_type.as_deref() != Some("VPC_LINK") {
        return Ok(());
    }
    let id = match cid
        .strip_prefix("${stageVariables.")
        .and_then(|n| n.strip_suffix('}'))
    {
        Some(name) => variables.get(name).map_or("", String::as_str),
        None => cid,
    };
    if known.iter().any(|k| k == id) {
        Ok(())
    } else {
        Err(format!(
            "VPC link `{id}` (connectionId {cid}) does not exist"
        ))
    }
}

/// What a call through a VPC link that does not exist gets: AWS's 500.
pub(super) fn unreachable() -> IntegrationConfig {
    IntegrationConfig::Mock {
        status: 500,
        headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
        body: r#"{"message": "Internal server error"}"#.into(),
    }
}
