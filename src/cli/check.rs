//! `portico check`: everything a start would refuse, without starting.

use portico::control::admin::credentials;

use super::config::Loaded;
use super::out;

pub const EXAMPLES: &str = "\
Examples:
  portico check --config /etc/portico/portico.toml
  portico check                 # the embedded default config

It prints `ok`, or the first mistake with its file, line and key (exit status 2). Upstream
host names are resolved, and the environment variables [admin] token_env and
secret_access_key_env name must be set.";

pub fn run(loaded: &Loaded) -> anyhow::Result<()> {
    loaded.compile()?;
    if loaded.config.admin.enabled {
        credentials::configured(&loaded.config.admin).map_err(|e| loaded.admin_error(e))?;
    }
    Ok(out::line("ok")?)
}
