//! The sockets one portico serves on: every address bound (or handed over
//! by the portico before it) before any worker starts, so a taken address
//! stops the start-up before anything says "listening"; then dealt out to
//! the workers, and offered to the portico after it.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use super::bind::{bind_all, bind_one};
use super::takeover::{self, Guard, Handover, Kind, Offer};
use crate::config::Config;
use crate::control::error::ServerError;

/// A worker's listeners: the plain ones and the HTTPS ones.
pub type PerWorker = (Vec<TcpListener>, Vec<TcpListener>);

pub struct Sockets {
    pub addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    /// Worker i's listeners.
    pub per_worker: Vec<PerWorker>,
    pub admin: Option<TcpListener>,
    /// Copies kept to stop accepting the moment a signal arrives, before
    /// workers see their mailbox.
    pub stoppers: Vec<TcpListener>,
    /// Copies to offer to a later `--takeover`.
    pub offered: Vec<(Kind, SocketAddr, TcpListener)>,
    /// The portico these sockets came from, told to drain once this one serves.
    pub handover: Option<Handover>,
}

impl Sockets {
    /// Binds `config`'s addresses, one data-plane socket per worker, or
    /// takes them over (`takeover`) from the portico on the same state
    /// directory.
    pub fn open(config: &Config, workers: usize, takeover: bool) -> Result<Sockets, ServerError> {
        let mut handover = match takeover {
            true => Some(takeover::request(&config.state.dir)?),
            false => None,
        };
        let backlog = config.server.backlog;
        let listen = config.server.listen.0;
        let inherit = inherited(&mut handover, Kind::Http, listen);
        let (addr, listeners) = bind_all("[server] listen", listen, workers, backlog, inherit)?;
        let (tls_addr, tls_listeners) = match config.tls.listen {
            Some(l) => {
                let inherit = inherited(&mut handover, Kind::Https, l.0);
                let (a, ls) = bind_all("[tls] listen", l.0, workers, backlog, inherit)?;
                (Some(a), ls)
            }
            None => (None, Vec::new()),
        };
        let admin = match config.admin.enabled {
            true => {
                let a = config.admin.listen.0;
                let inherit = inherited(&mut handover, Kind::Admin, a).pop();
                Some(bind_one("[admin] listen", a, inherit)?)
            }
            false => None,
        };
        let mut offered = offer_copies(Kind::Http, &listeners);
        offered.extend(offer_copies(Kind::Https, &tls_listeners));
        offered.extend(offer_copies(Kind::Admin, admin.as_slice()));
        let stoppers = listeners
            .iter()
            .chain(&tls_listeners)
            .filter_map(|l| l.try_clone().ok())
            .collect();
        Ok(Sockets {
            addr,
            tls_addr,
            per_worker: deal(workers, listeners, tls_listeners),
            admin,
            stoppers,
            offered,
            handover,
        })
    }
}

/// Worker i accepts on sockets i, i + workers, ...: there are more than
/// workers only when more were handed over, and each must be served.
fn deal(workers: usize, plain: Vec<TcpListener>, tls: Vec<TcpListener>) -> Vec<PerWorker> {
    let mut per_worker: Vec<PerWorker> = (0..workers).map(|_| Default::default()).collect();
    for (i, l) in plain.into_iter().enumerate() {
        per_worker[i % workers].0.push(l);
    }
    for (i, l) in tls.into_iter().enumerate() {
        per_worker[i % workers].1.push(l);
    }
    per_worker
}

/// The sockets a hand-over brought for `kind` on `addr` (none without one).
fn inherited(handover: &mut Option<Handover>, kind: Kind, addr: SocketAddr) -> Vec<TcpListener> {
    handover
        .as_mut()
        .map_or_else(Vec::new, |h| h.take(kind, addr))
}

/// Copies of `listeners` to offer to a later `--takeover`.
fn offer_copies(kind: Kind, listeners: &[TcpListener]) -> Vec<(Kind, SocketAddr, TcpListener)> {
    listeners
        .iter()
        .filter_map(|l| Some((kind, l.local_addr().ok()?, l.try_clone().ok()?)))
        .collect()
}

/// Once this portico serves: the one it took over from drains.
pub fn drain_previous(handover: Option<Handover>) {
    if let Some(h) = handover {
        match h.drain_old() {
            Ok(pid) => crate::log!(
                info,
                "took over from portico (pid {pid}), which drains and exits"
            ),
            Err(e) => crate::log!(warn, "{e}; serving anyway"),
        }
    }
}

/// Offers `sockets` to a later `--takeover` (`took_over`: this one took
/// over, so it replaces the offer of the one before); `handed_over` runs
/// once a new portico has taken them. `None` when this process cannot be
/// taken over, which is logged.
pub fn offer(
    config: &Config,
    sockets: Vec<(Kind, SocketAddr, TcpListener)>,
    guard: Arc<Guard>,
    took_over: bool,
    handed_over: impl FnOnce() + Send + 'static,
) -> Option<Offer> {
    match takeover::offer(&config.state.dir, sockets, guard, took_over, handed_over) {
        Ok(Some(o)) => Some(o),
        Ok(None) => {
            crate::log!(
                warn,
                "another portico runs on the state directory {}: this one cannot be taken over",
                config.state.dir.display()
            );
            None
        }
        Err(e) => {
            crate::log!(
                warn,
                "cannot offer the sockets for --takeover ({e}): this process cannot be taken over"
            );
            None
        }
    }
}
