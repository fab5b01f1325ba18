//! Access log delivery: each worker formats lines into its own buffer per
//! destination and hands whole buffers to one writer thread through a
//! bounded queue, so a slow disk never blocks a worker. When the queue is
//! full the buffer's lines are dropped and counted, never lost silently.
//! The writer reopens its files when asked (SIGUSR1, for logrotate).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

/// A buffer is handed over once it holds this much (and on every tick).
const HAND_OVER_AT: usize = 64 * 1024;

/// Buffers the writer may have queued: at most this many × 64 KiB.
pub const QUEUE: usize = 256;

/// Where a stage's access log goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    pub fn parse(s: &str) -> Destination {
        match s {
            "stdout" | "-" => Destination::Stdout,
            path => Destination::File(PathBuf::from(path)),
        }
    }
}

/// Whole lines for one destination.
pub struct Batch {
    pub dest: Destination,
    pub data: Vec<u8>,
}

/// One worker's buffers, one per destination of its snapshot.
pub struct Buffers {
    dests: Vec<Destination>,
    bufs: Vec<(Vec<u8>, u64)>,
    /// `None` once closed: the writer ends when every worker has closed.
    queue: Option<Sender<Batch>>,
    pub lines: u64,
    pub dropped: u64,
}

impl Buffers {
    pub fn new(destinations: &[Destination], queue: Sender<Batch>) -> Buffers {
        Buffers {
            dests: destinations.to_vec(),
            bufs: destinations.iter().map(|_| (Vec::new(), 0)).collect(),
            queue: Some(queue),
            lines: 0,
            dropped: 0,
        }
    }

    /// Appends one line through `write`, handing the buffer over when full.
    pub fn line(&mut self, dest: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let Some((buf, n)) = self.bufs.get_mut(dest) else {
            return;
        };
        write(buf);
        *n += 1;
        if buf.len() >= HAND_OVER_AT {
            self.hand_over(dest);
        }
    }

    /// Hands every non-empty buffer to the writer (the worker's tick).
    pub fn flush(&mut self) {
        for dest in 0..self.bufs.len() {
            if self.bufs[dest].1 > 0 {
                self.hand_over(dest);
            }
        }
    }

    /// A new snapshot numbers its destinations anew: what is buffered goes
    /// out under the old numbering first.
    pub fn retarget(&mut self, destinations: &[Destination]) {
        if self.dests == destinations {
            return;
        }
        self.flush();
        self.dests = destinations.to_vec();
        self.bufs = destinations.iter().map(|_| (Vec::new(), 0)).collect();
    }

    /// Hands over what is left and lets the writer go (the worker's end).
    pub fn close(&mut self) {
        self.flush();
        self.queue = None;
    }

