//! Compiling a config into the immutable snapshot workers route with.
//! Everything that can be worked out once is worked out here: routing
//! tables, stage variables substituted into integration URIs, upstream
//! names resolved, mock responses rendered.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::config::{
    ApiConfig, Config, IntegrationConfig, LimitsConfig, TimeoutsConfig, UpstreamConfig,
};
use crate::http::path::PathRules;
use crate::integration::lambda::{AwsSettings, Invoker};
use crate::integration::{HttpProxyIntegration, LambdaIntegration, MockIntegration};
use crate::metrics::{Destination, Format, SlotLabels};
use crate::router::RouteTable;
use crate::throttle::Catalog;
use crate::upstream::tls::Identity;

use super::caching;
use super::limits::{self, Keys, StageLimits};
use crate::cache::{RouteCache, StageCache};

pub struct Snapshot {
    pub limits: LimitsConfig,
    pub paths: PathRules,
    pub timeouts: TimeoutsConfig,
    pub upstream: UpstreamConfig,
    pub apis: Vec<Api>,
    hosts: HashMap<Box<[u8]>, usize>,
    default_api: Option<usize>,
    /// The management API's APIs by restApiId: one per deployed stage.
    execute_api: HashMap<Box<[u8]>, Vec<usize>>,
    domains: HashMap<Box<[u8]>, Vec<Mapping>>,
    /// Each upstream authority and what it resolved to, so the DNS refresh
    /// can tell whether a new snapshot is needed.
    pub resolved: Vec<(String, Vec<SocketAddr>)>,
    /// Each upstream authority that did not resolve, and why: the DNS
    /// refresh tries them again.
    pub unresolved: Vec<(String, String)>,
    /// The management API's integrations that answer 502 instead, and why.
    pub unavailable: Vec<Unavailable>,
    /// Every token bucket and meter, numbered; the same for the same config.
    pub catalog: Catalog,
    /// Bumped by the publisher each time the catalog changes: the numbering
    /// workers' balances and the reconciler's reports go by.
    pub catalog_gen: u64,
    pub keys: Keys,
    /// The Hit/Miss response header's name; empty: none.
    pub cache_header: Box<[u8]>,
    /// What each metrics slot counts; slot 0 is requests that reached no API.
    pub metric_slots: Vec<SlotLabels>,
    /// Every access log destination, each once; stages name them by index.
    pub access_logs: Vec<Destination>,
    /// A hash of the config: which deployment is running.
    pub version: String,
    /// The HTTPS listener's rustls config and certificates; `None`: no HTTPS.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// The account Lambda events and method ARNs name.
    pub account_id: String,
    pub region: String,
}

pub struct Api {
    pub id: String,
    pub name: String,
    pub stages: Vec<Stage>,
    pub routes: RouteTable,
    /// Per route: callers must present an API key.
    pub key_required: Vec<bool>,
    /// Per route: its method (`ANY` too) and path template, for logs.
    pub resources: Vec<(String, String)>,
    /// CORS for the API's answers and preflights; `None`: none.
    pub cors: Option<super::Cors>,
    /// Content types Lambda events carry base64-encoded.
    pub binary_media_types: Vec<String>,
    pub authorizers: Vec<crate::auth::Authorizer>,
    /// Per route: its authorizer, if any.
    pub route_auth: Vec<Option<crate::auth::RouteAuth>>,
    /// A management-API canary: the share of its stage's calls, in
    /// hundredths of a percent (0–10,000).
    pub canary_bp: Option<u32>,
    /// How the gateway's own answers look for this API; `None`: AWS's defaults.
    pub gateway_responses: Option<Box<super::GatewayResponses>>,
    /// Per route: its non-proxy execution (mapping templates, integration
    /// responses); `None`: the integration answers as it is.
    pub executions: Vec<Option<Arc<super::Execution>>>,
    /// Per route: its request validation; `None` for most routes.
    pub validations: Vec<Option<Box<super::Validation>>>,
}

