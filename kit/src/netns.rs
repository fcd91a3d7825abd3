//! Hosts made of Linux network namespaces, built with iproute2 (`ip`): namespaces, veth pairs,
//! bridges, addresses and routes, and the `10.213.N.0/24` subnets they live in. `axt lab up`
//! builds its region with these, and the tests build their client, instance and target hosts
//! with the same calls.
//!
//! Subnets are shared out among everything on the machine that uses them — a lab that is up,
//! and every test process — by looking at what addresses, routes and namespaces exist, and by
//! a lock file per subnet that names its owner's pid (a dead owner's lock is taken over).

use std::{
    fs,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use anyhow::{bail, Context as _};

/// The iproute2 program.
pub const IP: &str = "ip";

/// Runs `ip ARGS`; fails with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {IP} {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{IP} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `ip ARGS` in namespace `ns` (this one when `None`).
pub fn ip_in(ns: Option<&str>, args: &[&str]) -> anyhow::Result<()> {
    match ns {
        Some(ns) => {
            let mut all = vec!["-n", ns];
            all.extend_from_slice(args);
            ip(&all)
        }
        None => ip(args),
    }
}

/// `ip ARGS`, its stdout; empty when it fails.
pub fn ip_output(args: &[&str]) -> String {
    Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `ip ARGS`, ignoring failure (clean-up of what may already be gone).
pub fn ip_quiet(args: &[&str]) {
    let _ = Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Why namespaces cannot be made here (not root, no working `ip netns`), or `None` when they
/// can.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root".to_owned());
    }
    match Command::new(IP)
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`{IP} netns list` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("no `{IP}` command (iproute2): {e}")),
    }
}

/// The names of the network namespaces that exist now.
pub fn namespaces() -> Vec<String> {
    ip_output(&["netns", "list"])
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The pids of every process in namespace `name`.
pub fn pids_in(name: &str) -> Vec<u32> {
    ip_output(&["netns", "pids", name])
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Whether a link called `name` exists in this namespace.
pub fn link_exists(name: &str) -> bool {
    !ip_output(&["-o", "link", "show", "dev", name]).is_empty()
}

/// A veth pair: end `a` in namespace `a_ns`, end `b` in `b_ns` (`None`: this namespace).
pub fn veth(a_ns: Option<&str>, a: &str, b_ns: Option<&str>, b: &str) -> anyhow::Result<()> {
    let mut args = vec!["link", "add", a, "type", "veth", "peer", "name", b];
    if let Some(ns) = b_ns {
        args.extend(["netns", ns]);
    }
    ip_in(a_ns, &args)
}

/// Gives `dev` of namespace `ns` the address `cidr` and brings it up.
pub fn address(ns: Option<&str>, dev: &str, cidr: &str) -> anyhow::Result<()> {
    ip_in(ns, &["addr", "add", cidr, "dev", dev])?;
    up(ns, dev)
}

/// Brings `dev` of namespace `ns` up.
pub fn up(ns: Option<&str>, dev: &str) -> anyhow::Result<()> {
    ip_in(ns, &["link", "set", dev, "up"])
}

/// A bridge `name` in namespace `ns`, up.
pub fn bridge(ns: Option<&str>, name: &str) -> anyhow::Result<()> {
    ip_in(ns, &["link", "add", name, "type", "bridge"])?;
    up(ns, name)
}

/// Plugs `dev` of namespace `ns` into its bridge `bridge`, up.
pub fn enslave(ns: Option<&str>, dev: &str, bridge: &str) -> anyhow::Result<()> {
    ip_in(ns, &["link", "set", dev, "master", bridge])?;
    up(ns, dev)
}

/// Adds a route to namespace `ns`: `route` as `ip route add` takes it (`10.0.0.1/32 via …`,
/// `unreachable 10.213.4.0/24`).
pub fn route(ns: Option<&str>, route: &str) -> anyhow::Result<()> {
    let mut args = vec!["route", "add"];
    args.extend(route.split_whitespace());
    ip_in(ns, &args)
}

/// The prefix that runs a program in namespace `name`: `ip netns exec NAME` (it execs, so the
/// child's pid is the program's).
pub fn launcher(name: &str) -> Vec<String> {
    [IP, "netns", "exec", name].map(str::to_owned).to_vec()
}

/// A network namespace, with its loopback up; deleted on drop unless kept.
pub struct Namespace {
    name: String,
    owned: bool,
}

impl Namespace {
    /// Creates `name`.
    pub fn create(name: &str) -> anyhow::Result<Self> {
        ip(&["netns", "add", name])?;
        let ns = Self {
            name: name.to_owned(),
            owned: true,
        };
        up(Some(name), "lo")?;
        Ok(ns)
    }

    /// Its name under `/run/netns`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Leaves the namespace in place when this handle goes (someone else removes it by name:
    /// `axt lab down`); returns its name.
    pub fn keep(mut self) -> String {
        self.owned = false;
        std::mem::take(&mut self.name)
    }

    /// The prefix that runs a program here (see [`launcher`]).
    pub fn launcher(&self) -> Vec<String> {
        launcher(&self.name)
    }

    /// Runs `f` on a thread that joined this namespace: sockets it creates belong here, and
    /// stay here whichever thread uses them later.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/run/netns").join(&self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let file =
                        fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                        .unwrap_or_else(|e| panic!("setns {}: {e}", self.name));
                    f()
                })
                .join()
                .expect("the thread in the namespace panicked")
        })
    }

    /// A listener on `addr` here (call inside a tokio runtime).
    pub fn listen(&self, addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        let std = self.enter(|| std::net::TcpListener::bind(addr))?;
        std.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(std)
    }

    /// A connection to `addr` from here (at most 5 s to connect).
    pub fn connect(&self, addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
        let std =
            self.enter(|| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)))?;
        std.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(std)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if self.owned {
            ip_quiet(&["netns", "del", &self.name]);
        }
    }
}

