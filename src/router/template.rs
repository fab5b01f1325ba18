use std::fmt;

use serde::Deserialize;

/// A route path as API Gateway writes it: `/items/{id}/{proxy+}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PathTemplate {
    raw: String,
    params: Vec<String>,
}

impl PathTemplate {
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.params.iter().any(|p| p == name)
    }

    /// The same template in matchit's syntax (`{name}`, `{*name}`).
    pub fn to_matchit(&self) -> String {
        self.raw
            .split('/')
            .map(
                |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                    Some(greedy) => format!("{{*{greedy}}}"),
                    None => seg.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl TryFrom<String> for PathTemplate {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(format!("path `{raw}` must start with `/`"));
        };
        let mut params = Vec::new();
        if rest.is_empty() {
            return Ok(PathTemplate { raw, params });
        }
        let segments: Vec<&str> = rest.split('/').collect();
        for (i, seg) in segments.iter().enumerate() {
            if seg.is_empty() {
                return Err(format!("path `{raw}` has an empty segment"));
            }
            let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                if seg.contains(['{', '}', '*']) {
                    return Err(format!(
                        "path segment `{seg}` must be literal or a whole `{{param}}`"
                    ));
                }
                continue;
            };
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "parameter `{seg}` must be a name of letters, digits and `_`"
                ));
            }
            if greedy && i != segments.len() - 1 {
                return Err(format!("greedy parameter `{seg}` must be the last segment"));
            }
            if params.iter().any(|p| p == name) {
                return Err(format!("parameter `{name}` appears twice"));
            }
            params.push(name.to_string());
        }
        Ok(PathTemplate { raw, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_converts() {
        let t = PathTemplate::try_from("/items/{id}/{proxy+}".to_string()).unwrap();
        assert!(t.has_param("id") && t.has_param("proxy"));
        assert_eq!(t.to_matchit(), "/items/{id}/{*proxy}");
        assert_eq!(
            PathTemplate::try_from("/".to_string())
                .unwrap()
                .to_matchit(),
            "/"
        );
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in ["a", "/a//b", "/{p+}/x", "/x{y}", "/{}", "/{a}/{a}", "/a/"] {
            assert!(PathTemplate::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
