//! The config a command works from: the file named by `--config`, or the
//! embedded default, parsed; and its errors located in the file.

use std::path::PathBuf;

use portico::config::{self, Config, ConfigError};
use portico::control::admin::credentials::CredentialsError;
use portico::snapshot::{system_resolve, Snapshot};

/// A mistake in the config (or in what it names): printed as the config
/// error report (every problem, rustc-style), exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub ConfigError);

pub struct Loaded {
    /// How errors name the file.
    pub name: String,
    pub text: String,
    pub config: Config,
    /// `--config`, when given (SIGHUP rereads it).
    pub path: Option<PathBuf>,
}

impl Loaded {
    pub fn read(path: Option<PathBuf>) -> Result<Loaded, Invalid> {
        let (name, text) = match &path {
            Some(p) => {
                let name = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Invalid(ConfigError::at(
                        &name,
                        "",
                        0,
                        Some(""),
                        format!("cannot read: {e}"),
                    ))
                })?;
                (name, text)
            }
            None => (
                config::DEFAULT_CONFIG_NAME.to_string(),
                config::DEFAULT_CONFIG.to_string(),
            ),
        };
        let config = config::parse(&name, &text).map_err(Invalid)?;
        Ok(Loaded {
            name,
            text,
            config,
            path,
        })
    }

    /// The snapshot the data plane would serve (resolving upstream names).
    pub fn compile(&self) -> Result<Snapshot, Invalid> {
        self.compile_with(&self.config)
    }

    /// [`Loaded::compile`] of `config`, this file's with what start-up
    /// added (generated key values), its errors located in this file.
    pub fn compile_with(&self, config: &Config) -> Result<Snapshot, Invalid> {
        Snapshot::compile(config, &mut system_resolve).map_err(|errors| {
            let placed = errors
                .0
                .into_iter()
                .map(|e| ConfigError::at(&self.name, &self.text, e.at, Some(&e.key), e.message));
            Invalid(ConfigError::joined(placed))
        })
    }

    /// An `[admin]` credentials error, at the key it is about.
    pub fn admin_error(&self, e: CredentialsError) -> anyhow::Error {
        match e.key() {
            Some(key) => Invalid(ConfigError::at(
                &self.name,
                &self.text,
                self.offset_of("admin", key),
                Some(&format!("admin.{key}")),
                e.to_string(),
            ))
            .into(),
            None => e.into(),
        }
    }

    /// Where `[table] key`'s value starts in the text (0 when absent).
    fn offset_of(&self, table: &str, key: &str) -> usize {
        use toml::de::{DeTable, DeValue};

        let Ok(doc) = DeTable::parse(&self.text) else {
            return 0;
        };
        let doc = doc.into_inner();
        let Some(DeValue::Table(t)) = find(&doc, table).map(|v| v.get_ref()) else {
            return 0;
        };
        find(t, key).map_or(0, |v| v.span().start)
    }

    /// The `--config FILE` part of a command line repeating this one's.
    pub fn config_arg(&self) -> String {
        self.path
            .as_ref()
            .map(|p| format!(" --config {}", super::out::shell_word(&p.to_string_lossy())))
            .unwrap_or_default()
    }
}

/// `name`'s value in `t`.
fn find<'t, 'i>(
    t: &'t toml::de::DeTable<'i>,
    name: &str,
) -> Option<&'t toml::Spanned<toml::de::DeValue<'i>>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(_, v)| v)
}
