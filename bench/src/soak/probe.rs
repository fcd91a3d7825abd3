//! What the soak reads from outside the processes it measures: their resident memory
//! (`VmRSS` of `/proc/<pid>/status`), the TCP connections one of them holds to a port (its
//! socket inodes matched against `/proc/<pid>/net/tcp`), and this process's file-descriptor
//! limit, raised to the hard limit so that the stack it starts inherits it.

use std::{collections::HashSet, path::Path};

use anyhow::Context as _;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Resident memory of `pid`, in bytes.
pub fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_rss(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// `VmRSS:    1234 kB` → bytes.
fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How many TCP sockets `pid` holds whose remote port is `port`, whatever their state (a socket
/// in CLOSE_WAIT still holds a descriptor and a place in the peer's tables).
pub fn tcp_to_port(pid: u32, port: u16) -> anyhow::Result<usize> {
    let inodes = socket_inodes(pid)?;
    let mut count = 0;
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        // No IPv6 in the kernel: no tcp6 table, and nothing to count there.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        count += text
            .lines()
            .skip(1)
            .filter_map(parse_tcp_line)
            .filter(|(remote, inode)| *remote == port && inodes.contains(inode))
            .count();
    }
    Ok(count)
}

/// The inodes of the sockets among `pid`'s descriptors.
fn socket_inodes(pid: u32) -> anyhow::Result<HashSet<u64>> {
    let dir = format!("/proc/{pid}/fd");
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
        // A descriptor closed between the listing and the readlink is simply not counted.
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue;
        };
        if let Some(inode) = socket_inode(&target) {
            inodes.insert(inode);
        }
    }
    Ok(inodes)
}

/// `socket:[12345]` → 12345.
fn socket_inode(target: &Path) -> Option<u64> {
    let text = target.to_str()?;
    text.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// One row of `/proc/net/tcp`: the remote port and the socket's inode.
fn parse_tcp_line(line: &str) -> Option<(u16, u64)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let remote = fields.get(2)?;
    let port = u16::from_str_radix(remote.rsplit(':').next()?, 16).ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some((port, inode))
}

/// The file-descriptor limit of this process after raising the soft limit to the hard one:
/// `(limit, raised from)`. Processes started afterwards inherit it.
pub fn raise_nofile() -> anyhow::Result<(u64, u64)> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).context("reading the file-descriptor limit")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            .context("raising the file-descriptor limit")?;
    }
    Ok((hard, soft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_proc_net_tcp_and_status_are_read() {
        let row = "   3: 0100007F:A1B2 0100007F:20FB 01 00000000:00000000 00:00000000 \
                   00000000     0        0 987654 1 0000000000000000 20 4 30 10 -1";
        assert_eq!(parse_tcp_line(row), Some((0x20FB, 987654)));
        assert_eq!(parse_tcp_line("  sl  local_address rem_address"), None);
        assert_eq!(parse_rss("Name:\tx\nVmRSS:\t  2048 kB\n"), Some(2 << 20));
        assert_eq!(socket_inode(Path::new("socket:[42]")), Some(42));
        assert_eq!(socket_inode(Path::new("/dev/null")), None);
    }

    #[test]
    fn this_process_is_seen_holding_its_own_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let before = tcp_to_port(std::process::id(), port).unwrap();
        let _conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(tcp_to_port(std::process::id(), port).unwrap(), before + 1);
        assert!(rss(std::process::id()).unwrap() > 0);
    }
}
