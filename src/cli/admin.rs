//! `portico admin`: what a client of the admin listener needs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::bail;
use clap::Subcommand;
use portico::control::admin::credentials;
use portico::integration::lambda::AwsSettings;
use serde_json::json;

use super::config::Loaded;
use super::out::{self, shell_word};

#[derive(Subcommand, Debug)]
pub enum AdminOp {
    /// Print the management API's credentials as shell `export` lines for the AWS CLI, boto3 and curl.
    #[command(
        long_about = "Print the management API's credentials as shell `export` lines: \
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (portico's region), \
AWS_ENDPOINT_URL_API_GATEWAY (the admin listener, which the AWS CLI v2 and boto3 send \
`aws apigateway` calls to) and PORTICO_ADMIN_TOKEN (the Bearer token). What [admin] \
configures (token, token_env, access_key_id, secret_access_key, secret_access_key_env) is \
printed as configured; the rest is generated once into the state directory \
(admin-credentials.toml, mode 0600) by the server's first start, or by this command if it \
comes first.",
        after_help = "\
Examples:
  eval \"$(portico admin credentials)\"
  aws apigateway get-rest-apis
  portico admin credentials --json --config /etc/portico/portico.toml"
    )]
    Credentials {
        /// Print one JSON object (accessKeyId, secretAccessKey, region, endpointUrl, token) instead.
        #[arg(long)]
        json: bool,
    },
}

/// Where a client on this machine reaches a listener bound to `addr`
/// (an unspecified address is reached on loopback).
pub fn local(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The admin listener this config runs, for a local client.
pub fn listener(loaded: &Loaded) -> anyhow::Result<SocketAddr> {
    if !loaded.config.admin.enabled {
        bail!(
            "the admin listener is off in {} ([admin] enabled = false)",
            loaded.name
        );
    }
    Ok(local(loaded.config.admin.listen.0))
}

pub fn run(loaded: &Loaded, op: AdminOp) -> anyhow::Result<()> {
    let AdminOp::Credentials { json } = op;
    let endpoint = format!("http://{}", listener(loaded)?);
    let config = &loaded.config;
    let c = credentials::load_or_generate(&config.admin, &config.state.dir)
        .map_err(|e| loaded.admin_error(e))?
        .credentials;
    let region = AwsSettings::from_config(&config.aws).region;
    if json {
        return Ok(out::line(json!({
            "accessKeyId": c.access_key_id,
            "secretAccessKey": c.secret_access_key,
            "region": region,
            "endpointUrl": endpoint,
            "token": c.token,
        }))?);
    }
    out::line(format!(
        "# portico's management API at {endpoint}: eval \"$(portico admin credentials{})\"",
        loaded.config_arg()
    ))?;
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", &c.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", &c.secret_access_key),
        ("AWS_DEFAULT_REGION", &region),
        ("AWS_ENDPOINT_URL_API_GATEWAY", &endpoint),
        ("PORTICO_ADMIN_TOKEN", &c.token),
    ] {
        out::line(format!("export {name}={}", shell_word(value)))?;
    }
    Ok(())
}
