//! `portico cluster`: the fleet, read from or written to its Redis
//! (`[cluster]`), with no running node needed.

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use portico::cluster::status;

use super::config::Loaded;
use super::out;

#[derive(Subcommand, Debug)]
pub enum ClusterOp {
    /// The live nodes (revision, Redis latency, age of the last heartbeat) and the fleet's revision.
    #[command(after_help = "\
Examples:
  portico cluster status --config /etc/portico/portico.toml
  portico cluster status --json | jq '.nodes[].id'

It reads the [cluster] Redis of the config and exits 1 when Redis cannot be reached. A node
is live until three seconds after its last heartbeat (one a second).")]
    Status {
        /// Print JSON ({revision, latency_us, nodes: [{id, revision, listen, latency_us,
        /// heartbeat_age_ms, started_ms}]}) instead of a table.
        #[arg(long)]
        json: bool,
    },
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
    let cfg = config.cluster.as_ref().ok_or_else(|| {
        anyhow!(
            "{} has no [cluster] section: this node is not part of a fleet",
            loaded.name
        )
    })?;
    match op {
        ClusterOp::Status { json } => {
            let fleet = status::read(cfg).map_err(|e| {
                if e.timed_out() {
                    anyhow!(
                        "cannot read the fleet's Redis: {} did not answer within command_timeout_ms = {}",
                        cfg.redis.join(", "),
                        cfg.command_timeout_ms
                    )
                } else {
                    anyhow!("cannot read the fleet's Redis: {e}")
                }
            })?;
            if json {
                Ok(out::line(serde_json::to_string_pretty(&fleet)?)?)
            } else {
                Ok(out::raw(fleet.text().as_bytes())?)
            }
        }
        ClusterOp::Migrate(a) => {
            let done = portico::control::api::migrate(&config.state, cfg, a.force)
                .context("cluster migrate")?;
            Ok(out::line(format!(
                "copied {} rows and {} plan memberships from {} into the fleet's Redis",
                done.rows,
                done.memberships,
                config.state.dir.join("control.db").display()
            ))?)
        }
    }
}
