//! The supervisor's event loop: what it waits for once everything runs.
//! Signals arrive on a thread of their own, a hand-over from the takeover
//! socket's thread, the end of the drain from the thread that joins the
//! workers; all three post to one channel, so the supervisor waits on one
//! thing and handles each in order.

use std::path::Path;
use std::thread::JoinHandle;

use crossbeam_channel::{unbounded, Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::error::ServerError;
use super::listen::takeover::Guard;
use super::publisher::Deployed;
use super::reload::reload;
use crate::dataplane::Msg;

/// What the control plane waits for.
pub enum Event {
    Signal(i32),
    /// A new portico serves on this one's sockets and asked it to drain.
    HandedOver,
    /// Every worker has ended.
    Drained,
}

pub struct Events {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    signals: Handle,
}

/// Why serving ended.
pub struct Stop {
    /// A new portico took over: its sockets and admin answers are its own.
    pub handed_over: bool,
    /// The stopping signal.
    pub signal: Option<i32>,
    /// Whether to shut the sockets down (not when another process holds them).
    pub shut_sockets: bool,
}

impl Events {
    /// Installed before any worker accepts, so a signal is never missed.
    pub fn install() -> Result<Events, ServerError> {
        let signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(ServerError::Signals)?;
        let (tx, rx) = unbounded::<Event>();
        let handle = signals.handle();
        let events_tx = tx.clone();
        let mut signals = signals;
        std::thread::Builder::new()
            .name("portico-signals".into())
            .spawn(move || {
                for s in signals.forever() {
                    if events_tx.send(Event::Signal(s)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn signal thread");
        Ok(Events {
            tx,
            rx,
            signals: handle,
        })
    }

    /// Tells the loop that a new portico took over.
    pub fn on_handed_over(&self) -> impl Fn() + Send + 'static {
        let tx = self.tx.clone();
        move || {
            let _ = tx.send(Event::HandedOver);
        }
    }

    /// Serves SIGHUPs (reloading `source`) until something stops the
    /// server.
    pub fn wait_for_stop(&self, deployed: &Deployed, source: Option<&Path>, guard: &Guard) -> Stop {
        let stop = |handed_over, signal, shut_sockets| Stop {
            handed_over,
            signal,
            shut_sockets,
        };
        loop {
            match self.rx.recv() {
                Ok(Event::Signal(SIGHUP)) => reload(deployed, source),
                // Sockets another process also holds must not be shut down:
                // they would stop accepting there too.
                Ok(Event::Signal(s)) => return stop(false, Some(s), guard.stop()),
                Ok(Event::HandedOver) => return stop(true, None, false),
                Ok(Event::Drained) | Err(_) => return stop(false, None, false),
            }
        }
    }

    /// Waits for the workers to drain; a second SIGTERM or SIGINT
    /// (`signalled`: the drain began with the first) tells them to stop now
    /// (each logs what it cut). Then no signal is listened to any more.
    pub fn drain_workers(
        self,
        handles: Vec<JoinHandle<()>>,
        mailboxes: &[Sender<Msg>],
        mut signalled: bool,
    ) {
        let events_tx = self.tx;
        std::thread::Builder::new()
            .name("portico-drain".into())
            .spawn(move || {
                for h in handles {
                    if h.join().is_err() {
                        crate::log!(error, "a worker panicked during shutdown");
                    }
                }
                let _ = events_tx.send(Event::Drained);
            })
            .expect("spawn drain thread");
        let mut stopping_now = false;
        loop {
            match self.rx.recv() {
                Ok(Event::Drained) | Err(_) => break,
                Ok(Event::Signal(s)) if s != SIGHUP && !signalled => {
                    signalled = true;
                    crate::log!(info, "signal {s}: already draining");
                }
                Ok(Event::Signal(s)) if s != SIGHUP && !stopping_now => {
                    stopping_now = true;
                    crate::log!(
                        warn,
                        "signal {s} again: stopping now, cutting the requests still in flight"
                    );
                    for m in mailboxes {
                        let _ = m.send(Msg::StopNow);
                    }
                }
                Ok(_) => {}
            }
        }
        self.signals.close();
    }
}