pub struct Stage {
    pub name: String,
    pub variables: std::collections::BTreeMap<String, String>,
    /// Indexed by route number: each stage has its own integrations because
    /// stage variables are substituted at compile time.
    pub integrations: Vec<Integration>,
    pub limits: StageLimits,
    pub cache: Option<StageCache>,
    /// Per route: its cache settings if the stage caches it.
    pub route_cache: Vec<Option<RouteCache>>,
    /// The metrics slot of route 0; the stage's routes follow, then one
    /// for its calls that matched no route. `None`: metrics are off.
    pub slots: Option<usize>,
    pub access_log: Option<AccessLog>,
}

/// A stage's access log: where to (an index into `Snapshot::access_logs`) and how.
pub struct AccessLog {
    pub dest: usize,
    pub format: Format,
}

pub enum Integration {
    Mock(MockIntegration),
    HttpProxy(HttpProxyIntegration),
    Lambda(LambdaIntegration),
    /// An AWS service integration; always with an execution.
    AwsService(crate::integration::AwsService),
    /// TestInvokeAuthorizer's hidden route: what the authorizer found.
    AuthorizerEcho,
    /// A management API's integration that could not be built: answers
    /// 502 `Internal server error` (why is in `Snapshot::unavailable`).
    Unavailable,
}

/// A management API's route whose integration could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// `API/stage METHOD /path`.
    pub route: String,
    pub reason: String,
}

/// A custom domain's base path mapping.
pub struct Mapping {
    /// Without slashes; empty maps the whole domain.
    pub base_path: String,
    pub api: usize,
    pub stage: usize,
}

/// A compile failure, at a byte offset of the config text.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct CompileError {
    pub at: usize,
    pub key: String,
    pub message: String,
}

/// Every compile failure of a config, in the order found: a user fixes
/// them in one pass, not one per run. Never empty.
#[derive(Debug)]
pub struct CompileErrors(pub Vec<CompileError>);

impl std::fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, e) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileErrors {}

pub type Resolver<'a> = &'a mut dyn FnMut(&str) -> io::Result<Vec<SocketAddr>>;

