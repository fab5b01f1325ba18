//! The config file as TOML with a byte span on every key and value: where
//! a key path is in the file, and the copy serde is retried on with the
//! values already found wrong taken out.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::path::{KeyPath, Seg};

pub struct Document<'t> {
    pub root: Spanned<DeTable<'t>>,
}

/// Where a key path is: its value, and its key when it has one (array
/// elements have none). `exact` is false when the file stops short of the
/// path (a missing key): then these are of the deepest part that is there.
pub struct Place {
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
    pub exact: bool,
}

impl<'t> Document<'t> {
    pub fn parse(text: &'t str) -> Result<Self, toml::de::Error> {
        Ok(Document {
            root: DeTable::parse(text)?,
        })
    }

    pub fn locate(&self, path: &KeyPath) -> Place {
        let mut place = Place {
            key: None,
            value: self.root.span(),
            exact: true,
        };
        let mut at: Option<&DeValue<'t>> = None;
        let mut table = Some(self.root.get_ref());
        for seg in &path.0 {
            let next = match (seg, table, at) {
                (Seg::Key(k), Some(t), _) => t
                    .get_key_value(k.as_str())
                    .map(|(k, v)| (Some(k.span()), v)),
                (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i).map(|v| (None, v)),
                _ => None,
            };
            let Some((key, value)) = next else {
                place.exact = false;
                break;
            };
            place.key = key;
            place.value = value.span();
            at = Some(value.get_ref());
            table = match value.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        place
    }

    /// The keys of the table at `path` holding a string, number or
    /// boolean, each with its value as written.
    pub fn scalars_at(&self, path: &KeyPath) -> Vec<(String, String)> {
        let mut table = Some(self.root.get_ref());
        let mut value: Option<&DeValue<'t>> = None;
        for seg in &path.0 {
            let next = match (seg, table, value) {
                (Seg::Key(k), Some(t), _) => t.get(k.as_str()),
                (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(v) = next else { return Vec::new() };
            value = Some(v.get_ref());
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        let Some(table) = table else {
            return Vec::new();
        };
        table
            .iter()
            .filter_map(|(k, v)| {
                let shown = match v.get_ref() {
                    DeValue::String(s) => s.to_string(),
                    DeValue::Integer(i) => i.as_str().to_string(),
                    DeValue::Float(f) => f.as_str().to_string(),
                    DeValue::Boolean(b) => b.to_string(),
                    _ => return None,
                };
                Some((k.get_ref().to_string(), shown))
            })
            .collect()
    }

    /// Takes the value at `path` out; false when nothing is there.
    pub fn remove(&mut self, path: &KeyPath) -> bool {
        remove_in_table(self.root.get_mut(), &path.0)
    }
}

fn remove_in_table(t: &mut DeTable<'_>, path: &[Seg]) -> bool {
    match path {
        [Seg::Key(k)] => t.remove(k.as_str()).is_some(),
        [Seg::Key(k), rest @ ..] => t
            .get_mut(k.as_str())
            .is_some_and(|v| remove_in(v.get_mut(), rest)),
        _ => false,
    }
}

fn remove_in(value: &mut DeValue<'_>, path: &[Seg]) -> bool {
    match (path, value) {
        (_, DeValue::Table(t)) => remove_in_table(t, path),
        ([Seg::Index(i)], DeValue::Array(a)) if *i < a.len() => {
            let kept: Vec<_> = a
                .iter()
                .enumerate()
                .filter(|(n, _)| n != i)
                .map(|(_, v)| v.clone())
                .collect();
            *a = kept.into_iter().collect();
            true
        }
        ([Seg::Index(i), rest @ ..], DeValue::Array(a)) => {
            a.get_mut(*i).is_some_and(|v| remove_in(v.get_mut(), rest))
        }
        _ => false,
    }
}

/// What was taken out of the copy serde reads, by path in the file: maps
/// the copy's array indices back to the file's, and tells which checks
/// could be wrong because something they look at is gone.
#[derive(Default)]
pub struct Removed(Vec<KeyPath>);

impl Removed {
    /// `working` (indices of the copy) as a path in the file.
    pub fn original(&self, working: &KeyPath) -> KeyPath {
        let mut out = KeyPath::default();
        for seg in &working.0 {
            match seg {
                Seg::Key(k) => out.0.push(Seg::Key(k.clone())),
                Seg::Index(k) => {
                    let mut i = 0;
                    let mut left = *k;
                    loop {
                        let mut here = out.clone();
                        here.0.push(Seg::Index(i));
                        if !self.0.contains(&here) {
                            if left == 0 {
                                break;
                            }
                            left -= 1;
                        }
                        i += 1;
                    }
                    out.0.push(Seg::Index(i));
                }
            }
        }
        out
    }

    pub fn add(&mut self, original: KeyPath) {
        self.0.push(original);
    }

    pub fn contains(&self, original: &KeyPath) -> bool {
        self.0.contains(original)
    }

    /// The collection at `original`, or one of its entries, was taken out.
    pub fn touches(&self, original: &KeyPath) -> bool {
        self.0.iter().any(|p| {
            original.starts_with(p)
                || (p.starts_with(original) && p.0.len() == original.0.len() + 1)
        })
    }
}
