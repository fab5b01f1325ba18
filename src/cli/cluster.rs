//! `portico cluster ...`: a fleet's shared state (`[cluster]`).

use anyhow::Context;
use clap::{Args, Subcommand};

use super::config::Loaded;

#[derive(Subcommand, Debug)]
pub enum ClusterOp {
    /// Copy this node's management state (control.db) into the fleet's Redis.
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  portico cluster migrate --config /etc/portico/portico.toml
  portico cluster migrate --force --config portico.toml   # replace the fleet's state

Run it once, on the node whose state the fleet starts from, with the
state key (`[state] key_file` or PORTICO_STATE_KEY) every node will share.")]
pub struct MigrateArgs {
    /// Replace the management state Redis already holds.
    #[arg(long)]
    force: bool,
}

pub fn run(loaded: &Loaded, op: ClusterOp) -> anyhow::Result<()> {
    let config = &loaded.config;
    let cluster = config
        .cluster
        .as_ref()
        .context("the config has no [cluster] section: nowhere to migrate to")?;
    match op {
        ClusterOp::Migrate(a) => {
            let done = portico::control::api::migrate(&config.state, cluster, a.force)
                .context("cluster migrate")?;
            println!(
                "copied {} rows and {} plan memberships from {} into the fleet's Redis",
                done.rows,
                done.memberships,
                config.state.dir.join("control.db").display()
            );
        }
    }
    Ok(())
}
