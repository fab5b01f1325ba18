//! What the data plane serves of the management API's state: every stage
//! of every REST API, as the deployment it points at, turned into the same
//! API definitions the config file gives (one per API stage, since stages
//! of one API may serve different deployments). The snapshot compiler then
//! treats both alike.
//!
//! Not carried over yet (see the README): mapping templates and
//! integration responses of integrations other than MOCK.

use std::collections::BTreeMap;

use toml::Spanned;

use super::base_path_mappings::NONE;
use super::domain_names::StoredDomain;
use super::error::ApiError;
use super::model::{ApiDoc, Integration, MethodSetting, Stage, ThrottleSettings};
use super::store::ControlStore;
use std::path::Path;

use crate::config::StageClientCertificate;
use crate::config::{
    AccessLogConfig, ApiConfig, ApiKeyConfig, AwsIntegrationConfig, ByteSize, DomainConfig,
    IntegrationConfig, MappingConfig, MethodSpec, PayloadVersion, PlanStageConfig, QuotaConfig,
    QuotaPeriod, RouteCacheConfig, RouteConfig, StageCacheConfig, StageConfig, Throttle, Ttl,
    UnauthorizedStrategy, UploadedCertificate, UsagePlanConfig,
};

/// What the management API adds to the config the data plane serves.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub apis: Vec<ApiConfig>,
    pub plans: Vec<UsagePlanConfig>,
    pub keys: Vec<ApiKeyConfig>,
    /// Custom domain names and their base path mappings (CreateDomainName …).
    pub domains: Vec<DomainConfig>,
    /// Certificates uploaded with a domain name, served for it by SNI.
    pub certificates: Vec<UploadedCertificate>,
    /// Domain names that came without a certificate (ACME's, see `TlsConfig::wanted`).
    pub uncertified: Vec<String>,
}

impl super::ControlPlane {
    /// The deployed stages as API definitions for the snapshot, and what
    /// could not be served (to log).
    pub fn deployed(
        &self,
        file: &[crate::config::ApiConfig],
    ) -> Result<(Published, Vec<String>), ApiError> {
        published(&self.store, file, &self.state_dir)
    }
}

/// Everything the management API holds, as config; problems skip a part
/// and say why. `file`: the config file's APIs, which plans may cover.
pub fn published(
    store: &ControlStore,
    file: &[ApiConfig],
    state_dir: &Path,
) -> Result<(Published, Vec<String>), ApiError> {
    let (apis, mut skipped) = api_configs(store, state_dir)?;
    let mut plans = Vec::new();
    for p in store.plans()? {
        let mut api_stages = Vec::new();
        for s in &p.api_stages {
            // The API definition serving that stage: one of ours, or the file's.
            let name = match store.api(&s.api_id)? {
                Some(doc) if !file.iter().any(|f| f.id() == s.api_id) => {
                    format!("{}/{}", doc.api.name, s.stage)
                }
                _ => match file.iter().find(|f| f.id() == s.api_id) {
                    Some(f) => f.name.get_ref().clone(),
                    None => {
                        skipped.push(format!("usage plan {}: API {} is gone", p.id, s.api_id));
                        continue;
                    }
                },
            };
            let route_throttle = s
                .throttle
                .iter()
                .filter_map(|(k, t)| {
                    let (path, verb) = k.rsplit_once('/')?;
                    let path = if path.is_empty() { "/" } else { path };
                    Some((format!("{verb} {path}"), Spanned::new(0..0, limits(t))))
                })
                .collect();
            api_stages.push(Spanned::new(
                0..0,
                PlanStageConfig {
                    api: name,
                    stage: s.stage.clone(),
                    route_throttle,
                },
            ));
        }
        let quota = p.quota.as_ref().map(|q| QuotaConfig {
            limit: q.limit.max(0) as u64,
            offset: q.offset.max(0) as u64,
            period: match q.period.as_str() {
                "WEEK" => QuotaPeriod::Week,
                "MONTH" => QuotaPeriod::Month,
                _ => QuotaPeriod::Day,
            },
        });
        plans.push(UsagePlanConfig {
            // Named by id: unique, and what usage records are kept under.
            name: Spanned::new(0..0, p.id.clone()),
            throttle: p.throttle.as_ref().map(limits),
            aggregate_throttle: None,
            quota,
            api_stages,
        });
    }
    let mut keys = Vec::new();
    for k in store.keys()? {
        let mut member_of = Vec::new();
        for p in &plans {
            if store.plan_keys(p.name.get_ref())?.contains(&k.id) {
                member_of.push(p.name.get_ref().clone());
            }
        }
        keys.push(ApiKeyConfig {
            name: Spanned::new(0..0, k.name.clone()),
            id: Some(k.id.clone()),
            value: k.value.clone(),
            value_env: None,
            value_file: None,
            enabled: k.enabled,
            usage_plans: member_of,
        });
    }
    let (domains, certificates) = domains(store, &apis, &mut skipped)?;
    let uncertified = domains
        .iter()
        .map(|d| d.name.get_ref())
        .filter(|n| !certificates.iter().any(|c| &c.host == *n))
        .cloned()
        .collect();
    Ok((
        Published {
            apis,
            plans,
            keys,
            domains,
            certificates,
            uncertified,
        },
        skipped,
    ))
}

