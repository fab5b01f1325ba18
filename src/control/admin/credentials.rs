//! The admin listener's credentials: the Bearer token (cache flushes, the
//! management API) and the access key pair SigV4-signed management calls
//! (the AWS CLI, boto3) use. What the config gives wins, item by item;
//! whatever it leaves out is generated once into the state directory
//! (0600) and kept across restarts, so the local CLI (`portico cache
//! flush`, `portico admin credentials`) works against a server started
//! from the same config without anyone choosing a secret. The one place
//! that reads `token_env` and `secret_access_key_env`, so `portico check`
//! and the server's start refuse an unset variable alike.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::AdminConfig;
use crate::control::state::{private, random_key_value};

/// The generated credentials' file in the state directory.
pub const FILE: &str = "admin-credentials.toml";

/// The credentials the admin listener accepts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub token: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What the config gives, its variables read: each `None` when left out.
#[derive(Debug, Default, Clone)]
pub struct Configured {
    pub token: Option<String>,
    /// Access key id and secret.
    pub key_pair: Option<(String, String)>,
}

/// The credentials, and the generated file when any of them came from it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub credentials: Credentials,
    pub generated: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("[admin] {key} names the environment variable `{var}`, which is not set (or empty)")]
    Unset { key: &'static str, var: String },
    #[error("[admin] {given} needs {needs}")]
    HalfPair {
        given: &'static str,
        needs: &'static str,
    },
    #[error("admin credentials file {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("admin credentials file {path}: {why} (remove it to have new ones generated)")]
    Malformed { path: PathBuf, why: String },
    #[error("the system's random source failed")]
    Random,
}

impl CredentialsError {
    /// The `[admin]` key at fault, for locating the error in the config.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            CredentialsError::Unset { key, .. } => Some(key),
            CredentialsError::HalfPair { given, .. } => Some(given),
            _ => None,
        }
    }
}

/// A variable's value; unset and empty alike are refused (an empty token
/// would let `Bearer ` through).
fn from_env(key: &'static str, var: &str) -> Result<String, CredentialsError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(CredentialsError::Unset {
            key,
            var: var.to_string(),
        }),
    }
}

/// The credentials `admin` configures (literal, or from the variables it
/// names); an unset variable or half a key pair is an error.
pub fn configured(admin: &AdminConfig) -> Result<Configured, CredentialsError> {
    let token = match (&admin.token, &admin.token_env) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(var)) => Some(from_env("token_env", var)?),
        (None, None) => None,
    };
    let secret = match (&admin.secret_access_key, &admin.secret_access_key_env) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(var)) => Some(from_env("secret_access_key_env", var)?),
        (None, None) => None,
    };
    let key_pair = match (&admin.access_key_id, secret) {
        (Some(id), Some(secret)) => Some((id.clone(), secret)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(CredentialsError::HalfPair {
                given: "access_key_id",
                needs: "secret_access_key_env (or secret_access_key)",
            })
        }
        (None, Some(_)) => {
            return Err(CredentialsError::HalfPair {
                given: if admin.secret_access_key.is_some() {
                    "secret_access_key"
                } else {
                    "secret_access_key_env"
                },
                needs: "access_key_id",
            })
        }
    };
    Ok(Configured { token, key_pair })
}

impl Configured {
    fn complete(&self) -> Option<Credentials> {
        let (id, secret) = self.key_pair.clone()?;
        Some(Credentials {
            token: self.token.clone()?,
            access_key_id: id,
            secret_access_key: secret,
        })
    }

    /// What the config gives, the rest from `generated`.
    fn over(self, generated: Credentials) -> Credentials {
        let (access_key_id, secret_access_key) = self
            .key_pair
            .unwrap_or((generated.access_key_id, generated.secret_access_key));
        Credentials {
            token: self.token.unwrap_or(generated.token),
            access_key_id,
            secret_access_key,
        }
    }
}

/// The server's (and `portico admin credentials`'): what the config gives,
/// the rest from the state directory's file, generated there if absent.
pub fn load_or_generate(
    admin: &AdminConfig,
    state_dir: &Path,
) -> Result<Resolved, CredentialsError> {
    let configured = configured(admin)?;
    if let Some(credentials) = configured.complete() {
        return Ok(Resolved {
            credentials,
            generated: None,
        });
    }
    let path = state_dir.join(FILE);
    let generated = match read(&path)? {
        Some(c) => c,
        None => generate(&path)?,
    };
    Ok(Resolved {
        credentials: configured.over(generated),
        generated: Some(path),
    })
}

