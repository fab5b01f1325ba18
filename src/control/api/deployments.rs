//! CreateDeployment, GetDeployments, GetDeployment, UpdateDeployment,
//! DeleteDeployment. A deployment freezes the API as it is; a stage serves one.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::error::ApiError;
use super::model::{CanarySettings, Deployment, Page};
use super::{page, Call, ControlPlane, Reply};

impl ControlPlane {
    pub(super) fn create_deployment(&mut self, c: &Call<'_>) -> Reply {
        let doc = self.api(c)?;
        let api_id = doc.api.id.clone();
        let summary = doc.summary();
        if summary.is_empty() {
            return Err(ApiError::BadRequest(
                "The REST API doesn't contain any methods".into(),
            ));
        }
        // AWS refuses to deploy a method that has nowhere to send its calls.
        if doc.resources.iter().any(|r| {
            r.resource_methods
                .values()
                .any(|m| m.method_integration.is_none())
        }) {
            return Err(ApiError::BadRequest(
                "No integration defined for method".into(),
            ));
        }
        let d = Deployment {
            id: self.ids.next(6),
            description: c.str("description"),
            created_date: c.now,
            api_summary: summary,
        };
        let canary: Option<CanarySettings> = match c.body.get("canarySettings") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value(v.clone())
                    .map_err(|e| ApiError::BadRequest(format!("Invalid canarySettings: {e}")))?,
            ),
        };
        // An empty stageName is no stage, as an absent one: the deployment
        // is made and no stage points to it.
        let stage_name = c.str("stageName").filter(|s| !s.is_empty());
        let stage = match (stage_name, canary) {
            (None, Some(_)) => {
                return Err(ApiError::BadRequest(
                    "Canary settings need a stageName: a canary release goes to an existing stage"
                        .into(),
                ))
            }
            (None, None) => None,
            // A canary release: the stage keeps serving its deployment and
            // sends percentTraffic of its calls to the new one.
            (Some(name), Some(mut k)) => {
                let mut s = self.store.stage(&api_id, &name)?.ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "A canary release needs an existing stage; stage {name} does not exist"
                    ))
                })?;
                if !(0.0..=100.0).contains(&k.percent_traffic) {
                    return Err(ApiError::BadRequest(
                        "percentTraffic must be between 0 and 100".into(),
                    ));
                }
                k.deployment_id = Some(d.id.clone());
                s.canary_settings = Some(k);
                s.last_updated_date = c.now;
                Some(s)
            }
            (Some(name), None) => {
                let mut s = match self.store.stage(&api_id, &name)? {
                    Some(s) => s,
                    None => self.new_stage(c, &name, &d.id, "stageDescription")?,
                };
                s.deployment_id = d.id.clone();
                if let Some(desc) = c.str("stageDescription") {
                    s.description = Some(desc);
                }
                if let Some(vars) = c.body.get("variables") {
                    let vars: BTreeMap<String, String> = serde_json::from_value(vars.clone())
                        .map_err(|e| ApiError::BadRequest(format!("Invalid variables: {e}")))?;
                    s.variables.extend(vars);
                }
                s.last_updated_date = c.now;
                Some(s)
            }
        };
        self.store
            .put_deployment(&api_id, &d, &doc, stage.as_ref())?;
        Ok((201, json!(d)))
    }

    pub(super) fn get_deployments(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?;
        let all = self.store.deployments(&api.api.id)?;
        let (item, position) = page(all, c)?;
        // AWS lists a deployment's id, description and createdDate; its
        // apiSummary only comes from GetDeployment with embed=apisummary.
        let item: Vec<Value> = item.iter().map(|d| without_summary(json!(d))).collect();
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn get_deployment(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?;
        let (d, _) = self.deployment(&api.api.id, c.param("deployment_id"))?;
        if c.query_all("embed").iter().any(|e| e == "apisummary") {
            Ok((200, json!(d)))
        } else {
            Ok((200, without_summary(json!(d))))
        }
    }

    /// Only a deployment's description changes; what it deployed never does.
    pub(super) fn update_deployment(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let (mut d, _) = self.deployment(&api, c.param("deployment_id"))?;
        for op in c.patch()? {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/description") => d.description = Some(op.value()?.to_string()),
                _ => return Err(op.unsupported(&["/description"])),
            }
        }
        self.store.update_deployment(&api, &d)?;
        Ok((200, json!(d)))
    }

    pub(super) fn delete_deployment(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let id = c.param("deployment_id");
        self.deployment(&api, id)?;
        if self.store.stages(&api)?.iter().any(|s| {
            s.deployment_id == id
                || s.canary_settings
                    .as_ref()
                    .is_some_and(|k| k.deployment_id.as_deref() == Some(id))
        }) {
            return Err(ApiError::BadRequest(
                "Active stages pointing to this deployment must be moved or deleted".into(),
            ));
        }
        self.store.delete_deployment(&api, id)?;
        Ok((202, Value::Null))
    }

    pub(super) fn deployment(
        &self,
        api: &str,
        id: &str,
    ) -> Result<(Deployment, super::model::ApiDoc), ApiError> {
        self.store
            .deployment(api, id)?
            .ok_or_else(ApiError::no_deployment)
    }
}

fn without_summary(mut d: Value) -> Value {
    if let Some(o) = d.as_object_mut() {
        o.remove("apiSummary");
    }
    d
}
