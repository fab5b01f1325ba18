//! A method's non-proxy settings (request templates, passthrough
//! behaviour, integration responses, method responses) as the data plane's
//! `ExecutionConfig`, and the check that refuses a mapping template that
//! does not compile when a management call sets it, as AWS refuses one.

use std::collections::BTreeMap;

use toml::Spanned;

use super::error::ApiError;
use super::model::{Integration, Method, MethodResponse};
use crate::config::{
    ContentHandling, ExecutionConfig, IntegrationResponseConfig, PassthroughBehavior,
};
use crate::snapshot::{parse_source, parse_target};
use crate::vtl::Template;

/// Refuses the first template of `templates` that does not compile,
/// naming its content type, line and column.
pub fn check_templates(templates: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (content_type, source) in templates {
        if let Err(e) = Template::compile(source) {
            return Err(ApiError::BadRequest(format!(
                "Invalid mapping expression specified: Validation Result: warnings : [], \
                 errors : [Invalid template for {content_type}: {e}]"
            )));
        }
    }
    Ok(())
}

/// Refuses a `requestParameters` entry that is not AWS's mapping syntax,
/// with AWS's wording.
pub fn check_parameters(parameters: &BTreeMap<String, String>) -> Result<(), ApiError> {
    crate::snapshot::param_mapping::parse_all(parameters)
        .map(drop)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Refuses an integration's `requestParameters` entry that reads a method
/// request parameter (`method.request.path|querystring|header.X` or a
/// multi-value form) the method does not declare, with AWS's wording:
/// AWS's PutIntegration, UpdateIntegration and import refuse it.
pub fn check_declared(i: &Integration, m: &Method) -> Result<(), ApiError> {
    crate::snapshot::param_mapping::check_declared(
        &i.request_parameters,
        m.request_parameters.keys(),
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The execution a deployed integration runs; what cannot be served
/// (a status that is not a number, a response parameter that is not
/// AWS's syntax) is left out and said in `skipped`.
pub fn to_config(
    i: &Integration,
    method_responses: &BTreeMap<String, MethodResponse>,
    skipped: &mut Vec<String>,
) -> ExecutionConfig {
    let spanned = |m: &BTreeMap<String, String>| -> BTreeMap<String, Spanned<String>> {
        m.iter()
            .map(|(k, v)| (k.clone(), Spanned::new(0..0, v.clone())))
            .collect()
    };
    let mut integration_responses = Vec::new();
    for (code, r) in &i.integration_responses {
        let Ok(status) = code.parse::<u16>() else {
            skipped.push(format!("integration response {code}: not a status"));
            continue;
        };
        let response_parameters = r
            .response_parameters
            .iter()
            .filter(|(k, v)| {
                let ok = parse_target(k).is_ok() && parse_source(v).is_ok();
                if !ok {
                    skipped.push(format!("integration response {code}: parameter {k} = {v}"));
                }
                ok
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        integration_responses.push(IntegrationResponseConfig {
            status,
            selection_pattern: r.selection_pattern.clone().filter(|p| !p.is_empty()),
            response_parameters,
            response_templates: spanned(&r.response_templates),
            content_handling: ContentHandling::parse(r.content_handling.as_deref()),
        });
    }
    ExecutionConfig {
        request_templates: spanned(&i.request_templates),
        passthrough_behavior: PassthroughBehavior::parse(
            i.passthrough_behavior.as_deref().unwrap_or_default(),
        ),
        integration_responses,
        method_responses: method_responses
            .iter()
            .map(|(code, m)| {
                let headers = m
                    .response_parameters
                    .keys()
                    .filter_map(|k| k.strip_prefix("method.response.header."))
                    .map(str::to_string)
                    .collect();
                (code.clone(), headers)
            })
            .collect(),
        request_parameters: i.request_parameters.clone(),
        http_method: i.http_method.clone(),
        content_handling: ContentHandling::parse(i.content_handling.as_deref()),
    }
}
