//! Build facts `portico version` prints: the git commit and the cargo
//! profile. A build from a tarball (no git, or no repository) says
//! "unknown" rather than failing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The profile's directory name (`debug`, `release`, or a custom
/// profile's own name): OUT_DIR is `<target>/<profile>/build/<pkg>/out`.
fn profile() -> String {
    std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .and_then(|out| {
            out.ancestors()
                .nth(3)
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
        })
        .or_else(|| std::env::var("PROFILE").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    // Rebuilt when HEAD moves (a commit, a checkout), not on every edit.
    if commit.is_some() {
        if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
            println!("cargo:rerun-if-changed={dir}/HEAD");
        }
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            if let Some(common) = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            {
                println!("cargo:rerun-if-changed={common}/{head}");
                println!("cargo:rerun-if-changed={common}/packed-refs");
            }
        }
    }
    println!(
        "cargo:rustc-env=PORTICO_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rustc-env=PORTICO_BUILD_PROFILE={}", profile());
}