/// The local CLI's: like [`load_or_generate`] but never writes; what is
/// neither configured nor generated yet is `None`.
pub fn load(admin: &AdminConfig, state_dir: &Path) -> Result<Configured, CredentialsError> {
    let mut c = configured(admin)?;
    if c.complete().is_some() {
        return Ok(c);
    }
    if let Some(g) = read(&state_dir.join(FILE))? {
        c.token.get_or_insert(g.token);
        c.key_pair
            .get_or_insert((g.access_key_id, g.secret_access_key));
    }
    Ok(c)
}

fn read(path: &Path) -> Result<Option<Credentials>, CredentialsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CredentialsError::File {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| CredentialsError::Malformed {
            path: path.to_path_buf(),
            why: e.message().to_string(),
        })
}

/// New random credentials written to `path` (0600) unless a file is
/// already there, in which case that one's: the file appears whole or not
/// at all (written aside, then linked into place), so a second process
/// starting at the same moment reads the first one's.
fn generate(path: &Path) -> Result<Credentials, CredentialsError> {
    let file_err = |source| CredentialsError::File {
        path: path.to_path_buf(),
        source,
    };
    let random = || random_key_value().map_err(|_| CredentialsError::Random);
    let id_tail: String = random()?.to_ascii_uppercase().chars().take(13).collect();
    let credentials = Credentials {
        token: random()?,
        // 20 characters, as AWS's are, recognisably portico's.
        access_key_id: format!("PORTICO{id_tail}"),
        secret_access_key: random()?,
    };
    let text = format!(
        "# Generated by portico: the admin listener's credentials for\n\
         # what [admin] does not configure. `portico admin credentials` prints them.\n{}",
        toml::to_string(&credentials).expect("plain strings serialize")
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::create_dir(dir).map_err(file_err)?;
    }
    let aside = path.with_extension(format!("tmp.{}", std::process::id()));
    let written = private::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&aside)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::hard_link(&aside, path));
    let _ = std::fs::remove_file(&aside);
    match written {
        Ok(()) => Ok(credentials),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| file_err(io::ErrorKind::NotFound.into()))
        }
        Err(e) => Err(file_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("portico-cred-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn generated_once_kept_and_owner_only() {
        let d = dir("gen");
        let admin = AdminConfig::default();
        let first = load_or_generate(&admin, &d).unwrap();
        let path = d.join(FILE);
        assert_eq!(first.generated.as_deref(), Some(path.as_path()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let c = &first.credentials;
        assert_eq!(c.token.len(), 40);
        assert_eq!(c.secret_access_key.len(), 40);
        assert_eq!(c.access_key_id.len(), 20);
        assert_ne!(c.token, c.secret_access_key);
        // Kept: a second start (and the CLI) read the same.
        let again = load_or_generate(&admin, &d).unwrap();
        assert_eq!(&again.credentials, c);
        let cli = load(&admin, &d).unwrap();
        assert_eq!(cli.token.as_ref(), Some(&c.token));
        assert_eq!(
            cli.key_pair,
            Some((c.access_key_id.clone(), c.secret_access_key.clone()))
        );
        // Nothing left aside.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn configured_items_win_and_nothing_is_written_when_all_are_given() {
        let d = dir("cfg");
        let admin = AdminConfig {
            token: Some("configured-token".into()),
            ..AdminConfig::default()
        };
        let r = load_or_generate(&admin, &d).unwrap();
        assert_eq!(r.credentials.token, "configured-token");
        assert!(r.credentials.access_key_id.starts_with("PORTICO"));
        let full = AdminConfig {
            token: Some("t".into()),
            access_key_id: Some("AKID".into()),
            secret_access_key: Some("S".into()),
            ..AdminConfig::default()
        };
        let _ = std::fs::remove_dir_all(&d);
        let r = load_or_generate(&full, &d).unwrap();
        assert!(r.generated.is_none());
        assert_eq!(r.credentials.access_key_id, "AKID");
        assert!(!d.exists(), "wrote when everything was configured");
    }

    #[test]
    fn an_unset_variable_or_half_a_pair_is_named() {
        let var = "PORTICO_TEST_SURELY_UNSET_SECRET";
        let admin = AdminConfig {
            access_key_id: Some("AKID".into()),
            secret_access_key_env: Some(var.into()),
            ..AdminConfig::default()
        };
        let e = configured(&admin).unwrap_err();
        assert_eq!(e.key(), Some("secret_access_key_env"));
        let m = e.to_string();
        assert!(
            m.contains(var) && m.contains("secret_access_key_env"),
            "{m}"
        );
        assert!(!m.contains("token"), "{m}");
        let half = AdminConfig {
            access_key_id: Some("AKID".into()),
            ..AdminConfig::default()
        };
        let e = configured(&half).unwrap_err();
        assert_eq!(e.key(), Some("access_key_id"));
    }
}
