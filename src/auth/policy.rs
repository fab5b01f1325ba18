//! The IAM policy a Lambda authorizer returns, evaluated as API Gateway
//! evaluates it: an explicit Deny on the method ARN wins, else an Allow
//! must match it. `*` and `?` are wildcards, as in IAM; actions match in
//! any case and resources case-sensitively, as in IAM (a Deny on
//! `…/GET/admin` does not cover `/ADMIN`, nor does an Allow on it).

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
        s.actions
            .iter()
            .any(|a| glob(a, "execute-api:Invoke", u8::eq_ignore_ascii_case))
            && s.resources
                .iter()
                .any(|r| glob(r, method_arn, |a: &u8, b: &u8| a == b))
    };
    if statements.iter().any(|s| !s.allow && applies(s)) {
        Verdict::ExplicitDeny
    } else if statements.iter().any(|s| s.allow && applies(s)) {
        Verdict::Allow
    } else {
        Verdict::NotAllowed
    }
}

/// IAM wildcard matching: `*` any run of characters, `?` any one, others
/// by `same`.
fn glob(pattern: &str, text: &str, same: impl Fn(&u8, &u8) -> bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || same(&p[pi], &t[ti]) && p[pi] != b'*') {
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

    fn exact(pattern: &str, text: &str) -> bool {
        glob(pattern, text, |a: &u8, b: &u8| a == b)
    }

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/7";

    #[test]
    fn wildcards_match_as_in_iam() {
        assert!(exact("arn:aws:execute-api:*:*:a1b2c3/*/GET/*", ARN));
        assert!(exact(
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets/?",
            ARN
        ));
        assert!(!exact("arn:aws:execute-api:*:*:a1b2c3/*/POST/*", ARN));
        assert!(exact("*", ARN));
        assert!(!exact("arn:aws:execute-api:*:*:other/*", ARN));
        assert!(!exact(
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/PETS/7",
            ARN
        ));
    }

    #[test]
    fn actions_match_in_any_case_and_resources_in_theirs() {
        let upper = json!({"Statement": {"Effect": "Allow", "Action": "Execute-API:INVOKE", "Resource": ARN}});
        assert_eq!(evaluate(&parse(&upper).unwrap(), ARN), Verdict::Allow);
        let deny = json!({"Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}
        ]});
        let s = parse(&deny).unwrap();
        assert_eq!(evaluate(&s, ARN), Verdict::ExplicitDeny);
        assert_eq!(evaluate(&s, &ARN.replace("pets", "Pets")), Verdict::Allow);
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
