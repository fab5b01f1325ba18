//! API keys and usage plans: CreateApiKey … DeleteApiKey, CreateUsagePlan …
//! DeleteUsagePlan, CreateUsagePlanKey, GetUsagePlanKeys, GetUsagePlanKey, DeleteUsagePlanKey
//! and GetUsage. They are published with the deployed stages, so a key or
//! plan made here throttles and meters the data plane like one from the
//! config file (a plan is named by its id there, and in usage records).

use serde_json::{json, Value};

use super::error::ApiError;
use super::file_apis::FROM_FILE;
use super::model::{
    ApiKey, ApiStage, Page, QuotaSettings, ThrottleSettings, UsagePlan, UsagePlanKey,
};
use super::patch::PatchOp;
use super::usage_records::report_error;
use super::{page, unescape, Call, ControlPlane, Reply};

fn from_file(what: &str, id: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "The {what} {id} is declared in the config file; change it there and reload (SIGHUP)"
    ))
}

/// API Gateway's minimum key length.
const MIN_KEY_LEN: usize = 20;

impl ControlPlane {
    pub(super) fn create_api_key(&mut self, c: &Call<'_>) -> Reply {
        let value = match c.str("value") {
            Some(v) if v.len() < MIN_KEY_LEN => {
                return Err(ApiError::BadRequest(format!(
                    "API Key value should be at least {MIN_KEY_LEN} characters"
                )))
            }
            Some(v) => v,
            None => crate::control::state::random_key_value()
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        };
        if self.store.key_with_value(&value)?.is_some() {
            return Err(ApiError::Conflict("API Key already exists".into()));
        }
        let k = ApiKey {
            id: self.ids.next(10),
            value: Some(value),
            name: c.str("name").unwrap_or_default(),
            description: c.str("description"),
            enabled: c
                .body
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            customer_id: c.str("customerId"),
            created_date: c.now,
            last_updated_date: c.now,
            stage_keys: Vec::new(),
            tags: super::tags::given(c)?,
        };
        self.store.put_key(&k)?;
        Ok((201, json!(k)))
    }

