//! CreateStage, GetStages, GetStage, UpdateStage, DeleteStage: a stage is
//! a named pointer to a deployment, with variables, method settings
//! (throttling, caching, metrics), canary and access log settings.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::error::ApiError;
use super::model::{AccessLogSettings, CanarySettings, MethodSetting, Stage};
use super::patch::PatchOp;
use super::{unescape, Call, ControlPlane, Reply};

/// AWS's cache cluster sizes, in GB.
const CACHE_SIZES: &[&str] = &["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"];

const STAGE_PATHS: &[&str] = &[
    "/deploymentId",
    "/description",
    "/clientCertificateId",
    "/documentationVersion",
    "/variables/{name}",
    "/cacheClusterEnabled",
    "/cacheClusterSize",
    "/tracingEnabled",
    "/canarySettings/{percentTraffic|deploymentId|useStageCache|stageVariableOverrides/{name}}",
    "/accessLogSettings/{format|destinationArn}",
    "/{resourcePath|*}/{method|*}/throttling/{rateLimit|burstLimit}",
    "/{resourcePath|*}/{method|*}/caching/{enabled|ttlInSeconds|dataEncrypted|requireAuthorizationForCacheControl|unauthorizedCacheControlHeaderStrategy}",
    "/{resourcePath|*}/{method|*}/metrics/enabled",
    "/{resourcePath|*}/{method|*}/logging/{loglevel|dataTrace}",
];

impl ControlPlane {
    /// A stage as CreateStage (or CreateDeployment with a stage name) makes
    /// it; `description`: the body key its description comes from.
    pub(super) fn new_stage(
        &self,
        c: &Call<'_>,
        name: &str,
        deployment: &str,
        description: &str,
    ) -> Result<Stage, ApiError> {
        check_stage_name(name)?;
        let size = c.str("cacheClusterSize");
        if let Some(s) = &size {
            check_cache_size(s)?;
        }
        let enabled = c
            .body
            .get("cacheClusterEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Stage {
            deployment_id: deployment.to_string(),
            stage_name: name.to_string(),
            description: c.str(description),
            cache_cluster_enabled: enabled,
            cache_cluster_size: size.or_else(|| enabled.then(|| "0.5".into())),
            cache_cluster_status: if enabled {
                "AVAILABLE"
            } else {
                "NOT_AVAILABLE"
            }
            .into(),
            method_settings: BTreeMap::new(),
            variables: c.map("variables")?,
            access_log_settings: None,
            canary_settings: match c.body.get("canarySettings") {
                None | Some(Value::Null) => None,
                Some(v) => {
                    Some(serde_json::from_value(v.clone()).map_err(|e| {
                        ApiError::BadRequest(format!("Invalid canarySettings: {e}"))
                    })?)
                }
            },
            tracing_enabled: c
                .body
                .get("tracingEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            client_certificate_id: None,
            documentation_version: c.str("documentationVersion"),
            tags: super::tags::given(c)?,
            created_date: c.now,
            last_updated_date: c.now,
        })
    }

    pub(super) fn create_stage(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let name = c.required_str("stageName")?;
        let deployment = c.required_str("deploymentId")?;
        self.deployment(&api, &deployment)?;
        if self.store.stage(&api, &name)?.is_some() {
            return Err(ApiError::Conflict("Stage already exists".into()));
        }
        let s = self.new_stage(c, &name, &deployment, "description")?;
        if let Some(k) = &s.canary_settings {
            if let Some(d) = &k.deployment_id {
                self.deployment(&api, d)?;
            }
        }
        self.store.put_stage(&api, &s)?;
        Ok((201, json!(s)))
    }

    pub(super) fn get_stages(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let only = c.query_all("deploymentId");
        let item: Vec<Stage> = self
            .store
            .stages(&api)?
            .into_iter()
            .filter(|s| only.is_empty() || only.contains(&s.deployment_id))
            .collect();
        Ok((200, json!({ "item": item })))
    }

