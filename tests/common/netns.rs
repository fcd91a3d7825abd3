//! Real hosts for the port-forward stories: Linux network namespaces joined by veth pairs.
//!
//! ```text
//!   client ns ──veth── root ns (this process: control plane, gateway) ──veth── instance ns (axt-agent)
//!   10.213.N.66        .65 │ .1                                               .2    │ .129
//!                                                                                  veth
//!                                                                                   │ .130
//!                                                                              target ns (sshd, echo)
//! ```
//!
//! Each lab takes a free `10.213.N.0/24` (a lock file per N in the temp directory, so parallel
//! tests and parallel runs never share one) and cuts it in three /26 links. No namespace has a
//! default route: the client reaches the stack's address through a /32 route and nothing
//! else, the target is reached only from the instance, and nothing can leave the machine.
//! Namespaces, links and the lock go away on drop, panics included; every process started
//! in a namespace is killed (by its pid) when its handle drops.
//!
//! Sockets can be opened in a namespace from this process too ([`Netns::enter`]): a thread
//! of its own joins the namespace, and a socket it creates stays in that namespace whichever
//! thread uses it later. That is how the echo servers and the test's own clients live on
//! the lab's hosts without any helper program.

use std::{
    ffi::OsStr,
    fs,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

use crate::PROXY_VARS;

/// The programs every namespace story needs.
pub const IP: &str = "ip";
/// The OpenSSH server; started by absolute path, as sshd requires.
pub const SSHD: &str = "/usr/sbin/sshd";

/// Whether the namespace stories can run here: root, and every one of `programs` present.
/// When not, prints why and returns false — unless `CI=true`, where a missing prerequisite is
/// a failure, never a silent skip.
pub fn available(test: &str, programs: &[&str]) -> bool {
    let mut missing: Vec<String> = Vec::new();
    if !crate::is_root() {
        missing.push("root".to_owned());
    }
    for program in programs {
        let found = if program.contains('/') {
            Path::new(program).exists()
        } else {
            std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| dir.join(program).exists())
            })
        };
        if !found {
            missing.push((*program).to_owned());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{test}: needs {} (run .ci/run as root, which installs iproute2 and OpenSSH)",
        missing.join(", ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}; CI=true, so this is a failure, not a skip"
    );
    eprintln!("SKIPPED {why}");
    false
}

