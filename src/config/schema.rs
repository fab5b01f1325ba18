//! The config file's schema. Every key has a default (see
//! `config/portico.toml`, which documents each one) and unknown keys are
//! rejected, so a typo never silently becomes a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::http::path::{EncodedSlashes, PathRules};
use crate::http::Method;
use crate::router::PathTemplate;
use crate::snapshot::UriTemplate;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub throttle: AccountThrottle,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub acme: AcmeConfig,
    /// Several nodes sharing state through Redis; `None`: one node.
    #[serde(default)]
    pub cluster: Option<super::ClusterConfig>,
    #[serde(default)]
    pub api: Vec<ApiConfig>,
    #[serde(default)]
    pub domain: Vec<DomainConfig>,
    #[serde(default)]
    pub usage_plans: Vec<UsagePlanConfig>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// A token bucket: `rate` requests per second on average, up to `burst` at
/// once. Both 0 blocks every call, as in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(from = "RawThrottle")]
pub struct Throttle {
    pub rate: f64,
    pub burst: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    rate: Rate,
    burst: u64,
}

impl From<RawThrottle> for Throttle {
    fn from(r: RawThrottle) -> Self {
        Throttle {
            rate: r.rate.0,
            burst: r.burst,
        }
    }
}

/// Requests per second; its own type so a bad rate is reported at `rate`.
#[derive(Deserialize)]
#[serde(try_from = "f64")]
struct Rate(f64);

impl TryFrom<f64> for Rate {
    type Error = String;
    fn try_from(rate: f64) -> Result<Self, String> {
        if !rate.is_finite() || rate < 0.0 {
            return Err(format!(
                "rate must be a number of requests per second, 0 or more (got {rate})"
            ));
        }
        Ok(Rate(rate))
    }
}

/// The account level (AWS: 10,000 requests per second, burst 5,000, per
/// region), and how often the reconciler re-leases every limit to workers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountThrottle {
    pub rate: f64,
    pub burst: u64,
    pub reconcile_ms: u64,
}

impl Default for AccountThrottle {
    fn default() -> Self {
        AccountThrottle {
            rate: 10_000.0,
            burst: 5_000,
            reconcile_ms: 10,
        }
    }
}

impl AccountThrottle {
    pub fn bucket(&self) -> Throttle {
        Throttle {
            rate: self.rate,
            burst: self.burst,
        }
    }
}

/// Where usage records, quota counts and generated key values live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    pub dir: PathBuf,
    pub flush_ms: u64,
    /// The data key sealing API key values at rest (`{dir}/state.key` when
    /// unset); `PORTICO_STATE_KEY` overrides it. Read once, at start.
    pub key_file: Option<PathBuf>,
}

impl StateConfig {
    /// Where the data key is read from (and generated at first start).
    pub fn key_path(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.dir.join("state.key"))
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: PathBuf::from("portico-state"),
            flush_ms: 1000,
            key_file: None,
        }
    }
}

/// The admin listener: cache flushes now, metrics and the management API later.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub enabled: bool,
    pub listen: Listen,
    /// Bearer token for the endpoints that change state; or `token_env`.
    pub token: Option<String>,
    pub token_env: Option<String>,
    /// The access key the management API accepts AWS Signature V4 from
    /// (boto3, the AWS CLI); its secret from `secret_access_key_env` or,
    /// less safely, `secret_access_key`.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub secret_access_key_env: Option<String>,
    /// How long after a state-changing signed call was accepted the very
    /// same signature is accepted again: botocore gives two identical
    /// calls made within one second the same signature. 0: never.
    pub replay_grace_ms: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            listen: Listen("127.0.0.1:9901".parse().expect("literal address")),
            token: None,
            token_env: None,
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_env: None,
            replay_grace_ms: 2_000,
        }
    }
}

impl CertificateConfig {
    /// The certificate and key files: as given, or where ACME keeps them.
    pub fn files(&self, state_dir: &std::path::Path) -> (PathBuf, PathBuf) {
        if !self.acme || !self.cert.as_os_str().is_empty() {
            return (self.cert.clone(), self.key.clone());
        }
        let stem = self
            .hosts
            .first()
            .map_or("acme", String::as_str)
            .replace('*', "_wildcard");
        let dir = state_dir.join("acme");
        (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        )
    }
}

