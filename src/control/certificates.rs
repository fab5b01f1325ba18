//! The TLS certificates' two background threads: one obtains and renews
//! the `acme = true` certificates, the other notices certificate files
//! replaced on disk. Both publish through the publisher, which hands the
//! workers the new snapshot; neither touches a worker.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{select, Receiver};

use super::publisher::Deployed;
use super::thread::Stoppable;
use crate::config::{CertificateConfig, Config};
use crate::snapshot::system_resolve;

/// The certificate watcher, when there is an HTTPS listener.
pub fn watch(config: &Config, deployed: &Arc<Deployed>) -> Option<Stoppable> {
    let deployed = deployed.clone();
    config.tls.listen.is_some().then(|| {
        Stoppable::spawn("portico-certs", move |stop| {
            watch_certificates(deployed, stop)
        })
    })
}

/// The ACME thread, when there is an HTTPS listener: besides the config
/// file's `acme = true` certificates, a domain name made through the
/// management API without a certificate may want one at any time.
pub fn acme(config: &Config, deployed: &Arc<Deployed>) -> Option<Stoppable> {
    let deployed = deployed.clone();
    config.tls.listen.is_some().then(|| {
        let (wake, woken) = crossbeam_channel::bounded(1);
        deployed.attach_acme(wake);
        Stoppable::spawn("portico-acme", move |stop| run_acme(deployed, stop, woken))
    })
}

/// Obtains and renews the ACME certificates: each when it is missing or
/// due, retrying failures after 1 minute, doubling up to 6 hours; woken
/// when a snapshot wants one the last did not.
fn run_acme(deployed: Arc<Deployed>, stop: Receiver<()>, woken: Receiver<()>) {
    use crate::tls::acme::{due, issue, Due};
    let mut backoff = Duration::from_secs(60);
    loop {
        let config = deployed.file_config();
        let now = chrono::Utc::now().timestamp();
        let mut wait = Duration::from_secs(3600);
        let wanted: Vec<CertificateConfig> = config
            .tls
            .certificates
            .iter()
            .map(|c| c.get_ref())
            .filter(|c| c.acme)
            .cloned()
            .chain(deployed.acme_wanted())
            .collect();
        for c in &wanted {
            let (cert_file, _) = c.files(&config.state.dir);
            match due(&cert_file, config.acme.renew_before_days, now) {
                Due::In(secs) => wait = wait.min(Duration::from_secs(secs)),
                Due::Now => match issue(&config, c, &|ch| deployed.publish_challenges(ch)) {
                    Ok(()) => {
                        crate::log!(info, "ACME: certificate for {:?} obtained", c.hosts);
                        backoff = Duration::from_secs(60);
                        if let Err(e) = deployed.reload_certificates(&mut system_resolve) {
                            crate::log!(error, "ACME: the new certificate did not load: {e}");
                        }
                    }
                    Err(e) => {
                        crate::log!(warn, "ACME: certificate for {:?} not obtained ({e}); next try in {backoff:?}", c.hosts);
                        wait = wait.min(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(6 * 3600));
                    }
                },
            }
        }
        select! {
            recv(stop) -> _ => return,
            recv(woken) -> _ => {}
            default(wait) => {}
        }
    }
}

/// How often the certificate files are looked at.
const CERT_WATCH: Duration = Duration::from_secs(1);

/// Publishes the certificates again when their files change (renewed by
/// certbot, an ACME client or by hand); SIGHUP does the same at once.
fn watch_certificates(deployed: Arc<Deployed>, stop: Receiver<()>) {
    let stamp = |files: &[std::path::PathBuf]| -> Vec<Option<(std::time::SystemTime, u64)>> {
        files
            .iter()
            .map(|f| {
                let m = std::fs::metadata(f).ok()?;
                Some((m.modified().ok()?, m.len()))
            })
            .collect()
    };
    let mut files = deployed.certificate_files();
    let mut seen = stamp(&files);
    loop {
        select! {
            recv(stop) -> _ => return,
            default(CERT_WATCH) => {}
        }
        let now_files = deployed.certificate_files();
        let now = stamp(&now_files);
        if now_files != files {
            // The config named other files (SIGHUP): it loaded them itself.
            (files, seen) = (now_files, now);
            continue;
        }
        if now == seen {
            continue;
        }
        seen = now;
        match deployed.reload_certificates(&mut system_resolve) {
            Ok(()) => crate::log!(info, "certificate files changed: reloaded"),
            Err(e) => crate::log!(error, "certificate files changed but not reloaded: {e}"),
        }
    }
}
