//! Which I/O driver the workers really run on. `driver = "auto"` falls back
//! to epoll without failing, so without this test a machine (or CI) where
//! io_uring silently stopped working would pass every other test on epoll
//! and never exercise io_uring at all. The expectation comes from the
//! kernel's switch and the environment, never from portico's own choice.
mod common;

use common::*;
use std::process::Command;

/// What the kernel allows: `/proc/sys/kernel/io_uring_disabled` is 0 (or
/// absent, on kernels before 6.6 that have no switch); 1 allows only
/// CAP_SYS_ADMIN and members of `io_uring_group`; 2 nobody.
fn kernel_allows_io_uring() -> (bool, String) {
    let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") else {
        return (true, "no /proc/sys/kernel/io_uring_disabled".into());
    };
    let value = text.trim().to_string();
    let allowed = match value.as_str() {
        "0" => true,
        "1" => has_cap_sys_admin() || in_io_uring_group(),
        _ => false,
    };
    (allowed, format!("io_uring_disabled = {value}"))
}

/// A line of /proc/self/status.
fn status_field(name: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn has_cap_sys_admin() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    u64::from_str_radix(&status_field("CapEff:"), 16).is_ok_and(|c| c >> CAP_SYS_ADMIN & 1 == 1)
}

fn in_io_uring_group() -> bool {
    let Ok(group) = std::fs::read_to_string("/proc/sys/kernel/io_uring_group") else {
        return false;
    };
    let group = group.trim();
    status_field("Groups:")
        .split_whitespace()
        .chain(status_field("Gid:").split_whitespace().take(2))
        .any(|g| g == group)
}