/// The management API's domain names, each mapping naming the API
/// definition that serves its REST API's stage (a mapping whose stage
/// serves nothing yet is left out and said why), and their certificates.
fn domains(
    store: &ControlStore,
    apis: &[ApiConfig],
    skipped: &mut Vec<String>,
) -> Result<(Vec<DomainConfig>, Vec<UploadedCertificate>), ApiError> {
    let mut out = Vec::new();
    let mut certs = Vec::new();
    for d in store.domain_names::<StoredDomain>()? {
        let name = d.domain.domain_name.clone();
        let mut mappings = Vec::new();
        for m in &d.mappings {
            let base = if m.base_path == NONE {
                String::new()
            } else {
                m.base_path.clone()
            };
            // Each stage the mapping serves: its own, or, without one,
            // every deployed stage at `{base}/{stage}`.
            let serving: Vec<&ApiConfig> = apis
                .iter()
                .filter(|a| {
                    a.id() == m.rest_api_id
                        && (m.stage.is_empty() || a.stages.contains_key(&m.stage))
                        && !a.name.get_ref().ends_with(" (canary)")
                })
                .collect();
            if serving.is_empty() {
                skipped.push(format!(
                    "domain name {name} base path {}: stage {} of API {} is not deployed",
                    m.base_path, m.stage, m.rest_api_id
                ));
                continue;
            }
            for api in serving {
                for stage in api.stages.keys() {
                    let base_path = match (m.stage.is_empty(), base.is_empty()) {
                        (false, _) => base.clone(),
                        (true, true) => stage.clone(),
                        (true, false) => format!("{base}/{stage}"),
                    };
                    mappings.push(Spanned::new(
                        0..0,
                        MappingConfig {
                            base_path,
                            api: api.name.get_ref().clone(),
                            stage: stage.clone(),
                        },
                    ));
                }
            }
        }
        if let (Some(cert), Some(key)) = (&d.certificate, store.domain_name_key(&name)?) {
            certs.push(UploadedCertificate {
                host: name.clone(),
                cert: cert.clone(),
                key,
            });
        }
        out.push(DomainConfig {
            name: Spanned::new(0..0, name),
            mappings,
        });
    }
    Ok((out, certs))
}

fn limits(t: &ThrottleSettings) -> Throttle {
    Throttle {
        rate: t.rate_limit.max(0.0),
        burst: t.burst_limit.max(0) as u64,
    }
}

