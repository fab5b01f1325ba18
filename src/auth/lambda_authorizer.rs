//! Lambda authorizers: TOKEN (one header) and REQUEST (headers, query
//! strings, stage variables). The function gets API Gateway's authorizer
//! event through the same Invoke API path as integrations and answers
//! with an IAM policy (`principalId`, `policyDocument`, `context`,
//! `usageIdentifierKey`) or, for 2.0 with simple responses,
//! `{"isAuthorized", "context"}`. Results are kept per worker, per
//! identity, for the authorizer's TTL; a kept policy is evaluated again
//! against each call's method ARN, which is why policies use wildcards.
//! This file holds the authorizer as the snapshot holds it and what reads
//! a decision; invoking the function, on a worker, is `lambda_decide`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use serde_json::{Map, Value};

use crate::config::PayloadVersion;
use crate::integration::lambda::Invoker;

use super::policy::{self, Statement, Verdict};
use super::Authorized;

pub struct LambdaAuthorizer {
    /// `{api id}/{name}`: part of every cache key.
    pub id: String,
    pub kind: Kind,
    pub invoker: Invoker,
    pub ttl: Duration,
}

pub enum Kind {
    Token {
        /// Lower-case.
        header: String,
        validation: Option<regex::Regex>,
    },
    Request {
        sources: Vec<IdentitySource>,
        version: PayloadVersion,
        simple: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// Lower-case name.
    Header(String),
    Query(String),
    StageVariable(String),
}

impl IdentitySource {
    /// `$request.header.X`, `$request.querystring.X`, `$stageVariables.X`,
    /// or REST APIs' `method.request.header.X` / `method.request.querystring.X`
    /// / `stageVariables.X`.
    pub fn parse(s: &str) -> Result<IdentitySource, String> {
        let s = s.trim();
        let pick = |prefixes: &[&str]| prefixes.iter().find_map(|p| s.strip_prefix(p));
        let named = |n: &str| -> Result<String, String> {
            if n.is_empty() {
                Err(format!("identity source `{s}` names nothing"))
            } else {
                Ok(n.to_string())
            }
        };
        if let Some(n) = pick(&["$request.header.", "method.request.header."]) {
            return Ok(IdentitySource::Header(named(n)?.to_ascii_lowercase()));
        }
        if let Some(n) = pick(&["$request.querystring.", "method.request.querystring."]) {
            return Ok(IdentitySource::Query(named(n)?));
        }
        if let Some(n) = pick(&["$stageVariables.", "stageVariables."]) {
            return Ok(IdentitySource::StageVariable(named(n)?));
        }
        Err(format!(
            "identity source `{s}`: use $request.header.NAME, $request.querystring.NAME or $stageVariables.NAME"
        ))
    }
}

/// What the function decided, kept for the TTL.
#[derive(Debug, Clone)]
pub enum Decision {
    Policy {
        statements: Vec<Statement>,
        principal_id: Option<String>,
        context: Map<String, Value>,
        usage_key: Option<String>,
        /// The policy document as the function returned it.
        document: Arc<str>,
    },
    Simple {
        authorized: bool,
        context: Map<String, Value>,
    },
}

/// Why a call was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no identity, a token the regex refuses, or the function said `Unauthorized`.
    Unauthorized,
    /// 403 `Forbidden`: a simple response said no.
    Forbidden,
    /// 403: the policy allows nothing here.
    NotAllowed,
    /// 403: the policy denies this method.
    ExplicitDeny,
    /// 500: the function failed or answered something that is not a decision.
    Failed,
    /// 500: the function could not be reached, or did not answer in time
    /// (AWS's AUTHORIZER_CONFIGURATION_ERROR: failing to connect to it).
    Unreachable,
}

