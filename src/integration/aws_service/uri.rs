//! An AWS service integration's URI, as API Gateway writes it:
//! `arn:aws:apigateway:{region}:{service}:action/{Action}[?query]` or
//! `arn:aws:apigateway:{region}:{service}:path/{path}[?query]`, and the
//! protocol the service's API speaks for an action.

/// What the URI names, besides region and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Action(String),
    /// The path after `path/`, `{name}` placeholders still in it.
    Path(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUri {
    pub region: String,
    /// As written: `dynamodb`, or `subdomain.service`.
    pub service: String,
    pub target: Target,
    /// The URI's own query string, as written.
    pub query: String,
}

/// How an action reaches a service's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON: `X-Amz-Target: {prefix}.{Action}` and this content type.
    Json {
        prefix: &'static str,
        content_type: &'static str,
    },
    /// AWS query: `Action={Action}&Version={version}`, form-encoded.
    Query { version: &'static str },
}

/// The services whose actions portico knows how to call, by signing name.
pub fn protocol(service: &str) -> Option<Protocol> {
    const JSON_10: &str = "application/x-amz-json-1.0";
    const JSON_11: &str = "application/x-amz-json-1.1";
    let json = |prefix, content_type| {
        Some(Protocol::Json {
            prefix,
            content_type,
        })
    };
    match service {
        "dynamodb" => json("DynamoDB_20120810", JSON_10),
        "states" => json("AWSStepFunctions", JSON_10),
        "kinesis" => json("Kinesis_20131202", JSON_11),
        "firehose" => json("Firehose_20150804", JSON_11),
        "events" => json("AWSEvents", JSON_11),
        "logs" => json("Logs_20140328", JSON_11),
        "sqs" => Some(Protocol::Query {
            version: "2012-11-05",
        }),
        "sns" => Some(Protocol::Query {
            version: "2010-03-31",
        }),
        "sts" => Some(Protocol::Query {
            version: "2011-06-15",
        }),
        _ => None,
    }
}

pub fn parse(uri: &str) -> Result<ServiceUri, String> {
    let bad = || {
        format!(
            "AWS uri `{uri}` is not arn:aws:apigateway:REGION:SERVICE:action/ACTION \
             or arn:aws:apigateway:REGION:SERVICE:path/PATH"
        )
    };
    let rest = uri.strip_prefix("arn:aws:apigateway:").ok_or_else(bad)?;
    let (region, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (service, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let target = match (rest.strip_prefix("action/"), rest.strip_prefix("path/")) {
        (Some(a), _) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Target::Action(a.to_string())
        }
        (_, Some(p)) if !p.is_empty() => Target::Path(p.to_string()),
        _ => return Err(bad()),
    };
    let label = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if !label(region) || !label(service) {
        return Err(bad());
    }
    Ok(ServiceUri {
        region: region.to_string(),
        service: service.to_string(),
        target,
        query: query.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_paths_parse_and_the_rest_is_refused() {
        let a = parse("arn:aws:apigateway:us-east-1:dynamodb:action/PutItem").unwrap();
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.service, "dynamodb");
        assert_eq!(a.target, Target::Action("PutItem".into()));
        let p = parse("arn:aws:apigateway:eu-west-1:s3:path/{bucket}/{key}?x=1").unwrap();
        assert_eq!(p.target, Target::Path("{bucket}/{key}".into()));
        assert_eq!(p.query, "x=1");
        for bad in [
            "arn:aws:apigateway:us-east-1:dynamodb:action/",
            "arn:aws:apigateway:us-east-1:dynamodb:other/x",
            "arn:aws:lambda:us-east-1:dynamodb:action/PutItem",
            "arn:aws:apigateway:us east:sqs:action/SendMessage",
            "arn:aws:apigateway:us-east-1:sqs:action/Send\r\nMessage",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(protocol("dynamodb"), Some(Protocol::Json { .. })));
        assert!(matches!(protocol("sqs"), Some(Protocol::Query { .. })));
        assert_eq!(protocol("s3"), None);
    }
}
