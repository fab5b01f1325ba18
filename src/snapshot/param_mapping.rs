//! An integration's `requestParameters` (`integration.request.header.X`
//! ← `method.request.querystring.q`, `'literal'`, `stageVariables.v`, …)
//! parsed once, when a management call sets them and when a snapshot is
//! compiled, so a request only looks values up. One syntax and one
//! compiled form ([`ParamMapping`]) for every integration kind: HTTP and
//! HTTP_PROXY, AWS service and Lambda; `integration::params` evaluates it.

use thiserror::Error;

/// Where a mapped value goes in the integration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingTarget {
    Header(Box<str>),
    QueryString(Box<str>),
    /// Fills `{name}` in the integration's URI.
    Path(Box<str>),
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingSource {
    /// `'text'`.
    Literal(Box<str>),
    /// `method.request.header.Y` (name lowercase): its last value.
    Header(Box<str>),
    /// `method.request.multivalueheader.Y`: every value, comma-separated.
    MultiHeader(Box<str>),
    /// `method.request.querystring.Y`: its last value.
    QueryString(Box<str>),
    /// `method.request.multivaluequerystring.Y`: every value, comma-separated.
    MultiQueryString(Box<str>),
    /// `method.request.path.Y`.
    Path(Box<str>),
    /// `stageVariables.v`.
    StageVariable(Box<str>),
    /// `context.a.b`: a `$context` variable.
    Context(Vec<Box<str>>),
    /// `method.request.body`: the whole body.
    Body,
    /// `method.request.body.a.b`: the field at that JSON path.
    BodyPath(Vec<Box<str>>),
}

impl MappingSource {
    /// The method request parameter this source reads, as its location
    /// (`path`, `querystring`, `header`) and name: one AWS refuses to map
    /// unless the method declares it. A multi-value source reads the
    /// parameter of its single-value location.
    pub fn method_parameter(&self) -> Option<(&'static str, &str)> {
        match self {
            MappingSource::Header(n) | MappingSource::MultiHeader(n) => Some(("header", n)),
            MappingSource::QueryString(n) | MappingSource::MultiQueryString(n) => {
                Some(("querystring", n))
            }
            MappingSource::Path(n) => Some(("path", n)),
            _ => None,
        }
    }
}

/// AWS's BadRequestException for a mapping it cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression specified: {0}]")]
pub struct InvalidMapping(pub String);

/// `requestParameters` compiled, in the config's order: what a request
/// evaluates (`integration::params`) without parsing anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamMapping {
    pub entries: Vec<(MappingTarget, MappingSource)>,
}