/// One API definition per (REST API, stage); problems skip a route and say why.
pub fn api_configs(
    store: &ControlStore,
    state_dir: &Path,
) -> Result<(Vec<ApiConfig>, Vec<String>), ApiError> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let links = super::vpc_links::ids(store)?;
    for doc in store.apis()? {
        let id = &doc.api.id;
        for stage in store.stages(id)? {
            let Some((_, deployed)) = store.deployment(id, &stage.deployment_id)? else {
                skipped.push(format!(
                    "{id}/{}: deployment {} is gone",
                    stage.stage_name, stage.deployment_id
                ));
                continue;
            };
            let presented = client_certificate(store, &stage, &mut skipped)?;
            let mut c = api_config(&doc, &deployed, &stage, &links, state_dir, &mut skipped);
            present(&mut c, &presented);
            out.push(c);
            // A canary: its deployment, with the stage's variables overridden,
            // serves percentTraffic of the stage's calls.
            let Some(k) = stage
                .canary_settings
                .as_ref()
                .filter(|k| k.percent_traffic > 0.0)
            else {
                continue;
            };
            let Some(canary_id) = &k.deployment_id else {
                continue;
            };
            let Some((_, canary)) = store.deployment(id, canary_id)? else {
                skipped.push(format!(
                    "{id}/{}: canary deployment {canary_id} is gone",
                    stage.stage_name
                ));
                continue;
            };
            let mut s = stage.clone();
            s.variables.extend(k.stage_variable_overrides.clone());
            let mut c = api_config(&doc, &canary, &s, &links, state_dir, &mut skipped);
            present(&mut c, &presented);
            if k.use_stage_cache {
                c.cache_of = Some(c.name.get_ref().clone());
            }
            c.name = Spanned::new(0..0, format!("{} (canary)", c.name.get_ref()));
            c.canary_percent = Some(k.percent_traffic.clamp(0.0, 100.0));
            out.push(c);
        }
    }
    Ok((out, skipped))
}

/// The client certificate a stage presents to its backends (its
/// `clientCertificateId`), with its private key unsealed.
fn client_certificate(
    store: &ControlStore,
    stage: &Stage,
    skipped: &mut Vec<String>,
) -> Result<Option<StageClientCertificate>, ApiError> {
    let Some(id) = &stage.client_certificate_id else {
        return Ok(None);
    };
    let cert: Option<super::client_certificates::ClientCertificate> =
        store.client_certificate(id)?;
    match (cert, store.client_certificate_key(id)?) {
        (Some(cert), Some(key_pem)) => Ok(Some(StageClientCertificate {
            id: id.clone(),
            cert_pem: cert.pem_encoded_certificate,
            key_pem,
        })),
        _ => {
            skipped.push(format!(
                "stage {}: client certificate {id} is gone; its backends get none",
                stage.stage_name
            ));
            Ok(None)
        }
    }
}

fn present(c: &mut ApiConfig, cert: &Option<StageClientCertificate>) {
    for s in c.stages.values_mut() {
        s.client_certificate = cert.clone();
    }
}

