//! The `portico` command: parse arguments, load and check the config, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portico::config::{self, Config, ConfigError};
use portico::model::{system_resolve, Snapshot};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "A self-hosted API gateway")]
struct Cli {
    /// Config file (TOML). Without it, the embedded config/portico.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config (including upstream name resolution) and exit.
    Check,
}

fn load(path: Option<&PathBuf>) -> Result<(Config, Snapshot), ConfigError> {
    let (name, text) = match path {
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| {
                ConfigError::at(&name, "", 0, Some(""), format!("cannot read: {e}"))
            })?;
            (name, text)
        }
        None => (
            config::DEFAULT_CONFIG_NAME.to_string(),
            config::DEFAULT_CONFIG.to_string(),
        ),
    };
    let config = config::parse(&name, &text)?;
    let snapshot = Snapshot::compile(&config, &mut system_resolve)
        .map_err(|e| ConfigError::at(&name, &text, e.at, Some(&e.key), e.message))?;
    Ok((config, snapshot))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, snapshot) = match load(cli.config.as_ref()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("portico: config error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Check) = cli.command {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    match portico::server::run(config, snapshot) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portico: {:#}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}
