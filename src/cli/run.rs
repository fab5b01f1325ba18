//! `portico run` (and `portico` alone): serve until SIGTERM or SIGINT.

use std::process::ExitCode;

use clap::Args;
use portico::control::admin::credentials;

use super::config::Loaded;

/// How to run; every option of the run path is here, so `portico run
/// --x` and `portico --x` take the same ones.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Take over from the portico running on the same state directory: receive
    /// its listening sockets, serve, then tell it to drain (no connection is
    /// dropped). Without a running portico it exits 1.
    #[arg(long)]
    pub takeover: bool,
}

pub const EXAMPLES: &str = "\
Examples:
  portico                                  # the embedded demo config (config/portico.toml)
  portico run --config /etc/portico/portico.toml
  portico --config portico.toml            # `run` is the default command
  portico --config portico.toml --takeover # a new binary takes over from the running one

SIGHUP reloads the config file, SIGTERM or SIGINT drains and stops.";

pub fn run(loaded: Loaded, args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut config = loaded.config.clone();
    // Before anything is opened or bound: an unset variable the config
    // names stops the start, not a listener already serving.
    if config.admin.enabled {
        let resolved = credentials::load_or_generate(&config.admin, &config.state.dir)
            .map_err(|e| loaded.admin_error(e))?;
        if let Some(path) = &resolved.generated {
            portico::log!(
                info,
                "admin credentials (token, access key) not set in [admin] are in {}; `portico admin credentials{}` prints them",
                path.display(),
                loaded.config_arg()
            );
        }
        let c = resolved.credentials;
        let admin = &mut config.admin;
        admin.token = Some(c.token);
        admin.token_env = None;
        admin.access_key_id = Some(c.access_key_id);
        admin.secret_access_key = Some(c.secret_access_key);
        admin.secret_access_key_env = None;
    }
    // Always open: plans and keys may also come from the management API.
    let mut store = portico::control::state::open_state(&config.state)?;
    for key in config.api_keys.iter_mut().filter(|k| k.value.is_none()) {
        key.value = Some(store.generated_key(key.id())?);
    }
    let snapshot = loaded.compile_with(&config)?;
    let options = portico::control::Options {
        source: loaded.path,
        takeover: args.takeover,
    };
    portico::control::run_with(config, snapshot, Some(store), options)?;
    Ok(ExitCode::SUCCESS)
}