/// Automatic certificates (RFC 8555) for `[[tls.certificates]]` with `acme = true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeConfig {
    /// The CA's directory URL.
    pub directory: String,
    /// PEM CA certificate to trust for the directory (a test CA such as pebble); default: the system's.
    pub ca_file: Option<PathBuf>,
    /// `mailto:` contact for the account.
    pub email: Option<String>,
    /// Renew this many days before expiry.
    pub renew_before_days: u64,
    /// `http-01` (on the plain listener, port 80 for the CA) or
    /// `tls-alpn-01` (on the TLS listener, port 443 for the CA).
    pub challenge: AcmeChallenge,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum AcmeChallenge {
    #[default]
    #[serde(rename = "http-01")]
    Http01,
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            directory: "https://acme-v02.api.letsencrypt.org/directory".into(),
            ca_file: None,
            email: None,
            renew_before_days: 30,
            challenge: AcmeChallenge::Http01,
        }
    }
}

/// The HTTPS front door: a TLS listener on every worker and the
/// certificates it presents, chosen by SNI.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `host:port` of the HTTPS listener; absent: no HTTPS.
    pub listen: Option<Listen>,
    pub certificates: Vec<Spanned<CertificateConfig>>,
    /// Certificates uploaded through the management API
    /// (CreateDomainName), served for their domain name; never in the file.
    #[serde(skip)]
    pub uploaded: Vec<UploadedCertificate>,
    /// The management API's domain names that came without a certificate:
    /// each is obtained through ACME unless another certificate covers it.
    #[serde(skip)]
    pub wanted: Vec<String>,
}

/// A certificate (PEM chain) and its private key (PEM) for `host`, held
/// in memory; the key is sealed at rest in `control.db`.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadedCertificate {
    pub host: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for UploadedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadedCertificate")
            .field("host", &self.host)
            .field("cert", &self.cert)
            .field("key", &"(secret)")
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM: the certificate, then its chain (with `acme`: default
    /// `{state dir}/acme/{first host}.crt`).
    #[serde(default)]
    pub cert: PathBuf,
    /// PEM: its private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key: PathBuf,
    /// Obtained and renewed from `[acme]`'s CA for `hosts`.
    #[serde(default)]
    pub acme: bool,
    /// Names it serves (`*.example.com` for one label); default: its DNS names.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Presented when the client sends no name or an unknown one; default: the first.
    #[serde(default)]
    pub default: bool,
    /// Mutual TLS for these names: clients must present a certificate
    /// chaining to a CA in this PEM truststore.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// Where portico meets AWS: the account and region its events and ARNs
/// name, the default Lambda endpoint, and the credentials it signs calls
/// to AWS Lambda with (none: calls go unsigned, as a local emulator wants).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    pub account_id: String,
    /// `http://host:port` of the Lambda Invoke API for integrations and
    /// authorizers that name no `endpoint`.
    pub lambda_endpoint: Option<String>,
    /// `http://host:port` standing in for `https://cognito-idp.{region}.amazonaws.com`
    /// when fetching a Cognito user pool's keys (`/{poolId}/.well-known/jwks.json`).
    pub cognito_endpoint: Option<String>,
    /// Service (`dynamodb`, `sqs`, `s3`, `sns`, `states`, ...) → `http://host:port`
    /// standing in for `https://{service}.{region}.amazonaws.com` in AWS
    /// service integrations, for a local stack (moto, LocalStack).
    pub endpoints: BTreeMap<String, String>,
    /// Default: `AWS_ACCESS_KEY_ID`; the secret from `secret_access_key_env`.
    pub access_key_id: Option<String>,
    pub secret_access_key_env: String,
    pub session_token_env: String,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            account_id: "000000000000".into(),
            lambda_endpoint: None,
            cognito_endpoint: None,
            endpoints: BTreeMap::new(),
            access_key_id: None,
            secret_access_key_env: "AWS_SECRET_ACCESS_KEY".into(),
            session_token_env: "AWS_SESSION_TOKEN".into(),
        }
    }
}

