//! The one task that writes a session's WebSocket: typed bytes and sizes become frames — and,
//! in an encrypted session, sealed records — in the order they leave.

use tokio::sync::{mpsc, watch};

use crate::{
    channel::{ChannelError, FrameWriter, Outgoing},
    e2e::Sealing,
    terminal::Resizes,
};

/// What an encrypted shell gets at the end of input: the Ctrl-D a terminal would send. The
/// gateway makes one from a Close frame only for a session it can read.
const END_OF_INPUT: &[u8] = &[0x04];

/// Writes until both the input queue and the size watch are closed. Being the only writer
/// keeps the shared sequence counter — and the record counter of the authenticated suite — in
/// the order frames leave in.
pub async fn pump(
    mut writer: FrameWriter,
    mut input: mpsc::Receiver<Outgoing>,
    mut sizes: watch::Receiver<Option<(u16, u16)>>,
    mut sealing: Option<Sealing>,
) -> Result<(), ChannelError> {
    let (mut input_open, mut sizes_open) = (true, true);
    while input_open || sizes_open {
        tokio::select! {
            out = input.recv(), if input_open => match out {
                Some(out) => send(&mut writer, sealing.as_mut(), out).await?,
                None => input_open = false,
            },
            changed = sizes.changed(), if sizes_open => match changed {
                Ok(()) => {
                    let size = *sizes.borrow_and_update();
                    if let Some((cols, rows)) = size {
                        send(&mut writer, sealing.as_mut(), Outgoing::Resize { cols, rows }).await?;
                    }
                }
                Err(_) => sizes_open = false,
            },
        }
    }
    Ok(())
}

/// Sends one thing the session produced, sealed when there are keys.
async fn send(
    writer: &mut FrameWriter,
    sealing: Option<&mut Sealing>,
    out: Outgoing,
) -> Result<(), ChannelError> {
    let Some(sealing) = sealing else {
        return writer.send(out).await;
    };
    let records = match out {
        // A keep-alive stays empty in every suite.
        Outgoing::Input(bytes) if bytes.is_empty() => {
            return writer.send(Outgoing::Input(bytes)).await
        }
        Outgoing::Input(bytes) => sealing.data(&bytes),
        Outgoing::Resize { cols, rows } => match sealing.resize(cols, rows) {
            Some(record) => vec![record],
            None => return writer.send(Outgoing::Resize { cols, rows }).await,
        },
        Outgoing::Close => sealing.data(END_OF_INPUT),
        // Already sealed, or part of the exchange: as they are.
        other @ (Outgoing::Sealed(_) | Outgoing::KeyExchange(_)) => {
            return writer.send(other).await
        }
    };
    for record in records {
        writer.send(Outgoing::Sealed(record)).await?;
    }
    Ok(())
}

/// The next SIGWINCH's size; never resolves without a terminal.
pub async fn next_resize(resizes: &mut Option<Resizes>) -> Option<Option<(u16, u16)>> {
    match resizes {
        Some(resizes) => Some(resizes.next().await),
        None => std::future::pending().await,
    }
}
