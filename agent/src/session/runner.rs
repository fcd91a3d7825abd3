//! What a session runs: a shell on a PTY or a TCP connection, behind one small interface so
//! that the data-channel loop does not care which.

use std::future::Future;

use axt_proto::status::AgentResult;

use super::{port::Port, shell::Shell};

/// Bounded queue of output chunks from a runner to the data channel. Its bound is where
/// back-pressure starts: while the data channel waits on pacing or on a slow gateway the
/// queue fills, the PTY reader thread (or the TCP reader task) blocks on it, and the shell's
/// writes (or the target's sends) block in turn — output is slowed down, never dropped.
pub const OUTPUT_QUEUE: usize = 16;
/// Bounded queue of input from the data channel to the PTY or socket writer. When the shell
/// or the target stops reading, it fills and the data channel stops reading frames, so the
/// gateway's sends slow down in turn.
pub const INPUT_QUEUE: usize = 64;

/// What a runner tells the data channel, in order.
#[derive(Debug)]
pub enum Event {
    /// Bytes for one Output frame.
    Output(Vec<u8>),
    /// The end, after the last output: the PTY hung up or the target closed (`Ok`), or an
    /// I/O failure.
    Ended(AgentResult),
}

/// A running shell or forward.
pub enum Runner {
    /// A shell on a PTY.
    Shell(Shell),
    /// A TCP connection.
    Port(Port),
}

impl Runner {
    /// Passes input on (waiting while the input queue is full); `false` once the writer is
    /// gone. The future holds a clone of the queue's sender, not the runner, whose PTY handle
    /// may not be shared across threads.
    pub fn input(&self, bytes: Vec<u8>) -> impl Future<Output = bool> + Send + 'static {
        let queue = match self {
            Self::Shell(shell) => shell.input_queue(),
            Self::Port(port) => port.input_queue(),
        };
        async move {
            match queue {
                Some(queue) => queue.send(bytes).await.is_ok(),
                None => false,
            }
        }
    }

    /// A CloseChannel frame: the client finished. A port forward half-closes its target and
    /// goes on until the target closes (`true`); a shell session ends (`false`).
    pub fn close_input(&mut self) -> bool {
        match self {
            Self::Shell(_) => false,
            Self::Port(port) => {
                port.close_input();
                true
            }
        }
    }

    /// Applies a terminal size; port forwards have none, as for the stock agent.
    pub fn resize(&self, cols: u16, rows: u16) {
        if let Self::Shell(shell) = self {
            shell.resize(cols, rows);
        }
    }

    /// Resolves when the shell's process has exited (never for a port forward). Cancel-safe.
    pub async fn exited(&mut self) {
        match self {
            Self::Shell(shell) => shell.exited().await,
            Self::Port(_) => std::future::pending().await,
        }
    }

    /// Stops whatever still runs and reaps it.
    pub async fn terminate(self) {
        match self {
            Self::Shell(shell) => shell.terminate().await,
            Self::Port(port) => port.terminate(),
        }
    }
}