pub(super) fn api_config(
    doc: &ApiDoc,
    deployed: &ApiDoc,
    stage: &Stage,
    links: &[String],
    state_dir: &Path,
    skipped: &mut Vec<String>,
) -> ApiConfig {
    let id = &doc.api.id;
    let mut authorizers = BTreeMap::new();
    for a in &deployed.authorizers {
        match super::authorizers::to_config(a) {
            Ok(cfg) => {
                authorizers.insert(a.id.clone(), Spanned::new(0..0, cfg));
            }
            Err(e) => skipped.push(format!(
                "{id}/{}: authorizer {}: {e}",
                stage.stage_name, a.id
            )),
        }
    }
    let mut routes = Vec::new();
    for r in &deployed.resources {
        for (verb, m) in &r.resource_methods {
            let at = format!("{id}/{} {verb} {}", stage.stage_name, r.path);
            let Some(i) = &m.method_integration else {
                skipped.push(format!("{at}: no integration"));
                continue;
            };
            let method = match MethodSpec::try_from(verb.clone()) {
                Ok(m) => m,
                Err(e) => {
                    skipped.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let path = match r.path.clone().try_into() {
                Ok(p) => p,
                Err(e) => {
                    skipped.push(format!("{at}: {e}"));
                    continue;
                }
            };
            // A method whose authorizer cannot be served is not served.
            let authorizer = match (m.authorization_type.as_str(), &m.authorizer_id) {
                ("CUSTOM" | "COGNITO_USER_POOLS", Some(a)) if authorizers.contains_key(a) => {
                    Some(Spanned::new(0..0, a.clone()))
                }
                ("CUSTOM" | "COGNITO_USER_POOLS", a) => {
                    skipped.push(format!("{at}: authorizer {a:?} cannot be served"));
                    continue;
                }
                _ => None,
            };
            let execution =
                (i.kind == "MOCK" || i.kind == "HTTP" || lambda_custom(i) || aws_service(i)).then(
                    || {
                        let mut notes = Vec::new();
                        let e = super::execution::to_config(i, &m.method_responses, &mut notes);
                        skipped.extend(notes.into_iter().map(|n| format!("{at}: {n} left out")));
                        Spanned::new(0..0, e)
                    },
                );
            let integration = match integration(i) {
                Ok(x) => x,
                Err(e) => {
                    skipped.push(format!("{at}: {e}"));
                    continue;
                }
            };
            let integration = match super::vpc_links::reachable(i, &stage.variables, links) {
                Ok(()) => integration,
                Err(e) => {
                    skipped.push(format!("{at}: {e}; it answers 500 Internal server error"));
                    super::vpc_links::unreachable()
                }
            };
            routes.push(RouteConfig {
                method,
                path: Spanned::new(0..0, path),
                integration: Spanned::new(0..0, integration),
                api_key_required: m.api_key_required,
                cache: route_cache(stage, &r.path, verb, i),
                authorizer,
                // As AWS: scopes apply to a Cognito authorizer's methods only.
                authorization_scopes: if m.authorization_type == "COGNITO_USER_POOLS" {
                    m.authorization_scopes.clone()
                } else {
                    Vec::new()
                },
                execution,
                validation: super::request_validation::to_config(deployed, m)
                    .map(|v| Spanned::new(0..0, v)),
            });
        }
    }
    let mut stages = BTreeMap::new();
    stages.insert(
        stage.stage_name.clone(),
        StageConfig {
            variables: stage.variables.clone(),
            cache: stage_cache(stage),
            throttle: stage.method_settings.get("*/*").map(throttle),
            route_throttle: route_throttles(stage, &routes),
            access_log: access_log(stage, state_dir),
            ..StageConfig::default()
        },
    );
    ApiConfig {
        // Unique per stage: a name for metrics labels and logs.
        name: Spanned::new(0..0, format!("{}/{}", doc.api.name, stage.stage_name)),
        id: Some(id.clone()),
        hosts: Vec::new(),
        cors: None,
        binary_media_types: doc.api.binary_media_types.clone(),
        authorizers,
        gateway_responses: super::gateway_responses::configs(deployed),
        stages,
        routes,
        control: Some(id.clone()),
        canary_percent: None,
        cache_of: None,
    }
}

/// The stage's method setting for a route: its own (`~1pets~1{id}/GET`),
/// else the stage-wide `*/*`.
fn setting<'s>(stage: &'s Stage, path: &str, verb: &str) -> Option<&'s MethodSetting> {
    let key = format!("{}/{verb}", path.replace('/', "~1"));
    stage
        .method_settings
        .get(&key)
        .or_else(|| stage.method_settings.get("*/*"))
}