impl Snapshot {
    pub fn compile(config: &Config, resolve: Resolver<'_>) -> Result<Snapshot, CompileErrors> {
        let mut errors: Vec<CompileError> = Vec::new();
        let mut lookups = Lookups::default();
        let mut unavailable = Vec::new();
        let mut apis = Vec::with_capacity(config.api.len());
        let mut hosts = HashMap::new();
        let mut default_api = None;
        let mut execute_api: HashMap<Box<[u8]>, Vec<usize>> = HashMap::new();
        let mut compiled = limits::compile(config);
        let mut metric_slots = vec![SlotLabels {
            api: String::new(),
            stage: String::new(),
            method: String::new(),
            resource: String::new(),
        }];
        let mut access_logs: Vec<Destination> = Vec::new();
        let aws = AwsSettings::from_config(&config.aws);
        // Built on first need: only a config with an https:// upstream reads CAs.
        let upstream_tls_config = std::cell::OnceCell::new();
        let upstream_tls = || {
            upstream_tls_config
                .get_or_init(|| {
                    let u = &config.upstream;
                    let identity = match (&u.client_cert, &u.client_key) {
                        (Some(c), Some(k)) => Ok(Some(Identity::Files(c.as_path(), k.as_path()))),
                        (None, None) => Ok(None),
                        _ => Err("[upstream] client_cert and client_key go together".to_string()),
                    }?;
                    crate::upstream::tls::client_config(u.ca_file.as_deref(), identity)
                        .map_err(|e| e.to_string())
                })
                .clone()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let tls = match crate::tls::compile(&config.tls, &config.state.dir, now) {
            Ok(tls) => tls.map(Arc::new),
            Err((at, e)) => {
                errors.push(CompileError {
                    at,
                    // The certificate the error is about; else the listener needing one.
                    key: match config
                        .tls
                        .certificates
                        .iter()
                        .position(|c| c.span().contains(&at))
                    {
                        Some(n) => format!("tls.certificates[{n}]"),
                        None => "tls.listen".into(),
                    },
                    message: e.to_string(),
                });
                None
            }
        };
        for (i, api) in config.api.iter().enumerate() {
            let mut routes = RouteTable::default();
            for (j, route) in api.routes.iter().enumerate() {
                if let Err(e) = routes.insert(route.method, route.path.get_ref(), j) {
                    errors.push(CompileError {
                        at: route.path.span().start,
                        key: format!("api[{i}].routes[{j}].path"),
                        message: e.to_string(),
                    });
                }
            }
            // Stage-independent: compiled once for all the API's stages.
            let mut executions = Vec::with_capacity(api.routes.len());
            let mut broken = vec![None; api.routes.len()];
            for (j, route) in api.routes.iter().enumerate() {
                let Some(c) = &route.execution else {
                    executions.push(None);
                    continue;
                };
                if !matches!(
                    route.integration.get_ref(),
                    IntegrationConfig::Mock { .. }
                        | IntegrationConfig::Lambda { .. }
                        | IntegrationConfig::HttpProxy { .. }
                        | IntegrationConfig::Aws(_)
                ) {
                    errors.push(CompileError {
                        at: c.span().start,
                        key: format!("api[{i}].routes[{j}].execution"),
                        message:
                            "execution is served for mock, lambda and http_proxy integrations only, so far"
                                .into(),
                    });
                    executions.push(None);
                    continue;
                }
                match super::Execution::compile(c.get_ref()) {
                    Ok(e) => executions.push(Some(Arc::new(e))),
                    Err(e) => {
                        executions.push(None);
                        if api.control.is_some() {
                            broken[j] = Some(e.to_string());
                        } else {
                            errors.push(CompileError {
                                at: if e.at == 0 { c.span().start } else { e.at },
                                key: format!("api[{i}].routes[{j}].execution.{}", e.key),
                                message: e.message,
                            });
                        }
                    }
                }
            }
            let mut validations = Vec::with_capacity(api.routes.len());
            for (j, route) in api.routes.iter().enumerate() {
                let compiled = route.validation.as_ref().map(|c| {
                    super::Validation::compile(c.get_ref()).map_err(|e| CompileError {
                        at: c.span().start,
                        key: format!("api[{i}].routes[{j}].validation"),
                        message: e.to_string(),
                    })
                });
                match compiled.transpose() {
                    Ok(v) => validations.push(v.map(Box::new)),
                    // As a broken execution: the management API's route answers 500.
                    Err(e) if api.control.is_some() => {
                        validations.push(None);
                        broken[j] = Some(e.message);
                    }
                    Err(e) => {
                        validations.push(None);
                        errors.push(e);
                    }
                }
            }
            let mut stages = Vec::new();
            let mut stage_limits = std::mem::take(&mut compiled.stages[i]).into_iter();
            for (stage_name, stage) in &api.stages {
                // A stage presenting its own client certificate to its
                // backends has its own client config, made on first need.
                let stage_tls_config = std::cell::OnceCell::new();
                let stage_tls = || match &stage.client_certificate {
                    None => upstream_tls(),
                    Some(c) => stage_tls_config
                        .get_or_init(|| {
                            let identity = Identity::Pem {
                                id: &c.id,
                                cert: &c.cert_pem,
                                key: &c.key_pem,
                            };
                            crate::upstream::tls::client_config(
                                config.upstream.ca_file.as_deref(),
                                Some(identity),
                            )
                            .map_err(|e| e.to_string())
                        })
                        .clone(),
                };
                let mut integrations = Vec::with_capacity(api.routes.len());
                for (j, route) in api.routes.iter().enumerate() {
                    let integration: Result<Integration, String> = (|| {
                        if let Some(why) = &broken[j] {
                            return Err(format!("execution: {why}"));
                        }
                        Ok(match route.integration.get_ref() {
                            IntegrationConfig::Mock {
                                status,
                                headers,
                                body,
                            } => {
                                Integration::Mock(MockIntegration::compile(*status, headers, body)?)
                            }
                            IntegrationConfig::HttpProxy {
                                uri,
                                timeout_ms,
                                request_headers,
                                request_parameters,
                            } => Integration::HttpProxy(HttpProxyIntegration::compile(
                                uri,
                                &stage.variables,
                                *timeout_ms,
                                request_headers,
                                request_parameters,
                                Some(&stage_tls),
                                &mut |a| lookups.resolve(resolve, a),
                            )?),
                            IntegrationConfig::Lambda {
                                function,
                                endpoint,
                                payload_version,
                                timeout_ms,
                            } => {
                                let function =
                                    substitute_stage_variables(function, &stage.variables)?;
                                let invoker = Invoker::compile(
                                    &function,
                                    endpoint.as_deref(),
                                    *timeout_ms,
                                    &aws,
                                    &upstream_tls,
                                    &mut |a| lookups.resolve(resolve, a),
                                )?;
                                Integration::Lambda(LambdaIntegration {
                                    payload: *payload_version,
                                    invoker,
                                })
                            }
                            IntegrationConfig::AuthorizerEcho => Integration::AuthorizerEcho,
                            IntegrationConfig::Aws(a) => {
                                if executions[j].is_none() {
                                    return Err(
                                        "an aws integration needs an `execution` \
                                                (its request templates and integration responses)"
                                            .into(),
                                    );
                                }
                                let spec = crate::integration::aws_service::Spec {
                                    uri: &substitute_stage_variables(&a.uri, &stage.variables)?,
                                    http_method: &a.http_method,
                                    credentials: a.credentials.as_deref(),
                                    request_parameters: &a.request_parameters,
                                    timeout_ms: a.timeout_ms,
                                };
                                Integration::AwsService(crate::integration::AwsService::compile(
                                    &spec,
                                    &aws,
                                    &upstream_tls,
                                    &mut |a| lookups.resolve(resolve, a),
                                )?)
                            }
                        })
                    })();
                    match integration {
                        Ok(x) => integrations.push(x),
                        // A management API's integration that cannot be
                        // built (a host that does not resolve, a stage
                        // variable not set) answers 502 and the rest is
                        // published: one bad integration must not hold back
                        // every later change. The DNS refresh compiles it
                        // again, so it serves once its host resolves.
                        Err(reason) if api.control.is_some() => {
                            unavailable.push(Unavailable {
                                route: format!("{} {}", api.name.get_ref(), route.key()),
                                reason,
                            });
                            integrations.push(Integration::Unavailable);
                        }
                        // The file's: an error at its line (the snapshot is
                        // never built, and the other routes still get checked).
                        Err(message) => errors.push(CompileError {
                            at: route.integration.span().start,
                            key: format!("api[{i}].routes[{j}].integration"),
                            message: match route.integration.get_ref() {
                                IntegrationConfig::Mock { .. } => message,
                                _ => format!("stage `{stage_name}`: {message}"),
                            },
                        }),
                    }
                }
                let cache_name = api.cache_of.as_ref().unwrap_or(api.name.get_ref());
                let cache_id = caching::stable_id(api.id(), cache_name, stage_name);
                let (cache, route_cache) = caching::compile(api, stage, cache_id);
                let slots = stage.metrics.then(|| {
                    let base = metric_slots.len();
                    let label = |method: &str, resource: &str| SlotLabels {
                        api: api.name.get_ref().clone(),
                        stage: stage_name.clone(),
                        method: method.into(),
                        resource: resource.into(),
                    };
                    for (method, path) in route_names(api) {
                        metric_slots.push(label(&method, &path));
                    }
                    metric_slots.push(label("", ""));
                    base
                });
                let access_log = match &stage.access_log {
                    Some(l) if l.enabled => match Format::compile(l.format.get_ref()) {
                        Ok(format) => {
                            let d = Destination::parse(&l.destination);
                            let dest = match access_logs.iter().position(|x| *x == d) {
                                Some(p) => p,
                                None => {
                                    access_logs.push(d);
                                    access_logs.len() - 1
                                }
                            };
                            Some(AccessLog { dest, format })
                        }
                        Err(e) => {
                            errors.push(CompileError {
                                at: l.format.span().start,
                                key: format!("api[{i}].stages.{stage_name}.access_log.format"),
                                message: e.to_string(),
                            });
                            None
                        }
                    },
                    _ => None,
                };
                stages.push(Stage {
                    name: stage_name.clone(),
                    variables: stage.variables.clone(),
                    integrations,
                    limits: stage_limits.next().unwrap_or_default(),
                    cache,
                    route_cache,
                    slots,
                    access_log,
                });
            }
            let auth = match super::authorizers::compile(i, api, &aws, &upstream_tls, &mut |a| {
                lookups.resolve(resolve, a)
            }) {
                Ok(auth) => auth,
                Err(e) => {
                    errors.extend(e);
                    // Never served; the API stays so later indexes hold.
                    super::authorizers::Compiled {
                        authorizers: Vec::new(),
                        route_auth: api.routes.iter().map(|_| None).collect(),
                    }
                }
            };
            let gateway_responses = match super::GatewayResponses::compile(&api.gateway_responses) {
                Ok(g) => g.map(Box::new),
                Err((name, message)) => {
                    errors.push(CompileError {
                        at: api
                            .gateway_responses
                            .get(&name)
                            .map_or(0, |c| c.span().start),
                        key: format!("api[{i}].gateway_responses.{name}"),
                        message,
                    });
                    None
                }
            };
            if let Some(rest_api_id) = &api.control {
                execute_api
                    .entry(rest_api_id.as_bytes().into())
                    .or_default()
                    .push(i);
            } else if api.hosts.is_empty() {
                default_api = Some(i);
            }
            for h in &api.hosts {
                hosts.insert(h.to_ascii_lowercase().into_bytes().into_boxed_slice(), i);
            }
            apis.push(Api {
                id: api.id().to_string(),
                name: api.name.get_ref().clone(),
                stages,
                routes,
                key_required: api.routes.iter().map(|r| r.api_key_required).collect(),
                resources: route_names(api).collect(),
                canary_bp: api.canary_percent.map(|p| (p * 100.0).round() as u32),
                cors: api.cors.as_ref().map(|c| super::Cors::compile(c.get_ref())),
                binary_media_types: api.binary_media_types.clone(),
                authorizers: auth.authorizers,
                route_auth: auth.route_auth,
                gateway_responses,
                executions,
                validations,
            });
        }
        let mut domains: HashMap<Box<[u8]>, Vec<Mapping>> = HashMap::new();
        for d in &config.domain {
            let list = domains
                .entry(
                    d.name
                        .get_ref()
                        .to_ascii_lowercase()
                        .into_bytes()
                        .into_boxed_slice(),
                )
                .or_default();
            for m in &d.mappings {
                let m = m.get_ref();
                // Validated by config::load: both exist.
                let api = config
                    .api
                    .iter()
                    .position(|a| a.name.get_ref() == &m.api)
                    .unwrap_or(0);
                let stage = apis[api]
                    .stages
                    .iter()
                    .position(|s| s.name == m.stage)
                    .unwrap_or(0);
                list.push(Mapping {
                    base_path: m.base_path.trim_matches('/').to_string(),
                    api,
                    stage,
                });
            }
            // Longest base path first, so `v1/admin` wins over `v1`.
            list.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
        }
        if !errors.is_empty() {
            return Err(CompileErrors(errors));
        }
        Ok(Snapshot {
            limits: config.limits,
            paths: config.server.path_rules(),
            timeouts: config.timeouts,
            upstream: config.upstream.clone(),
            apis,
            hosts,
            default_api,
            execute_api,
            domains,
            resolved: lookups.resolved,
            unresolved: lookups.failed,
            unavailable,
            catalog: compiled.catalog,
            catalog_gen: 0,
            keys: compiled.keys,
            cache_header: config.cache.header.to_ascii_lowercase().into_bytes().into(),
            metric_slots,
            access_logs,
            version: version_of(config),
            tls,
            account_id: aws.account_id,
            region: aws.region,
        })
    }

    /// The API answering on `host` (lower-case, port stripped), or the default API.
    pub fn api_for_host(&self, host: &[u8]) -> Option<usize> {
        self.hosts.get(host).copied().or(self.default_api)
    }

    /// A management-API stage: the API serving `stage` of `rest_api_id`;
    /// its canary's when `roll` (uniform in 0..10,000) falls in the
    /// canary's share.
    pub fn control_api(&self, rest_api_id: &[u8], stage: &[u8], roll: u32) -> Option<&Api> {
        let mut main = None;
        for a in self
            .execute_api
            .get(rest_api_id)?
            .iter()
            .map(|&i| &self.apis[i])
        {
            if a.stages.first().is_none_or(|s| s.name.as_bytes() != stage) {
                continue;
            }
            match a.canary_bp {
                Some(bp) if roll < bp => return Some(a),
                Some(_) => {}
                None => main = Some(a),
            }
        }
        main
    }

    pub fn is_control_api(&self, rest_api_id: &[u8]) -> bool {
        self.execute_api.contains_key(rest_api_id)
    }

    pub fn has_control_apis(&self) -> bool {
        !self.execute_api.is_empty()
    }

    pub fn domain(&self, host: &[u8]) -> Option<&[Mapping]> {
        self.domains.get(host).map(Vec::as_slice)
    }
}

/// Each route's method and path template, as metrics and logs name it.
fn route_names(api: &ApiConfig) -> impl Iterator<Item = (String, String)> + '_ {
    api.routes.iter().map(|r| {
        let key = r.key();
        let (m, p) = key.split_once(' ').unwrap_or((key.as_str(), ""));
        (m.to_string(), p.to_string())
    })
}