/// The server's own log on stderr.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `info` (lifecycle lines and problems), `warn` or `error`.
    pub level: crate::log::Level,
}

/// Metrics beyond the admin listener's `/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// CloudWatch Embedded Metric Format lines; absent: none.
    pub emf: Option<EmfConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmfConfig {
    /// A file path, or `stdout`.
    pub destination: String,
    #[serde(default = "default_emf_interval")]
    pub interval_s: u64,
    #[serde(default = "default_emf_namespace")]
    pub namespace: String,
}

fn default_emf_interval() -> u64 {
    60
}

fn default_emf_namespace() -> String {
    "portico".into()
}

/// An API's CORS configuration (HTTP APIs' `corsConfiguration`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins (`https://app.example.com`) or `*`.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    #[serde(default)]
    pub max_age: Option<u64>,
    #[serde(default)]
    pub allow_credentials: bool,
}

/// A stage's access log, as AWS's `accessLogSettings`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A file path, or `stdout`.
    pub destination: String,
    /// `json`, `clf`, or a template of `$context` variables.
    #[serde(default = "default_log_format")]
    pub format: Spanned<String>,
}

fn default_log_format() -> Spanned<String> {
    Spanned::new(0..0, "json".into())
}

/// Settings of every stage cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// The response header saying `Hit` or `Miss`; empty sends none.
    pub header: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            header: "x-cache".into(),
        }
    }
}

/// A stage's response cache (AWS: cacheClusterEnabled + cacheClusterSize
/// and the stage's caching method settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageCacheConfig {
    /// Bytes, split evenly across the worker shards.
    pub capacity: ByteSize,
    #[serde(default = "default_cache_ttl")]
    pub ttl_s: Ttl,
    /// Statuses that are stored; empty means any 2xx.
    #[serde(default)]
    pub statuses: Vec<u16>,
    #[serde(default = "default_max_item")]
    pub max_item_bytes: ByteSize,
    #[serde(default = "yes")]
    pub require_authorization: bool,
    #[serde(default)]
    pub unauthorized_strategy: UnauthorizedStrategy,
    #[serde(default = "default_coalesce_wait")]
    pub coalesce_wait_ms: u64,
}

fn default_cache_ttl() -> Ttl {
    Ttl(300)
}

fn default_max_item() -> ByteSize {
    ByteSize(1024 * 1024)
}

fn default_coalesce_wait() -> u64 {
    1000
}

/// What a client without the right to invalidate gets for `Cache-Control: max-age=0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum UnauthorizedStrategy {
    #[serde(rename = "FAIL_WITH_403")]
    FailWith403,
    #[default]
    #[serde(rename = "SUCCEED_WITH_RESPONSE_HEADER")]
    SucceedWithResponseHeader,
    #[serde(rename = "SUCCEED_WITHOUT_RESPONSE_HEADER")]
    SucceedWithoutResponseHeader,
}

/// A cache TTL in seconds: 0 (off) to 3600, as AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct Ttl(pub u32);

impl TryFrom<u64> for Ttl {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        if v > 3600 {
            return Err(format!("a cache TTL is at most 3600 seconds (got {v})"));
        }
        Ok(Ttl(v as u32))
    }
}

/// A size: an integer of bytes, or a string like "512KB", "64MB", "0.5GB".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml::Value")]
pub struct ByteSize(pub u64);

impl TryFrom<toml::Value> for ByteSize {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        let bad = |s: &str| {
            format!("`{s}` is not a size: use bytes, or a number with KB, MB or GB (like \"64MB\" or \"0.5GB\")")
        };
        match v {
            toml::Value::Integer(n) if n >= 0 => Ok(ByteSize(n as u64)),
            toml::Value::String(s) => {
                let t = s.trim();
                let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
                let (num, unit) = t.split_at(split);
                let n: f64 = num.trim().parse().map_err(|_| bad(&s))?;
                let mult = match unit.trim().to_ascii_uppercase().as_str() {
                    "" | "B" => 1.0,
                    "KB" => 1024.0,
                    "MB" => 1024.0 * 1024.0,
                    "GB" => 1024.0 * 1024.0 * 1024.0,
                    _ => return Err(bad(&s)),
                };
                if !n.is_finite() || n < 0.0 {
                    return Err(bad(&s));
                }
                Ok(ByteSize((n * mult) as u64))
            }
            other => Err(bad(&other.to_string())),
        }
    }
}

