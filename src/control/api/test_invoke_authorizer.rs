//! TestInvokeAuthorizer's control-plane half: one authorizer of the API as
//! it is now (not a deployment), published as the data plane serves it
//! (`publish::api_config`), guarding one hidden route, `ANY /{proxy+}`
//! (and `/`), whose integration answers with what the authorizer found
//! (`IntegrationConfig::AuthorizerEcho`, which no file can set). Its result
//! TTL is 0: the test always runs the authorizer, as AWS's does. The admin
//! thread sends the simulated request through the data plane and builds the
//! answer (`control/admin/test_invoke.rs`).

use toml::Spanned;

use super::error::ApiError;
use super::test_invoke::{simulated, TestCall, TestInvoke};
use super::ControlPlane;
use crate::config::{AuthorizerConfig, IntegrationConfig, MethodSpec, RouteConfig};

/// The hidden route's path template.
const ROUTE: &str = "/{proxy+}";

impl ControlPlane {
    /// The call to TestInvokeAuthorizer as a hidden API definition served
    /// at stage `stage`.
    pub fn test_invoke_authorizer(
        &mut self,
        call: TestCall,
        stage: &str,
    ) -> Result<TestInvoke, ApiError> {
        let (m, input, id, mut doc) = (call.matched, call.input, call.id, call.doc);
        let authorizer_id = m.param("authorizer_id").to_string();
        doc.authorizers.retain(|a| a.id == authorizer_id);
        if doc.authorizers.is_empty() {
            return Err(ApiError::NotFound(
                "Invalid Authorizer identifier specified".into(),
            ));
        }
        doc.resources.clear();
        // The default refusals (401, 403, 500), not the API's own.
        doc.gateway_responses.clear();

        let sim = simulated(&input, "/")?;
        let (mut config, skipped) = self.hidden_config(&doc, stage, &sim.variables)?;
        let Some(authorizer) = config.authorizers.get_mut(&authorizer_id) else {
            return Err(ApiError::BadRequest(format!(
                "The authorizer cannot be invoked: {}",
                skipped.join("; ")
            )));
        };
        match authorizer.get_mut() {
            AuthorizerConfig::Token { ttl_s, .. } | AuthorizerConfig::Request { ttl_s, .. } => {
                *ttl_s = 0
            }
            AuthorizerConfig::Jwt { .. } => {}
        }
        for path in ["/", ROUTE] {
            config.routes.push(RouteConfig {
                method: MethodSpec::Any,
                path: Spanned::new(
                    0..0,
                    path.to_string()
                        .try_into()
                        .map_err(|e: String| ApiError::Internal(e))?,
                ),
                integration: Spanned::new(0..0, IntegrationConfig::AuthorizerEcho),
                api_key_required: false,
                cache: None,
                authorizer: Some(Spanned::new(0..0, authorizer_id.clone())),
                authorization_scopes: Vec::new(),
                execution: None,
                validation: None,
            });
        }
        // Named without the secret stage: names label metrics and logs.
        config.name = Spanned::new(0..0, format!("{} (test authorizer)", doc.api.name));
        Ok(TestInvoke {
            config,
            rest_api_id: id,
            stage: stage.to_string(),
            http_method: "GET".into(),
            resource_path: ROUTE.into(),
            path_with_query: sim.path_with_query,
            body: sim.body,
            headers: sim.headers,
            integration_uri: None,
            integration_type: "AUTHORIZER".into(),
            variables: sim.variables,
        })
    }
}
