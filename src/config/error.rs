use std::fmt;

/// A config mistake, located: file, 1-based line, key and what is wrong.
///
/// Users fix configs from the first line of this message, so it always
/// starts with `file:line:` in the form editors and compilers use.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
    /// The offending line of the file, for context.
    pub source_line: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if !self.source_line.is_empty() {
            write!(f, "\n{:>5} | {}", self.line, self.source_line)?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// Locates `message` at byte offset `at` of `text`; the key is read off
    /// that line when the caller does not know it.
    pub fn at(file: &str, text: &str, at: usize, key: Option<&str>, message: String) -> Self {
        let at = at.min(text.len());
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = text[..at].matches('\n').count() + 1;
        let source_line = text[line_start..line_end].trim_end().to_string();
        let key = match key {
            Some(k) => k.to_string(),
            None => key_of_line(&source_line),
        };
        ConfigError {
            file: file.to_string(),
            line,
            column: at - line_start + 1,
            key,
            message,
            source_line,
        }
    }
}

/// `name = value` → `name`; a table header `[a.b]` → `a.b`.
fn key_of_line(line: &str) -> String {
    let t = line.trim();
    if let Some(eq) = t.find('=') {
        return t[..eq].trim().trim_matches('"').to_string();
    }
    t.trim_matches(|c| c == '[' || c == ']').trim().to_string()
}