/// A route's cache settings (AWS: the method's caching settings and
/// cache key parameters).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCacheConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Overrides the stage's TTL.
    #[serde(default)]
    pub ttl_s: Option<Ttl>,
    /// Query parameters that are part of the cache key.
    #[serde(default)]
    pub key_query: Vec<String>,
    /// Request headers that are part of the cache key.
    #[serde(default)]
    pub key_headers: Vec<String>,
    /// Store responses that set cookies (off by default: they are per user).
    #[serde(default)]
    pub allow_set_cookie: bool,
}

/// An AWS usage plan: per-key throttle and quota over the API stages it covers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePlanConfig {
    pub name: Spanned<String>,
    /// Applies to each key of the plan separately, as in AWS.
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// One bucket shared by all the plan's keys together (not in AWS).
    #[serde(default)]
    pub aggregate_throttle: Option<Throttle>,
    #[serde(default)]
    pub quota: Option<QuotaConfig>,
    #[serde(default)]
    pub api_stages: Vec<Spanned<PlanStageConfig>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    pub limit: u64,
    pub period: QuotaPeriod,
    /// Requests subtracted from the limit in the plan's first period (AWS).
    #[serde(default)]
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum QuotaPeriod {
    #[serde(rename = "DAY")]
    Day,
    #[serde(rename = "WEEK")]
    Week,
    #[serde(rename = "MONTH")]
    Month,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStageConfig {
    pub api: String,
    pub stage: String,
    /// Per-route overrides of the plan's per-key throttle, keyed `"METHOD /path"`.
    #[serde(default)]
    pub route_throttle: BTreeMap<String, Spanned<Throttle>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub name: Spanned<String>,
    /// Defaults to the name.
    #[serde(default)]
    pub id: Option<String>,
    /// The key itself, at least 20 characters; or `value_env` / `value_file`;
    /// none of them: generated once and kept in the state directory.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub value_env: Option<String>,
    #[serde(default)]
    pub value_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub usage_plans: Vec<String>,
}

fn yes() -> bool {
    true
}

impl ApiKeyConfig {
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(self.name.get_ref())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: Listen,
    pub workers: usize,
    pub pin_workers: bool,
    pub driver: Driver,
    pub max_connections_per_worker: usize,
    pub backlog: u32,
    /// How request paths are put in canonical form (`crate::http::path`).
    pub normalize_path: bool,
    pub merge_slashes: bool,
    pub encoded_slashes: EncodedSlashes,
}

impl ServerConfig {
    pub fn path_rules(&self) -> PathRules {
        PathRules {
            normalize: self.normalize_path,
            merge_slashes: self.merge_slashes,
            encoded_slashes: self.encoded_slashes,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: Listen("127.0.0.1:8080".parse().expect("literal address")),
            workers: 0,
            pin_workers: true,
            driver: Driver::Auto,
            max_connections_per_worker: 10_000,
            backlog: 4096,
            normalize_path: true,
            merge_slashes: true,
            encoded_slashes: EncodedSlashes::Decode,
        }
    }
}

/// `host:port` to listen on; a name is not accepted because every worker
/// must bind the very same address.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub struct Listen(pub SocketAddr);

impl TryFrom<String> for Listen {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
            .map(Listen)
            .map_err(|_| format!("`{s}` is not an IP address with a port, like \"0.0.0.0:8080\""))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Driver {
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "io_uring")]
    IoUring,
    #[serde(rename = "epoll")]
    Epoll,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_uri_bytes: usize,
    pub max_body_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_bytes: 8192,
            max_body_bytes: 10 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsConfig {
    pub header_ms: u64,
    pub keepalive_ms: u64,
    /// How long a keep-alive connection (plain or TLS) waits for its next request
    /// with a read buffer before it releases its buffers and waits holding none
    /// (0: at once). A client that pauses longer than this goes quiet at
    /// once after each answer from then on.
    pub quiet_ms: u64,
    pub body_ms: u64,
    /// The whole request body, however steadily it trickles in: `body_ms`
    /// alone lets a byte every few seconds hold a connection for hours.
    pub body_total_ms: u64,
    pub drain_ms: u64,
}

impl TimeoutsConfig {
    /// When a request body whose reading starts now must have arrived.
    pub fn body_deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + std::time::Duration::from_millis(self.body_total_ms)
    }
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        TimeoutsConfig {
            header_ms: 10_000,
            keepalive_ms: 75_000,
            quiet_ms: 2_000,
            body_ms: 30_000,
            body_total_ms: 60_000,
            drain_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub connect_timeout_ms: u64,
    pub max_idle_per_upstream: usize,
    pub idle_timeout_ms: u64,
    pub dns_refresh_ms: u64,
    /// PEM bundle of the CAs `https://` upstreams are checked against;
    /// default: the system's (/etc/ssl/certs).
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM chain) and key `https://` upstreams that
    /// ask for one get (mutual TLS to the backend).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout_ms: 5000,
            max_idle_per_upstream: 1024,
            idle_timeout_ms: 60_000,
            dns_refresh_ms: 30_000,
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub name: Spanned<String>,
    /// The API's id (AWS: restApiId); defaults to the name.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    /// CORS, as HTTP APIs configure it; absent: no CORS handling.
    #[serde(default)]
    pub cors: Option<Spanned<CorsConfig>>,
    /// Content types whose bodies Lambda events carry base64-encoded (`*/*`: all).
    #[serde(default)]
    pub binary_media_types: Vec<String>,
    /// Named authorizers routes refer to.
    #[serde(default)]
    pub authorizers: BTreeMap<String, Spanned<AuthorizerConfig>>,
    /// The gateway's own answers, customised by AWS's response type
    /// (`THROTTLED`, `DEFAULT_4XX`, ...).
    #[serde(default)]
    pub gateway_responses: BTreeMap<String, Spanned<GatewayResponseConfig>>,
    #[serde(default)]
    pub stages: BTreeMap<String, StageConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Made by the management API from a deployed stage (its restApiId),
    /// not read from the file: reached as `{id}.execute-api.*` or
    /// `/restapis/{id}/{stage}/_user_request_/...`, never by `hosts`.
    #[serde(skip)]
    pub control: Option<String>,
    /// A management-API stage's canary: the share of its calls (percent)
    /// this definition, built from the canary deployment, serves.
    #[serde(skip)]
    pub canary_percent: Option<f64>,
    /// The API definition whose stage cache this one shares (a canary with
    /// `useStageCache`); `None`: its own.
    #[serde(skip)]
    pub cache_of: Option<String>,
}

