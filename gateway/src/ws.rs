//! The buffers and limits of every WebSocket the gateway accepts.
//!
//! tungstenite's defaults are sized for a few busy connections: a 128 KiB read buffer, zero
//! filled on the first read, so resident from then on — most of what an idle session cost the
//! gateway, which holds two WebSockets per session (the client's and the agent's data
//! channel). The read buffer is also the most one read system call takes: a frame larger than
//! it grows the buffer for that frame and is read in pieces of this size. [`READ_BUFFER`] is
//! what a keystroke, a status or a kick needs many times over, and reads a bulk frame (32 or
//! 60 KiB) in a handful of system calls. With glibc's malloc that cost a fifth of the bulk
//! throughput (each frame's fresh buffer page-faulted); with jemalloc (`main.rs`), which
//! recycles them, `axt-bench` measures upload level with 128 KiB and download a few percent
//! lower — 32 KiB on the agent's data channel alone brought download level, at 24 KiB more
//! per session (README, Performance).
//!
//! Messages are written as they are sent (the relay flushes each one anyway), so no write
//! buffer builds up; its bound is one largest message plus slack.

use axum::extract::WebSocketUpgrade;

/// Bytes one read of a WebSocket takes at most, and what an idle WebSocket keeps.
pub const READ_BUFFER: usize = 8 * 1024;

/// `ws` with the gateway's buffers and messages of at most `max_message` bytes (frames
/// included): a larger one closes that WebSocket instead of being buffered.
pub fn sized(ws: WebSocketUpgrade, max_message: usize) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(max_message + READ_BUFFER)
        .max_message_size(max_message)
        .max_frame_size(max_message)
}
