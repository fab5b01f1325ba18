//! `portico cluster`: the fleet, read from its Redis (`[cluster]`), with
//! no running node needed.

use anyhow::anyhow;
use clap::Subcommand;
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
}

pub fn run(loaded: &Loaded, op: ClusterOp) -> anyhow::Result<()> {
    let ClusterOp::Status { json } = op;
    let cfg = loaded.config.cluster.as_ref().ok_or_else(|| {
        anyhow!(
            "{} has no [cluster] section: this node is not part of a fleet",
            loaded.name
        )
    })?;
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
