//! One function as the Lambda Invoke API reaches it,
//! `POST {endpoint}/2015-03-31/functions/{function}/invocations`: the
//! endpoint can be the AWS Lambda Runtime Interface Emulator, LocalStack,
//! or AWS itself, in which case the call is signed (SigV4, service
//! `lambda`) with the credentials of `[aws]`. Built from config alone, for
//! Lambda integrations and authorizers alike; calling it is `invoke`.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::AwsConfig;
use crate::upstream::tls::TlsConfigFn;
use crate::upstream::{Endpoint, Resolve};

/// `[aws]` with the environment's defaults applied, once per compile.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: String,
    pub account_id: String,
    pub lambda_endpoint: Option<String>,
    pub cognito_endpoint: Option<String>,
    /// `[aws] endpoints`: service → URL, for AWS service integrations.
    pub endpoints: std::collections::BTreeMap<String, String>,
    pub credentials: Option<Credentials>,
}

#[derive(Clone)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AwsSettings {
    pub fn from_config(c: &AwsConfig) -> AwsSettings {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = c
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let key_id = c.access_key_id.clone().or_else(|| env("AWS_ACCESS_KEY_ID"));
        let credentials = match (key_id, env(&c.secret_access_key_env)) {
            (Some(key_id), Some(secret)) => Some(Credentials {
                key_id,
                secret,
                session_token: env(&c.session_token_env),
            }),
            _ => None,
        };
        AwsSettings {
            region,
            account_id: c.account_id.clone(),
            lambda_endpoint: c.lambda_endpoint.clone(),
            cognito_endpoint: c.cognito_endpoint.clone(),
            endpoints: c.endpoints.clone(),
            credentials,
        }
    }
}

/// Characters a function name or ARN keeps in the invocation path.
const PATH_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

pub struct Invoker {
    pub function: String,
    pub(super) path: String,
    pub(super) endpoint: Endpoint,
    pub timeout: Duration,
    pub(super) region: String,
    pub(super) credentials: Option<Credentials>,
}

impl Invoker {
    pub fn compile(
        function: &str,
        endpoint: Option<&str>,
        timeout_ms: u64,
        aws: &AwsSettings,
        tls: TlsConfigFn<'_>,
        resolve: Resolve<'_>,
    ) -> Result<Invoker, String> {
        if function.is_empty() {
            return Err("function is empty".into());
        }
        let endpoint = endpoint
            .or(aws.lambda_endpoint.as_deref())
            .ok_or("no endpoint: set the integration's `endpoint` or `[aws] lambda_endpoint`")?;
        let (endpoint, _) = Endpoint::parse(endpoint.trim_end_matches('/'), tls, resolve)
            .map_err(|e| format!("endpoint: {e}"))?;
        if timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        Ok(Invoker {
            function: function.to_string(),
            path: format!(
                "/2015-03-31/functions/{}/invocations",
                utf8_percent_encode(function, PATH_SAFE)
            ),
            endpoint,
            timeout: Duration::from_millis(timeout_ms),
            region: aws.region.clone(),
            credentials: aws.credentials.clone(),
        })
    }
}
