//! Who holds a TCP address, for the "already in use" message: the kernel
//! lists listening sockets with their inode (/proc/net/tcp), and a process
//! we may inspect (ours: the same user, the SO_REUSEPORT case) shows that
//! inode among its descriptors. Best effort: `None` when it cannot tell.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `portico (pid 1234)`, or `None`.
pub fn holder(addr: SocketAddr) -> Option<String> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let link = link.to_string_lossy();
            let held = link
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|i| inodes.contains(&i));
            if held {
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                return Some(format!("{} (pid {pid})", comm.trim()));
            }
        }
    }
    None
}

/// Inodes of the sockets listening on `addr`'s port at an address that
/// overlaps it (the same, or a wildcard on either side).
fn listening_inodes(addr: SocketAddr) -> Vec<u64> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let Some((ip, port)) = parse_local(f[1]) else {
                continue;
            };
            let overlaps = ip == addr.ip() || ip.is_unspecified() || addr.ip().is_unspecified();
            if port == addr.port() && overlaps {
                if let Ok(inode) = f[9].parse() {
                    found.push(inode);
                }
            }
        }
    }
    found
}

/// `0100007F:1F90`: the address as the kernel's words in host order, then
/// the port in hex.
fn parse_local(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| {
        u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16)
            .ok()
            .map(u32::to_ne_bytes)
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_listener_inode() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert!(
            !listening_inodes(addr).is_empty(),
            "{addr} not in /proc/net/tcp"
        );
        // Our own process is skipped: nobody else holds it.
        assert_eq!(holder(addr), None);
    }

    #[test]
    fn parses_kernel_addresses() {
        assert_eq!(
            parse_local("0100007F:1F90"),
            Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 8080))
        );
        assert_eq!(
            parse_local("00000000000000000000000001000000:0050"),
            Some((IpAddr::V6(Ipv6Addr::LOCALHOST), 80))
        );
    }
}
