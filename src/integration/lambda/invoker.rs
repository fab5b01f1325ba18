//! Calling one function through the Lambda Invoke API,
//! `POST {endpoint}/2015-03-31/functions/{function}/invocations`: the
//! endpoint can be the AWS Lambda Runtime Interface Emulator, LocalStack,
//! or AWS itself, in which case the call is signed (SigV4, service
//! `lambda`) with the credentials of `[aws]`.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::aws::sigv4;
use crate::config::AwsConfig;
use crate::dataplane::shard::Shard;
use crate::integration::call::{call, CallError, Reply};
use crate::integration::{Endpoint, Resolve};
use crate::snapshot::Snapshot;
use crate::tls::upstream::TlsConfigFn;

/// `[aws]` with the environment's defaults applied, once per compile.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: String,
    pub account_id: String,
    pub lambda_endpoint: Option<String>,
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
            credentials,
        }
    }
}

/// Characters a function name or ARN keeps in the invocation path.
const PATH_SAFE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

pub struct Invoker {
    pub function: String,
    path: String,
    endpoint: Endpoint,
    pub timeout: Duration,
    region: String,
    credentials: Option<Credentials>,
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

    /// Invokes the function with `event` (RequestResponse) and waits for its result.
    pub async fn invoke(
        &self,
        w: &Shard,
        snap: &Snapshot,
        event: &[u8],
    ) -> Result<Reply, CallError> {
        let mut request = Vec::with_capacity(event.len() + 512);
        request.extend_from_slice(b"POST ");
        request.extend_from_slice(self.path.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        request.extend_from_slice(self.endpoint.authority.as_bytes());
        request.extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
        request.extend_from_slice(itoa::Buffer::new().format(event.len()).as_bytes());
        request.extend_from_slice(b"\r\n");
        if let Some(c) = &self.credentials {
            for (name, value) in self.signature_headers(c, event) {
                request.extend_from_slice(name.as_bytes());
                request.extend_from_slice(b": ");
                request.extend_from_slice(value.as_bytes());
                request.extend_from_slice(b"\r\n");
            }
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(event);
        call(w, snap, &self.endpoint, &mut request, self.timeout).await
    }

    /// `x-amz-date`, `x-amz-security-token` and `authorization`.
    fn signature_headers(&self, c: &Credentials, event: &[u8]) -> Vec<(&'static str, String)> {
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut signed = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("host".to_string(), self.endpoint.authority.clone()),
            ("x-amz-date".to_string(), amz_date.clone()),
        ];
        if let Some(t) = &c.session_token {
            signed.push(("x-amz-security-token".to_string(), t.clone()));
        }
        let r = sigv4::Signed {
            method: "POST",
            path: &self.path,
            query: "",
            headers: &signed,
            body: event,
        };
        let authorization = sigv4::sign(&r, &c.key_id, &c.secret, &self.region, "lambda");
        let mut out = vec![("x-amz-date", amz_date)];
        if let Some(t) = &c.session_token {
            out.push(("x-amz-security-token", t.clone()));
        }
        out.push(("authorization", authorization));
        out
    }
}
