//! Real hosts for the port-forward stories, built with `axt_kit::netns` (the builder `axt lab`
//! uses): Linux network namespaces joined by veth pairs.
//!
//! ```text
//!   client ns ──veth── root ns (this process: control plane, gateway) ──veth── instance ns (axt-agent)
//!   10.213.N.66        .65 │ .1                                               .2    │ .129
//!                                                                                  veth
//!                                                                                   │ .130
//!                                                                              target ns (sshd, echo)
//! ```
//!
//! Each lab claims a free `10.213.N.0/24` (never one that a lab or another test holds) and cuts
//! it in three /26 links. No namespace has a default route: the client reaches the stack's
//! address through a /32 route and nothing else, the target is reached only from the
//! instance, and nothing can leave the machine. Namespaces, links and the claim go away on
//! drop, panics included; every process started here is killed by its pid when its handle
//! drops.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axt_kit::{
    netns::{self, Namespace, Subnet},
    process::Supervised,
    sshd,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The prefix of `axt lab`'s namespaces, whose subnets the tests leave alone.
const LAB_PREFIX: &str = "axtlab";

/// Three hosts: a client, an instance (where the agent runs) and a private target only the
/// instance reaches; the stack runs in the root namespace, on [`Lab::host`].
pub struct Lab {
    /// Where `axt`, ssh and scp run.
    pub client: Namespace,
    /// Where `axt-agent` runs.
    pub instance: Namespace,
    /// The private host behind the instance.
    pub target: Namespace,
    /// The root namespace's end of the instance link: the stack listens here, and the client
    /// has a /32 route to it.
    pub host: Ipv4Addr,
    /// The instance's address on its link to the root namespace.
    pub instance_ip: Ipv4Addr,
    /// The client's address.
    pub client_ip: Ipv4Addr,
    /// The instance's address on its link to the target: where the target sees it from.
    pub instance_private_ip: Ipv4Addr,
    /// The target's address, on its link to the instance.
    pub target_ip: Ipv4Addr,
    /// Scratch space (keys, configs, logs, files to copy); removed on drop.
    pub dir: tempfile::TempDir,
    /// Dropped last: the subnet is free again only once the links are gone.
    subnet: Subnet,
}

impl Lab {
    /// Builds the three namespaces and their links.
    pub fn create() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let run = format!(
            "axt{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let subnet = Subnet::claim(std::process::id() as usize, LAB_PREFIX).unwrap();
        let namespace = |role: &str| Namespace::create(&format!("{run}-{role}")).unwrap();
        let lab = Self {
            host: subnet.addr(1),
            instance_ip: subnet.addr(2),
            client_ip: subnet.addr(66),
            instance_private_ip: subnet.addr(129),
            target_ip: subnet.addr(130),
            client: namespace("client"),
            instance: namespace("instance"),
            target: namespace("target"),
            dir: tempfile::tempdir().unwrap(),
            subnet,
        };
        lab.link().unwrap();
        lab
    }

    fn link(&self) -> anyhow::Result<()> {
        let [to_instance, to_client] = Self::root_links(self.subnet.index());
        let cidr = |host: u8| format!("{}/26", self.subnet.addr(host));
        let (instance, client, target) = (
            Some(self.instance.name()),
            Some(self.client.name()),
            Some(self.target.name()),
        );
        // root .1 ── instance .2
        let peer = format!("{to_instance}p");
        netns::veth(None, &to_instance, instance, &peer)?;
        netns::address(None, &to_instance, &cidr(1))?;
        netns::address(instance, &peer, &cidr(2))?;
        // root .65 ── client .66, and the client's only way out: a /32 to the stack.
        let peer = format!("{to_client}p");
        netns::veth(None, &to_client, client, &peer)?;
        netns::address(None, &to_client, &cidr(65))?;
        netns::address(client, &peer, &cidr(66))?;
        let via = self.subnet.addr(65);
        netns::route(client, &format!("{}/32 via {via}", self.host))?;
        // instance .129 ── target .130: a link that never touches the root namespace.
        netns::veth(instance, "totarget", target, "toinstance")?;
        netns::address(instance, "totarget", &cidr(129))?;
        netns::address(target, "toinstance", &cidr(130))
    }

    /// The root namespace's ends of the two links of subnet `n` (at most 15 characters each).
    fn root_links(n: u8) -> [String; 2] {
        [format!("axt{n}i"), format!("axt{n}c")]
    }

    /// Makes `addr` a live address of the target host, routed from the instance: a stand-in
    /// for a metadata service that only the deny-list keeps the agent from reaching.
    pub fn serve_on_target(&self, addr: Ipv4Addr) {
        let cidr = format!("{addr}/32");
        netns::ip_in(
            Some(self.target.name()),
            &["addr", "add", &cidr, "dev", "lo"],
        )
        .unwrap();
        let route = format!("{cidr} via {}", self.target_ip);
        netns::route(Some(self.instance.name()), &route).unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // A socket still open in a namespace keeps it (and its links) alive after
        // `ip netns del`; deleting the root ends frees the subnet whatever is still open.
        for link in Self::root_links(self.subnet.index()) {
            netns::ip_quiet(&["link", "del", &link]);
        }
    }
}

/// The prefix that runs a program in `ns` with `hosts` mounted over `/etc/hosts` for that
/// program only (in the private mount namespace `ip netns exec` makes; the system's file is
/// untouched).
pub fn launcher_with_hosts(ns: &Namespace, hosts: &Path) -> Vec<String> {
    let mut launcher = ns.launcher();
    launcher.extend([
        "sh".into(),
        "-c".into(),
        r#"mount --bind "$0" /etc/hosts && exec "$@""#.into(),
        hosts.display().to_string(),
    ]);
    launcher
}

/// An OpenSSH server in a namespace with the lab's one configuration; killed on drop.
pub struct Sshd {
    _process: Supervised,
}

impl Sshd {
    /// Starts sshd on `listen` in `ns` and waits until it listens. Root may log in with the
    /// client key of `keys`.
    pub async fn start(ns: &Namespace, listen: SocketAddr, keys: &sshd::Keys, dir: &Path) -> Self {
        let name = format!("sshd-{}-{}", ns.name(), listen.port());
        let config = sshd::config(listen, keys, None);
        let cmd = sshd::command(&ns.launcher(), &dir.join(&name), &config).unwrap();
        let mut sshd = Supervised::spawn(&name, cmd, &dir.join(format!("{name}.log"))).unwrap();
        sshd.line(sshd::READY, Duration::from_secs(20))
            .await
            .unwrap();
        Self { _process: sshd }
    }
}

/// A TCP echo server: echoes what it reads and, once its peer stops sending, closes. Counts
/// the connections it has (now, at most at once, in all).
pub struct Echo {
    pub active: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
    pub accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    /// Serves on `listener` until dropped.
    pub fn serve(listener: tokio::net::TcpListener) -> Self {
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (a, p, t) = (active.clone(), peak.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                t.fetch_add(1, Ordering::SeqCst);
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                let a = a.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = stream.shutdown().await;
                    a.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            active,
            peak,
            accepted,
            task,
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}