/// `accessLogSettings`: a CloudWatch log group ARN
/// (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`) becomes
/// `access-logs/NAME.log` in the state directory; a path or `stdout` is
/// used as it is.
fn access_log(stage: &Stage, state_dir: &Path) -> Option<AccessLogConfig> {
    let l = stage.access_log_settings.as_ref()?;
    let arn = l.destination_arn.as_deref()?;
    let format = l.format.clone().unwrap_or_else(|| "json".into());
    let destination = match arn.split_once(":log-group:") {
        Some((_, group)) => {
            let name: String = group
                .trim_end_matches(":*")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            state_dir
                .join("access-logs")
                .join(format!("{name}.log"))
                .display()
                .to_string()
        }
        None => arn.to_string(),
    };
    Some(AccessLogConfig {
        enabled: true,
        destination,
        format: Spanned::new(0..0, format),
    })
}

fn throttle(m: &MethodSetting) -> Throttle {
    Throttle {
        rate: m.throttling_rate_limit.max(0.0),
        burst: m.throttling_burst_limit.max(0) as u64,
    }
}

/// Per-method throttling settings (`~1pets/GET`) as route overrides,
/// keyed `"GET /pets"` as the compiled routes name them.
fn route_throttles(stage: &Stage, routes: &[RouteConfig]) -> BTreeMap<String, Spanned<Throttle>> {
    let mut out = BTreeMap::new();
    for r in routes {
        let key = r.key();
        let (verb, path) = key.split_once(' ').unwrap_or((key.as_str(), "/"));
        let setting_key = format!("{}/{verb}", path.replace('/', "~1"));
        if let Some(m) = stage.method_settings.get(&setting_key) {
            out.insert(key.clone(), Spanned::new(0..0, throttle(m)));
        }
    }
    out
}

/// The cache cluster as a stage cache: its size in GB, the stage-wide TTL
/// and invalidation settings.
fn stage_cache(stage: &Stage) -> Option<StageCacheConfig> {
    if !stage.cache_cluster_enabled {
        return None;
    }
    let gb: f64 = stage
        .cache_cluster_size
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let all = stage.method_settings.get("*/*");
    Some(StageCacheConfig {
        capacity: ByteSize((gb * 1e9) as u64),
        ttl_s: Ttl(all.map_or(300, |m| m.cache_ttl_in_seconds.clamp(0, 3600) as u32)),
        statuses: Vec::new(),
        max_item_bytes: ByteSize(1024 * 1024),
        require_authorization: all.is_none_or(|m| m.require_authorization_for_cache_control),
        unauthorized_strategy: match all
            .map(|m| m.unauthorized_cache_control_header_strategy.as_str())
        {
            Some("FAIL_WITH_403") => UnauthorizedStrategy::FailWith403,
            Some("SUCCEED_WITHOUT_RESPONSE_HEADER") => {
                UnauthorizedStrategy::SucceedWithoutResponseHeader
            }
            _ => UnauthorizedStrategy::SucceedWithResponseHeader,
        },
        coalesce_wait_ms: 1000,
    })
}

/// A route is cached when the cluster is on and its method setting says
/// `cachingEnabled`; the integration's `cacheKeyParameters` name the query
/// strings and headers in its key.
fn route_cache(stage: &Stage, path: &str, verb: &str, i: &Integration) -> Option<RouteCacheConfig> {
    let m = setting(stage, path, verb).filter(|m| m.caching_enabled);
    let Some(m) = m.filter(|_| stage.cache_cluster_enabled) else {
        return Some(RouteCacheConfig {
            enabled: false,
            ttl_s: None,
            key_query: Vec::new(),
            key_headers: Vec::new(),
            allow_set_cookie: false,
        });
    };
    let named = |prefix: &str| -> Vec<String> {
        i.cache_key_parameters
            .iter()
            .filter_map(|p| p.strip_prefix(prefix).map(str::to_string))
            .collect()
    };
    Some(RouteCacheConfig {
        enabled: true,
        ttl_s: Some(Ttl(m.cache_ttl_in_seconds.clamp(0, 3600) as u32)),
        key_query: named("method.request.querystring."),
        key_headers: named("method.request.header."),
        allow_set_cookie: false,
    })
}

