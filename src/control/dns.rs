//! The DNS refresh thread: upstream names resolved again off the workers
//! (resolution blocks, and a worker must not), published when an address
//! changed. Always started: a management change may bring names later.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{select, Receiver};

use super::publisher::Deployed;
use super::thread::Stoppable;
use crate::snapshot::system_resolve;

pub fn start(deployed: &Arc<Deployed>) -> Stoppable {
    let deployed = deployed.clone();
    Stoppable::spawn("portico-dns", move |stop| refresh_dns(deployed, stop))
}

/// Re-resolves upstream names off the workers (resolution blocks) and
/// publishes a new snapshot when an address changed or a name that did not
/// resolve does now.
fn refresh_dns(deployed: Arc<Deployed>, stop: Receiver<()>) {
    let every = Duration::from_millis(deployed.dns_refresh_ms().max(100));
    loop {
        select! {
            recv(stop) -> _ => return,
            default(every) => {}
        }
        match deployed.refresh_dns(&mut system_resolve) {
            Ok(true) => crate::log!(info, "upstream addresses changed; published a new snapshot"),
            Ok(false) => {}
            Err(e) => crate::log!(warn, "DNS refresh failed, keeping the last addresses: {e}"),
        }
    }
}
