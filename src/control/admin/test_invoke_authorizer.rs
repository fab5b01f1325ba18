//! TestInvokeAuthorizer's answer, from what the data plane's hidden route
//! answered (`control/api/test_invoke_authorizer.rs`): 200 with what the
//! authorizer found (`Authorized::describe`) → clientStatus 200 with
//! `principalId` and `policy` (Lambda) or `claims` (Cognito); a refusal →
//! its status (401, 403, 500) and nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::control::api::test_invoke::TestInvoke;

/// The stage name an answer shows for the hidden one.
const SHOWN_STAGE: &str = "test-invoke-stage";

/// TestInvokeAuthorizerResponse: clientStatus, log, latency, principalId,
/// policy, authorization, claims.
pub fn answer(t: &TestInvoke, status: u16, body: &[u8], latency: Duration) -> Value {
    let ms = latency.as_millis() as i64;
    let found: Map<String, Value> = if status == 200 {
        serde_json::from_slice(body).unwrap_or_default()
    } else {
        Map::new()
    };
    let mut out = json!({
        "clientStatus": status,
        "log": log(t, status, &found, ms),
        "latency": ms,
    });
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(p) = found.get("principalId").filter(|v| !v.is_null()) {
        out["principalId"] = json!(text(p));
    }
    if let Some(p) = found.get("policy").filter(|v| !v.is_null()) {
        // The method ARN the function saw names the hidden stage: shown as
        // AWS's test stage, the secret never leaves in an answer.
        out["policy"] = json!(text(p).replace(&t.stage, SHOWN_STAGE));
    }
    if let Some(Value::Object(claims)) = found.get("claims") {
        let claims: BTreeMap<&String, String> = claims.iter().map(|(k, v)| (k, text(v))).collect();
        out["claims"] = json!(claims);
    }
    out
}

/// The execution log, in API Gateway's format, from what happened.
fn log(t: &TestInvoke, status: u16, found: &Map<String, Value>, ms: i64) -> String {
    let now = chrono::Utc::now().format("%a %b %d %H:%M:%S UTC %Y");
    let headers: Vec<String> = t.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut lines = vec![
        format!("{now} : Starting authorizer test"),
        format!("{now} : Incoming identity: {{{}}}", headers.join(", ")),
        format!("{now} : Request path: {}", t.path_with_query),
    ];
    if let Some(Value::Object(context)) = found.get("context") {
        lines.push(format!(
            "{now} : Authorizer context: {}",
            Value::Object(context.clone())
        ));
    }
    if let Some(p) = found.get("principalId").and_then(Value::as_str) {
        lines.push(format!("{now} : Authorizer principal: {p}"));
    }
    if status == 200 {
        lines.push(format!(
            "{now} : Successfully completed authorizer execution"
        ));
    } else {
        lines.push(format!("{now} : Unauthorized request, status: {status}"));
    }
    lines.push(format!("{now} : Authorizer latency: {ms} ms"));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
