//! The data key that seals API key values at rest. The databases in the
//! state directory (and their `-wal` files, which a backup or a stolen disk
//! image carries along) hold only sealed values: AES-256-GCM with a random
//! nonce per value, bound to the row it belongs to, so a copy of the
//! databases without the key gives no key away. Finding a key by its value
//! uses an HMAC-SHA256 of the value under the same key, never the value.
//!
//! The key is 32 random bytes, base64, from `PORTICO_STATE_KEY` or from
//! `[state] key_file` (default `{state dir}/state.key`, 0600, generated at
//! the first start). Keeping it elsewhere than the databases (another
//! volume, a secret store through the variable) is what makes sealing
//! worth it; in the state directory it still keeps values out of copies of
//! the database files.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use aws_lc_rs::{aead, hmac, rand};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::config::StateConfig;

/// The variable that, when set, holds the key (and no file is read or made).
pub const ENV: &str = "PORTICO_STATE_KEY";

/// Marks a sealed value (a plain one, from before sealing, never has it:
/// API key values have no `:`).
const SEALED: &str = "sealed:v1:";

pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{ENV}: {0}")]
    Env(&'static str),
    #[error("state key file {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("state key file {path}: {why}")]
    Malformed { path: PathBuf, why: &'static str },
    #[error("values are sealed, and there is no state key ([state] key_file, or {ENV})")]
    Missing,
    #[error("the system's random source failed")]
    Random,
    #[error(
        "{what} was sealed with another state key; restore the key it was written with \
         ([state] key_file, or {ENV})"
    )]
    WrongKey { what: String },
}

pub struct StateKey {
    seal: aead::RandomizedNonceKey,
    lookup: hmac::Key,
}

impl StateKey {
    /// The key from `PORTICO_STATE_KEY`, or from the key file, which is
    /// generated (0600) when missing.
    pub fn load(state: &StateConfig) -> Result<StateKey, KeyError> {
        if let Some(k) = from_env()? {
            return Ok(k);
        }
        let path = state.key_path();
        match read_file(&path) {
            Err(KeyError::File { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                generate_file(&path)
            }
            r => r,
        }
    }

    /// The key if there is one, for commands that read state (nothing is
    /// generated).
    pub fn existing(state: &StateConfig) -> Result<Option<StateKey>, KeyError> {
        if let Some(k) = from_env()? {
            return Ok(Some(k));
        }
        match read_file(&state.key_path()) {
            Err(KeyError::File { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            r => r.map(Some),
        }
    }

    pub fn from_bytes(key: &[u8; KEY_LEN]) -> StateKey {
        // One subkey per use, so the cipher and the lookup MAC never share a key.
        let root = hmac::Key::new(hmac::HMAC_SHA256, key);
        let seal = hmac::sign(&root, b"portico state: seal v1");
        let lookup = hmac::sign(&root, b"portico state: lookup v1");
        StateKey {
            seal: aead::RandomizedNonceKey::new(&aead::AES_256_GCM, seal.as_ref())
                .expect("a 32-byte key is an AES-256 key"),
            lookup: hmac::Key::new(hmac::HMAC_SHA256, lookup.as_ref()),
        }
    }

    /// `value` sealed for `row` (the row it is stored in: a sealed value
    /// copied into another row does not open there).
    pub fn seal(&self, value: &str, row: &str) -> Result<String, KeyError> {
        let mut data = value.as_bytes().to_vec();
        let nonce = self
            .seal
            .seal_in_place_append_tag(aead::Aad::from(row.as_bytes()), &mut data)
            .map_err(|_| KeyError::Random)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{SEALED}{}", STANDARD.encode(out)))
    }

    /// The value `sealed` holds for `row`.
    pub fn open(&self, sealed: &str, row: &str) -> Result<String, KeyError> {
        let wrong = || KeyError::WrongKey {
            what: row.to_string(),
        };
        let raw = sealed
            .strip_prefix(SEALED)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() >= NONCE_LEN)
            .ok_or_else(wrong)?;
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut data = data.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, aead::Aad::from(row.as_bytes()), &mut data)
            .map_err(|_| wrong())?;
        String::from_utf8(plain.to_vec()).map_err(|_| wrong())
    }

    /// What a value is found and kept unique by, in place of the value.
    pub fn lookup(&self, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.lookup, value.as_bytes()))
    }

    /// A value stored beside sealed data that tells, at open, whether this
    /// is the key it was sealed with (it reveals nothing of the key).
    pub fn check_value(&self) -> String {
        self.lookup("portico state key check")
    }
}