/// Twelve hex digits of a hash of the parsed config: the same config
/// gives the same version, any change a new one.
fn version_of(config: &Config) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{config:?}").hash(&mut h);
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// `${stageVariables.name}` replaced by the stage's value (a Lambda
/// integration's function, as AWS allows in its ARN).
fn substitute_stage_variables(
    s: &str,
    vars: &std::collections::BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("${stageVariables.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "${stageVariables.".len()..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("`{s}`: unclosed ${{stageVariables.…}}"))?;
        let name = &after[..end];
        let value = vars
            .get(name)
            .ok_or_else(|| format!("stage variable `{name}` is not defined"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Each authority looked up once per compile, whether it resolved or not.
#[derive(Default)]
struct Lookups {
    resolved: Vec<(String, Vec<SocketAddr>)>,
    failed: Vec<(String, String)>,
}

impl Lookups {
    fn resolve(&mut self, resolve: Resolver<'_>, authority: &str) -> io::Result<Vec<SocketAddr>> {
        if let Some((_, addrs)) = self.resolved.iter().find(|(a, _)| a == authority) {
            return Ok(addrs.clone());
        }
        if let Some((_, e)) = self.failed.iter().find(|(a, _)| a == authority) {
            return Err(io::Error::other(e.clone()));
        }
        match resolve(authority) {
            Ok(addrs) => {
                self.resolved.push((authority.to_string(), addrs.clone()));
                Ok(addrs)
            }
            Err(e) => {
                self.failed.push((authority.to_string(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// The system resolver; blocking, so only the control plane calls it.
pub fn system_resolve(authority: &str) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = authority.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no addresses"));
    }
    Ok(addrs)
}
