//! Config errors as compilers print them: every mistake in the file, in
//! file order, each with `file:line:column`, its key path and the line
//! with a caret under the value, then how many there were.

use std::fmt;

use super::document::Document;
use super::path::KeyPath;

/// A mistake found by key path, before it is placed in the file.
#[derive(Debug, Clone)]
pub struct Issue {
    pub path: KeyPath,
    pub message: String,
    pub help: Option<String>,
    /// Point at the key rather than its value (an unknown key).
    pub on_key: bool,
    /// A collection the check looked names up in (`usage_plans`): if an
    /// entry of it was dropped for another error, this one may be a
    /// consequence of that and is not reported.
    pub looks_in: Option<KeyPath>,
}

impl Issue {
    pub fn new(path: impl Into<KeyPath>, message: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            message: message.into(),
            help: None,
            on_key: false,
            looks_in: None,
        }
    }

    pub fn looks_in(mut self, collection: impl Into<KeyPath>) -> Self {
        self.looks_in = Some(collection.into());
        self
    }
}

/// One mistake, placed: 1-based line and column of the first byte it is
/// about, and how many bytes of that line the caret spans.
#[derive(Debug, Clone)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub width: usize,
    /// The full key path, e.g. `api[0].stages.prod.throttle.burst`.
    pub key: String,
    pub message: String,
    pub help: Option<String>,
    pub source_line: String,
}

/// Everything wrong with one config file. Never empty.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl Problem {
    /// `message` about bytes `span` of `text`.
    pub fn at(text: &str, span: std::ops::Range<usize>, key: String, message: String) -> Self {
        let at = floor_char(text, span.start.min(text.len()));
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let source_line = text[line_start..line_end].trim_end().to_string();
        let end = floor_char(text, span.end.clamp(at, line_end))
            .min(line_start + source_line.len())
            .max(at);
        Problem {
            line: text[..at].matches('\n').count() + 1,
            column: text[line_start..at].chars().count() + 1,
            width: text[at..end].chars().count().max(1),
            key,
            message,
            help: None,
            source_line,
        }
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl ConfigError {
    /// The issues of `text`, placed by `doc` and sorted in file order.
    pub fn place(file: &str, text: &str, doc: &Document<'_>, issues: Vec<Issue>) -> Self {
        let mut placed: Vec<(usize, Problem)> = issues
            .into_iter()
            .map(|i| {
                let place = doc.locate(&i.path);
                let span = match (&place.key, i.on_key || !place.exact) {
                    (Some(key), true) => key.clone(),
                    _ => place.value,
                };
                let mut p = Problem::at(text, span.clone(), i.path.to_string(), i.message);
                p.help = i.help;
                (span.start, p)
            })
            .collect();
        placed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
        placed.dedup_by(|a, b| a.1.key == b.1.key && a.1.message == b.1.message);
        ConfigError {
            file: file.to_string(),
            problems: placed.into_iter().map(|(_, p)| p).collect(),
        }
    }

    /// A TOML syntax error: the parser stops at the first, so it is the
    /// only one there can be.
    pub fn syntax(file: &str, text: &str, e: &toml::de::Error) -> Self {
        let span = e.span().unwrap_or(0..0);
        let mut p = Problem::at(
            text,
            span,
            String::new(),
            e.message().trim_end().to_string(),
        );
        p.help = Some(
            "TOML syntax errors stop the reading, so this is the only error reported: \
             fix it and run again to see any others"
                .into(),
        );
        ConfigError {
            file: file.to_string(),
            problems: vec![p],
        }
    }

    /// One mistake at byte `at` of `text`, or at `key` (a key path) when
    /// the file has it: callers outside the config module that know a
    /// path and a span (the snapshot compiler) or neither (an unreadable
    /// file: empty `text`).
    /// The problems of several errors of one file as one, in file order.
    pub fn joined(errors: impl IntoIterator<Item = ConfigError>) -> Self {
        let mut errors = errors.into_iter();
        let mut all = errors.next().expect("at least one error");
        for e in errors {
            all.problems.extend(e.problems);
        }
        all.problems.sort_by_key(|p| (p.line, p.column));
        all
    }

    pub fn at(file: &str, text: &str, at: usize, key: Option<&str>, message: String) -> Self {
        let key = key.unwrap_or("");
        let path = KeyPath::parse(key);
        let span = match Document::parse(text) {
            Ok(doc) if !key.is_empty() => {
                let place = doc.locate(&path);
                if place.exact {
                    place.value
                } else {
                    at..at
                }
            }
            _ => at..at,
        };
        let mut p = Problem::at(text, span, key.to_string(), message);
        if text.is_empty() {
            p.line = 0;
        }
        ConfigError {
            file: file.to_string(),
            problems: vec![p],
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, "", self.line.to_string().len())
    }
}

impl Problem {
    fn render(&self, f: &mut fmt::Formatter<'_>, file: &str, gutter: usize) -> fmt::Result {
        let pad = " ".repeat(gutter);
        writeln!(f, "error: {}", self.message)?;
        if self.line == 0 {
            return writeln!(f, "{pad}--> {file}");
        }
        write!(f, "{pad}--> {file}:{}:{}", self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, " ({})", self.key)?;
        }
        writeln!(f)?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{:>gutter$} | {}", self.line, self.source_line)?;
        let lead: String = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        writeln!(f, "{pad} | {lead}{}", "^".repeat(self.width))?;
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self
            .problems
            .iter()
            .map(|p| p.line.to_string().len())
            .max()
            .unwrap_or(1);
        for p in &self.problems {
            p.render(f, &self.file, gutter)?;
            writeln!(f)?;
        }
        match self.problems.len() {
            1 => write!(f, "1 error in {}", self.file),
            n => write!(f, "{n} errors in {}", self.file),
        }
    }
}
