//! Compiling an API's `authorizers` and its routes' `authorizer` settings.

use std::hash::{Hash, Hasher};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::jwks::{JwksUrl, KeySet, KeySource};
use crate::auth::lambda_authorizer::{IdentitySource, Kind};
use crate::auth::{Authorizer, JwtAuthorizer, LambdaAuthorizer, RouteAuth};
use crate::config::{ApiConfig, AuthorizerConfig, PayloadVersion, RouteConfig};
use crate::integration::lambda::{AwsSettings, Invoker};
use crate::upstream::tls::TlsConfigFn;

use super::compile::CompileError;

pub struct Compiled {
    pub authorizers: Vec<Authorizer>,
    /// Per route.
    pub route_auth: Vec<Option<RouteAuth>>,
}

/// Every authorizer of `api` and every route's use of one; all their
/// errors, not just the first, so a config is fixed in one pass.
pub fn compile(
    i: usize,
    api: &ApiConfig,
    aws: &AwsSettings,
    tls: TlsConfigFn<'_>,
    resolve: &mut dyn FnMut(&str) -> io::Result<Vec<SocketAddr>>,
) -> Result<Compiled, Vec<CompileError>> {
    let mut errors = Vec::new();
    let names: Vec<&String> = api.authorizers.keys().collect();
    // `None` for one that failed, so route indexes stay right.
    let authorizers: Vec<Option<Authorizer>> = api
        .authorizers
        .iter()
        .map(|(name, spanned)| {
            authorizer(i, api, name, spanned, aws, tls, resolve)
                .map_err(|e| errors.push(e))
                .ok()
        })
        .collect();
    let mut route_auth = Vec::with_capacity(api.routes.len());
    for (j, route) in api.routes.iter().enumerate() {
        match route_authorizer(i, j, route, &names, &authorizers) {
            Ok(a) => route_auth.push(a),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Compiled {
        authorizers: authorizers.into_iter().flatten().collect(),
        route_auth,
    })
}

fn authorizer(
    i: usize,
    api: &ApiConfig,
    name: &str,
    spanned: &toml::Spanned<AuthorizerConfig>,
    aws: &AwsSettings,
    tls: TlsConfigFn<'_>,
    resolve: &mut dyn FnMut(&str) -> io::Result<Vec<SocketAddr>>,
) -> Result<Authorizer, CompileError> {
    let fail = |message: String| CompileError {
        at: spanned.span().start,
        key: format!("api[{i}].authorizers.{name}"),
        message,
    };
    Ok(match spanned.get_ref() {
        AuthorizerConfig::Jwt {
            issuer,
            audience,
            jwks_uri,
            jwks_file,
            identity_source,
            leeway_s,
            cognito,
        } => {
            let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
            (api.id(), name, format!("{:?}", spanned.get_ref())).hash(&mut fingerprint);
            // A user pool's keys: from `[aws] cognito_endpoint` when set.
            let pool_keys = match (*cognito, &aws.cognito_endpoint) {
                (true, Some(e)) => {
                    let pool = issuer.rsplit('/').next().unwrap_or_default();
                    Some(format!(
                        "{}/{pool}/.well-known/jwks.json",
                        e.trim_end_matches('/')
                    ))
                }
                _ => None,
            };
            let jwks_uri = pool_keys.as_ref().or(jwks_uri.as_ref());
            let keys = match (jwks_uri, jwks_file) {
                (Some(url), None) => {
                    KeySource::Url(JwksUrl::compile(url, tls, resolve).map_err(fail)?)
                }
                (None, Some(path)) => {
                    let text = std::fs::read(path)
                        .map_err(|e| fail(format!("jwks_file {}: {e}", path.display())))?;
                    text.hash(&mut fingerprint);
                    KeySource::File(
                        KeySet::parse(&text)
                            .map_err(|e| fail(format!("jwks_file {}: {e}", path.display())))?,
                    )
                }
                _ => return Err(fail("give one of jwks_uri and jwks_file".into())),
            };
            let header = match IdentitySource::parse(identity_source).map_err(&fail)? {
                IdentitySource::Header(h) => h,
                _ => return Err(fail("a JWT's identity_source must be a header".into())),
            };
            if audience.is_empty() && !cognito {
                return Err(fail("audience needs at least one value".into()));
            }
            let jwt = JwtAuthorizer::new(
                fingerprint.finish(),
                header,
                keys,
                issuer.clone(),
                audience.clone(),
                *leeway_s,
            );
            Authorizer::Jwt(if *cognito { jwt.cognito() } else { jwt })
        }
        AuthorizerConfig::Token {
            function,
            endpoint,
            header,
            validation_regex,
            ttl_s,
            timeout_ms,
        } => {
            let validation = validation_regex
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| fail(format!("validation_regex: {e}")))?;
            lambda(
                api,
                name,
                Kind::Token {
                    header: header.to_ascii_lowercase(),
                    validation,
                },
                (function, endpoint.as_deref(), *timeout_ms, *ttl_s),
                (aws, tls),
                resolve,
            )
            .map_err(fail)?
        }
        AuthorizerConfig::Request {
            function,
            endpoint,
            identity_sources,
            payload_version,
            simple_responses,
            ttl_s,
            timeout_ms,
        } => {
            if *simple_responses && *payload_version == PayloadVersion::V1 {
                return Err(fail(
                    "simple_responses needs payload_version = \"2.0\"".into(),
                ));
            }
            if identity_sources.is_empty() && *ttl_s > 0 {
                return Err(fail(
                    "identity_sources is empty: results cannot be kept (set ttl_s = 0)".into(),
                ));
            }
            let sources = identity_sources
                .iter()
                .map(|s| IdentitySource::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(&fail)?;
            lambda(
                api,
                name,
                Kind::Request {
                    sources,
                    version: *payload_version,
                    simple: *simple_responses,
                },
                (function, endpoint.as_deref(), *timeout_ms, *ttl_s),
                (aws, tls),
                resolve,
            )
            .map_err(fail)?
        }
    })
}

fn route_authorizer(
    i: usize,
    j: usize,
    route: &RouteConfig,
    names: &[&String],
    authorizers: &[Option<Authorizer>],
) -> Result<Option<RouteAuth>, CompileError> {
    Ok(match &route.authorizer {
        None if !route.authorization_scopes.is_empty() => {
            return Err(CompileError {
                at: route.path.span().start,
                key: format!("api[{i}].routes[{j}].authorization_scopes"),
                message: "scopes need an authorizer".into(),
            })
        }
        None => None,
        Some(name) => {
            let index = names
                .iter()
                .position(|n| *n == name.get_ref())
                .ok_or_else(|| CompileError {
                    at: name.span().start,
                    key: format!("api[{i}].routes[{j}].authorizer"),
                    message: format!("no authorizer `{}` in this API", name.get_ref()),
                })?;
            if !route.authorization_scopes.is_empty()
                && !matches!(authorizers[index], Some(Authorizer::Jwt(_)))
            {
                return Err(CompileError {
                    at: name.span().start,
                    key: format!("api[{i}].routes[{j}].authorization_scopes"),
                    message: "scopes apply to JWT authorizers only".into(),
                });
            }
            Some(RouteAuth {
                authorizer: index,
                scopes: route.authorization_scopes.clone(),
            })
        }
    })
}

fn lambda(
    api: &ApiConfig,
    name: &str,
    kind: Kind,
    (function, endpoint, timeout_ms, ttl_s): (&str, Option<&str>, u64, u64),
    (aws, tls): (&AwsSettings, TlsConfigFn<'_>),
    resolve: &mut dyn FnMut(&str) -> io::Result<Vec<SocketAddr>>,
) -> Result<Authorizer, String> {
    Ok(Authorizer::Lambda(LambdaAuthorizer {
        id: format!("{}/{name}", api.id()),
        kind,
        invoker: Invoker::compile(function, endpoint, timeout_ms, aws, tls, resolve)?,
        ttl: Duration::from_secs(ttl_s),
    }))
}
