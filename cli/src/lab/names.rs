//! The lab by the real endpoint names: the control plane's HTTPS listener (a certificate from
//! the lab CA for `ecs-cn-hangzhou.aliyuncs.com`, `ram.aliyuncs.com`, …), the gateway's name
//! in WebSocketUrls (`cn-hangzhou.axt.aliyuncs.com:<port>`), the allow-listed CONNECT proxy
//! (`axt proxy`) that takes those names to the lab from this host, and, in namespace mode, the
//! same names in each instance namespace's own hosts file (`/etc/netns/<ns>/hosts`, which
//! `ip netns exec` mounts over `/etc/hosts`) — never the host's `/etc/hosts`, never its DNS.
//!
//! The gateway's name carries the gateway's port: in a namespace the names resolve to one
//! address (this host's on the lab's bridge), where the OpenAPI takes 443, as the tools
//! require, so the gateway cannot have it too.

use axt_proto::openapi::endpoints::{api_names, gateway_name};

use super::*;

/// Where the namespaces' hosts files live (`ip netns exec` bind-mounts `<dir>/<ns>/hosts`).
const NETNS_ETC: &str = "/etc/netns";

/// The gateway's public URL: its real-looking name, with the port it listens on.
pub(super) fn gateway_url(gateway: SocketAddr) -> String {
    format!("wss://{}:{}", gateway_name(REGION), gateway.port())
}

/// Where the control plane serves HTTPS: 443 on this host's bridge address in namespace mode
/// (what a tool in a namespace dials for a name in its hosts file), else `--https-port` on
/// loopback.
pub(super) fn https_addr(plan: Option<Plan>, https_port: u16) -> anyhow::Result<SocketAddr> {
    Ok(match plan {
        Some(plan) => {
            let ip = IpAddr::V4(plan.host_ip());
            SocketAddr::new(ip, pick_port(ip, 443, "(443 on the lab's bridge address)")?)
        }
        None => {
            let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
            SocketAddr::new(ip, pick_port(ip, https_port, "--https-port")?)
        }
    })
}

/// Starts `axt proxy` on 127.0.0.1: the region's OpenAPI names on 443 to `https`, the
/// gateway's name and port to `gateway`. Returns where it listens.
pub(super) async fn start_proxy(
    lab: &mut Builder,
    bins: &Binaries,
    https: SocketAddr,
    gateway: SocketAddr,
    port: u16,
) -> anyhow::Result<SocketAddr> {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let listen = SocketAddr::new(localhost, pick_port(localhost, port, "--proxy-port")?);
    let addr_file = lab.dir.join("proxy-addr");
    let _ = std::fs::remove_file(&addr_file);
    let route = format!("{}:{}={gateway}", gateway_name(REGION), gateway.port());
    let mut cmd = process::command(&[], &bins.axt);
    cmd.args([
        "proxy",
        "--listen",
        &listen.to_string(),
        "--regions",
        REGION,
    ])
    .args(["--api", &https.to_string(), "--route", &route])
    .arg("--addr-file")
    .arg(&addr_file)
    .env("RUST_LOG", "info");
    let started = lab.start("proxy", cmd)?;
    lab.started[started]
        .ready("listening", START_LIMIT, || {
            std::fs::read_to_string(&addr_file)
                .ok()
                .and_then(|text| text.trim().parse::<SocketAddr>().ok())
        })
        .await
}

/// Starts the web console (`axt console`) on 127.0.0.1, reaching the lab as the exports do:
/// the real names through the proxy, trusting the lab CA. Returns its URL.
pub(super) async fn start_console(
    lab: &mut Builder,
    bins: &Binaries,
    proxy: SocketAddr,
    port: u16,
) -> anyhow::Result<String> {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let listen = SocketAddr::new(localhost, pick_port(localhost, port, "--console-port")?);
    let url_file = lab.dir.join("console-url");
    let _ = std::fs::remove_file(&url_file);
    let mut cmd = process::command(&[], &bins.axt);
    cmd.args([
        "--region",
        REGION,
        "console",
        "--listen",
        &listen.to_string(),
    ])
    .arg("--url-file")
    .arg(&url_file)
    .env("HTTPS_PROXY", format!("http://{proxy}"))
    .env("SSL_CERT_FILE", &lab.state.ca_cert)
    .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
    .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    .env_remove("ALIBABA_CLOUD_ECS_ENDPOINT")
    .env("RUST_LOG", "info");
    let started = lab.start("console", cmd)?;
    lab.started[started]
        .ready("listening", START_LIMIT, || {
            std::fs::read_to_string(&url_file)
                .ok()
                .map(|text| text.trim().to_owned())
                .filter(|url| !url.is_empty())
        })
        .await
}

/// The lines of a namespace's hosts file: loopback, and every name of the lab at `ip`.
fn hosts_file(ip: IpAddr) -> String {
    let mut names = api_names(&[REGION]);
    names.push(gateway_name(REGION));
    format!(
        "# Written by `axt lab up`; removed by `axt lab down`.\n\
         127.0.0.1\tlocalhost\n::1\tlocalhost\n{ip}\t{}\n",
        names.join(" ")
    )
}

/// Writes `/etc/netns/<ns>/hosts` for each instance namespace, recording each directory in
/// the state before it is made (so that `axt lab down` removes exactly those).
pub(super) fn write_hosts(lab: &mut Builder, plan: Plan) -> anyhow::Result<()> {
    let text = hosts_file(IpAddr::V4(plan.host_ip()));
    for ns in lab.state.namespaces.clone() {
        if ns == plan.target_ns() {
            // The target reaches no lab service; it has no use for the names.
            continue;
        }
        let dir = Path::new(NETNS_ETC).join(&ns);
        if dir.exists() {
            bail!(
                "{} exists already: it is not the lab's to overwrite",
                dir.display()
            );
        }
        lab.state.hosts_dirs.push(dir.clone());
        lab.save()?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("hosts"), &text)
            .with_context(|| format!("writing {}/hosts", dir.display()))?;
    }
    Ok(())
}

/// Removes the hosts directories the lab made; returns what could not be removed.
pub(super) fn remove_hosts(state: &LabState) -> Vec<String> {
    state
        .hosts_dirs
        .iter()
        // Only ever a directory of the lab's own under /etc/netns.
        .filter(|dir| dir.starts_with(NETNS_ETC) && dir.exists())
        .filter_map(|dir| {
            std::fs::remove_dir_all(dir)
                .err()
                .map(|err| format!("{}: {err}", dir.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_resolves_every_name_of_the_lab_to_one_address() {
        let text = hosts_file(IpAddr::V4(Ipv4Addr::new(10, 213, 7, 1)));
        let line = text
            .lines()
            .find(|l| l.starts_with("10.213.7.1\t"))
            .unwrap();
        for name in [
            "ecs-cn-hangzhou.aliyuncs.com",
            "ram.aliyuncs.com",
            "sts.cn-hangzhou.aliyuncs.com",
            "kms.cn-hangzhou.aliyuncs.com",
            "cn-hangzhou.axt.aliyuncs.com",
        ] {
            assert!(line.split_whitespace().any(|n| n == name), "{name}");
        }
        assert!(text.contains("127.0.0.1\tlocalhost"));
    }

    #[test]
    fn the_gateway_url_names_the_region_and_keeps_the_port() {
        let addr: SocketAddr = "10.213.7.1:8443".parse().unwrap();
        assert_eq!(gateway_url(addr), "wss://cn-hangzhou.axt.aliyuncs.com:8443");
    }
}
