//! The account: GetAccount and UpdateAccount. `throttleSettings` is the
//! account-level limit the data plane enforces (`[throttle]` of the config
//! file), read-only here as in AWS; `cloudwatchRoleArn` and `features` are
//! kept in `control.db`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::model::ThrottleSettings;
use super::{Call, ControlPlane, Reply};

/// The version of API keys (AWS answers "4").
const API_KEY_VERSION: &str = "4";

/// The feature every account has (AWS enables usage plans for all).
const USAGE_PLANS: &str = "UsagePlans";

/// What UpdateAccount changes, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cloudwatch_role_arn: Option<String>,
    #[serde(default)]
    features: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cloudwatch_role_arn: None,
            features: vec![USAGE_PLANS.into()],
        }
    }
}

impl ControlPlane {
    pub(super) fn get_account(&mut self, _c: &Call<'_>) -> Reply {
        let s = self.store.account()?.unwrap_or_default();
        Ok((200, self.account(&s)))
    }

    pub(super) fn update_account(&mut self, c: &Call<'_>) -> Reply {
        let mut s: Settings = self.store.account()?.unwrap_or_default();
        for op in c.patch()? {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/cloudwatchRoleArn") => {
                    s.cloudwatch_role_arn = op.value.clone().filter(|v| !v.is_empty())
                }
                ("add", "/features") => {
                    let f = op.value()?.to_string();
                    if !s.features.contains(&f) {
                        s.features.push(f);
                    }
                }
                // AWS: usage plans, once enabled, cannot be disabled.
                ("remove", "/features") if op.value()? == USAGE_PLANS => {
                    return Err(ApiError::BadRequest(
                        "Usage Plans cannot be disabled once enabled".into(),
                    ))
                }
                ("remove", "/features") => {
                    let f = op.value()?;
                    s.features.retain(|x| x != f);
                }
                _ => return Err(op.unsupported(&["/cloudwatchRoleArn", "/features"])),
            }
        }
        self.store.put_account(&s)?;
        Ok((200, self.account(&s)))
    }

    /// The Account shape: the stored settings and the enforced account limit.
    fn account(&self, s: &Settings) -> serde_json::Value {
        let t = self.view.throttle;
        let mut a = json!({
            "throttleSettings": ThrottleSettings {
                burst_limit: t.burst as i64,
                rate_limit: t.rate,
            },
            "features": s.features,
            "apiKeyVersion": API_KEY_VERSION,
        });
        if let Some(arn) = &s.cloudwatch_role_arn {
            a["cloudwatchRoleArn"] = json!(arn);
        }
        a
    }
}
