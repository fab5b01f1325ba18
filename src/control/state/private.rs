//! Owner-only modes for what portico keeps in the state directory: usage
//! records, management state, API key values (sealed), the key sealing
//! them, the audit log, access logs and ACME keys are nobody else's
//! business. Directories are 0700 and files 0600 whatever the umask: modes
//! are given at creation (umask can only narrow them) and set explicitly
//! where something else creates the file.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) as 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options opening a file that is created 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Makes sure `path` exists as a 0600 file before SQLite opens it: SQLite
/// creates a database 0644 (less the umask) but gives its `-wal` and `-shm`
/// files the database's own mode, so all three end up 0600.
pub fn create_database(path: &Path) -> io::Result<()> {
    options().create(true).append(true).open(path)?;
    restrict(path, FILE_MODE).map(|_| ())
}

/// Removes group and other bits from `path`'s mode, leaving it at most
/// `mode`; whether it had to.
fn restrict(path: &Path, mode: u32) -> io::Result<bool> {
    let meta = std::fs::symlink_metadata(path)?;
    let current = meta.permissions().mode() & 0o777;
    if current & !mode == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
    Ok(true)
}

/// Creates the state directory 0700, or takes group and other access away
/// from it and from everything in it (an older portico, or a copy, left
/// it readable), saying so in the log.
pub fn secure_state_dir(dir: &Path) -> io::Result<()> {
    let changed = owner_only(dir)?;
    if !changed.is_empty() {
        let shown: Vec<_> = changed.iter().take(5).map(|p| p.display()).collect();
        crate::log!(
            warn,
            "state directory {} was readable by others: made {} paths owner-only (directories 0700, files 0600), e.g. {}",
            dir.display(),
            changed.len(),
            shown.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// The paths it had to change.
fn owner_only(dir: &Path) -> io::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    let mut changed = Vec::new();
    tighten(dir, &mut changed)?;
    Ok(changed)
}

fn tighten(dir: &Path, changed: &mut Vec<PathBuf>) -> io::Result<()> {
    if restrict(dir, DIR_MODE)? {
        changed.push(dir.to_path_buf());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            tighten(&path, changed)?;
        } else if kind.is_file() && restrict(&path, FILE_MODE)? {
            changed.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_readable_state_dir_is_made_owner_only() {
        let d = std::env::temp_dir().join(format!("portico-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("acme")).unwrap();
        std::fs::write(d.join("acme/x.crt"), "x").unwrap();
        std::fs::write(d.join("audit.jsonl"), "x").unwrap();
        for (p, m) in [
            (d.clone(), 0o755),
            (d.join("acme"), 0o775),
            (d.join("acme/x.crt"), 0o644),
            (d.join("audit.jsonl"), 0o400),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        let changed = owner_only(&d).unwrap();
        assert_eq!(changed.len(), 3, "{changed:?}");
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("acme")), 0o700);
        assert_eq!(mode(&d.join("acme/x.crt")), 0o600);
        // Narrower than 0600 stays as it is.
        assert_eq!(mode(&d.join("audit.jsonl")), 0o400);
        assert!(owner_only(&d).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