impl ParamMapping {
    pub fn compile<'a>(
        pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<ParamMapping, InvalidMapping> {
        parse_all(pairs).map(|entries| ParamMapping { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Some mapping reads the body, so the body must be read whole first.
    pub fn reads_body(&self) -> bool {
        self.entries
            .iter()
            .any(|(_, s)| matches!(s, MappingSource::Body | MappingSource::BodyPath(_)))
    }

    /// Some mapping fills `integration.request.path.X`.
    pub fn maps_path(&self) -> bool {
        self.entries
            .iter()
            .any(|(t, _)| matches!(t, MappingTarget::Path(_)))
    }
}

/// `$context` variables a mapping may read, as "Context variables for
/// data transformations" lists them (AWS: "The name must be one of the
/// supported context variables"). `authorizer.*` and
/// `identity.clientCert.*` take any key below.
const CONTEXT: &[&str] = &[
    "accountId",
    "apiId",
    "awsEndpointRequestId",
    "deploymentId",
    "domainName",
    "domainPrefix",
    "extendedRequestId",
    "httpMethod",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "stage",
    "wafResponseCode",
    "webaclArn",
    "xrayTraceId",
];

const CONTEXT_IDENTITY: &[&str] = &[
    "accountId",
    "apiKey",
    "apiKeyId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "sourceIp",
    "user",
    "userAgent",
    "userArn",
    "vpcId",
    "vpceId",
];

fn is_context(path: &[Box<str>]) -> bool {
    match path {
        [one] => CONTEXT.contains(&&**one),
        [a, _, ..] if &**a == "authorizer" => true,
        [a, b, _, ..] if &**a == "identity" && &**b == "clientCert" => true,
        [a, b] if &**a == "identity" => CONTEXT_IDENTITY.contains(&&**b),
        _ => false,
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A query or path parameter name: printable, no separators.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"&=?/#{}'".contains(&b))
}

/// `a.b.c` → [a, b, c], every part a name.
fn dotted(s: &str) -> Option<Vec<Box<str>>> {
    let parts: Vec<Box<str>> = s.split('.').map(Into::into).collect();
    parts
        .iter()
        .all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .then_some(parts)
}

/// `integration.request.header.X` / `.querystring.X` / `.path.X`.
pub fn parse_target(key: &str) -> Result<MappingTarget, InvalidMapping> {
    let bad = || InvalidMapping(key.to_string());
    let rest = key.strip_prefix("integration.request.").ok_or_else(bad)?;
    if let Some(h) = rest.strip_prefix("header.") {
        return is_token(h)
            .then(|| MappingTarget::Header(h.into()))
            .ok_or_else(bad);
    }
    if let Some(q) = rest.strip_prefix("querystring.") {
        return is_name(q)
            .then(|| MappingTarget::QueryString(q.into()))
            .ok_or_else(bad);
    }
    if let Some(p) = rest.strip_prefix("path.") {
        return is_name(p)
            .then(|| MappingTarget::Path(p.into()))
            .ok_or_else(bad);
    }
    Err(bad())
}

/// A mapping's value, as the "Parameter mapping for REST APIs" page writes them.
pub fn parse_source(value: &str) -> Result<MappingSource, InvalidMapping> {
    let bad = || InvalidMapping(value.to_string());
    if let Some(text) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        if value.len() < 2 || text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(bad());
        }
        return Ok(MappingSource::Literal(text.into()));
    }
    if let Some(v) = value.strip_prefix("stageVariables.") {
        return is_name(v)
            .then(|| MappingSource::StageVariable(v.into()))
            .ok_or_else(bad);
    }
    if let Some(c) = value.strip_prefix("context.") {
        return dotted(c)
            .filter(|p| is_context(p))
            .map(MappingSource::Context)
            .ok_or_else(bad);
    }
    let rest = value.strip_prefix("method.request.").ok_or_else(bad)?;
    if rest == "body" {
        return Ok(MappingSource::Body);
    }
    if let Some(p) = rest.strip_prefix("body.") {
        return dotted(p).map(MappingSource::BodyPath).ok_or_else(bad);
    }
    let (kind, name) = rest.split_once('.').ok_or_else(bad)?;
    let ok = match kind {
        "header" | "multivalueheader" => is_token(name),
        _ => is_name(name),
    };
    if !ok {
        return Err(bad());
    }
    let lower = || name.to_ascii_lowercase().into();
    match kind {
        "header" => Ok(MappingSource::Header(lower())),
        "multivalueheader" => Ok(MappingSource::MultiHeader(lower())),
        "querystring" => Ok(MappingSource::QueryString(name.into())),
        "multivaluequerystring" => Ok(MappingSource::MultiQueryString(name.into())),
        "path" => Ok(MappingSource::Path(name.into())),
        _ => Err(bad()),
    }
}

/// Parses every `target → source` of `requestParameters`, in order.
pub fn parse_all<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(MappingTarget, MappingSource)>, InvalidMapping> {
    pairs
        .into_iter()
        .map(|(k, v)| Ok((parse_target(k)?, parse_source(v)?)))
        .collect()
}

/// AWS's BadRequestException for a mapping from a method request
/// parameter the method does not declare in its `requestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression parameter specified: {0}]")]
pub struct UndeclaredParameter(pub String);

/// A method's `requestParameters` key (`method.request.header.X-Id`) as
/// [`MappingSource::method_parameter`] names what it declares; header
/// names in lower case, as HTTP compares them and as sources hold them.
fn declared_as(key: &str) -> Option<(&'static str, String)> {
    let (place, name) = key.strip_prefix("method.request.")?.split_once('.')?;
    match place {
        "header" | "multivalueheader" => Some(("header", name.to_ascii_lowercase())),
        "querystring" | "multivaluequerystring" => Some(("querystring", name.to_string())),
        "path" => Some(("path", name.to_string())),
        _ => None,
    }
}

/// Refuses the first source of `pairs` that reads a method request
/// parameter (`path`, `querystring`, `header` and their multi-value
/// forms) not among the method's `declared` keys, as AWS's PutIntegration
/// does: a path parameter of the resource's path counts only when the
/// method declares it too. A source that does not parse is left to
/// [`parse_all`].
pub fn check_declared<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    declared: impl IntoIterator<Item = &'a String>,
) -> Result<(), UndeclaredParameter> {
    let declared: Vec<(&str, String)> = declared
        .into_iter()
        .filter_map(|k| declared_as(k))
        .collect();
    for (_, value) in pairs {
        let Ok(source) = parse_source(value) else {
            continue;
        };
        let Some((place, name)) = source.method_parameter() else {
            continue;
        };
        if !declared.iter().any(|(p, n)| *p == place && n == name) {
            return Err(UndeclaredParameter(value.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Examples from "Parameter mapping for REST APIs".
    #[test]
    fn the_documented_expressions_parse() {
        let targets = [
            ("header.X-Id", MappingTarget::Header("X-Id".into())),
            ("path.id", MappingTarget::Path("id".into())),
            ("querystring.q", MappingTarget::QueryString("q".into())),
        ];
        for (key, want) in targets {
            let key = format!("integration.request.{key}");
            assert_eq!(parse_target(&key), Ok(want), "{key}");
        }
        let boxed = |parts: &[&str]| parts.iter().map(|p| Box::from(*p)).collect::<Vec<_>>();
        let sources = [
            (
                "method.request.header.X-Id",
                MappingSource::Header("x-id".into()),
            ),
            (
                "method.request.multivaluequerystring.q",
                MappingSource::MultiQueryString("q".into()),
            ),
            (
                "'application/json'",
                MappingSource::Literal("application/json".into()),
            ),
            (
                "context.identity.sourceIp",
                MappingSource::Context(boxed(&["identity", "sourceIp"])),
            ),
            (
                "method.request.body.a.b",
                MappingSource::BodyPath(boxed(&["a", "b"])),
            ),
            ("method.request.body", MappingSource::Body),
            ("stageVariables.v", MappingSource::StageVariable("v".into())),
        ];
        for (value, want) in sources {
            assert_eq!(parse_source(value), Ok(want), "{value}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_awss_wording() {
        for bad in [
            "method.request.header.",
            "method.request.cookie.x",
            "method.request.body..a",
            "'",
            "'a\nb'",
            "stageVariables.",
            "integration.response.header.x",
            "",
        ] {
            assert!(parse_source(bad).is_err(), "{bad}");
        }
        // "The name must be one of the supported context variables."
        for ok in [
            "context.authorizer.claims.sub",
            "context.identity.clientCert.subjectDN",
            "context.identity.sourceIp",
            "context.requestTimeEpoch",
        ] {
            assert!(parse_source(ok).is_ok(), "{ok}");
        }
        for bad in [
            "context.noSuch",
            "context.identity.nope",
            "context.authorizer",
        ] {
            assert!(parse_source(bad).is_err(), "{bad}");
        }
        assert!(parse_target("integration.request.body").is_err());
        assert!(parse_target("integration.request.header.a b").is_err());
        let e = parse_target("method.request.header.x").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Invalid mapping expression specified: Validation Result"),
            "{e}"
        );
    }

    #[test]
    fn only_declared_method_parameters_may_be_mapped() {
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let declared: Vec<String> = [
            "method.request.path.id",
            "method.request.querystring.q",
            "method.request.header.X-Caller",
        ]
        .map(String::from)
        .to_vec();
        let check = |pairs: &[(String, String)]| {
            check_declared(pairs.iter().map(|(k, v)| (k, v)), &declared)
        };
        let fine = owned(&[
            ("integration.request.path.id", "method.request.path.id"),
            (
                "integration.request.querystring.a",
                "method.request.querystring.q",
            ),
            (
                "integration.request.querystring.b",
                "method.request.multivaluequerystring.q",
            ),
            (
                "integration.request.header.c",
                "method.request.header.x-caller",
            ),
            (
                "integration.request.header.d",
                "method.request.multivalueheader.X-CALLER",
            ),
            ("integration.request.header.e", "method.request.body.a"),
            ("integration.request.header.f", "context.requestId"),
            ("integration.request.header.g", "'method.request.path.nope'"),
        ]);
        assert_eq!(check(&fine), Ok(()));
        for source in [
            "method.request.path.other",
            "method.request.querystring.Q",
            "method.request.multivaluequerystring.id",
            "method.request.header.X-Other",
            "method.request.multivalueheader.q",
        ] {
            let pairs = owned(&[("integration.request.header.h", source)]);
            assert_eq!(
                check(&pairs),
                Err(UndeclaredParameter(source.into())),
                "{source}"
            );
        }
    }
}
