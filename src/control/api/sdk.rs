//! GetSdkTypes, GetSdkType, GetSdk: portico generates no client SDKs. The
//! types list is empty, and asking for an SDK is refused with a message
//! that says so and points at the OpenAPI export (GetExport), which SDK
//! generators such as openapi-generator take. A missing API or stage is
//! still reported as such first, as AWS checks those.

use serde_json::json;

use super::error::ApiError;
use super::{Call, ControlPlane, Reply};

impl ControlPlane {
    pub(super) fn get_sdk_types(&mut self, c: &Call<'_>) -> Reply {
        // Paged like every list, so a bad `limit`/`position` is refused.
        let (item, _) = super::page(Vec::<serde_json::Value>::new(), c)?;
        Ok((200, json!({ "item": item })))
    }

    pub(super) fn get_sdk_type(&mut self, c: &Call<'_>) -> Reply {
        Err(ApiError::NotFound(format!(
            "Invalid SDK type identifier specified: {} (portico generates no SDKs)",
            c.param("sdktype_id")
        )))
    }

    pub(super) fn get_sdk(&mut self, c: &Call<'_>) -> Reply {
        let api = self.api(c)?.api.id;
        let stage = c.param("stage_name");
        if self.store.stage(&api, stage)?.is_none() {
            return Err(ApiError::no_stage());
        }
        Err(ApiError::BadRequest(format!(
            "portico does not generate SDKs ({} requested): export the stage as OpenAPI \
             (GetExport) and use an SDK generator on it",
            c.param("sdk_type")
        )))
    }
}
