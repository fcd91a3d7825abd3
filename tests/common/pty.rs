//! Runs a program in a real pseudo-terminal, as a person at a terminal would, and waits for
//! text on its screen with a bounded timeout.

use std::{
    io::{Read as _, Write as _},
    path::Path,
    sync::mpsc,
    time::{Duration, Instant},
};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

/// A program on a PTY, and everything it printed so far.
pub struct Terminal {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn std::io::Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    output: mpsc::Receiver<Vec<u8>>,
    pub screen: String,
}

impl Terminal {
    /// Starts `program args` on a `cols`×`rows` terminal with `env` added.
    pub fn spawn(
        program: &Path,
        args: &[&str],
        env: &[(String, String)],
        cols: u16,
        rows: u16,
    ) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let writer = pty.master.take_writer().unwrap();
        let (tx, output) = mpsc::channel();
        // The PTY is read on a thread of its own: reads block.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            master: pty.master,
            writer,
            child,
            output,
            screen: String::new(),
        }
    }

    /// Types `text`.
    pub fn type_text(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Resizes the terminal (the program gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    /// Waits until the screen contains `needle`, for at most `limit`.
    pub fn expect(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.screen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.screen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!(
                    "{needle:?} did not appear within {limit:?}; the screen:\n{}",
                    self.screen
                ),
            }
        }
    }

    /// Types `text` until `needle` appears, at most `tries` times, each try waiting up to
    /// `limit / tries` — for effects that race with typing, such as a resize.
    pub fn expect_after_retries(&mut self, text: &str, needle: &str, tries: u32, limit: Duration) {
        let each = limit / tries;
        for _ in 0..tries {
            self.type_text(text);
            let deadline = Instant::now() + each;
            while !self.screen.contains(needle) {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.output.recv_timeout(left) {
                    Ok(bytes) => self.screen.push_str(&String::from_utf8_lossy(&bytes)),
                    Err(_) => break,
                }
            }
            if self.screen.contains(needle) {
                return;
            }
        }
        panic!(
            "{needle:?} did not appear after {tries} tries; the screen:\n{}",
            self.screen
        );
    }

    /// Waits for the program to exit, for at most `limit`; returns its exit code.
    pub fn wait(&mut self, limit: Duration) -> u32 {
        let deadline = Instant::now() + limit;
        loop {
            // Drain output so the program never blocks on a full PTY.
            while let Ok(bytes) = self.output.try_recv() {
                self.screen.push_str(&String::from_utf8_lossy(&bytes));
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code();
            }
            assert!(
                Instant::now() < deadline,
                "the program did not exit within {limit:?}; the screen:\n{}",
                self.screen
            );
            if let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(50)) {
                self.screen.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