impl ApiConfig {
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(self.name.get_ref())
    }
}

/// What the gateway's own answers of one response type look like (AWS's
/// gateway response): every field left out keeps AWS's default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayResponseConfig {
    #[serde(default)]
    pub status: Option<u16>,
    /// Header name → `'literal'`, `method.request.header.NAME`,
    /// `method.request.querystring.NAME`, `method.request.path.NAME`,
    /// `stageVariables.NAME` or `context.NAME`, as AWS's `responseParameters`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Content type → body template (`$context.error.messageString`, ...).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// The stage's default for all its routes.
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// Per-route overrides, keyed `"METHOD /path"` as the route is declared.
    #[serde(default)]
    pub route_throttle: BTreeMap<String, Spanned<Throttle>>,
    /// The stage's response cache; absent: no cache.
    #[serde(default)]
    pub cache: Option<StageCacheConfig>,
    /// Count the stage's calls for `/metrics` (AWS's `metricsEnabled`).
    #[serde(default = "yes")]
    pub metrics: bool,
    #[serde(default)]
    pub access_log: Option<AccessLogConfig>,
    /// A management-API stage's `clientCertificateId`: presented to its
    /// `https://` HTTP backends that ask for a client certificate.
    #[serde(skip)]
    pub client_certificate: Option<StageClientCertificate>,
}

