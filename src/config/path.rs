//! Key paths (`api[0].stages.prod.throttle.burst`): how every config error
//! names the value it is about, whoever found it (serde, the cross-key
//! checks, the snapshot compiler), so one lookup finds its place in the file.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// Reads the form `Display` writes; keys holding `.`, `[` or spaces are
    /// quoted (`route_throttle."GET /a"`).
    pub fn parse(s: &str) -> KeyPath {
        let mut segs = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            rest = rest.strip_prefix('.').unwrap_or(rest);
            if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').unwrap_or(r.len());
                match r[..end].parse() {
                    Ok(i) => segs.push(Seg::Index(i)),
                    Err(_) => segs.push(Seg::Key(r[..end].to_string())),
                }
                rest = r.get(end + 1..).unwrap_or("");
            } else if let Some(r) = rest.strip_prefix('"') {
                let end = r.find('"').unwrap_or(r.len());
                segs.push(Seg::Key(r[..end].to_string()));
                rest = r.get(end + 1..).unwrap_or("");
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                segs.push(Seg::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        KeyPath(segs)
    }

    /// serde_path_to_error's path without the fields `toml::Spanned` is
    /// read through, which are no keys of the file.
    pub fn from_serde(path: &serde_path_to_error::Path) -> KeyPath {
        use serde_path_to_error::Segment;
        KeyPath(
            path.iter()
                .filter_map(|s| match s {
                    Segment::Seq { index } => Some(Seg::Index(*index)),
                    Segment::Map { key } if key.starts_with("$__") => None,
                    Segment::Map { key } => Some(Seg::Key(key.clone())),
                    Segment::Enum { .. } | Segment::Unknown => None,
                })
                .collect(),
        )
    }
}

impl From<&str> for KeyPath {
    fn from(s: &str) -> Self {
        KeyPath::parse(s)
    }
}

impl From<String> for KeyPath {
    fn from(s: String) -> Self {
        KeyPath::parse(&s)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "\"{k}\"")?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_what_display_writes() {
        for s in [
            "api[2].stages.prod.throttle.burst",
            "api[0].stages.prod.route_throttle.\"GET /a.b\"",
            "usage_plans[1].api_stages[0].api",
            "server",
        ] {
            assert_eq!(KeyPath::parse(s).to_string(), s);
        }
        assert_eq!(
            KeyPath::parse("a[3].b").0,
            vec![Seg::Key("a".into()), Seg::Index(3), Seg::Key("b".into())]
        );
    }
}
