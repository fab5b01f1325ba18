//! ImportApiKeys (`POST /apikeys?mode=import&format=csv`): API keys from
//! AWS's CSV key file (a header row naming the columns, case-insensitively
//! and in any order: `Name` and `Key` required, `Description`, `Enabled`
//! and `UsagePlanIds` optional, others ignored; values may be quoted with
//! `"` or `'`). A row with a key value already stored updates that key, as
//! AWS's "most recent import wins". A row that cannot be imported is a
//! warning; with `failOnWarnings=true` any warning refuses the whole file.
//!
//! The parser is hand-written: AWS accepts both `"` and `'` as quotes in
//! one file, which the `csv` crate (one quote byte) does not read.

use serde_json::{json, Value};

use super::error::ApiError;
use super::model::ApiKey;
use super::{Call, ControlPlane, Reply};

/// AWS's limits on a key value's length.
const KEY_LEN: std::ops::RangeInclusive<usize> = 20..=128;
const MAX_NAME_LEN: usize = 1024;

/// One row, checked.
struct Row {
    name: String,
    value: String,
    description: Option<String>,
    enabled: bool,
    plans: Vec<String>,
}

impl ControlPlane {
    pub(super) fn import_api_keys(&mut self, c: &Call<'_>) -> Reply {
        let format = c.query_all("format");
        if format.first().map(String::as_str) != Some("csv") {
            return Err(ApiError::BadRequest(
                "format must be csv: the only API key file format".into(),
            ));
        }
        let fail_on_warnings = c.fail_on_warnings()?;
        let text = std::str::from_utf8(c.raw)
            .map_err(|_| ApiError::BadRequest("The API key file is not UTF-8".into()))?;
        let mut lines = records(text).into_iter();
        let header: Vec<String> = lines
            .next()
            .ok_or_else(|| ApiError::BadRequest("The API key file is empty".into()))?
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name);
        let (Some(name_col), Some(key_col)) = (col("name"), col("key")) else {
            return Err(ApiError::BadRequest(
                "The API key file must have the columns Name and Key".into(),
            ));
        };
        let (desc_col, enabled_col, plans_col) =
            (col("description"), col("enabled"), col("usageplanids"));
        let mut rows = Vec::new();
        let mut warnings = Vec::new();
        for (i, rec) in lines.enumerate() {
            let line = i + 2;
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).map(|v| v.trim().to_string());
            match self.check_row(
                get(Some(name_col)).unwrap_or_default(),
                get(Some(key_col)).unwrap_or_default(),
                get(desc_col).filter(|d| !d.is_empty()),
                get(enabled_col),
                get(plans_col),
            ) {
                Ok(row) => rows.push(row),
                Err(why) => warnings.push(format!("Line {line}: {why}")),
            }
        }
        if fail_on_warnings && !warnings.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Import failed with warnings: {}",
                warnings.join("; ")
            )));
        }
        let mut ids = Vec::new();
        for row in rows {
            let existing = match self.store.key_with_value(&row.value)? {
                Some(id) => self.store.key(&id)?,
                None => None,
            };
            let k = match existing {
                Some(mut k) => {
                    k.name = row.name;
                    k.description = row.description;
                    k.enabled = row.enabled;
                    k.last_updated_date = c.now;
                    k
                }
                None => ApiKey {
                    id: self.ids.next(10),
                    value: Some(row.value),
                    name: row.name,
                    description: row.description,
                    enabled: row.enabled,
                    customer_id: None,
                    created_date: c.now,
                    last_updated_date: c.now,
                    stage_keys: Vec::new(),
                    tags: Default::default(),
                },
            };
            self.store.put_key(&k)?;
            for p in &row.plans {
                self.store.add_plan_key(p, &k.id)?;
            }
            ids.push(k.id);
        }
        let mut out = json!({ "ids": ids });
        if !warnings.is_empty() {
            out["warnings"] = Value::from(warnings);
        }
        Ok((201, out))
    }

    fn check_row(
        &self,
        name: String,
        value: String,
        description: Option<String>,
        enabled: Option<String>,
        plans: Option<String>,
    ) -> Result<Row, String> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(format!("Name must be 1 to {MAX_NAME_LEN} characters"));
        }
        if !KEY_LEN.contains(&value.len()) {
            return Err(format!(
                "Key must be {} to {} characters",
                KEY_LEN.start(),
                KEY_LEN.end()
            ));
        }
        let enabled = match enabled.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(format!("Enabled must be true or false, not {other}")),
        };
        let plans: Vec<String> = plans
            .unwrap_or_default()
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        for p in &plans {
            if self.store.plan(p).ok().flatten().is_none() {
                return Err(format!("Invalid Usage Plan ID specified: {p}"));
            }
        }
        Ok(Row {
            name,
            value,
            description,
            enabled,
            plans,
        })
    }
}

/// The file's non-blank lines as fields: split at commas outside quotes
/// (`"` or `'`; a doubled quote inside is one), line breaks inside quotes
/// kept.
fn records(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rec = Vec::new();
    let mut field = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => {
                if chars.peek() == Some(&q) {
                    field.push(q);
                    chars.next();
                } else {
                    quote = None;
                }
            }
            (Some(_), c) => field.push(c),
            (None, '"' | '\'') if field.trim().is_empty() => {
                field.clear();
                quote = Some(ch);
            }
            (None, ',') => rec.push(std::mem::take(&mut field)),
            (None, '\r') => {}
            (None, '\n') => {
                rec.push(std::mem::take(&mut field));
                if rec.iter().any(|f| !f.trim().is_empty()) {
                    out.push(std::mem::take(&mut rec));
                }
                rec.clear();
            }
            (None, c) => field.push(c),
        }
    }
    rec.push(field);
    if rec.iter().any(|f| !f.trim().is_empty()) {
        out.push(rec);
    }
    out
}
