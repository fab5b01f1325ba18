//! Every schema error of the file in one run. serde stops at the first
//! error, so the file is read again with each value found wrong taken out
//! (an optional key then takes its default; a required one takes its
//! table with it), until it reads: the schema structs stay the one place
//! the rules are written.

use serde::de::DeserializeOwned;

use super::document::{Document, Removed};
use super::error::Issue;
use super::path::{KeyPath, Seg};

/// More than this and the file is likely not a portico config at all.
const MAX_ERRORS: usize = 100;

/// The config, if what is left of the file reads; the errors; what was
/// taken out to get there.
pub fn deserialize<T: DeserializeOwned>(doc: &Document<'_>) -> (Option<T>, Vec<Issue>, Removed) {
    let mut work = Document {
        root: doc.root.clone(),
    };
    let mut removed = Removed::default();
    let mut issues = Vec::new();
    let mut misspelt: Vec<KeyPath> = Vec::new();
    while issues.len() < MAX_ERRORS {
        let de = toml::de::Deserializer::from(work.root.clone());
        let e = match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => return (Some(v), issues, removed),
            Err(e) => e,
        };
        let at = KeyPath::from_serde(e.path());
        let message = e.into_inner().message().trim_end().to_string();
        let (mut working, issue) = describe(doc, &removed, at, &message);
        // A required key taken out for its own error, or misspelt (the
        // unknown key's "did you mean"): its table goes too, without a
        // second error.
        let consequence = quoted(&message, "missing field").is_some_and(|f| {
            let key = removed.original(&working).key(&f);
            removed.contains(&key) || misspelt.contains(&key)
        });
        if let Some(near) = issue
            .help
            .as_deref()
            .and_then(|h| quoted(h, "did you mean"))
        {
            let mut key = issue.path.clone();
            key.0.pop();
            misspelt.push(key.key(&near));
        }
        if !consequence {
            issues.push(issue);
        }
        while !work.remove(&working) {
            if working.0.pop().is_none() {
                return (None, issues, removed);
            }
        }
        removed.add(removed.original(&working));
    }
    (None, issues, removed)
}

/// The issue for serde's `message` at `at` (indices of the copy), and the
/// path of what to take out. Errors inside a table serde read as a whole
/// (a tagged enum such as `integration`) name the key when they can.
fn describe(doc: &Document<'_>, removed: &Removed, at: KeyPath, message: &str) -> (KeyPath, Issue) {
    let file = |p: &KeyPath| removed.original(p);
    if let Some(field) = quoted(message, "unknown field") {
        let mut working = at;
        if working.0.last() != Some(&Seg::Key(field.clone())) {
            working = working.key(&field);
        }
        let allowed = backticked(message).split_off(1);
        let mut issue = Issue::new(file(&working), format!("unknown key `{field}`"));
        issue.on_key = true;
        issue.help = Some(match closest(&field, &allowed) {
            Some(near) => format!("did you mean `{near}`?"),
            None if allowed.is_empty() => "this table takes no keys".into(),
            None => format!("the keys allowed here: {}", allowed.join(", ")),
        });
        return (working, issue);
    }
    if let Some(field) = quoted(message, "missing field") {
        let mut issue = Issue::new(file(&at), format!("missing key `{field}`"));
        issue.on_key = true;
        return (at, issue);
    }
    if message.starts_with("unknown variant") {
        let tag = at.key("type");
        if doc.locate(&file(&tag)).exact {
            return (tag.clone(), Issue::new(file(&tag), message));
        }
    }
    // A table read as a whole (a tagged enum): the one key whose value
    // the message quotes.
    let quoting: Vec<String> = doc
        .scalars_at(&file(&at))
        .into_iter()
        .filter(|(_, v)| {
            message.contains(&format!("\"{v}\"")) || message.contains(&format!("`{v}`"))
        })
        .map(|(k, _)| k)
        .collect();
    let at = match quoting.as_slice() {
        [key] => at.key(key),
        _ => at,
    };
    (at.clone(), Issue::new(file(&at), message))
}

/// `unknown field `x`, expected ...` → `x`, for `prefix` "unknown field".
fn quoted(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?.trim_start();
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// Every `quoted` name in `message`, in order.
fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The allowed key `field` is most likely a typo of.
fn closest<'a>(field: &str, allowed: &'a [String]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (strsim::damerau_levenshtein(field, a), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) && *d < a.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.as_str())
}
