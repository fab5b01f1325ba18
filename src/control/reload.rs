//! SIGHUP: the config file read again and published through the same
//! publisher as every other change, so a reload never forgets the stages
//! the management API deployed. A file with errors never replaces the one
//! serving.

use super::publisher::Deployed;
use crate::snapshot::system_resolve;

/// SIGHUP: re-reads the config file and publishes it; a file with errors
/// (or a change that needs a restart) is logged and the running config
/// keeps serving.
pub fn reload(deployed: &Deployed, source: Option<&std::path::Path>) {
    let Some(path) = source else {
        crate::log!(
            warn,
            "SIGHUP: running on the embedded config, nothing to reload"
        );
        return;
    };
    let file = match crate::config::load_file(path) {
        Ok((c, _)) => c,
        Err(e) => {
            crate::log!(error, "SIGHUP: config not reloaded: {e}");
            return;
        }
    };
    match deployed.reload_file(file, &mut system_resolve) {
        Ok(()) => crate::log!(info, "SIGHUP: config reloaded from {}", path.display()),
        Err(e) => crate::log!(error, "SIGHUP: config not reloaded: {e}"),
    }
}
