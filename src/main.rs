//! The `portico` command: parse arguments, load and check the config, run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use portico::config::{self, Config, ConfigError};
use portico::model::{system_resolve, Snapshot};
use portico::store::{StateKey, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "A self-hosted API gateway")]
struct Cli {
    /// Config file (TOML). Without it, the embedded config/portico.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Take over from the portico running on the same state directory: receive its
    /// listening sockets, serve, then tell it to drain (no connection is dropped).
    #[arg(long)]
    takeover: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config (including upstream name resolution) and exit.
    Check,
    /// A usage plan's calls per key per day, as JSON (AWS GetUsage's shape).
    Usage {
        #[arg(long)]
        plan: String,
        /// Only this key id.
        #[arg(long)]
        key: Option<String>,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: NaiveDate,
        /// Last day, YYYY-MM-DD (UTC), inclusive.
        #[arg(long)]
        to: NaiveDate,
    },
    /// The API keys with their values (generated ones included), as JSON.
    Keys,
    /// Recorded management calls (the audit log), one JSON object per line.
    Audit {
        /// Only calls at or after this time (RFC 3339, or YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// Only this operation, e.g. CreateDeployment.
        #[arg(long)]
        event: Option<String>,
    },
    /// Stage cache operations on the running server (through its admin listener).
    Cache {
        #[command(subcommand)]
        op: CacheOp,
    },
    /// Certificates for the HTTPS listener.
    Cert {
        #[command(subcommand)]
        op: CertOp,
    },
}

#[derive(Subcommand)]
enum CertOp {
    /// Write a self-signed certificate and key (PEM) for local use: DIR/HOST.crt, DIR/HOST.key.
    SelfSigned {
        /// A name it is for (repeat for more; `*.example.com` for a wildcard).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Where to write them.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum CacheOp {
    /// Empty a stage's cache on every worker (AWS FlushStageCache).
    Flush {
        /// The API's name or id; may be left out when there is one API.
        #[arg(long)]
        api: Option<String>,
        #[arg(long)]
        stage: String,
        /// The admin listener, `http://HOST:PORT`; default: `[admin] listen` of the config.
        #[arg(long)]
        admin: Option<String>,
    },
}

fn read(path: Option<&PathBuf>) -> Result<(String, String), ConfigError> {
    match path {
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| {
                ConfigError::at(&name, "", 0, Some(""), format!("cannot read: {e}"))
            })?;
            Ok((name, text))
        }
        None => Ok((
            config::DEFAULT_CONFIG_NAME.to_string(),
            config::DEFAULT_CONFIG.to_string(),
        )),
    }
}

fn compile(name: &str, text: &str, config: &Config) -> Result<Snapshot, ConfigError> {
    Snapshot::compile(config, &mut system_resolve)
        .map_err(|e| ConfigError::at(name, text, e.at, Some(&e.key), e.message))
}

/// Usage plans or keys need the state directory.
fn needs_store(config: &Config) -> bool {
    !config.usage_plans.is_empty() || !config.api_keys.is_empty()
}

fn serve(
    config: Config,
    name: &str,
    text: &str,
    options: portico::server::Options,
) -> anyhow::Result<ExitCode> {
    let mut config = config;
    // Always open: plans and keys may also come from the management API.
    let mut store = portico::store::open_state(&config.state)?;
    for key in config.api_keys.iter_mut().filter(|k| k.value.is_none()) {
        key.value = Some(store.generated_key(key.id())?);
    }
    let store = Some(store);
    let snapshot = match compile(name, text, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portico: config error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    portico::server::run_with(config, snapshot, store, options)?;
    Ok(ExitCode::SUCCESS)
}

fn keys(config: &Config) -> anyhow::Result<serde_json::Value> {
    let store = if needs_store(config) && config.state.dir.join("portico.db").exists() {
        Some(Store::open_read_only(&config.state.dir)?)
    } else {
        None
    };
    let key = StateKey::existing(&config.state)?;
    let mut list = Vec::new();
    for k in &config.api_keys {
        let value = match (&k.value, &store) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(s)) => s.stored_key(k.id(), key.as_ref())?,
            (None, None) => None,
        };
        list.push(serde_json::json!({
            "id": k.id(),
            "name": k.name.get_ref(),
            "value": value,
            "enabled": k.enabled,
            "usagePlans": k.usage_plans,
        }));
    }
    Ok(serde_json::Value::Array(list))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Needs no config: it makes what a config's [tls] will name.
    if let Some(Command::Cert {
        op: CertOp::SelfSigned { hosts, out },
    }) = &cli.command
    {
        let (cert, key) =
            portico::tls::self_signed::write(hosts, out).map_err(anyhow::Error::msg)?;
        println!("{}\n{}", cert.display(), key.display());
        return Ok(ExitCode::SUCCESS);
    }
    let parsed = read(cli.config.as_ref()).and_then(|(name, text)| {
        let config = config::parse(&name, &text)?;
        Ok((name, text, config))
    });
    let (name, text, config) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("portico: config error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    match cli.command {
        None => {
            let options = portico::server::Options {
                source: cli.config.clone(),
                takeover: cli.takeover,
            };
            serve(config, &name, &text, options)
        }
        Some(Command::Check) => match compile(&name, &text, &config) {
            Ok(_) => {
                println!("ok");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("portico: config error: {e}");
                Ok(ExitCode::from(2))
            }
        },
        Some(Command::Usage {
            plan,
            key,
            from,
            to,
        }) => {
            let db = config.state.dir.join("portico.db");
            let store = if db.exists() {
                Some(Store::open_read_only(&config.state.dir)?)
            } else {
                None
            };
            let report = portico::usage_report::report(
                &config,
                store.as_ref(),
                &plan,
                key.as_deref(),
                from,
                to,
            )
            .context("usage")?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Keys) => {
            println!("{}", keys(&config)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Audit { since, event }) => {
            let events =
                portico::admin::audit::read(&config.state.dir, since.as_deref(), event.as_deref())
                    .context("audit log")?;
            for e in events {
                println!("{e}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Cert { .. }) => unreachable!("handled before the config is read"),
        Some(Command::Cache {
            op: CacheOp::Flush { api, stage, admin },
        }) => {
            let addr = match admin {
                Some(url) => url
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string(),
                None => config.admin.listen.0.to_string(),
            };
            let token = match (&config.admin.token, &config.admin.token_env) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(var)) => std::env::var(var).ok(),
                (None, None) => None,
            };
            let body =
                portico::admin::flush_request(&addr, token.as_deref(), api.as_deref(), &stage)?;
            println!("{body}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portico: {e:#}");
            ExitCode::FAILURE
        }
    }
}