/// Runs `ip ARGS`, panicking with its stderr when it fails.
pub fn ip(args: &[&str]) {
    let out = std::process::Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ip ARGS`, ignoring failure (clean-up of what may already be gone).
fn ip_quiet(args: &[&str]) {
    let _ = std::process::Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A network namespace (one "host"); deleted on drop.
pub struct Netns {
    /// Its name under `/run/netns`.
    pub name: String,
}

impl Netns {
    fn create(name: String) -> Self {
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// The prefix that runs a program in this namespace: `ip netns exec NAME` (it execs, so
    /// the child's pid is the program's).
    pub fn launcher(&self) -> Vec<String> {
        vec![IP.into(), "netns".into(), "exec".into(), self.name.clone()]
    }

    /// Like [`Netns::launcher`], with `hosts` mounted over `/etc/hosts` for the program only
    /// (in the private mount namespace `ip netns exec` makes; the system file is untouched).
    pub fn launcher_with_hosts(&self, hosts: &Path) -> Vec<String> {
        let mut launcher = self.launcher();
        launcher.extend([
            "sh".into(),
            "-c".into(),
            r#"mount --bind "$0" /etc/hosts && exec "$@""#.into(),
            hosts.display().to_string(),
        ]);
        launcher
    }

    /// `program` in this namespace: no stdin, no proxy settings, killed when dropped.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(IP);
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for var in PROXY_VARS {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs `f` on a thread that joined this namespace: sockets it creates belong here.
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

    /// A listener on `addr` in this namespace (call inside the runtime).
    pub fn listen(&self, addr: SocketAddr) -> tokio::net::TcpListener {
        let std = self
            .enter(|| std::net::TcpListener::bind(addr))
            .unwrap_or_else(|e| panic!("listening on {addr} in {}: {e}", self.name));
        std.set_nonblocking(true).unwrap();
        tokio::net::TcpListener::from_std(std).unwrap()
    }

    /// A connection to `addr` from this namespace (at most 5 s to connect).
    pub fn connect(&self, addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
        let std =
            self.enter(|| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)))?;
        std.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(std)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip_quiet(&["netns", "del", &self.name]);
    }
}

/// Ownership of one `10.213.N.0/24` among every lab on this machine: a file created with
/// `O_EXCL` and holding the owner's pid; a file whose owner is dead is taken over.
struct Slot {
    n: u8,
    path: PathBuf,
}

impl Slot {
    fn claim() -> Self {
        // One claim at a time in this process; across processes the hard link decides.
        static CLAIMING: Mutex<()> = Mutex::new(());
        let _one = CLAIMING.lock().unwrap_or_else(|p| p.into_inner());
        // Addresses and routes already on this host (an `axt lab`, say) rule their N out.
        let in_use: String = [
            &["-o", "-4", "addr", "show"][..],
            &["-4", "route", "show", "table", "all"],
        ]
        .iter()
        .filter_map(|args| std::process::Command::new(IP).args(*args).output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .collect();
        let pid = std::process::id();
        // The lock file is created complete: written under a private name, then hard-linked
        // to its public one, which fails if that exists.
        let draft = std::env::temp_dir().join(format!("axt-e2e-netns-slot-draft-{pid}"));
        fs::write(&draft, pid.to_string()).unwrap();
        let start = pid as usize;
        let claimed = (0..250usize).find_map(|i| {
            let n = ((start + i) % 250) as u8 + 1;
            if in_use.contains(&format!("10.213.{n}.")) {
                return None;
            }
            let path = std::env::temp_dir().join(format!("axt-e2e-netns-slot-{n}"));
            for _ in 0..2 {
                match fs::hard_link(&draft, &path) {
                    Ok(()) => return Some(Self { n, path }),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let owner = fs::read_to_string(&path).unwrap_or_default();
                        let dead = owner
                            .trim()
                            .parse::<u32>()
                            .is_ok_and(|owner| !Path::new(&format!("/proc/{owner}")).exists());
                        if !dead {
                            return None;
                        }
                        // A crashed run's slot: its root-side links may still hold the subnet.
                        for link in Lab::root_links(n) {
                            ip_quiet(&["link", "del", &link]);
                        }
                        let _ = fs::remove_file(&path);
                    }
                    Err(e) => panic!("{}: {e}", path.display()),
                }
            }
            None
        });
        let _ = fs::remove_file(&draft);
        claimed.expect("no free 10.213.N.0/24 for a network lab")
    }

    fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.n, host)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Three hosts: a client, an instance (where the agent runs) and a private target only the
/// instance reaches; the stack runs in the root namespace, on [`Lab::host`].
pub struct Lab {
    /// Where `axt`, ssh and scp run.
    pub client: Netns,
    /// Where `axt-agent` runs.
    pub instance: Netns,
    /// The private host behind the instance.
    pub target: Netns,
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
    /// Scratch space (keys, configs, files to copy); removed on drop.
    pub dir: tempfile::TempDir,
    /// Dropped last: the subnet is free again only once the links are gone.
    slot: Slot,
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
        let slot = Slot::claim();
        let n = slot.n;
        let dir = tempfile::tempdir().unwrap();
        let (client, instance, target) = (
            Netns::create(format!("{run}-client")),
            Netns::create(format!("{run}-instance")),
            Netns::create(format!("{run}-target")),
        );
        let lab = Self {
            host: slot.addr(1),
            instance_ip: slot.addr(2),
            client_ip: slot.addr(66),
            instance_private_ip: slot.addr(129),
            target_ip: slot.addr(130),
            client,
            instance,
            target,
            dir,
            slot,
        };
        let [to_instance, to_client] = Self::root_links(n);
        let addr = |host: u8| format!("{}/26", lab.slot.addr(host));

        // root .1 ── instance .2
        let peer = format!("{to_instance}p");
        ip(&[
            "link",
            "add",
            &to_instance,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &lab.instance.name,
        ]);
        ip(&["addr", "add", &addr(1), "dev", &to_instance]);
        ip(&["link", "set", &to_instance, "up"]);
        ip(&[
            "-n",
            &lab.instance.name,
            "addr",
            "add",
            &addr(2),
            "dev",
            &peer,
        ]);
        ip(&["-n", &lab.instance.name, "link", "set", &peer, "up"]);

        // root .65 ── client .66, and the client's only way out: a /32 to the stack.
        let peer = format!("{to_client}p");
        ip(&[
            "link",
            "add",
            &to_client,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &lab.client.name,
        ]);
        ip(&["addr", "add", &addr(65), "dev", &to_client]);
        ip(&["link", "set", &to_client, "up"]);
        ip(&[
            "-n",
            &lab.client.name,
            "addr",
            "add",
            &addr(66),
            "dev",
            &peer,
        ]);
        ip(&["-n", &lab.client.name, "link", "set", &peer, "up"]);
        let host = format!("{}/32", lab.host);
        let via = lab.slot.addr(65).to_string();
        ip(&["-n", &lab.client.name, "route", "add", &host, "via", &via]);

        // instance .129 ── target .130: a link that never touches the root namespace.
        ip(&[
            "-n",
            &lab.instance.name,
            "link",
            "add",
            "totarget",
            "type",
            "veth",
            "peer",
            "name",
            "toinstance",
            "netns",
            &lab.target.name,
        ]);
        ip(&[
            "-n",
            &lab.instance.name,
            "addr",
            "add",
            &addr(129),
            "dev",
            "totarget",
        ]);
        ip(&["-n", &lab.instance.name, "link", "set", "totarget", "up"]);
        ip(&[
            "-n",
            &lab.target.name,
            "addr",
            "add",
            &addr(130),
            "dev",
            "toinstance",
        ]);
        ip(&["-n", &lab.target.name, "link", "set", "toinstance", "up"]);
        lab
    }

    /// The root namespace's ends of the two links of lab `n` (at most 15 characters each).
    fn root_links(n: u8) -> [String; 2] {
        [format!("axt{n}i"), format!("axt{n}c")]
    }

    /// Makes `addr` a live address of the target host, routed from the instance: a stand-in
    /// for a metadata service that only the deny-list keeps the agent from reaching.
    pub fn serve_on_target(&self, addr: Ipv4Addr) {
        let cidr = format!("{addr}/32");
        ip(&["-n", &self.target.name, "addr", "add", &cidr, "dev", "lo"]);
        let via = self.target_ip.to_string();
        ip(&[
            "-n",
            &self.instance.name,
            "route",
            "add",
            &cidr,
            "via",
            &via,
        ]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // A socket still open in a namespace keeps it (and its links) alive after
        // `ip netns del`; deleting the root ends frees the subnet whatever is still open.
        for link in Self::root_links(self.slot.n) {
            ip_quiet(&["link", "del", &link]);
        }
    }
}

/// Lines a child prints, collected as they come (and echoed to the test's stderr with
/// `label`, so a failing test shows them).
pub struct Lines {
    rx: mpsc::UnboundedReceiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `from`.
    pub fn read(label: &str, from: impl AsyncRead + Unpin + Send + 'static) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let label = label.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(from).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{label}] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`, for at most `limit`; returns it.
    pub async fn expect(&mut self, needle: &str, limit: Duration) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let found = tokio::time::timeout(limit, async {
            while let Some(line) = self.rx.recv().await {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!(
                "{needle:?} never came; the output ended:\n{}",
                self.seen.join("\n")
            ),
            Err(_) => panic!(
                "{needle:?} did not come within {limit:?}; so far:\n{}",
                self.seen.join("\n")
            ),
        }
    }
}

/// Keys for the OpenSSH stories: a host key for sshd, a client key, and the file that
/// authorises it.
pub struct SshKeys {
    pub host_key: PathBuf,
    pub client_key: PathBuf,
    pub authorized_keys: PathBuf,
}

impl SshKeys {
    /// Generates both keys (ed25519) into `dir`.
    pub fn generate(dir: &Path) -> Self {
        let keygen = |path: &Path| {
            let status = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "axt-e2e", "-f"])
                .arg(path)
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "ssh-keygen {}", path.display());
        };
        let keys = Self {
            host_key: dir.join("ssh_host_ed25519_key"),
            client_key: dir.join("id_ed25519"),
            authorized_keys: dir.join("authorized_keys"),
        };
        keygen(&keys.host_key);
        keygen(&keys.client_key);
        fs::copy(dir.join("id_ed25519.pub"), &keys.authorized_keys).unwrap();
        keys
    }

    /// The client options that make `ssh`/`scp` use only this key, trust any host key and
    /// read no user or system configuration.
    pub fn client_options(&self) -> Vec<String> {
        let mut options = vec![
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.client_key.display().to_string(),
        ];
        for option in [
            "IdentitiesOnly=yes",
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            "ConnectTimeout=20",
        ] {
            options.extend(["-o".into(), option.into()]);
        }
        options
    }
}