    pub(super) fn get_stage(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        Ok((200, json!(self.stage(&api, c.param("stage_name"))?)))
    }

    pub(super) fn update_stage(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let mut s = self.stage(&api, c.param("stage_name"))?;
        for op in c.patch()? {
            self.patch_stage(&api, &mut s, &op)?;
        }
        s.last_updated_date = c.now;
        self.store.put_stage(&api, &s)?;
        Ok((200, json!(s)))
    }

    pub(super) fn delete_stage(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let name = c.param("stage_name");
        if !self.store.delete_stage(&api, name)? {
            return Err(ApiError::no_stage());
        }
        Ok((202, Value::Null))
    }

    /// Checks the stage exists; the admin listener then empties its cache
    /// on every worker (the control plane has no mailboxes).
    pub(super) fn flush_stage_cache(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let s = self.stage(&api, c.param("stage_name"))?;
        if !s.cache_cluster_enabled {
            return Err(ApiError::BadRequest(format!(
                "Stage {} has no cache cluster to flush",
                s.stage_name
            )));
        }
        Ok((202, Value::Null))
    }

    fn stage(&self, api: &str, name: &str) -> Result<Stage, ApiError> {
        self.store.stage(api, name)?.ok_or_else(ApiError::no_stage)
    }

    fn patch_stage(&self, api: &str, s: &mut Stage, op: &PatchOp) -> Result<(), ApiError> {
        let segs: Vec<&str> = op.path.trim_start_matches('/').split('/').collect();
        match (op.op.as_str(), segs.as_slice()) {
            ("replace", ["deploymentId"]) => {
                let d = op.value()?;
                self.deployment(api, d)?;
                s.deployment_id = d.to_string();
            }
            ("replace", ["description"]) => s.description = op.value.clone(),
            ("replace", ["documentationVersion"]) => {
                s.documentation_version = op.value.clone().filter(|v| !v.is_empty())
            }
            ("replace", ["clientCertificateId"]) => {
                s.client_certificate_id = match op.value.as_deref() {
                    None | Some("") => None,
                    Some(id) => {
                        self.client_certificate(id).map_err(|_| {
                            ApiError::BadRequest(format!(
                                "Invalid client certificate identifier specified {id}"
                            ))
                        })?;
                        Some(id.to_string())
                    }
                };
            }
            ("replace", ["tracingEnabled"]) => s.tracing_enabled = op.bool()?,
            ("replace", ["cacheClusterEnabled"]) => {
                s.cache_cluster_enabled = op.bool()?;
                s.cache_cluster_status = if s.cache_cluster_enabled {
                    "AVAILABLE"
                } else {
                    "NOT_AVAILABLE"
                }
                .into();
                if s.cache_cluster_enabled && s.cache_cluster_size.is_none() {
                    s.cache_cluster_size = Some("0.5".into());
                }
            }
            ("replace", ["cacheClusterSize"]) => {
                check_cache_size(op.value()?)?;
                s.cache_cluster_size = op.value.clone();
            }
            ("add" | "replace", ["variables", name]) => {
                s.variables.insert(unescape(name), op.value()?.to_string());
            }
            ("remove", ["variables", name]) => {
                s.variables.remove(&unescape(name));
            }
            ("remove", ["canarySettings"]) => s.canary_settings = None,
            (_, ["canarySettings", rest @ ..]) => {
                let k = s
                    .canary_settings
                    .get_or_insert_with(CanarySettings::default);
                match (op.op.as_str(), rest) {
                    ("replace", ["percentTraffic"]) => {
                        let p: f64 = op.value()?.parse().map_err(|_| bad_number(op))?;
                        if !(0.0..=100.0).contains(&p) {
                            return Err(ApiError::BadRequest(
                                "percentTraffic must be between 0 and 100".into(),
                            ));
                        }
                        k.percent_traffic = p;
                    }
                    ("replace", ["deploymentId"]) => {
                        let d = op.value()?;
                        self.deployment(api, d)?;
                        k.deployment_id = Some(d.to_string());
                    }
                    ("replace", ["useStageCache"]) => k.use_stage_cache = op.bool()?,
                    ("add" | "replace", ["stageVariableOverrides", name]) => {
                        k.stage_variable_overrides
                            .insert(unescape(name), op.value()?.to_string());
                    }
                    ("remove", ["stageVariableOverrides", name]) => {
                        k.stage_variable_overrides.remove(&unescape(name));
                    }
                    _ => return Err(op.unsupported(STAGE_PATHS)),
                }
            }
            ("remove", ["accessLogSettings"]) => s.access_log_settings = None,
            ("replace", ["accessLogSettings", field]) => {
                let l = s
                    .access_log_settings
                    .get_or_insert_with(AccessLogSettings::default);
                match *field {
                    "format" => {
                        if let Some(f) = &op.value {
                            crate::metrics::Format::compile(f).map_err(|e| {
                                ApiError::BadRequest(format!("Invalid access log format: {e}"))
                            })?;
                        }
                        l.format = op.value.clone()
                    }
                    "destinationArn" => l.destination_arn = op.value.clone(),
                    _ => return Err(op.unsupported(STAGE_PATHS)),
                }
            }
            ("replace", [resource, method, group, field]) => {
                let key = format!("{resource}/{method}");
                let m = s
                    .method_settings
                    .entry(key)
                    .or_insert_with(MethodSetting::defaults);
                match (*group, *field) {
                    ("throttling", "rateLimit") => {
                        m.throttling_rate_limit = op.value()?.parse().map_err(|_| bad_number(op))?
                    }
                    ("throttling", "burstLimit") => {
                        m.throttling_burst_limit =
                            op.value()?.parse().map_err(|_| bad_number(op))?
                    }
                    ("caching", "enabled") => m.caching_enabled = op.bool()?,
                    ("caching", "ttlInSeconds") => {
                        let t: i64 = op.value()?.parse().map_err(|_| bad_number(op))?;
                        if !(0..=3600).contains(&t) {
                            return Err(ApiError::BadRequest(
                                "Cache ttl must be between 0 and 3600 seconds".into(),
                            ));
                        }
                        m.cache_ttl_in_seconds = t;
                    }
                    ("caching", "dataEncrypted") => m.cache_data_encrypted = op.bool()?,
                    ("caching", "requireAuthorizationForCacheControl") => {
                        m.require_authorization_for_cache_control = op.bool()?
                    }
                    ("caching", "unauthorizedCacheControlHeaderStrategy") => {
                        let v = op.value()?;
                        if !matches!(
                            v,
                            "FAIL_WITH_403"
                                | "SUCCEED_WITH_RESPONSE_HEADER"
                                | "SUCCEED_WITHOUT_RESPONSE_HEADER"
                        ) {
                            return Err(op.unsupported(STAGE_PATHS));
                        }
                        m.unauthorized_cache_control_header_strategy = v.to_string();
                    }
                    ("metrics", "enabled") => m.metrics_enabled = op.bool()?,
                    ("logging", "loglevel") => m.logging_level = op.value()?.to_string(),
                    ("logging", "dataTrace") => m.data_trace_enabled = op.bool()?,
                    _ => return Err(op.unsupported(STAGE_PATHS)),
                }
            }
            _ => return Err(op.unsupported(STAGE_PATHS)),
        }
        Ok(())
    }
}

fn bad_number(op: &PatchOp) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid number '{}' for path '{}'",
        op.value.as_deref().unwrap_or_default(),
        op.path
    ))
}

fn check_cache_size(s: &str) -> Result<(), ApiError> {
    if CACHE_SIZES.contains(&s) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "Invalid cache cluster size {s}. Must be one of: [{}]",
            CACHE_SIZES.join(", ")
        )))
    }
}

/// Letters, digits, `-` and `_`, as API Gateway's stage names.
fn check_stage_name(name: &str) -> Result<(), ApiError> {
    if !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "Stage name only allows a-zA-Z0-9_-".into(),
        ))
    }
}