/// `MONOIO_FORCE_LEGACY_DRIVER` as the runtime reads it (.ci/run's second
/// pass sets it to 1 to test the epoll path).
fn epoll_forced() -> bool {
    std::env::var("MONOIO_FORCE_LEGACY_DRIVER")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The driver the start-up line names (`driver io_uring`, `driver epoll (…)`).
fn started_driver(srv: &Server) -> String {
    srv.startup
        .iter()
        .find_map(|l| l.split("msg=\"driver ").nth(1))
        .map(|d| d.split([' ', '"']).next().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no driver line at start: {:#?}", srv.startup))
}

#[test]
fn auto_runs_on_io_uring_where_the_kernel_allows_it() {
    let (allowed, why) = kernel_allows_io_uring();
    let expected = if epoll_forced() {
        "epoll"
    } else if allowed {
        "io_uring"
    } else {
        "epoll"
    };
    let mut srv = Server::start(&Config::demo(NO_BACKEND).server("workers", "2"));
    let started = started_driver(&srv);
    let m = scrape(&mut srv);
    let exposed: Vec<_> = m
        .matching("portico_io_driver", &[])
        .into_iter()
        .map(|s| s.labels["driver"].clone())
        .collect();
    let ring_here = io_uring::IoUring::new(2).is_ok();
    let context = format!(
        "{why}; MONOIO_FORCE_LEGACY_DRIVER={:?}; this test process {} create an io_uring \
         (if it cannot, something outside the kernel switch blocks io_uring here, e.g. a \
         container's seccomp profile)",
        std::env::var("MONOIO_FORCE_LEGACY_DRIVER").ok(),
        if ring_here { "can" } else { "cannot" },
    );
    assert_eq!(started, expected, "start-up line; {context}");
    assert!(
        exposed.len() == 1 && exposed[0].starts_with(expected),
        "portico_io_driver {exposed:?}, expected {expected}; {context}"
    );
    // And it serves on that driver, on both workers' listener.
    for _ in 0..4 {
        assert_serving(srv.port);
    }
}

// ---- Locked memory ------------------------------------------------------
//
// Without CAP_IPC_LOCK the kernel may charge an io_uring ring to the user's
// RLIMIT_MEMLOCK, shared by all of that user's processes (CI runs as root
// without the capability, 8 MiB among every portico of the suite). A
// worker whose ring did not fit used to stop the whole server.

/// `prlimit` to `bytes` of locked memory, then `setpriv` dropping
/// CAP_IPC_LOCK (still root: a limit of 0 refuses any charge whatever
/// root's other processes hold).
fn without_ipc_lock(memlock: &str) -> Vec<String> {
    [
        "prlimit",
        &format!("--memlock={memlock}:{memlock}"),
        "setpriv",
        "--inh-caps=-ipc_lock",
        "--bounding-set=-ipc_lock",
        "--",
    ]
    .map(String::from)
    .to_vec()
}

/// Whether this kernel charges an io_uring ring to RLIMIT_MEMLOCK (Linux
/// before 5.12, and again since rings became memory regions): a ring of two
/// entries, asked for by python (ctypes' `syscall`, io_uring_setup is 425)
/// with the limit at 0 and without CAP_IPC_LOCK. Asked of the kernel, not
/// of portico.
fn kernel_charges_rings() -> bool {
    const ASK: &str = "import ctypes\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        fd = libc.syscall(425, 2, ctypes.create_string_buffer(120))\n\
        print(0 if fd >= 0 else ctypes.get_errno())";
    let wrapper = without_ipc_lock("0");
    let out = Command::new(&wrapper[0])
        .args(&wrapper[1..])
        .args(["python3", "-c", ASK])
        .output()
        .expect("run prlimit/setpriv/python3 (util-linux, python3)");
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim() {
        "0" => false,
        "12" => true,
        other => panic!(
            "io_uring_setup without locked memory: errno {other:?}; stderr {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// io_uring is usable here at all (the kernel switch, the env switch).
fn io_uring_expected() -> bool {
    kernel_allows_io_uring().0 && !epoll_forced()
}

#[test]
fn auto_falls_back_to_epoll_and_says_why_when_no_ring_fits_locked_memory() {
    let charged = kernel_charges_rings();
    let wrapper = without_ipc_lock("0");
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let cfg = Config::demo(NO_BACKEND).server("workers", "2");
    let srv = Server::start_wrapped(&wrapper, BIN, &cfg);
    let expected = if io_uring_expected() && !charged {
        "io_uring"
    } else {
        "epoll"
    };
    assert_eq!(
        started_driver(&srv),
        expected,
        "charged: {charged}; {:#?}",
        srv.startup
    );
    let hints = srv
        .startup
        .iter()
        .filter(|l| l.contains("running on epoll") && l.contains("RLIMIT_MEMLOCK"))
        .count();
    let wanted = if io_uring_expected() && charged { 2 } else { 0 };
    assert_eq!(
        hints, wanted,
        "each worker says why it is on epoll: {:#?}",
        srv.startup
    );
    for _ in 0..4 {
        assert_serving(srv.port);
    }
}

#[test]
fn io_uring_that_fits_no_locked_memory_refuses_to_start_and_says_why() {
    if !kernel_allows_io_uring().0 || !kernel_charges_rings() {
        let cfg = Config::demo(NO_BACKEND).server("driver", "\"io_uring\"");
        let wrapper = without_ipc_lock("0");
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        if kernel_allows_io_uring().0 {
            // Rings are not charged here: it starts on io_uring.
            let srv = Server::start_wrapped(&wrapper, BIN, &cfg);
            assert_eq!(started_driver(&srv), "io_uring");
            assert_serving(srv.port);
        }
        return;
    }
    let path = write_config(
        &Config::demo(NO_BACKEND)
            .server("driver", "\"io_uring\"")
            .render(),
    );
    let wrapper = without_ipc_lock("0");
    let mut cmd = Command::new(&wrapper[0]);
    cmd.args(&wrapper[1..]).arg(BIN).arg("--config").arg(&path);
    let out = run_command(cmd, std::time::Duration::from_secs(10));
    assert!(!out.status.success(), "started: {}", out.stderr);
    assert!(
        out.stderr.contains("failed to start") && out.stderr.contains("RLIMIT_MEMLOCK"),
        "the error says why: {}",
        out.stderr
    );
}

/// A user of its own (so that no other process's rings count against the
/// limit), 256 KiB of locked memory, one worker: the first ring (about 400
/// KiB) does not fit, the second (about 136 KiB) does.
#[test]
fn a_worker_takes_a_smaller_ring_when_the_first_does_not_fit() {
    const UID: &str = "47919";
    if !matches!(
        std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .as_deref()
            .map(str::trim),
        Ok("0") | Err(_)
    ) {
        return; // io_uring is not open to an unprivileged user here.
    }
    let charged = kernel_charges_rings();
    // The new user must reach the binary: a link (or copy) in a directory
    // of its own, in case the checkout's is closed to others.
    let dir = TempDir::new("bin");
    std::fs::create_dir(&dir.path).expect("make the binary's directory");
    let bin = dir.path.join("portico");
    if std::fs::hard_link(BIN, &bin).is_err() {
        std::fs::copy(BIN, &bin).expect("copy portico");
    }
    let bin = bin.to_string_lossy().to_string();
    let (uid, gid) = (format!("--reuid={UID}"), format!("--regid={UID}"));
    let wrapper = [
        "prlimit",
        "--memlock=262144:262144",
        "setpriv",
        &uid,
        &gid,
        "--clear-groups",
        "--",
    ];
    let cfg = Config::demo(NO_BACKEND)
        .server("workers", "1")
        .server("driver", "\"io_uring\"");
    let srv = Server::start_wrapped(&wrapper, &bin, &cfg);
    assert_eq!(started_driver(&srv), "io_uring", "{:#?}", srv.startup);
    let smaller = srv
        .startup
        .iter()
        .any(|l| l.contains("io_uring ring of 1024/4096 entries") && l.contains("RLIMIT_MEMLOCK"));
    assert_eq!(smaller, charged, "charged: {charged}; {:#?}", srv.startup);
    for _ in 0..4 {
        assert_serving(srv.port);
    }
}
