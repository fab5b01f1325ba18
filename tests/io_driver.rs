//! Which I/O driver the workers really run on. `driver = "auto"` falls back
//! to epoll without failing, so without this test a machine (or CI) where
//! io_uring silently stopped working would pass every other test on epoll
//! and never exercise io_uring at all. The expectation comes from the
//! kernel's switch and the environment, never from portico's own choice.
mod common;

use common::*;

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
    let started = srv
        .startup
        .iter()
        .find_map(|l| l.split("msg=\"driver ").nth(1))
        .map(|d| d.split([' ', '"']).next().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no driver line at start: {:#?}", srv.startup));
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