    pub(super) fn get_api_keys(&mut self, c: &Call<'_>) -> Reply {
        let with_values = c
            .query_all("includeValues")
            .first()
            .is_some_and(|v| v == "true");
        let name = c.query_all("name").first().cloned();
        let mut all = self.store.keys()?;
        all.extend(self.file_keys(&all));
        // By name (then id): a stable order that does not hang on random ids.
        all.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        let keys: Vec<ApiKey> = all
            .into_iter()
            .filter(|k| name.as_ref().is_none_or(|n| k.name.starts_with(n.as_str())))
            .map(|k| shown(k, with_values))
            .collect();
        let (item, position) = page(keys, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn get_api_key(&mut self, c: &Call<'_>) -> Reply {
        let with_values = c
            .query_all("includeValue")
            .first()
            .is_some_and(|v| v == "true");
        Ok((200, json!(shown(self.key(c)?, with_values))))
    }

    pub(super) fn update_api_key(&mut self, c: &Call<'_>) -> Reply {
        self.writable_key(c.param("api_Key"))?;
        let mut k = self.key(c)?;
        for op in c.patch()? {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/name") => k.name = op.value()?.to_string(),
                ("replace", "/description") => k.description = op.value.clone(),
                ("replace", "/enabled") => k.enabled = op.bool()?,
                ("replace", "/customerId") => {
                    k.customer_id = op.value.clone().filter(|v| !v.is_empty())
                }
                _ => {
                    return Err(op.unsupported(&[
                        "/name",
                        "/description",
                        "/enabled",
                        "/customerId",
                    ]))
                }
            }
        }
        k.last_updated_date = c.now;
        self.store.put_key(&k)?;
        Ok((200, json!(shown(k, false))))
    }

    pub(super) fn delete_api_key(&mut self, c: &Call<'_>) -> Reply {
        let id = c.param("api_Key");
        self.writable_key(id)?;
        if !self.store.delete_key(id)? {
            return Err(ApiError::no_api_key());
        }
        Ok((202, Value::Null))
    }

    pub(super) fn create_usage_plan(&mut self, c: &Call<'_>) -> Reply {
        let p = UsagePlan {
            id: self.ids.next(6),
            name: c.required_str("name")?,
            description: c.str("description"),
            api_stages: self.api_stages(c.body.get("apiStages"))?,
            throttle: field(&c.body, "throttle")?,
            quota: field(&c.body, "quota")?,
            tags: super::tags::given(c)?,
        };
        check_plan(&p)?;
        self.store.put_plan(&p)?;
        Ok((201, json!(p)))
    }

    /// All plans, or with `keyId` those the key is in.
    pub(super) fn get_usage_plans(&mut self, c: &Call<'_>) -> Reply {
        let mut plans = self.store.plans()?;
        plans.extend(self.file_plans(&plans));
        if let Some(key) = c.query_all("keyId").first() {
            let mut with_key = Vec::new();
            for p in plans {
                if self.keys_of_plan(&p)?.iter().any(|k| k.id == *key) {
                    with_key.push(p);
                }
            }
            plans = with_key;
        }
        let (item, position) = page(plans, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn get_usage_plan(&mut self, c: &Call<'_>) -> Reply {
        Ok((200, json!(self.plan(c)?)))
    }

    pub(super) fn update_usage_plan(&mut self, c: &Call<'_>) -> Reply {
        self.writable_plan(c.param("usageplanId"))?;
        let mut p = self.plan(c)?;
        for op in c.patch()? {
            self.patch_plan(&mut p, &op)?;
        }
        check_plan(&p)?;
        self.store.put_plan(&p)?;
        Ok((200, json!(p)))
    }

    pub(super) fn delete_usage_plan(&mut self, c: &Call<'_>) -> Reply {
        let id = c.param("usageplanId");
        self.writable_plan(id)?;
        if !self.store.delete_plan(id)? {
            return Err(ApiError::no_usage_plan());
        }
        Ok((202, Value::Null))
    }

    pub(super) fn create_usage_plan_key(&mut self, c: &Call<'_>) -> Reply {
        self.writable_plan(c.param("usageplanId"))?;
        let p = self.plan(c)?;
        let key_id = c.required_str("keyId")?;
        if c.str("keyType").as_deref() != Some("API_KEY") {
            return Err(ApiError::BadRequest("keyType must be API_KEY".into()));
        }
        let k = self.store.key(&key_id)?.ok_or_else(ApiError::no_api_key)?;
        // A key may be in one plan per API stage, as in AWS.
        for other in self.store.plans()? {
            if other.id != p.id
                && self.store.plan_keys(&other.id)?.contains(&key_id)
                && other.api_stages.iter().any(|s| {
                    p.api_stages
                        .iter()
                        .any(|t| t.api_id == s.api_id && t.stage == s.stage)
                })
            {
                return Err(ApiError::Conflict(format!(
                    "Usage Plan {} cannot be added because API Key {key_id} cannot reference multiple Usage Plans with the same API Stage",
                    p.id
                )));
            }
        }
        if !self.store.add_plan_key(&p.id, &key_id)? {
            return Err(ApiError::Conflict("Usage Plan Key already exists".into()));
        }
        Ok((201, json!(plan_key(k))))
    }

    pub(super) fn get_usage_plan_keys(&mut self, c: &Call<'_>) -> Reply {
        let p = self.plan(c)?;
        let (item, position) = page(self.keys_of_plan(&p)?, c)?;
        Ok((200, json!(Page { position, item })))
    }

    pub(super) fn get_usage_plan_key(&mut self, c: &Call<'_>) -> Reply {
        let p = self.plan(c)?;
        let key = c.param("keyId");
        match self.keys_of_plan(&p)?.into_iter().find(|k| k.id == key) {
            Some(k) => Ok((200, json!(k))),
            None => Err(ApiError::no_api_key()),
        }
    }

    /// The plan's keys, stored and from the config file.
    fn keys_of_plan(&self, p: &UsagePlan) -> Result<Vec<UsagePlanKey>, ApiError> {
        let mut keys = Vec::new();
        for id in self.store.plan_keys(&p.id)? {
            if let Some(k) = self.store.key(&id)? {
                keys.push(plan_key(k));
            }
        }
        for k in self.file_keys(&[]) {
            let member = self
                .view
                .api_keys
                .iter()
                .any(|f| f.id() == k.id && f.usage_plans.contains(&p.id));
            if member {
                keys.push(plan_key(k));
            }
        }
        Ok(keys)
    }

    pub(super) fn delete_usage_plan_key(&mut self, c: &Call<'_>) -> Reply {
        self.writable_plan(c.param("usageplanId"))?;
        let p = self.plan(c)?;
        let key = c.param("keyId");
        if !self.store.remove_plan_key(&p.id, key)? {
            return Err(ApiError::no_api_key());
        }
        Ok((202, Value::Null))
    }

    /// Calls per key per day and what remained of the quota, from the
    /// usage records (the `items` of the answer are AWS's `values`).
    pub(super) fn get_usage(&mut self, c: &Call<'_>) -> Reply {
        let p = self.plan(c)?;
        let date = |k: &str| -> Result<chrono::NaiveDate, ApiError> {
            let v = c.query_all(k).first().cloned().unwrap_or_default();
            chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| ApiError::BadRequest(format!("Invalid {k} '{v}': YYYY-MM-DD")))
        };
        let (from, to) = (date("startDate")?, date("endDate")?);
        let key = c.query_all("keyId").first().cloned();
        let mut records = self.usage_records()?;
        let mut usage = crate::usage_report::report(
            &self.view,
            records.as_dyn(),
            &p.id,
            key.as_deref(),
            from,
            to,
        )
        .map_err(report_error)?;
        if let Some(items) = usage.as_object_mut().and_then(|o| o.remove("items")) {
            usage["values"] = items;
        }
        // `bytes` is the CLI report's; the Usage shape has no such member.
        if let Some(o) = usage.as_object_mut() {
            o.remove("bytes");
        }
        Ok((200, usage))
    }

    /// UpdateUsage: `replace /remaining N` sets what remains of a key's
    /// quota this period to N, live on the data plane and kept in the usage
    /// store (as an adjustment of the period's used calls); answered with
    /// the key's usage this period, as GetUsage.
    pub(super) fn update_usage(&mut self, c: &Call<'_>) -> Reply {
        let p = self.plan(c)?;
        let key = c.param("keyId").to_string();
        let known =
            self.store.key(&key)?.is_some() || self.view.api_keys.iter().any(|k| k.id() == key);
        if !known {
            return Err(ApiError::no_api_key());
        }
        if !self.keys_of_plan(&p)?.iter().any(|k| k.id == key) {
            return Err(ApiError::BadRequest(format!(
                "API Key {key} is not associated with usage plan {}",
                p.id
            )));
        }
        let ops = super::patch::operations(&c.body)?;
        let mut remaining = None;
        for op in &ops {
            if op.op != "replace" || op.path != "/remaining" {
                return Err(op.unsupported(&["replace /remaining"]));
            }
            let v = op.value()?;
            remaining = Some(v.parse::<u64>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "Invalid remaining '{v}': a whole number of calls, 0 or more"
                ))
            })?);
        }
        let Some(remaining) = remaining else {
            return Err(ApiError::BadRequest(
                "Invalid patch operations: 'replace /remaining' is required".into(),
            ));
        };
        let set = match &self.deployed {
            Some(d) => d
                .set_remaining(&p.id, &key, remaining)
                .map_err(ApiError::Internal)?,
            None => None,
        };
        let Some((period, adjust)) = set else {
            return Err(ApiError::BadRequest(format!(
                "Usage plan {} has no quota for API Key {key} to update",
                p.id
            )));
        };
        let today = crate::throttle::Calendar::from_env()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .today();
        let mut records = self.usage_records_for_update()?;
        records.set_adjust(&self.view, &p.id, &key, period, today, remaining, adjust)?;
        let mut usage = crate::usage_report::report(
            &self.view,
            records.as_dyn(),
            &p.id,
            Some(&key),
            period,
            today.max(period),
        )
        .map_err(report_error)?;
        if let Some(items) = usage.as_object_mut().and_then(|o| o.remove("items")) {
            usage["values"] = items;
        }
        // `bytes` is the CLI report's; the Usage shape has no such member.
        if let Some(o) = usage.as_object_mut() {
            o.remove("bytes");
        }
        Ok((200, usage))
    }

    /// A key the call names: stored, or (read-only) from the config file.
    fn key(&self, c: &Call<'_>) -> Result<ApiKey, ApiError> {
        let id = c.param("api_Key");
        if let Some(k) = self.store.key(id)? {
            return Ok(k);
        }
        self.file_keys(&[])
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(ApiError::no_api_key)
    }

    fn plan(&self, c: &Call<'_>) -> Result<UsagePlan, ApiError> {
        let id = c.param("usageplanId");
        if let Some(p) = self.store.plan(id)? {
            return Ok(p);
        }
        self.file_plans(&[])
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(ApiError::no_usage_plan)
    }

    /// The config file's keys (those of `view` not in `stored`).
    fn file_keys(&self, stored: &[ApiKey]) -> Vec<ApiKey> {
        let ours = self.store.keys().unwrap_or_default();
        self.view
            .api_keys
            .iter()
            .filter(|k| !ours.iter().chain(stored).any(|s| s.id == k.id()))
            .map(|k| ApiKey {
                id: k.id().to_string(),
                value: k.value.clone(),
                name: k.name.get_ref().clone(),
                description: Some(FROM_FILE.into()),
                enabled: k.enabled,
                customer_id: None,
                created_date: 0,
                last_updated_date: 0,
                stage_keys: Vec::new(),
                tags: Default::default(),
            })
            .collect()
    }

    /// The config file's usage plans, by name (their id here).
    fn file_plans(&self, stored: &[UsagePlan]) -> Vec<UsagePlan> {
        let ours = self.store.plans().unwrap_or_default();
        self.view
            .usage_plans
            .iter()
            .filter(|p| !ours.iter().chain(stored).any(|s| s.id == *p.name.get_ref()))
            .map(|p| UsagePlan {
                id: p.name.get_ref().clone(),
                name: p.name.get_ref().clone(),
                description: Some(FROM_FILE.into()),
                api_stages: p
                    .api_stages
                    .iter()
                    .map(|s| {
                        let s = s.get_ref();
                        let api_id = self
                            .view
                            .api
                            .iter()
                            .find(|a| *a.name.get_ref() == s.api)
                            .map_or(s.api.clone(), |a| a.id().to_string());
                        ApiStage {
                            api_id,
                            stage: s.stage.clone(),
                            throttle: Default::default(),
                        }
                    })
                    .collect(),
                throttle: p.throttle.map(|t| ThrottleSettings {
                    burst_limit: t.burst as i64,
                    rate_limit: t.rate,
                }),
                quota: p.quota.map(|q| QuotaSettings {
                    limit: q.limit as i64,
                    offset: q.offset as i64,
                    period: match q.period {
                        crate::config::QuotaPeriod::Day => "DAY",
                        crate::config::QuotaPeriod::Week => "WEEK",
                        crate::config::QuotaPeriod::Month => "MONTH",
                    }
                    .into(),
                }),
                tags: Default::default(),
            })
            .collect()
    }

    /// Refuses changing what the config file declares.
    fn writable_key(&self, id: &str) -> Result<(), ApiError> {
        if self.store.key(id)?.is_none() && self.file_keys(&[]).iter().any(|k| k.id == id) {
            return Err(from_file("API key", id));
        }
        Ok(())
    }

    fn writable_plan(&self, id: &str) -> Result<(), ApiError> {
        if self.store.plan(id)?.is_none() && self.file_plans(&[]).iter().any(|p| p.id == id) {
            return Err(from_file("usage plan", id));
        }
        Ok(())
    }

    /// `apiStages`, each naming a REST API (stored or from the config file) that has that stage.
    fn api_stages(&self, v: Option<&Value>) -> Result<Vec<ApiStage>, ApiError> {
        let stages: Vec<ApiStage> = match v {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| ApiError::BadRequest(format!("Invalid apiStages: {e}")))?,
        };
        for s in &stages {
            self.check_api_stage(&s.api_id, &s.stage)?;
        }
        Ok(stages)
    }

    fn check_api_stage(&self, api: &str, stage: &str) -> Result<(), ApiError> {
        if self.store.api(api)?.is_none() || self.store.stage(api, stage)?.is_none() {
            return Err(ApiError::no_stage());
        }
        Ok(())
    }

    fn patch_plan(&self, p: &mut UsagePlan, op: &PatchOp) -> Result<(), ApiError> {
        const PATHS: &[&str] = &[
            "/name",
            "/description",
            "/throttle/rateLimit",
            "/throttle/burstLimit",
            "/quota/limit",
            "/quota/offset",
            "/quota/period",
            "/apiStages",
        ];
        let number = || -> Result<f64, ApiError> {
            op.value()?
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("Invalid number for {}", op.path)))
        };
        match (op.op.as_str(), op.path.as_str()) {
            ("replace", "/name") => p.name = op.value()?.to_string(),
            ("replace", "/description") => p.description = op.value.clone(),
            ("replace", "/throttle/rateLimit") => {
                p.throttle
                    .get_or_insert(ThrottleSettings {
                        burst_limit: 0,
                        rate_limit: 0.0,
                    })
                    .rate_limit = number()?
            }
            ("replace", "/throttle/burstLimit") => {
                p.throttle
                    .get_or_insert(ThrottleSettings {
                        burst_limit: 0,
                        rate_limit: 0.0,
                    })
                    .burst_limit = number()? as i64
            }
            ("remove", "/throttle") => p.throttle = None,
            ("replace", "/quota/limit") => {
                p.quota.get_or_insert_with(default_quota).limit = number()? as i64
            }
            ("replace", "/quota/offset") => {
                p.quota.get_or_insert_with(default_quota).offset = number()? as i64
            }
            ("replace", "/quota/period") => {
                p.quota.get_or_insert_with(default_quota).period = op.value()?.to_string()
            }
            ("remove", "/quota") => p.quota = None,
            ("add", "/apiStages") => {
                let (api, stage) = op.value()?.split_once(':').ok_or_else(|| {
                    ApiError::BadRequest("apiStages values are API_ID:STAGE".into())
                })?;
                self.check_api_stage(api, stage)?;
                if !p
                    .api_stages
                    .iter()
                    .any(|s| s.api_id == api && s.stage == stage)
                {
                    p.api_stages.push(ApiStage {
                        api_id: api.to_string(),
                        stage: stage.to_string(),
                        throttle: Default::default(),
                    });
                }
            }
            ("remove", "/apiStages") => {
                let v = op.value()?;
                p.api_stages
                    .retain(|s| format!("{}:{}", s.api_id, s.stage) != v);
            }
            ("replace" | "add", path) if path.starts_with("/apiStages/") => {
                // /apiStages/{api}:{stage}/throttle/{resourcePath}/{METHOD}/rateLimit|burstLimit
                let rest = &path["/apiStages/".len()..];
                let (target, setting) = rest
                    .split_once("/throttle/")
                    .ok_or_else(|| op.unsupported(PATHS))?;
                let (method_key, field) = setting
                    .rsplit_once('/')
                    .ok_or_else(|| op.unsupported(PATHS))?;
                let s = p
                    .api_stages
                    .iter_mut()
                    .find(|s| format!("{}:{}", s.api_id, s.stage) == target)
                    .ok_or_else(|| ApiError::NotFound(format!("Invalid API stage {target}")))?;
                let t = s
                    .throttle
                    .entry(unescape(method_key))
                    .or_insert(ThrottleSettings {
                        burst_limit: 0,
                        rate_limit: 0.0,
                    });
                match field {
                    "rateLimit" => t.rate_limit = number()?,
                    "burstLimit" => t.burst_limit = number()? as i64,
                    _ => return Err(op.unsupported(PATHS)),
                }
            }
            _ => return Err(op.unsupported(PATHS)),
        }
        Ok(())
    }
}