/// A client certificate a stage presents to its backends, as PEM.
#[derive(Clone, PartialEq)]
pub struct StageClientCertificate {
    pub id: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// The key is never printed.
impl std::fmt::Debug for StageClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageClientCertificate")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig {
            variables: BTreeMap::new(),
            throttle: None,
            route_throttle: BTreeMap::new(),
            cache: None,
            metrics: true,
            access_log: None,
            client_certificate: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub method: MethodSpec,
    pub path: Spanned<PathTemplate>,
    pub integration: Spanned<IntegrationConfig>,
    /// Callers must send a valid `x-api-key` of a usage plan covering the stage.
    #[serde(default)]
    pub api_key_required: bool,
    /// Overrides for the stage cache; GET routes of a cached stage are cached by default.
    #[serde(default)]
    pub cache: Option<RouteCacheConfig>,
    /// The name of one of the API's `authorizers`; absent: open.
    #[serde(default)]
    pub authorizer: Option<Spanned<String>>,
    /// A JWT authorizer's token must carry at least one of these scopes.
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// Non-proxy execution: mapping templates and integration responses.
    #[serde(default)]
    pub execution: Option<Spanned<super::ExecutionConfig>>,
    /// Request validation: required parameters, body schemas.
    #[serde(default)]
    pub validation: Option<Spanned<super::ValidationConfig>>,
}

impl RouteConfig {
    /// `"GET /pets/{id}"`: how route overrides name a route.
    pub fn key(&self) -> String {
        let m = match self.method {
            MethodSpec::Any => "ANY",
            MethodSpec::One(m) => m.as_str(),
        };
        format!("{m} {}", self.path.get_ref())
    }
}

/// A route's method: one HTTP method or `ANY`, as in API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum MethodSpec {
    Any,
    One(Method),
}

