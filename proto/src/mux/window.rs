//! Credit (docs/protocol.md §9.5): how many payload bytes of one stream may be on their way.
//! Limits are absolute byte offsets, as QUIC's MAX_STREAM_DATA, not increments as HTTP/2's
//! WINDOW_UPDATE: a Credit frame that arrives twice, late, or again after a reconnect changes
//! nothing, so Credit needs no sequence number and no replay.

/// Credit misused. `Exhausted` and `Release` are bugs in this end; `Overrun` is the peer's
/// (reset the stream with [`crate::mux::ResetCode::FlowControl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Sending more than the peer allowed.
    #[error("sending {wanted} bytes with {available} bytes of credit")]
    Exhausted {
        /// Bytes the send would take.
        wanted: u64,
        /// Credit left.
        available: u64,
    },
    /// The peer sent past the limit this end granted.
    #[error("the peer's data reaches offset {reached}, past its limit of {limit}")]
    Overrun {
        /// Where the peer's data would end.
        reached: u64,
        /// The limit granted.
        limit: u64,
    },
    /// Releasing bytes that were never received.
    #[error("releasing {wanted} bytes with {buffered} held")]
    Release {
        /// Bytes to release.
        wanted: u64,
        /// Bytes received and not yet released.
        buffered: u64,
    },
}

/// The sending side of one stream: what the peer allows, what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    sent: u64,
    limit: u64,
}

impl SendWindow {
    /// A new stream's credit: the peer's Hello `window`.
    pub fn new(initial: u32) -> Self {
        Self {
            sent: 0,
            limit: u64::from(initial),
        }
    }

    /// Bytes that may be sent now. Never negative: `sent` only grows by [`SendWindow::consume`],
    /// which refuses to pass `limit`, and `limit` never shrinks.
    pub fn available(&self) -> u64 {
        self.limit - self.sent
    }

    /// Takes `n` bytes of credit for a Data frame; refuses, taking nothing, beyond what is
    /// available. At zero the sender stops reading its source until a Credit arrives.
    pub fn consume(&mut self, n: usize) -> Result<(), CreditError> {
        let wanted = as_u64(n);
        if wanted > self.available() {
            return Err(CreditError::Exhausted {
                wanted,
                available: self.available(),
            });
        }
        self.sent += wanted;
        Ok(())
    }

    /// Applies a Credit frame's limit; a lower or equal one is stale and ignored. Whether it
    /// gave more room.
    pub fn grant(&mut self, limit: u64) -> bool {
        let grew = limit > self.limit;
        self.limit = self.limit.max(limit);
        grew
    }

    /// Payload bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The limit the peer granted.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// The receiving side of one stream: what this end granted, what arrived, what it passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvWindow {
    window: u64,
    received: u64,
    released: u64,
    limit: u64,
}

impl RecvWindow {
    /// A new stream with this end's Hello `window` granted.
    pub fn new(window: u32) -> Self {
        let window = u64::from(window);
        Self {
            window,
            received: 0,
            released: 0,
            limit: window,
        }
    }

    /// Counts a Data payload of `n` bytes; refuses one that goes past the granted limit.
    pub fn receive(&mut self, n: usize) -> Result<(), CreditError> {
        let reached = self.received.saturating_add(as_u64(n));
        if reached > self.limit {
            return Err(CreditError::Overrun {
                reached,
                limit: self.limit,
            });
        }
        self.received = reached;
        Ok(())
    }

    /// `n` received bytes left this end's buffer (written to the target, or sent on the other
    /// leg). Returns the new limit to send in a Credit frame once at least half a window of room
    /// has not been granted yet: one Credit per half window, not one per Data frame.
    pub fn release(&mut self, n: usize) -> Result<Option<u64>, CreditError> {
        let wanted = as_u64(n);
        if wanted > self.buffered() {
            return Err(CreditError::Release {
                wanted,
                buffered: self.buffered(),
            });
        }
        self.released += wanted;
        let target = self.released.saturating_add(self.window);
        if target.saturating_sub(self.limit) >= self.window.div_ceil(2) {
            self.limit = target;
            return Ok(Some(target));
        }
        Ok(None)
    }

    /// Bytes received and not yet released: what this stream holds in memory here, never more
    /// than one window.
    pub fn buffered(&self) -> u64 {
        self.received - self.released
    }

    /// The limit granted so far: sent again in a Credit after a reconnect, since a Credit lost
    /// with the old socket is not replayed.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Payload bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
