//! `portico version`: what this binary is, for bug reports and to tell
//! two builds apart.

use super::out;

/// The crate version, the git commit it was built from and the cargo
/// profile (build.rs; "unknown" when built outside a git checkout).
pub const LONG: &str = concat!(
    "portico ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("PORTICO_GIT_COMMIT"),
    "\nprofile: ",
    env!("PORTICO_BUILD_PROFILE")
);

pub const EXAMPLES: &str = "\
Examples:
  portico version
  portico --version             # the version number alone";

pub fn run() -> anyhow::Result<()> {
    Ok(out::line(LONG)?)
}
