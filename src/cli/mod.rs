//! The `portico` command line: one file per subcommand group. Errors are
//! printed as `portico: ...` (exit status 1), config mistakes as the config
//! error report (exit status 2).

mod admin;
mod cache;
mod cert;
mod check;
mod cluster;
mod config;
mod docs;
mod out;
mod run;
mod state;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use config::{Invalid, Loaded};

const EXAMPLES: &str = "\
Examples:
  portico                                   # serve the embedded demo config
  portico --config /etc/portico/portico.toml
  portico check --config portico.toml
  eval \"$(portico admin credentials)\"       # then: aws apigateway get-rest-apis
  portico cache flush --stage prod

Each command's --help has examples.";

#[derive(Parser, Debug)]
#[command(
    name = "portico",
    version,
    about = "A self-hosted API gateway",
    after_help = EXAMPLES
)]
struct Cli {
    /// Config file (TOML). Without it, the embedded default (config/portico.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// `run`'s options, for `portico` without a command.
    #[command(flatten)]
    run: run::RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve (the default when no command is given).
    #[command(after_help = run::EXAMPLES)]
    Run(run::RunArgs),
    /// Validate the config (resolving upstream names, reading the variables it names) and exit.
    #[command(after_help = check::EXAMPLES)]
    Check,
    /// The API keys with their values (generated ones included), as JSON.
    #[command(after_help = state::KEYS_EXAMPLES)]
    Keys,
    /// A usage plan's calls per key per day, as JSON (AWS GetUsage's shape).
    Usage(state::UsageArgs),
    /// Recorded management calls (the audit log), one JSON object per line.
    Audit(state::AuditArgs),
    /// Stage cache operations on the running server (through its admin listener).
    Cache {
        #[command(subcommand)]
        op: cache::CacheOp,
    },
    /// Certificates for the HTTPS listener.
    Cert {
        #[command(subcommand)]
        op: cert::CertOp,
    },
    /// The admin listener's credentials (management API, cache flushes).
    Admin {
        #[command(subcommand)]
        op: admin::AdminOp,
    },
    /// A fleet's shared state in Redis (`[cluster]`).
    Cluster {
        #[command(subcommand)]
        op: cluster::ClusterOp,
    },
    /// The version, the git commit and the cargo profile of this build.
    #[command(after_help = version::EXAMPLES)]
    Version,
    /// A shell completion script on stdout.
    #[command(after_help = docs::COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page, portico(1), in roff on stdout.
    #[command(after_help = docs::MAN_EXAMPLES)]
    Man,
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // These need no config.
    let command = match cli.command {
        Some(Command::Cert { op }) => return cert::run(op).map(|()| ExitCode::SUCCESS),
        Some(Command::Version) => return version::run().map(|()| ExitCode::SUCCESS),
        Some(Command::Completions { shell }) => {
            return docs::completions(shell).map(|()| ExitCode::SUCCESS)
        }
        Some(Command::Man) => return docs::man().map(|()| ExitCode::SUCCESS),
        Some(c) => c,
        None => Command::Run(cli.run),
    };
    let loaded = Loaded::read(cli.config)?;
    match command {
        Command::Run(args) => return run::run(loaded, args),
        Command::Check => check::run(&loaded)?,
        Command::Keys => state::keys(&loaded.config)?,
        Command::Usage(a) => state::usage(&loaded.config, a)?,
        Command::Audit(a) => state::audit(&loaded.config, a)?,
        Command::Cache { op } => cache::run(&loaded, op)?,
        Command::Admin { op } => admin::run(&loaded, op)?,
        Command::Cluster { op } => cluster::run(&loaded, op)?,
        Command::Cert { .. } | Command::Version | Command::Completions { .. } | Command::Man => {
            unreachable!("run before the config is read")
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(code) => code,
        Err(e) if out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Invalid>() {
            Some(Invalid(c)) => {
                eprintln!("{c}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("portico: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command and every flag says what it is in `--help`.
    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                assert!(
                    a.get_help().is_some(),
                    "`{path}`: `{}` has no help text",
                    a.get_id()
                );
            }
            for sub in cmd.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "`{path}` has no about");
                walk(sub, &path);
            }
        }
        let mut cmd = super::Cli::command();
        cmd.build();
        cmd.clone().debug_assert();
        walk(&cmd, "portico");
    }
}