impl Decision {
    /// Applies the decision to a call on `method_arn`.
    pub fn apply(&self, method_arn: &str) -> Result<Authorized, Refusal> {
        match self {
            Decision::Policy {
                statements,
                principal_id,
                context,
                usage_key,
                document,
            } => match policy::evaluate(statements, method_arn) {
                Verdict::Allow => Ok(Authorized::Lambda {
                    principal_id: principal_id.clone(),
                    context: context.clone(),
                    usage_key: usage_key.clone(),
                    policy: Some(document.clone()),
                }),
                Verdict::NotAllowed => Err(Refusal::NotAllowed),
                Verdict::ExplicitDeny => Err(Refusal::ExplicitDeny),
            },
            Decision::Simple {
                authorized: true,
                context,
            } => Ok(Authorized::Lambda {
                principal_id: None,
                context: context.clone(),
                usage_key: None,
                policy: None,
            }),
            Decision::Simple { .. } => Err(Refusal::Forbidden),
        }
    }
}

/// Reads the function's answer.
pub fn decision(result: &[u8], simple: bool) -> Result<Decision, String> {
    let v: Value = serde_json::from_slice(result).map_err(|_| "the result is not JSON")?;
    let context = match v.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("context is not an object".into()),
    };
    if simple {
        let authorized = v
            .get("isAuthorized")
            .and_then(Value::as_bool)
            .ok_or("a simple response needs isAuthorized: true or false")?;
        return Ok(Decision::Simple {
            authorized,
            context,
        });
    }
    let doc = v
        .get("policyDocument")
        .ok_or("the result has no policyDocument")?;
    Ok(Decision::Policy {
        statements: policy::parse(doc)?,
        principal_id: v
            .get("principalId")
            .and_then(Value::as_str)
            .map(str::to_string),
        context,
        usage_key: v
            .get("usageIdentifierKey")
            .and_then(Value::as_str)
            .map(str::to_string),
        document: doc.to_string().into(),
    })
}

/// One worker's kept decisions, bounded.
#[derive(Default)]
pub struct Results {
    kept: HashMap<String, (Decision, Instant)>,
}

const MAX_KEPT: usize = 10_000;

impl Results {
    pub fn get(&self, key: &str) -> Option<Decision> {
        let (d, until) = self.kept.get(key)?;
        (Instant::now() < *until).then(|| d.clone())
    }

    /// Forgets the decisions of API `api`'s authorizers (ids `{api}/...`).
    pub fn flush(&mut self, api: &str) {
        self.kept
            .retain(|k, _| k.strip_prefix(api).is_none_or(|r| !r.starts_with('/')));
    }

    pub(super) fn insert(&mut self, key: String, d: Decision, until: Instant) {
        if self.kept.len() >= MAX_KEPT {
            let now = Instant::now();
            self.kept.retain(|_, (_, u)| *u > now);
            if self.kept.len() >= MAX_KEPT {
                self.kept.clear();
            }
        }
        self.kept.insert(key, (d, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_sources_in_both_spellings() {
        assert_eq!(
            IdentitySource::parse("$request.header.X-User"),
            Ok(IdentitySource::Header("x-user".into()))
        );
        assert_eq!(
            IdentitySource::parse("method.request.querystring.q"),
            Ok(IdentitySource::Query("q".into()))
        );
        assert_eq!(
            IdentitySource::parse("$stageVariables.tenant"),
            Ok(IdentitySource::StageVariable("tenant".into()))
        );
        assert!(IdentitySource::parse("$context.identity.sourceIp").is_err());
    }

    #[test]
    fn decisions_from_policies_and_simple_responses() {
        let d = decision(
            br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:api/*"}]},"context":{"n":1},"usageIdentifierKey":"k"}"#,
            false,
        )
        .unwrap();
        let a = d.apply("arn:aws:execute-api:r:a:api/prod/GET/x").unwrap();
        assert_eq!(a.value("n").as_deref(), Some("1"));
        assert_eq!(a.value("principalId").as_deref(), Some("u"));
        assert_eq!(
            d.apply("arn:aws:execute-api:r:a:other/prod/GET/x"),
            Err(Refusal::NotAllowed)
        );
        let no = decision(br#"{"isAuthorized":false}"#, true).unwrap();
        assert_eq!(no.apply("x"), Err(Refusal::Forbidden));
        assert!(decision(br#"{"principalId":"u"}"#, false).is_err());
        assert!(decision(br#"{"context":{}}"#, true).is_err());
    }
}
