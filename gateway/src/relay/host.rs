//! What a relay needs from the gateway around it, and nothing more: a way to kick the agent,
//! a way to record the connection, its timers, and the signal that the gateway is closing.
//! The gateway's [`Shared`] is the real host; the relay's unit tests use one of their own.

use std::{future::Future, time::Duration};

use axt_proto::{internal::RecordChannel, kick::Kick};

use crate::{kick::KickError, Shared};

/// The relay's outside world.
pub trait Host: Send + Sync + 'static {
    /// Queues a kick on the instance's kick channel.
    fn kick(&self, instance_id: &str, kick: Kick) -> Result<(), KickError>;

    /// Records a connection's progress with the control plane; a failure is logged here (the
    /// relay carries on either way).
    fn record(&self, update: RecordChannel) -> impl Future<Output = ()> + Send;
}

impl Host for Shared {
    fn kick(&self, instance_id: &str, kick: Kick) -> Result<(), KickError> {
        self.kicks.send(instance_id, kick)
    }

    async fn record(&self, update: RecordChannel) {
        if let Err(error) = self.cp.call(&update).await {
            tracing::warn!(%error, status = ?update.status, "recording the connection");
        }
    }
}

/// The relay's timers (the gateway's options).
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    /// How long the agent has to open its data channel after the kick.
    pub delivery: Duration,
    /// How long client input is held after the data channel opened, unless the agent speaks
    /// first.
    pub input_hold: Duration,
    /// No data either way for this long ends the connection.
    pub idle: Duration,
}

impl Timers {
    /// The timers of a gateway's configuration.
    pub fn of(config: &crate::Config) -> Self {
        Self {
            delivery: Duration::from_secs(config.delivery_timeout_secs),
            input_hold: Duration::from_millis(config.input_hold_ms),
            idle: Duration::from_secs(config.idle_timeout_secs),
        }
    }
}
