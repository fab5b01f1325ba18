//! The IAM policy a Lambda authorizer returns, evaluated as API Gateway
//! evaluates it: an explicit Deny on the method ARN wins, else an Allow
//! must match it. `*` and `?` are wildcards, as in IAM.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// No statement allows the call.
    NotAllowed,
    ExplicitDeny,
}

/// `policyDocument.Statement`: one statement or a list.
pub fn parse(doc: &Value) -> Result<Vec<Statement>, String> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err("policyDocument has no Statement".into()),
    };
    let strings = |v: Option<&Value>, what: &str| -> Result<Vec<String>, String> {
        match v {
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(list)) => list
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{what} holds a non-string"))
                })
                .collect(),
            None if what == "Action" => Ok(vec!["execute-api:Invoke".into()]),
            _ => Err(format!("a statement has no {what}")),
        }
    };
    statements
        .into_iter()
        .map(|s| {
            let allow = match s.get("Effect").and_then(Value::as_str) {
                Some(e) if e.eq_ignore_ascii_case("allow") => true,
                Some(e) if e.eq_ignore_ascii_case("deny") => false,
                _ => return Err("a statement's Effect is not Allow or Deny".to_string()),
            };
            Ok(Statement {
                allow,
                actions: strings(s.get("Action"), "Action")?,
                resources: strings(s.get("Resource"), "Resource")?,
            })
        })
        .collect()
}

pub fn evaluate(statements: &[Statement], method_arn: &str) -> Verdict {
    let applies = |s: &Statement| {
        s.actions.iter().any(|a| glob(a, "execute-api:Invoke"))
            && s.resources.iter().any(|r| glob(r, method_arn))
    };
    if statements.iter().any(|s| !s.allow && applies(s)) {
        Verdict::ExplicitDeny
    } else if statements.iter().any(|s| s.allow && applies(s)) {
        Verdict::Allow
    } else {
        Verdict::NotAllowed
    }
}

/// IAM wildcard matching: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti]) && p[pi] != b'*') {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/7";

    #[test]
    fn wildcards_match_as_in_iam() {
        assert!(glob("arn:aws:execute-api:*:*:a1b2c3/*/GET/*", ARN));
        assert!(glob(
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/?",
            ARN
        ));
        assert!(!glob("arn:aws:execute-api:*:*:a1b2c3/*/POST/*", ARN));
        assert!(glob("*", ARN));
        assert!(!glob("arn:aws:execute-api:*:*:other/*", ARN));
    }

    #[test]
    fn an_explicit_deny_wins_and_nothing_allowed_is_not_allowed() {
        let allow_all = json!({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}]});
        let s = parse(&allow_all).unwrap();
        assert_eq!(evaluate(&s, ARN), Verdict::Allow);
        let mixed = json!({"Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ["*"]},
            {"Effect": "Deny", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:a1b2c3/*/GET/pets/*"}
        ]});
        assert_eq!(
            evaluate(&parse(&mixed).unwrap(), ARN),
            Verdict::ExplicitDeny
        );
        let other = json!({"Statement": {"Effect": "Allow", "Resource": "arn:aws:execute-api:*:*:a1b2c3/*/POST/*"}});
        assert_eq!(evaluate(&parse(&other).unwrap(), ARN), Verdict::NotAllowed);
        assert!(parse(&json!({"Statement": [{"Effect": "Maybe", "Resource": "*"}]})).is_err());
    }
}
