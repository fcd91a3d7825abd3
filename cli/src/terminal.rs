//! The local terminal: raw mode that is restored on every way out, its size and SIGWINCH, and
//! stdin read on a thread of its own.

use std::{
    io::{IsTerminal as _, Read as _},
    sync::Once,
};

use tokio::{
    signal::unix::{signal, Signal, SignalKind},
    sync::mpsc,
};

/// Whether stdin is a terminal: only then is there a mode to change and a size to send.
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Raw mode for as long as this lives: keys go to the remote shell unprocessed (Ctrl-C is the
/// byte 03, not a local SIGINT) and the remote PTY does the echo.
pub struct RawMode(());

impl RawMode {
    /// Switches the terminal to raw mode. A panic hook restores it too, since a panic that
    /// aborts (or a second panic) would skip the guard's `Drop`.
    pub fn enable() -> std::io::Result<Self> {
        install_panic_hook();
        crossterm::terminal::enable_raw_mode()?;
        Ok(Self(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Err(err) = crossterm::terminal::disable_raw_mode() {
            tracing::warn!(%err, "could not restore the terminal; try `reset`");
        }
    }
}

/// Chains a hook that leaves raw mode before the default one prints the panic. crossterm only
/// restores what it saved, so the hook is harmless when raw mode is off.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::terminal::disable_raw_mode();
            previous(info);
        }));
    });
}

/// The terminal's size as `(cols, rows)`, if there is a terminal with a size.
pub fn size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .filter(|(cols, rows)| *cols > 0 && *rows > 0)
}

/// SIGWINCH, as the terminal's new size.
pub struct Resizes {
    signal: Signal,
}

impl Resizes {
    /// Starts listening for SIGWINCH.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            signal: signal(SignalKind::window_change())?,
        })
    }

    /// Waits for the next resize and returns the size then (`None` if it cannot be read).
    pub async fn next(&mut self) -> Option<(u16, u16)> {
        self.signal.recv().await;
        size()
    }
}

/// Reads stdin on a thread and sends each chunk (at most `max` bytes) as `wrap(Some(chunk))`,
/// then `wrap(None)` once at end of input or on a read error.
///
/// A thread rather than `tokio::io::stdin`: tokio reads stdin on its blocking pool, and the
/// runtime waits for that read at shutdown, so `axt` would hang until the next key press after
/// the session ended. A plain thread blocked in `read` does not keep the process alive.
///
/// `tx` is bounded and `blocking_send` waits when it is full: a large paste is held in the
/// kernel's pipe or tty buffer until the WebSocket has taken the previous chunks.
pub fn spawn_stdin_reader<T: Send + 'static>(
    tx: mpsc::Sender<T>,
    max: usize,
    wrap: fn(Option<Vec<u8>>) -> T,
) {
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; max];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.blocking_send(wrap(Some(buf[..n].to_vec()))).is_err() {
                            return; // the session is over; nobody wants more input
                        }
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(err) => {
                        tracing::warn!(%err, "reading stdin failed; treating it as its end");
                        break;
                    }
                }
            }
            let _ = tx.blocking_send(wrap(None));
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the stdin reader; no input will be sent");
    }
}

/// Signals that end a session from this side, with the exit code a shell would give.
pub struct Interrupts {
    hangup: Signal,
    interrupt: Signal,
    terminate: Signal,
}

impl Interrupts {
    /// Catches SIGHUP, SIGINT and SIGTERM, so the terminal is restored before `axt` exits.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for one and returns its name and `128 + number`.
    pub async fn recv(&mut self) -> (&'static str, u8) {
        tokio::select! {
            _ = self.hangup.recv() => ("SIGHUP", 129),
            _ = self.interrupt.recv() => ("SIGINT", 130),
            _ = self.terminate.recv() => ("SIGTERM", 143),
        }
    }
}
