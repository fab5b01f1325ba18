//! Which I/O driver a worker runs on, and the size of its io_uring ring.
//!
//! Without CAP_IPC_LOCK the kernel charges an io_uring ring's memory to the
//! user's locked-memory budget (`RLIMIT_MEMLOCK`, `ulimit -l`), which every
//! process of that user shares: 8 MiB is a common default, 64 KiB an old
//! one. A ring that does not fit fails with ENOMEM. Rather than refuse to
//! start (one failed worker used to stop the whole server), a worker takes
//! the largest ring that fits, and under `driver = "auto"` falls back to
//! epoll when none does; the log says which and how to raise the limit.

use std::future::Future;
use std::io;
use std::sync::OnceLock;

use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

use crate::config::Driver;

/// An io_uring ring's size in entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ring {
    /// Submission queue: how many operations one loop turn can queue
    /// before monoio submits them early.
    pub sq: u32,
    /// Completion queue: every waiting connection has an operation in
    /// flight (a read, or a poll while quiet), so thousands can complete
    /// between two reaps; past the queue's size the kernel keeps them on an
    /// overflow list until a later enter (nothing is lost). At 15,000
    /// connections a request a second, 8,192 overflowed up to 37,000 times
    /// in 30 s and 65,536 never, and the p99 did not change: not worth
    /// 1 MiB of locked memory per worker.
    pub cq: u32,
}

/// Tried in order. The first takes about 400 KiB of locked memory (64-byte
/// submission entries, 16-byte completions), so twenty workers fit in the
/// common 8 MiB; the last, about 28 KiB, fits in the old 64 KiB default.
pub const RINGS: [Ring; 3] = [
    Ring { sq: 4096, cq: 8192 },
    Ring { sq: 1024, cq: 4096 },
    Ring { sq: 256, cq: 512 },
];

/// How to raise the limit, for the log and the error.
const MEMLOCK_HINT: &str = "the io_uring ring does not fit the locked-memory limit \
    (RLIMIT_MEMLOCK, shared by all processes of this user); raise it (`ulimit -l`, \
    systemd's LimitMEMLOCK=) or give portico CAP_IPC_LOCK";

/// The driver a worker ended up on: what `serve` reports at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Running {
    IoUring,
    Epoll,
}

/// Builds the worker's runtime and runs `fut` on it to the end.
pub fn block_on<F: Future<Output = ()>>(
    id: usize,
    driver: Driver,
    fut: impl FnOnce(Running) -> F,
) -> io::Result<()> {
    let uring = match driver {
        Driver::Epoll => false,
        Driver::IoUring => true,
        // monoio's check: the env switch MONOIO_FORCE_LEGACY_DRIVER, then a
        // ring that supports every operation monoio uses.
        Driver::Auto => {
            let usable = monoio::utils::detect_uring();
            if !usable && memlock_refuses_any_ring() {
                crate::log!(warn, worker = id, "running on epoll: {MEMLOCK_HINT}");
            }
            usable
        }
    };
    if uring {
        let mut refused = None;
        for (i, ring) in RINGS.into_iter().enumerate() {
            let built = RuntimeBuilder::<IoUringDriver>::new()
                .uring_builder(setup(ring))
                .with_entries(ring.sq)
                .enable_timer()
                .build();
            match built {
                Ok(mut rt) => {
                    if i > 0 {
                        let first = RINGS[0];
                        crate::log!(
                            warn,
                            worker = id,
                            "io_uring ring of {}/{} entries (submission/completion), \
                             not {}/{}: {MEMLOCK_HINT}",
                            ring.sq,
                            ring.cq,
                            first.sq,
                            first.cq
                        );
                    }
                    rt.block_on(fut(Running::IoUring));
                    return Ok(());
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => refused = Some(e),
                Err(e) if driver == Driver::IoUring => return Err(e),
                Err(e) => {
                    crate::log!(warn, worker = id, "running on epoll: io_uring: {e}");
                    break;
                }
            }
        }
        if let Some(e) = refused {
            if driver == Driver::IoUring {
                return Err(io::Error::new(e.kind(), format!("{e}: {MEMLOCK_HINT}")));
            }
            crate::log!(warn, worker = id, "running on epoll: {MEMLOCK_HINT}");
        }
    }
    RuntimeBuilder::<LegacyDriver>::new()
        .with_entries(RINGS[0].sq)
        .enable_timer()
        .build()?
        .block_on(fut(Running::Epoll));
    Ok(())
}

/// Whether even the smallest ring is refused for want of locked memory (as
/// opposed to io_uring being switched off or unsupported), so the log can
/// say how to get it back.
fn memlock_refuses_any_ring() -> bool {
    let forced = std::env::var("MONOIO_FORCE_LEGACY_DRIVER")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    !forced
        && io_uring::IoUring::<io_uring::squeue::Entry>::new(2)
            .err()
            .is_some_and(|e| e.raw_os_error() == Some(libc::ENOMEM))
}

/// Ring set-up: cooperative task running (completions are run when the
/// worker next enters the kernel instead of interrupting it) and a single
/// issuer (only this thread submits, so the kernel skips its locking),
/// where the kernel has them (Linux 6.0), and the ring's completion queue.
fn setup(ring: Ring) -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    if tuning_supported() {
        b.setup_coop_taskrun().setup_single_issuer();
    }
    b.setup_cqsize(ring.cq);
    b
}

/// Asked once, with a ring of two entries (a page or two of locked memory).
fn tuning_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        io_uring::IoUring::<io_uring::squeue::Entry>::builder()
            .setup_coop_taskrun()
            .setup_single_issuer()
            .build(2)
            .is_ok()
    })
}