/// One `10.213.N.0/24`, held by this process (its lock file goes with it).
pub struct Subnet {
    n: u8,
    lock: PathBuf,
}

/// Whether `10.213.n.0/24` is in use here: by an address or route of this namespace, by a
/// namespace named after it (`<prefix>n-…`), or by a live holder's lock file.
pub fn subnet_in_use(n: u8, ns_prefix: &str) -> bool {
    configured(n, ns_prefix) || lock_holder(&lock_path(n)).is_some_and(alive)
}

/// Whether an address, route or namespace of this host uses `10.213.n.0/24`.
fn configured(n: u8, ns_prefix: &str) -> bool {
    let net = format!("10.213.{n}.");
    let addresses = ip_output(&["-o", "-4", "addr", "show"]);
    let routes = ip_output(&["-4", "route", "show", "table", "all"]);
    let named = format!("{ns_prefix}{n}-");
    addresses.contains(&net)
        || routes.contains(&net)
        || namespaces().iter().any(|ns| ns.starts_with(&named))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn lock_path(n: u8) -> PathBuf {
    std::env::temp_dir().join(format!("axt-netns-subnet-{n}"))
}

fn lock_holder(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Subnet {
    /// Claims a free subnet for this process, looking first at N = `start` (spread callers
    /// out by passing their pid) and skipping those [`subnet_in_use`] with `ns_prefix`.
    pub fn claim(start: usize, ns_prefix: &str) -> anyhow::Result<Self> {
        // One claim at a time in this process; across processes the hard link decides.
        static CLAIMING: Mutex<()> = Mutex::new(());
        let _one = CLAIMING.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        // The lock file is created complete: written under a private name, then hard-linked
        // to its public one, which fails if that exists.
        let draft = std::env::temp_dir().join(format!("axt-netns-subnet-draft-{pid}"));
        fs::write(&draft, pid.to_string())?;
        let claimed = (0..250usize).find_map(|i| {
            let n = ((start + i) % 250) as u8 + 1;
            if configured(n, ns_prefix) {
                return None;
            }
            let lock = lock_path(n);
            for _ in 0..2 {
                match fs::hard_link(&draft, &lock) {
                    Ok(()) => return Some(Self { n, lock }),
                    // A dead holder's lock was left behind: it holds nothing any more.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if lock_holder(&lock).is_some_and(alive) {
                            return None;
                        }
                        let _ = fs::remove_file(&lock);
                    }
                    Err(_) => return None,
                }
            }
            None
        });
        let _ = fs::remove_file(&draft);
        claimed.context("every 10.213.N.0/24 is in use")
    }

    /// The N of `10.213.N.0/24`.
    pub fn index(&self) -> u8 {
        self.n
    }

    /// Host `host` of the subnet.
    pub fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.n, host)
    }
}

impl Drop for Subnet {
    fn drop(&mut self) {
        if lock_holder(&self.lock) == Some(std::process::id()) {
            let _ = fs::remove_file(&self.lock);
        }
    }
}
