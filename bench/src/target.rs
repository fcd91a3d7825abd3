//! The TCP target every variant reaches: one loopback listener that speaks a one-byte request
//! protocol, so the same client code measures a direct connection, bore and an axtlab forward.
//!
//! Each connection starts with a request byte, answered by [`ACK`] once the target has it:
//!
//! - [`PING`]: the ack is all; the client closes. The time from `connect` to the ack is the
//!   connect time, end to end — through a forward, a connection is only really open once the
//!   far side dialled the target, which a bare `connect` to the local port does not show.
//! - [`UPLOAD`]: the target reads to EOF, then answers the byte count (u64, big-endian): the
//!   client knows every byte arrived, not only that it left.
//! - [`DOWNLOAD`] + u64 length: after the ack the target waits for [`GO`], then sends that many
//!   bytes and closes. The handshake keeps setup (agent dial, gateway hold) out of the timing.
//!
//! Plain threads and blocking sockets: the target must cost the same in every variant, and a
//! thread per connection is the least machinery that does.

use std::{
    io::{Read as _, Write as _},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
};

use anyhow::Context as _;

pub const PING: u8 = b'p';
pub const UPLOAD: u8 = b'u';
pub const DOWNLOAD: u8 = b'd';
pub const GO: u8 = b'g';
pub const ACK: u8 = b'k';

/// Read and write size of the target and of the client: large enough that syscalls are not
/// what a direct copy measures.
pub const IO_CHUNK: usize = 256 * 1024;

/// The CPU (plus one; 0 for none) that connection threads pin themselves to: see [`pin`].
static PIN: AtomicUsize = AtomicUsize::new(0);

/// Pins the target's connection threads from now on to `cpu`, or lets them run anywhere.
pub fn pin_connections(cpu: Option<usize>) {
    PIN.store(cpu.map_or(0, |c| c + 1), Ordering::SeqCst);
}

/// Pins the calling thread to `cpu`, or lets it run on every CPU again.
///
/// Only the direct copy is pinned. Its two ends are two threads on a 2-vCPU machine, and
/// whether the scheduler puts them on one core or two halves or doubles the figure (about 4
/// against 9 GB/s here), run to run; pinned, the baseline is the same every time.
pub fn pin(cpu: Option<usize>) -> anyhow::Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    let mut set = CpuSet::new();
    // Unpinning sets every CPU the set can name (the kernel keeps the online ones), not
    // `available_parallelism`, which counts only what the thread's current mask allows: after
    // a pin that is one, and children spawned later would inherit the pin.
    for c in cpu.map_or(0..CpuSet::count(), |c| c..c + 1) {
        set.set(c).context("building a CPU set")?;
    }
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).context("pinning a thread")
}

/// Starts the target on an ephemeral loopback port; it serves until the process exits.
pub fn start() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the target")?;
    let addr = listener.local_addr()?;
    thread::Builder::new()
        .name("target".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                // A failed connection is the client's to report; the target keeps serving.
                let _ = thread::Builder::new()
                    .name("target-conn".into())
                    .spawn(move || serve(stream));
            }
        })
        .context("starting the target thread")?;
    Ok(addr)
}

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    if let Some(cpu) = PIN.load(Ordering::SeqCst).checked_sub(1) {
        pin(Some(cpu)).map_err(std::io::Error::other)?;
    }
    stream.set_nodelay(true)?;
    let mut request = [0u8; 1];
    stream.read_exact(&mut request)?;
    match request[0] {
        PING => {
            stream.write_all(&[ACK])?;
            // Waits for the client's close so the forward, not the target, ends the connection.
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest)?;
        }
        UPLOAD => {
            stream.write_all(&[ACK])?;
            let count = sink(&mut stream)?;
            stream.write_all(&count.to_be_bytes())?;
        }
        DOWNLOAD => {
            let mut len = [0u8; 8];
            stream.read_exact(&mut len)?;
            stream.write_all(&[ACK])?;
            stream.read_exact(&mut request)?;
            if request[0] == GO {
                source(&mut stream, u64::from_be_bytes(len))?;
            }
        }
        _ => {}
    }
    stream.shutdown(Shutdown::Write)
}

/// Reads to EOF; returns how many bytes came.
pub fn sink(stream: &mut TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; IO_CHUNK];
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes `len` bytes of a fixed pattern (not zeros: nothing on the way should be able to
/// take a shortcut with them).
pub fn source(stream: &mut TcpStream, len: u64) -> std::io::Result<()> {
    let buf: Vec<u8> = (0..IO_CHUNK).map(|i| (i * 131 % 251) as u8).collect();
    let mut left = len;
    while left > 0 {
        let n = left.min(IO_CHUNK as u64) as usize;
        stream.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}
