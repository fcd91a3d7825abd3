//! A program on a real pseudo-terminal, driven as a person at a terminal drives it: keys go in
//! at the master, and what the program prints is read back there, every wait bounded.
//!
//! Built for measuring: a wait counts the bytes it read, and keeps only a short tail to search
//! in, so that waiting for a marker at the end of 100 MB of output costs no more than reading
//! them.

use std::{
    collections::VecDeque,
    io::{Read as _, Write as _},
    path::Path,
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

use crate::axt::EnvVar;

/// How much of the screen's end an error shows.
const SHOWN: usize = 1500;

/// A program on a PTY.
pub struct Terminal {
    writer: Box<dyn std::io::Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    output: mpsc::Receiver<Vec<u8>>,
    // Kept open: dropping the master would hang the program up.
    _master: Box<dyn MasterPty + Send>,
    /// Output read but not yet waited past.
    pending: Vec<u8>,
    /// The last [`SHOWN`] bytes of output, for errors.
    recent: VecDeque<u8>,
}

impl Terminal {
    /// Starts `program args` on a `cols`×`rows` terminal, its environment changed by `env`.
    pub fn spawn(
        program: &Path,
        args: &[&str],
        env: &[EnvVar],
        (cols, rows): (u16, u16),
    ) -> anyhow::Result<Self> {
        let size = PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        };
        let pty = native_pty_system()
            .openpty(size)
            .map_err(|e| anyhow::anyhow!("opening a PTY: {e}"))?;
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        for (name, value) in env {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            }
        }
        let child = pty
            .slave
            .spawn_command(cmd)
            .map_err(|e| anyhow::anyhow!("starting {} on a PTY: {e}", program.display()))?;
        drop(pty.slave);
        let mut reader = pty
            .master
            .try_clone_reader()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let writer = pty
            .master
            .take_writer()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (tx, output) = mpsc::channel();
        // Reads block, so they get a thread; its channel is unbounded, so the program never
        // stalls on a full PTY while the benchmark is not waiting for anything.
        std::thread::Builder::new()
            .name("pty-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            })
            .context("starting the PTY reader")?;
        Ok(Self {
            writer,
            child,
            output,
            _master: pty.master,
            pending: Vec::new(),
            recent: VecDeque::with_capacity(SHOWN),
        })
    }

    /// The program's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Types `keys`.
    pub fn type_keys(&mut self, keys: &[u8]) -> anyhow::Result<()> {
        self.writer.write_all(keys)?;
        self.writer.flush().context("typing")
    }

    /// Forgets output already read and any that is waiting: what comes next is new.
    pub fn drain(&mut self) {
        while let Ok(bytes) = self.output.try_recv() {
            self.remember(&bytes);
        }
        self.pending.clear();
    }

    /// Waits until `needle` appears in output not yet waited past, for at most `limit`;
    /// returns how many bytes were read meanwhile. Output after the needle stays pending.
    pub fn expect(&mut self, needle: &[u8], limit: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + limit;
        let mut read = 0u64;
        let mut searched = 0usize;
        loop {
            let from = searched.saturating_sub(needle.len().saturating_sub(1));
            if let Some(at) = find(&self.pending[from..], needle) {
                self.pending.drain(..from + at + needle.len());
                return Ok(read);
            }
            // Only a tail that may begin the needle is worth keeping.
            let keep = self.pending.len().min(needle.len().saturating_sub(1));
            self.pending.drain(..self.pending.len() - keep);
            searched = self.pending.len();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => {
                    read += bytes.len() as u64;
                    self.remember(&bytes);
                    self.pending.extend_from_slice(&bytes);
                }
                Err(RecvTimeoutError::Timeout) => bail!(
                    "{:?} did not appear within {limit:?}; the screen ends:\n{}",
                    String::from_utf8_lossy(needle),
                    self.screen_end()
                ),
                Err(RecvTimeoutError::Disconnected) => bail!(
                    "the program ended before {:?} appeared; the screen ends:\n{}",
                    String::from_utf8_lossy(needle),
                    self.screen_end()
                ),
            }
        }
    }

    /// Waits for the program to exit, for at most `limit`; false if it did not.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            self.drain();
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The end of the screen, as text, for errors.
    pub fn screen_end(&self) -> String {
        let bytes: Vec<u8> = self.recent.iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn remember(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(SHOWN)..];
        let over = (self.recent.len() + tail.len()).saturating_sub(SHOWN);
        self.recent.drain(..over);
        self.recent.extend(tail);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
