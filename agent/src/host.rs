//! Facts about the host that registration and heart-beats report, read the way the stock agent
//! reads them, and never from the cloud metadata service.

use std::net::IpAddr;

/// The agent version this build reports in `User-Agent` and registration. The control plane
/// gates Session Manager on ≥ 2.2.3.256 and encrypted sessions on ≥ 2.2.4.1065
/// (`--min-agent-version-encryption`), so the emulated agent, which speaks the newer stock
/// agent's key exchange, claims a version past both.
pub const AGENT_VERSION: &str = "2.4.3.1";

/// `User-Agent` of every request: `<goos>_<goarch>/<version>`, as the stock agent writes it.
pub fn user_agent() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("linux_{arch}/{AGENT_VERSION}")
}

/// The machine id the signatures cover: the one already kept in the state directory, else
/// the system's (`/etc/machine-id`, `/var/lib/dbus/machine-id`), else 32 random hex digits.
pub fn machine_id(kept: Option<String>) -> String {
    kept.or_else(|| {
        ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|text| text.trim().to_owned())
            .find(|id| !id.is_empty())
    })
    .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// The host name, or `localhost`.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The first address of the first non-loopback interface that is up, or `<nil>` (the stock
/// agent's text when there is none).
pub fn intranet_ip() -> String {
    first_address().map_or_else(|| "<nil>".into(), |ip| ip.to_string())
}

fn first_address() -> Option<IpAddr> {
    use nix::net::if_::InterfaceFlags;
    nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        let up = ifa.flags.contains(InterfaceFlags::IFF_UP)
            && !ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let address = ifa.address?;
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else {
            IpAddr::V6(address.as_sockaddr_in6()?.ip())
        };
        (up && !ip.is_loopback()).then_some(ip)
    })
}

/// `<sysname>_<version>_<machine>` of uname, e.g. `Linux_#1 SMP PREEMPT_DYNAMIC …_x86_64`.
pub fn os_version() -> String {
    match nix::sys::utsname::uname() {
        Ok(u) => format!(
            "{}_{}_{}",
            u.sysname().to_string_lossy(),
            u.version().to_string_lossy(),
            u.machine().to_string_lossy()
        ),
        Err(_) => "Linux".into(),
    }
}

/// Milliseconds since boot.
pub fn uptime_ms() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |secs| (secs * 1000.0) as u64)
}

/// The kernel's id of this boot.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_have_the_stock_shapes() {
        assert!(user_agent().starts_with("linux_"), "{}", user_agent());
        assert!(user_agent().ends_with(&format!("/{AGENT_VERSION}")));
        assert_eq!(AGENT_VERSION, "2.4.3.1");
        assert_eq!(machine_id(Some("kept".into())), "kept");
        let generated = machine_id(None);
        assert!(generated.len() >= 32, "{generated}");
        assert!(os_version().starts_with("Linux_"));
        assert!(uptime_ms() > 0);
        let ip = intranet_ip();
        assert!(ip == "<nil>" || ip.parse::<IpAddr>().is_ok(), "{ip}");
    }
}
