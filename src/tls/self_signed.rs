//! `portico cert self-signed`: a certificate and key for local use
//! without a CA (rcgen).

use std::path::{Path, PathBuf};

/// Writes `{dir}/{first host}.crt` and `.key` (PEM, the key readable by
/// its owner only) for `hosts`; returns their paths.
pub fn write(hosts: &[String], dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let first = hosts.first().ok_or("give at least one --host")?;
    let made = rcgen::generate_simple_self_signed(hosts.to_vec())
        .map_err(|e| format!("cannot make a certificate for {hosts:?}: {e}"))?;
    let stem = first.replace('*', "_wildcard");
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())
        .map_err(|e| format!("{}: {e}", key.display()))?;
    Ok((cert, key))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}
