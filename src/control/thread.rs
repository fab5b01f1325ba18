//! A background thread that runs until told to stop: the channel it
//! watches, kept with its handle, so the drain can stop each thread at its
//! moment and wait for it at another (the DNS refresh stops early, but is
//! joined only after the workers are gone).

use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

pub struct Stoppable {
    /// Dropping it ends the thread's wait.
    stop: Sender<()>,
    handle: JoinHandle<()>,
}

impl Stoppable {
    /// Starts `body` on a thread named `name`; `body` returns once its
    /// receiver disconnects.
    pub fn spawn(name: &str, body: impl FnOnce(Receiver<()>) + Send + 'static) -> Stoppable {
        let (stop, stopped) = bounded::<()>(0);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(stopped))
            .unwrap_or_else(|e| panic!("spawn {name} thread: {e}"));
        Stoppable { stop, handle }
    }

    /// A thread that spawned itself, watching `stop`'s receiver.
    pub fn from_parts(stop: Sender<()>, handle: JoinHandle<()>) -> Stoppable {
        Stoppable { stop, handle }
    }

    /// Tells the thread to stop; the handle is for waiting.
    pub fn stop(self) -> JoinHandle<()> {
        drop(self.stop);
        self.handle
    }

    pub fn stop_and_join(self) {
        let _ = self.stop().join();
    }
}
