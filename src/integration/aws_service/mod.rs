//! AWS service integrations (type `AWS` with a service URI, not Lambda):
//! the request template's output sent to a service's own API (DynamoDB,
//! SQS, SNS, S3, Step Functions, ...), signed with SigV4 for that service
//! using `[aws]`'s credentials. `uri` reads the integration's URI,
//! `request` writes the signed request (its request parameters are the
//! one `snapshot::ParamMapping`, evaluated by `integration::params`);
//! running it inside the non-proxy execution is
//! `integration::execute::aws`. The integration's `credentials` role is
//! kept for display only: portico signs with its own credentials and
//! never assumes a role.

mod request;
pub mod uri;

use std::time::Duration;

use crate::integration::lambda::{AwsSettings, Credentials};
use crate::upstream::tls::TlsConfigFn;
use crate::upstream::{Endpoint, Resolve};

use crate::snapshot::param_mapping::ParamMapping;
use uri::{Protocol, Target};

pub struct AwsService {
    /// The signing name: the last label of the URI's service.
    service: String,
    region: String,
    target: Target,
    /// For an action.
    protocol: Option<Protocol>,
    /// The URI's own query string.
    query: String,
    method: String,
    endpoint: Endpoint,
    /// The endpoint URL's path, without its trailing `/`.
    base: String,
    credentials: Option<Credentials>,
    /// The role AWS would assume (`credentials`), recorded only.
    pub role: Option<String>,
    params: ParamMapping,
    pub timeout: Duration,
}

/// What an AWS integration is made of, as config and management API write it.
pub struct Spec<'a> {
    pub uri: &'a str,
    pub http_method: &'a str,
    pub credentials: Option<&'a str>,
    pub request_parameters: &'a std::collections::BTreeMap<String, String>,
    pub timeout_ms: u64,
}

impl AwsService {
    /// Its `requestParameters`, compiled.
    pub fn mapping(&self) -> &ParamMapping {
        &self.params
    }

    pub fn compile(
        s: &Spec<'_>,
        aws: &AwsSettings,
        tls: TlsConfigFn<'_>,
        resolve: Resolve<'_>,
    ) -> Result<AwsService, String> {
        let u = uri::parse(s.uri)?;
        let service = u.service.rsplit('.').next().unwrap_or_default().to_string();
        if service == "lambda" {
            return Err("Lambda URIs are Lambda integrations, not AWS service integrations".into());
        }
        let protocol = match &u.target {
            Target::Action(_) => Some(uri::protocol(&service).ok_or_else(|| {
                format!(
                    "action/ URIs of service `{service}` are not served: dynamodb, states, \
                     kinesis, firehose, events, logs (JSON) and sqs, sns, sts (query) are; \
                     path/ URIs reach any service"
                )
            })?),
            Target::Path(_) => None,
        };
        let method = s.http_method.to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("httpMethod `{}` is not a method", s.http_method));
        }
        let url = match aws.endpoints.get(&u.service) {
            Some(url) => url.clone(),
            None => format!("https://{}.{}.amazonaws.com", u.service, u.region),
        };
        let (endpoint, base) = Endpoint::parse(&url, tls, resolve)
            .map_err(|e| format!("`{}` endpoint: {e}", u.service))?;
        let base = base.trim_end_matches('/').to_string();
        let params = ParamMapping::compile(s.request_parameters).map_err(|e| e.to_string())?;
        if s.timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        Ok(AwsService {
            service,
            region: u.region,
            target: u.target,
            protocol,
            query: u.query,
            method,
            endpoint,
            base,
            credentials: aws.credentials.clone(),
            role: s.credentials.map(str::to_string),
            params,
            timeout: Duration::from_millis(s.timeout_ms),
        })
    }
}