/// Whether a stored value is sealed (else it predates sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

fn from_env() -> Result<Option<StateKey>, KeyError> {
    match std::env::var(ENV) {
        Ok(text) => decode(&text).map(Some).map_err(KeyError::Env),
        Err(_) => Ok(None),
    }
}

fn decode(text: &str) -> Result<StateKey, &'static str> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| "not base64 (make one with `openssl rand -base64 32`)")?;
    let bytes: [u8; KEY_LEN] = bytes
        .try_into()
        .map_err(|_| "not 32 bytes (make one with `openssl rand -base64 32`)")?;
    Ok(StateKey::from_bytes(&bytes))
}

fn read_file(path: &Path) -> Result<StateKey, KeyError> {
    let file_err = |source| KeyError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(file_err)?;
    let mode = file.metadata().map_err(file_err)?.permissions().mode();
    if mode & 0o077 != 0 {
        crate::log!(
            warn,
            "state key file {} is readable by others (mode {:o}): make it 0600",
            path.display(),
            mode & 0o777
        );
    }
    (&file).read_to_string(&mut text).map_err(file_err)?;
    decode(&text).map_err(|why| KeyError::Malformed {
        path: path.to_path_buf(),
        why,
    })
}

/// Writes a new random key to `path`, created 0600 and only if absent (a
/// second process starting at the same moment reads the first one's).
fn generate_file(path: &Path) -> Result<StateKey, KeyError> {
    let file_err = |source| KeyError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut key = [0u8; KEY_LEN];
    rand::fill(&mut key).map_err(|_| KeyError::Random)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        super::private::create_dir(dir).map_err(file_err)?;
    }
    let created = super::private::options()
        .write(true)
        .create_new(true)
        .open(path);
    let mut f = match created {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return read_file(path),
        Err(e) => return Err(file_err(e)),
    };
    f.write_all(format!("{}\n", STANDARD.encode(key)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(file_err)?;
    crate::log!(
        info,
        "generated the state key {} (it seals API key values; keep a copy, they cannot be read without it)",
        path.display()
    );
    Ok(StateKey::from_bytes(&key))
}

static INSTALLED: OnceLock<Arc<StateKey>> = OnceLock::new();

/// Makes `key` the process's state key (the server loads it once, at start,
/// and its stores use it from then on).
pub fn install(key: Arc<StateKey>) {
    let _ = INSTALLED.set(key);
}

/// The installed state key, or the one `state` names.
pub fn installed_or_load(state: &StateConfig) -> Result<Arc<StateKey>, KeyError> {
    match INSTALLED.get() {
        Some(k) => Ok(k.clone()),
        None => StateKey::load(state).map(Arc::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> StateKey {
        StateKey::from_bytes(&[byte; KEY_LEN])
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_row() {
        let k = key(1);
        let a = k.seal("value-0123456789abcdefghij", "row-a").unwrap();
        let b = k.seal("value-0123456789abcdefghij", "row-a").unwrap();
        assert!(is_sealed(&a) && !is_sealed("value-0123456789abcdefghij"));
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains("value-0123456789"));
        assert_eq!(k.open(&a, "row-a").unwrap(), "value-0123456789abcdefghij");
        assert!(matches!(
            k.open(&a, "row-b"),
            Err(KeyError::WrongKey { .. })
        ));
        assert!(key(2).open(&a, "row-a").is_err());
        assert!(k.open("sealed:v1:AAAA", "row-a").is_err());
    }

    #[test]
    fn lookups_depend_on_the_key() {
        assert_eq!(key(1).lookup("v"), key(1).lookup("v"));
        assert_ne!(key(1).lookup("v"), key(1).lookup("w"));
        assert_ne!(key(1).lookup("v"), key(2).lookup("v"));
        assert_ne!(key(1).check_value(), key(2).check_value());
    }

    #[test]
    fn key_file_is_generated_0600_then_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("portico-state-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let state = StateConfig {
            dir: d.clone(),
            ..StateConfig::default()
        };
        let made = generate_file(&state.key_path()).unwrap();
        let mode = std::fs::metadata(d.join("state.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = made.seal("x", "r").unwrap();
        let read = read_file(&state.key_path()).unwrap();
        assert_eq!(read.open(&sealed, "r").unwrap(), "x");
        std::fs::write(d.join("state.key"), "short").unwrap();
        assert!(matches!(
            read_file(&state.key_path()),
            Err(KeyError::Malformed { .. })
        ));
        let _ = std::fs::remove_dir_all(&d);
    }
}
