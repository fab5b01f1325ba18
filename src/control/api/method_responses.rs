//! What AWS checks of method and integration responses when they are put
//! or updated: an integration response needs its status's method response
//! (NotFoundException "Invalid Response status code specified"), and maps
//! only the headers that method response declares, from sources AWS
//! knows (BadRequestException "Invalid mapping expression specified:
//! Validation Result: warnings : [], errors : [...]", AWS's own words as
//! its API answers them).

use std::collections::BTreeMap;

use super::error::ApiError;
use super::model::{IntegrationResponse, MethodResponse};

const HEADER: &str = "method.response.header.";

/// AWS's wording for a mapping it refuses, one error listed.
fn invalid(error: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid mapping expression specified: Validation Result: warnings : [], errors : [{error}]"
    ))
}

/// A method response's `responseParameters` declare headers only.
pub fn check_method_response(mr: &MethodResponse) -> Result<(), ApiError> {
    for k in mr.response_parameters.keys() {
        if !is_header_key(k) {
            return Err(invalid(&format!(
                "Invalid mapping expression specified: {k}"
            )));
        }
    }
    Ok(())
}

/// An integration response against the method's responses.
pub fn check_integration_response(
    ir: &IntegrationResponse,
    method_responses: &BTreeMap<String, MethodResponse>,
) -> Result<(), ApiError> {
    let Some(mr) = method_responses.get(&ir.status_code) else {
        if !ir.response_parameters.is_empty() {
            return Err(invalid("No method response exists for method."));
        }
        return Err(ApiError::NotFound(
            "Invalid Response status code specified".into(),
        ));
    };
    for (target, source) in &ir.response_parameters {
        let declared = is_header_key(target)
            && mr
                .response_parameters
                .keys()
                .any(|k| k.eq_ignore_ascii_case(target));
        if !declared {
            return Err(invalid(&format!(
                "Invalid mapping expression parameter specified: {target}"
            )));
        }
        if !is_source(source) {
            return Err(invalid(&format!(
                "Invalid mapping expression specified: {source}"
            )));
        }
    }
    Ok(())
}

fn is_header_key(k: &str) -> bool {
    k.strip_prefix(HEADER).is_some_and(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    })
}

/// The sources "Parameter mapping source reference" lists for a method
/// response: `'static'`, `integration.response.header|multivalueheader.NAME`,
/// `integration.response.body[.JSONPath]`, `context.NAME`, `stageVariables.NAME`.
fn is_source(v: &str) -> bool {
    let named = |prefix: &str| v.strip_prefix(prefix).is_some_and(|n| !n.is_empty());
    (v.len() >= 2 && v.starts_with('\'') && v.ends_with('\''))
        || named("integration.response.header.")
        || named("integration.response.multivalueheader.")
        || v == "integration.response.body"
        || named("integration.response.body.")
        || named("context.")
        || named("stageVariables.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ir(status: &str, params: &[(&str, &str)]) -> IntegrationResponse {
        IntegrationResponse {
            status_code: status.into(),
            selection_pattern: None,
            response_parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            response_templates: BTreeMap::new(),
            content_handling: None,
        }
    }

    fn declared(headers: &[&str]) -> BTreeMap<String, MethodResponse> {
        let mr = MethodResponse {
            status_code: "200".into(),
            response_parameters: headers
                .iter()
                .map(|h| (format!("{HEADER}{h}"), false))
                .collect(),
            response_models: BTreeMap::new(),
        };
        BTreeMap::from([("200".to_string(), mr)])
    }

    /// Why integration response `status` mapping `header` from `source` is refused.
    fn refusal(
        mrs: &BTreeMap<String, MethodResponse>,
        status: &str,
        header: &str,
        source: &str,
    ) -> String {
        let target = format!("{HEADER}{header}");
        match check_integration_response(&ir(status, &[(&target, source)]), mrs) {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn integration_responses_need_their_method_response_and_its_headers() {
        let mrs = declared(&["X-A"]);
        assert!(check_integration_response(&ir("200", &[]), &mrs).is_ok());
        let ok = ir("200", &[("method.response.header.x-a", "'1'")]);
        assert!(check_integration_response(&ok, &mrs).is_ok());
        assert!(matches!(
            check_integration_response(&ir("404", &[]), &mrs),
            Err(ApiError::NotFound(m)) if m == "Invalid Response status code specified"
        ));
        let m = refusal(&mrs, "404", "X-A", "'1'");
        assert!(
            m.ends_with("[No method response exists for method.]"),
            "{m}"
        );
        let m = refusal(&mrs, "200", "X-B", "'1'");
        assert_eq!(m, "Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression parameter specified: method.response.header.X-B]");
        let m = refusal(&mrs, "200", "X-A", "*");
        assert!(
            m.ends_with("[Invalid mapping expression specified: *]"),
            "{m}"
        );
        for source in [
            "integration.response.header.h",
            "integration.response.multivalueheader.h",
            "integration.response.body",
            "integration.response.body.a.b",
            "context.requestId",
            "stageVariables.v",
        ] {
            let r = ir("200", &[("method.response.header.X-A", source)]);
            assert!(check_integration_response(&r, &mrs).is_ok(), "{source}");
        }
    }

    #[test]
    fn method_responses_declare_headers_only() {
        let mut mrs = declared(&["X-A"]);
        assert!(check_method_response(&mrs["200"]).is_ok());
        let mr = mrs.get_mut("200").unwrap();
        mr.response_parameters
            .insert("method.request.header.x".into(), true);
        assert!(check_method_response(mr).is_err());
    }
}
