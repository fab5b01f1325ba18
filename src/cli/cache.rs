//! `portico cache`: stage cache operations on the running server, through
//! its admin listener with the admin token.

use std::time::Duration;

use anyhow::anyhow;
use clap::Subcommand;
use portico::control::admin::{credentials, flush_request, FlushError};

use super::config::Loaded;
use super::out;

#[derive(Subcommand, Debug)]
pub enum CacheOp {
    /// Empty a stage's cache on every worker of the running server, and on a fleet
    /// node ([cluster]) on every live node (AWS FlushStageCache).
    #[command(after_help = "\
Examples:
  portico cache flush --stage prod
  portico cache flush --api demo --stage prod --config /etc/portico/portico.toml
  portico cache flush --stage prod --admin http://127.0.0.1:9901

It prints {\"flushed\": N}, N the workers that emptied their share. On a fleet node it
answers once every live node emptied its cache, and adds \"nodes\": the ids of those that
did (this one included); a node that does not confirm within [cluster] flush_timeout_ms is
named in the error. The admin token is [admin] token or token_env, else the one the server
generated into the state directory.")]
    Flush {
        /// The API's name or id; may be left out when the server has one API.
        #[arg(long, value_name = "NAME")]
        api: Option<String>,
        /// The stage whose cache to empty, e.g. prod.
        #[arg(long, value_name = "NAME")]
        stage: String,
        /// The admin listener, http://HOST:PORT; default: [admin] listen of the config.
        #[arg(long, value_name = "URL")]
        admin: Option<String>,
    },
}

/// How long the admin listener may take to answer, besides a fleet's
/// flush timeout: each worker's confirmation comes at its next tick.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

pub fn run(loaded: &Loaded, op: CacheOp) -> anyhow::Result<()> {
    let CacheOp::Flush { api, stage, admin } = op;
    let addr = match admin {
        Some(url) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        None => super::admin::listener(loaded)?.to_string(),
    };
    let config = &loaded.config;
    let token = credentials::load(&config.admin, &config.state.dir)
        .map_err(|e| loaded.admin_error(e))?
        .token;
    // A fleet node may wait its flush timeout for a silent node first.
    let fleet_wait = config.cluster.as_ref().map_or(0, |c| c.flush_timeout_ms);
    let wait = ANSWER_WAIT + Duration::from_millis(fleet_wait);
    match flush_request(&addr, token.as_deref(), api.as_deref(), &stage, wait) {
        Ok(body) => Ok(out::line(body)?),
        Err(FlushError::Refused { status: 401, .. }) if token.is_none() => Err(anyhow!(
            "the admin listener at {addr} wants the admin token, and there is none yet: set \
             [admin] token or token_env, or start the server with this config once (it \
             generates one into {})",
            config.state.dir.join(credentials::FILE).display()
        )),
        Err(FlushError::Refused { status: 401, .. }) => Err(anyhow!(
            "the admin listener at {addr} refused the admin token: is the server there started \
             with this config ({})?",
            loaded.name
        )),
        Err(FlushError::Refused { body, .. }) => Err(anyhow!("{}", in_cli_terms(&body))),
        Err(e) => Err(e.into()),
    }
}

/// The admin endpoint's refusal, its query parameters named as this
/// command's flags.
fn in_cli_terms(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    message
        .replace("?api=NAME", "--api NAME")
        .replace("?stage=NAME", "--stage NAME")
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusals_name_flags() {
        assert_eq!(
            super::in_cli_terms(r#"{"message":"say which API: ?api=NAME"}"#),
            "say which API: --api NAME"
        );
    }
}