fn default_quota() -> QuotaSettings {
    QuotaSettings {
        limit: 0,
        offset: 0,
        period: "DAY".into(),
    }
}

fn check_plan(p: &UsagePlan) -> Result<(), ApiError> {
    if let Some(q) = &p.quota {
        if !matches!(q.period.as_str(), "DAY" | "WEEK" | "MONTH") {
            return Err(ApiError::BadRequest(format!(
                "Invalid quota period {}. Must be one of: [DAY, WEEK, MONTH]",
                q.period
            )));
        }
        if q.limit < 0 || q.offset < 0 || q.offset >= q.limit.max(1) {
            return Err(ApiError::BadRequest(
                "Quota limit must be positive and its offset below it".into(),
            ));
        }
    }
    if let Some(t) = &p.throttle {
        if t.rate_limit < 0.0 || t.burst_limit < 0 {
            return Err(ApiError::BadRequest(
                "Throttle limits must not be negative".into(),
            ));
        }
    }
    Ok(())
}

fn field<T: serde::de::DeserializeOwned>(body: &Value, key: &str) -> Result<Option<T>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| ApiError::BadRequest(format!("Invalid {key}: {e}"))),
    }
}

/// Values are shown only when asked for (`includeValues`), as AWS does.
fn shown(mut k: ApiKey, with_value: bool) -> ApiKey {
    if !with_value {
        k.value = None;
    }
    k
}

fn plan_key(k: ApiKey) -> UsagePlanKey {
    UsagePlanKey {
        id: k.id,
        kind: "API_KEY".into(),
        value: k.value,
        name: k.name,
    }
}
