//! Integration URIs: `http://${stageVariables.host}/things/{id}?a=b`.
//! Stage variables are substituted once per stage when a snapshot is
//! compiled; `{param}` placeholders are filled per request.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriPart {
    Literal(String),
    Param(String),
    StageVar(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct UriTemplate {
    pub raw: String,
    /// `https://`: the upstream is reached over TLS.
    pub https: bool,
    /// Authority (`host[:port]`), stage variables allowed.
    pub authority: Vec<UriPart>,
    /// Path and query, parameters and stage variables allowed.
    pub path: Vec<UriPart>,
}

impl UriTemplate {
    pub fn stage_variables(&self) -> impl Iterator<Item = &str> {
        self.authority
            .iter()
            .chain(&self.path)
            .filter_map(|p| match p {
                UriPart::StageVar(v) => Some(v.as_str()),
                _ => None,
            })
    }

    pub fn path_params(&self) -> impl Iterator<Item = &str> {
        self.path.iter().filter_map(|p| match p {
            UriPart::Param(v) => Some(v.as_str()),
            _ => None,
        })
    }
}

impl TryFrom<String> for UriTemplate {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let (rest, https) = if let Some(rest) = raw.strip_prefix("http://") {
            (rest, false)
        } else if let Some(rest) = raw.strip_prefix("https://") {
            (rest, true)
        } else {
            return Err(format!("`{raw}` must be an http:// or https:// URI"));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(format!("`{raw}` has no host"));
        }
        let authority = parts(authority)?;
        if authority.iter().any(|p| matches!(p, UriPart::Param(_))) {
            return Err(format!("`{raw}`: path parameters cannot choose the host"));
        }
        let mut path = parts(path)?;
        if !matches!(path.first(), Some(UriPart::Literal(l)) if l.starts_with('/')) {
            path.insert(0, UriPart::Literal("/".into()));
        }
        Ok(UriTemplate {
            raw,
            https,
            authority,
            path,
        })
    }
}

fn parts(s: &str) -> Result<Vec<UriPart>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(['{', '$']) {
        let (before, at) = rest.split_at(i);
        lit.push_str(before);
        if let Some(after) = at.strip_prefix("${stageVariables.") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{s}`"))?;
            push_literal(&mut out, &mut lit);
            out.push(UriPart::StageVar(name(&after[..end], s)?));
            rest = &after[end + 1..];
        } else if let Some(after) = at.strip_prefix('{') {
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{s}`"))?;
            push_literal(&mut out, &mut lit);
            out.push(UriPart::Param(name(&after[..end], s)?));
            rest = &after[end + 1..];
        } else if at.starts_with("${") {
            return Err(format!(
                "only ${{stageVariables.NAME}} may be used in `{s}`"
            ));
        } else {
            lit.push('$');
            rest = &at[1..];
        }
    }
    lit.push_str(rest);
    push_literal(&mut out, &mut lit);
    Ok(out)
}

fn push_literal(out: &mut Vec<UriPart>, lit: &mut String) {
    if !lit.is_empty() {
        out.push(UriPart::Literal(std::mem::take(lit)));
    }
}

fn name(n: &str, s: &str) -> Result<String, String> {
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{n}` in `{s}` is not a valid name"));
    }
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts() {
        let t = UriTemplate::try_from("http://${stageVariables.b}:80/x/{proxy}?q=1".to_string())
            .unwrap();
        assert_eq!(
            t.authority,
            vec![
                UriPart::StageVar("b".into()),
                UriPart::Literal(":80".into())
            ]
        );
        assert_eq!(
            t.path,
            vec![
                UriPart::Literal("/x/".into()),
                UriPart::Param("proxy".into()),
                UriPart::Literal("?q=1".into())
            ]
        );
        assert_eq!(
            UriTemplate::try_from("http://h".to_string()).unwrap().path,
            vec![UriPart::Literal("/".into())]
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "ftp://x/",
            "http:///a",
            "http://{p}/",
            "http://h/${env.x}",
            "http://h/{a",
        ] {
            assert!(UriTemplate::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
