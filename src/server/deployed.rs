//! The configuration the data plane serves: the file's APIs plus the
//! stages deployed through the management API. The admin thread changes
//! the second part; it and the DNS refresh both compile from here, so
//! neither publishes a snapshot that forgets the other's part.

use std::sync::{Arc, Mutex};

use crate::config::{ApiConfig, Config};
use crate::control::ControlPlane;
use crate::model::{CompileError, Resolver, Snapshot};

pub struct Deployed {
    file: Config,
    control: Mutex<Vec<ApiConfig>>,
}

impl Deployed {
    pub fn new(file: Config) -> Arc<Deployed> {
        Arc::new(Deployed {
            file,
            control: Mutex::new(Vec::new()),
        })
    }

    pub fn file(&self) -> &Config {
        &self.file
    }

    /// The file's config with the deployed stages after its own APIs (so
    /// the file's limits, caches and metrics keep their numbering).
    pub fn config(&self) -> Config {
        let mut c = self.file.clone();
        let control = self.control.lock().unwrap_or_else(|e| e.into_inner());
        c.api.extend(control.iter().cloned());
        c
    }

    pub fn compile(&self, resolve: Resolver<'_>) -> Result<Snapshot, CompileError> {
        Snapshot::compile(&self.config(), resolve)
    }

    /// Reads the management API's deployed stages and compiles them in; the
    /// new snapshot if it compiles and leaves the throttle catalog as it
    /// was (workers' balances are numbered by it), else the reason.
    pub fn reload_control(
        &self,
        control: &ControlPlane,
        current: &Snapshot,
        resolve: Resolver<'_>,
    ) -> Result<Snapshot, String> {
        let (apis, skipped) = control.deployed().map_err(|e| e.to_string())?;
        for s in skipped {
            crate::log!(warn, "management API route not served: {s}");
        }
        let before = std::mem::replace(
            &mut *self.control.lock().unwrap_or_else(|e| e.into_inner()),
            apis,
        );
        let next = match self.compile(resolve) {
            Ok(n) if n.catalog == current.catalog => Ok(n),
            Ok(_) => Err("the deployed stages would change the throttle catalog".to_string()),
            Err(e) => Err(e.to_string()),
        };
        if next.is_err() {
            *self.control.lock().unwrap_or_else(|e| e.into_inner()) = before;
        }
        next
    }
}