/// The function ARN in an AWS_PROXY URI,
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`.
pub fn lambda_function(uri: &str) -> Result<String, String> {
    uri.split_once(":lambda:path/2015-03-31/functions/")
        .filter(|(prefix, _)| prefix.starts_with("arn:aws:apigateway:"))
        .and_then(|(_, rest)| rest.strip_suffix("/invocations"))
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            format!("AWS_PROXY uri `{uri}` is not arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION/invocations")
        })
}

/// An HTTP_PROXY's `requestParameters` as its proxy serves them: all but
/// any that do not parse (the management calls refuse those; an import
/// may not have).
fn proxy_parameters(parameters: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    use crate::snapshot::param_mapping::{parse_source, parse_target};
    parameters
        .iter()
        .filter(|(target, source)| parse_target(target).is_ok() && parse_source(source).is_ok())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A type AWS integration calling a service's API, not a Lambda function.
fn aws_service(i: &Integration) -> bool {
    i.kind == "AWS" && !i.uri.as_deref().unwrap_or_default().contains(":lambda:")
}

fn integration(i: &Integration) -> Result<IntegrationConfig, String> {
    match i.kind.as_str() {
        // HTTP's request and answer are its execution's (see `execution::to_config`).
        "HTTP_PROXY" | "HTTP" => {
            let uri = i.uri.clone().unwrap_or_default();
            Ok(IntegrationConfig::HttpProxy {
                uri: uri
                    .try_into()
                    .map_err(|e| format!("integration uri: {e}"))?,
                timeout_ms: i.timeout_in_millis.clamp(50, 29_000) as u64,
                request_headers: BTreeMap::new(),
                request_parameters: if i.kind == "HTTP_PROXY" {
                    proxy_parameters(&i.request_parameters)
                } else {
                    BTreeMap::new()
                },
            })
        }
        // Its answer is the execution's (see `execution::to_config`).
        "MOCK" => Ok(IntegrationConfig::Mock {
            status: 200,
            headers: BTreeMap::new(),
            body: String::new(),
        }),
        // A Lambda custom (non-proxy) integration, `AWS` with a Lambda
        // URI, is invoked alike; its event and answer are the execution's
        // (see `execution::to_config`).
        "AWS_PROXY" | "AWS" if i.kind == "AWS_PROXY" || lambda_custom(i) => {
            let uri = i.uri.clone().unwrap_or_default();
            Ok(IntegrationConfig::Lambda {
                function: lambda_function(&uri)?,
                endpoint: None,
                payload_version: PayloadVersion::V1,
                timeout_ms: i.timeout_in_millis.clamp(50, 29_000) as u64,
            })
        }
        // An AWS service (not Lambda): its answer is the execution's too.
        "AWS" if aws_service(i) => Ok(IntegrationConfig::Aws(AwsIntegrationConfig {
            uri: i.uri.clone().unwrap_or_default(),
            http_method: i.http_method.clone().unwrap_or_else(|| "POST".into()),
            credentials: i.credentials.clone(),
            request_parameters: i.request_parameters.clone(),
            timeout_ms: i.timeout_in_millis.clamp(50, 29_000) as u64,
        })),
        other => Err(format!("{other} integrations are not served yet")),
    }
}

/// An `AWS` integration whose URI invokes a Lambda function: a Lambda
/// custom integration, served as Lambda with an execution.
fn lambda_custom(i: &Integration) -> bool {
    i.kind == "AWS"
        && i.uri
            .as_deref()
            .is_some_and(|u| u.contains(":lambda:path/2015-03-31/functions/"))
}