    fn hand_over(&mut self, dest: usize) {
        let (buf, n) = &mut self.bufs[dest];
        let lines = std::mem::take(n);
        let Some(queue) = &self.queue else {
            self.dropped += lines;
            buf.clear();
            return;
        };
        let data = std::mem::replace(buf, Vec::with_capacity(HAND_OVER_AT + 1024));
        let dest = self.dests[dest].clone();
        match queue.try_send(Batch { dest, data }) {
            Ok(()) => self.lines += lines,
            Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => {
                self.dropped += lines;
                // Keep the allocation for the next lines.
                *buf = b.data;
                buf.clear();
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("access log `{path}`: {source}")]
pub struct OpenError {
    pub path: String,
    pub source: io::Error,
}

enum Sink {
    Stdout,
    File(PathBuf, File),
}

/// Created owner-only: access logs name callers and what they called (an
/// existing file keeps its mode, so one made for a log shipper stays readable).
fn open(path: &PathBuf) -> Result<File, OpenError> {
    crate::control::state::private::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| OpenError {
            path: path.display().to_string(),
            source,
        })
}

/// Opens the destinations known at start now, so a bad path fails the
/// start; ones a later snapshot adds are opened on their first lines. Then
/// writes batches until every worker's sender is gone.
pub fn spawn(
    destinations: &[Destination],
    batches: Receiver<Batch>,
    reopen: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, OpenError> {
    let mut sinks = HashMap::new();
    for d in destinations {
        sinks.insert(d.clone(), sink(d)?);
    }
    Ok(std::thread::Builder::new()
        .name("portico-access-log".into())
        .spawn(move || write_batches(sinks, batches, reopen))
        .expect("spawn access log thread"))
}

fn sink(d: &Destination) -> Result<Sink, OpenError> {
    Ok(match d {
        Destination::Stdout => Sink::Stdout,
        Destination::File(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = crate::control::state::private::create_dir(dir);
            }
            Sink::File(p.clone(), open(p)?)
        }
    })
}

fn write_batches(
    mut sinks: HashMap<Destination, Sink>,
    batches: Receiver<Batch>,
    reopen: Arc<AtomicBool>,
) {
    let mut failures = 0u32;
    let mut complain = |e: &dyn std::fmt::Display| {
        failures += 1;
        if failures <= 10 {
            crate::log!(error, "access log: {e}");
        }
    };
    loop {
        let batch = batches.recv_timeout(Duration::from_millis(100));
        // Checked before writing, so a batch sent after the signal lands in the new file.
        if reopen.swap(false, Ordering::Relaxed) {
            for s in sinks.values_mut() {
                if let Sink::File(path, file) = s {
                    match open(path) {
                        Ok(f) => *file = f,
                        Err(e) => complain(&e),
                    }
                }
            }
        }
        let batch = match batch {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if !sinks.contains_key(&batch.dest) {
            match sink(&batch.dest) {
                Ok(s) => {
                    sinks.insert(batch.dest.clone(), s);
                }
                Err(e) => {
                    complain(&e);
                    continue;
                }
            }
        }
        let res = match sinks.get_mut(&batch.dest) {
            Some(Sink::Stdout) => io::stdout().lock().write_all(&batch.data),
            Some(Sink::File(_, f)) => f.write_all(&batch.data),
            None => Ok(()),
        };
        if let Err(e) = res {
            complain(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    #[test]
    fn a_full_queue_drops_and_counts_whole_buffers() {
        let (tx, rx) = bounded(1);
        let mut b = Buffers::new(&[Destination::Stdout], tx);
        b.line(0, |o| o.extend_from_slice(b"a\n"));
        b.line(0, |o| o.extend_from_slice(b"b\n"));
        b.flush();
        b.line(0, |o| o.extend_from_slice(b"c\n"));
        b.flush();
        assert_eq!(
            (b.lines, b.dropped),
            (2, 1),
            "the second buffer found the queue full"
        );
        assert_eq!(rx.recv().unwrap().data, b"a\nb\n");
        b.line(0, |o| o.extend_from_slice(b"d\n"));
        b.flush();
        assert_eq!(
            rx.recv().unwrap().data,
            b"d\n",
            "the dropped line is gone, not resent"
        );
    }

    #[test]
    fn writes_and_reopens_after_rotation() {
        let dir = std::env::temp_dir().join(format!("portico-al-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let (tx, rx) = bounded(4);
        let reopen = Arc::new(AtomicBool::new(false));
        let t = spawn(&[Destination::File(path.clone())], rx, reopen.clone()).unwrap();
        tx.send(Batch {
            dest: Destination::File(path.clone()),
            data: b"one\n".to_vec(),
        })
        .unwrap();
        // Rotation: once the line is written, move the file away, then ask for a reopen.
        let rotated = dir.join("a.log.1");
        while std::fs::read(&path).unwrap() != b"one\n" {
            std::thread::yield_now();
        }
        std::fs::rename(&path, &rotated).unwrap();
        reopen.store(true, Ordering::Relaxed);
        tx.send(Batch {
            dest: Destination::File(path.clone()),
            data: b"two\n".to_vec(),
        })
        .unwrap();
        drop(tx);
        t.join().unwrap();
        assert_eq!(std::fs::read_to_string(&rotated).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