impl TryFrom<String> for MethodSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "ANY" {
            return Ok(MethodSpec::Any);
        }
        match Method::from_bytes(s.as_bytes()) {
            Method::Other => Err(format!(
                "`{s}` is not a method: use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY"
            )),
            m => Ok(MethodSpec::One(m)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IntegrationConfig {
    Mock {
        #[serde(default = "default_mock_status")]
        status: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: String,
    },
    HttpProxy {
        uri: UriTemplate,
        #[serde(default = "default_integration_timeout_ms")]
        timeout_ms: u64,
        /// Headers added to the upstream request: a literal, or
        /// `$context.authorizer.{key}` / `$context.authorizer.claims.{claim}`.
        #[serde(default)]
        request_headers: BTreeMap<String, String>,
        /// AWS's `requestParameters`: `integration.request.{header|
        /// querystring|path}.X` from `method.request.*`, `context.*`,
        /// `stageVariables.*` or a `'literal'` (see `snapshot::param_mapping`).
        #[serde(default)]
        request_parameters: BTreeMap<String, String>,
    },
    /// A Lambda proxy integration (AWS_PROXY): the request as an event,
    /// the function's result as the answer.
    /// With the route's `execution`, a Lambda custom integration (`AWS`):
    /// the request template's output is the event (see `integration::execute`).
    Lambda {
        /// A name or ARN; `${stageVariables.x}` is replaced per stage.
        function: String,
        /// The Invoke API's `http://host:port`; default `[aws] lambda_endpoint`.
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        payload_version: PayloadVersion,
        #[serde(default = "default_integration_timeout_ms")]
        timeout_ms: u64,
    },
    /// An AWS service integration (type AWS, not Lambda): the request
    /// template's output sent to the service's API, signed with `[aws]`'s
    /// credentials; the route needs an `execution`.
    Aws(AwsIntegrationConfig),
    /// Set by the management API only (TestInvokeAuthorizer's hidden
    /// route, never a file's): 200 with what the route's authorizer found
    /// (`Authorized::describe`) as JSON.
    #[serde(skip)]
    AuthorizerEcho,
}

/// An `aws` integration's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsIntegrationConfig {
    /// `arn:aws:apigateway:{region}:{service}:action/{Action}` or
    /// `arn:aws:apigateway:{region}:{service}:path/{path}`.
    pub uri: String,
    /// The method of the call to the service.
    #[serde(default = "default_aws_http_method")]
    pub http_method: String,
    /// The role AWS would assume; recorded, never assumed.
    #[serde(default)]
    pub credentials: Option<String>,
    /// `integration.request.{path|querystring|header}.X` → any source
    /// of `snapshot::param_mapping` (`method.request.*`, the body's
    /// JSONPath, `context.*`, `stageVariables.*`, `'literal'`).
    #[serde(default)]
    pub request_parameters: BTreeMap<String, String>,
    #[serde(default = "default_integration_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_aws_http_method() -> String {
    "POST".into()
}

/// Who may call a route, as API Gateway's authorizers decide it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthorizerConfig {
    /// A JWT authorizer (HTTP APIs): a signed token from an issuer.
    Jwt {
        issuer: String,
        /// The token's `aud` (or `client_id`) must be one of these.
        audience: Vec<String>,
        /// Keys from a JWKS URL (`http://`), fetched and cached by each
        /// worker and refreshed when a token names an unknown key ...
        #[serde(default)]
        jwks_uri: Option<String>,
        /// ... or from a JWKS file read with the config.
        #[serde(default)]
        jwks_file: Option<std::path::PathBuf>,
        /// Where the token is: `$request.header.NAME` (a `Bearer ` prefix is optional).
        #[serde(default = "default_jwt_source")]
        identity_source: String,
        /// Clock skew allowed on `exp` and `nbf`, seconds.
        #[serde(default = "default_leeway_s")]
        leeway_s: u64,
        /// Set by the management API only (a COGNITO_USER_POOLS authorizer):
        /// any audience (an empty `audience`), `token_use` `id` or `access`,
        /// and keys from `[aws] cognito_endpoint` when that is set.
        #[serde(skip)]
        cognito: bool,
    },
    /// A Lambda authorizer of type TOKEN: one header's value.
    Token {
        function: String,
        #[serde(default)]
        endpoint: Option<String>,
        /// The header holding the token.
        #[serde(default = "default_token_header")]
        header: String,
        /// A token not matching it is refused (401) without invoking the function.
        #[serde(default)]
        validation_regex: Option<String>,
        /// How long a result is reused for the same token; 0: never.
        #[serde(default = "default_authorizer_ttl_s")]
        ttl_s: u64,
        #[serde(default = "default_authorizer_timeout_ms")]
        timeout_ms: u64,
    },
    /// A Lambda authorizer of type REQUEST: headers, query strings, stage variables.
    Request {
        function: String,
        #[serde(default)]
        endpoint: Option<String>,
        /// `$request.header.NAME`, `$request.querystring.NAME`,
        /// `$stageVariables.NAME` (or AWS's `method.request.header.NAME`
        /// forms); all must be present or the call is refused (401).
        identity_sources: Vec<String>,
        /// 1.0: REST API's event and IAM policy; 2.0: HTTP API's event.
        #[serde(default)]
        payload_version: PayloadVersion,
        /// 2.0 only: the function answers `{"isAuthorized": bool, "context": {...}}`.
        #[serde(default)]
        simple_responses: bool,
        #[serde(default = "default_authorizer_ttl_s")]
        ttl_s: u64,
        #[serde(default = "default_authorizer_timeout_ms")]
        timeout_ms: u64,
    },
}

fn default_jwt_source() -> String {
    "$request.header.Authorization".into()
}

fn default_leeway_s() -> u64 {
    5
}

fn default_token_header() -> String {
    "Authorization".into()
}

/// API Gateway's default authorizer result TTL.
fn default_authorizer_ttl_s() -> u64 {
    300
}

fn default_authorizer_timeout_ms() -> u64 {
    10_000
}

/// The Lambda event's shape: REST APIs send 1.0, HTTP APIs 2.0 by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum PayloadVersion {
    #[default]
    #[serde(rename = "1.0")]
    V1,
    #[serde(rename = "2.0")]
    V2,
}

fn default_mock_status() -> u16 {
    200
}

/// API Gateway's default (and maximum) integration timeout.
fn default_integration_timeout_ms() -> u64 {
    29_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    pub name: Spanned<String>,
    #[serde(default)]
    pub mappings: Vec<Spanned<MappingConfig>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    #[serde(default)]
    pub base_path: String,
    pub api: String,
    pub stage: String,
}
