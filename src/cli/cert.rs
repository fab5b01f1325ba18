//! `portico cert`: certificates for the HTTPS listener.

use std::path::PathBuf;

use clap::Subcommand;

use super::out;

#[derive(Subcommand, Debug)]
pub enum CertOp {
    /// Write a self-signed certificate and key (PEM) for local use: DIR/HOST.crt, DIR/HOST.key.
    #[command(after_help = "\
Examples:
  portico cert self-signed --host localhost --out certs
  portico cert self-signed --host api.example.test --host '*.example.test' --out /etc/portico

Then name them in the config:
  [tls]
  listen = \"127.0.0.1:8443\"
  [[tls.certificates]]
  cert = \"certs/localhost.crt\"
  key = \"certs/localhost.key\"")]
    SelfSigned {
        /// A name it is for (repeat for more; `*.example.com` for a wildcard).
        #[arg(long = "host", required = true, value_name = "NAME")]
        hosts: Vec<String>,
        /// The directory to write them to.
        #[arg(long, default_value = ".", value_name = "DIR")]
        out: PathBuf,
    },
}

pub fn run(op: CertOp) -> anyhow::Result<()> {
    match op {
        CertOp::SelfSigned { hosts, out: dir } => {
            let (cert, key) =
                portico::tls::self_signed::write(&hosts, &dir).map_err(anyhow::Error::msg)?;
            out::line(cert.display())?;
            out::line(key.display())?;
            Ok(())
        }
    }
}