/// An OpenSSH server in a namespace, in the foreground, logging to stderr; killed on drop.
pub struct Sshd {
    _child: Child,
    /// What it logs.
    pub log: Lines,
}

impl Sshd {
    /// Starts sshd on `listen` in `ns` and waits until it listens. Root may log in with the
    /// client key of `keys`; sftp (what scp speaks) is served in-process.
    pub async fn start(ns: &Netns, listen: SocketAddr, keys: &SshKeys, dir: &Path) -> Self {
        // The privilege-separation directory sshd insists on.
        fs::create_dir_all("/run/sshd").unwrap();
        let config = dir.join(format!("sshd_config-{}-{}", ns.name, listen.port()));
        fs::write(
            &config,
            format!(
                "ListenAddress {listen}\n\
                 HostKey {}\n\
                 PidFile none\n\
                 UsePAM no\n\
                 PermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 AuthorizedKeysFile {}\n\
                 StrictModes no\n\
                 UseDNS no\n\
                 PrintMotd no\n\
                 Subsystem sftp internal-sftp\n",
                keys.host_key.display(),
                keys.authorized_keys.display()
            ),
        )
        .unwrap();
        let mut child = ns
            .command(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = Lines::read(&format!("sshd {listen}"), child.stderr.take().unwrap());
        log.expect("Server listening on", Duration::from_secs(20))
            .await;
        Self { _child: child, log }
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
