//! The gateway function (outside the VPC): API Gateway's `$connect`, `$disconnect` and message routes.
//! It validates frames with `protocol`, answers bad frames and pings straight to the sender, and turns
//! everything else into a [`Command`] for the registry. It holds no state and never reaches Redis.

use bytes::Bytes;
use protocol::{ClientFrame, Command, ConnectionId, ServerFrame, User};

use crate::ports::Pusher;
use crate::ports::{Clock, PushError, Queue, QueueError};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("answering the sender: {0}")]
    Push(PushError),
}

/// `$connect`, after the authorizer allowed it: records the connection and its user.
pub async fn on_connect(
    commands: &dyn Queue<Command>,
    connection_id: ConnectionId,
    user: User,
) -> Result<(), GatewayError> {
    commands
        .send_all(vec![Command::Connect {
            connection_id,
            user,
        }])
        .await?;
    Ok(())
}

/// `$disconnect`: the registry forgets the connection and tells its rooms.
pub async fn on_disconnect(
    commands: &dyn Queue<Command>,
    connection_id: ConnectionId,
) -> Result<(), GatewayError> {
    commands
        .send_all(vec![Command::Disconnect { connection_id }])
        .await?;
    Ok(())
}

/// A frame on any message route (`join`, `send`, …, and `$default` for the rest).
///
/// Rules: a frame that fails [`ClientFrame::parse`] is answered with an `error` frame (echoing its
/// `client_id`) and goes no further; `ping` is answered with `pong` here; every other frame is queued
/// for the registry with the user the authorizer vouched for, never one named in the frame.
pub async fn on_frame(
    commands: &dyn Queue<Command>,
    pusher: &dyn Pusher,
    clock: &dyn Clock,
    connection_id: ConnectionId,
    user: User,
    text: &str,
) -> Result<(), GatewayError> {
    let reply = match ClientFrame::parse(text) {
        Ok(ClientFrame::Ping) => ServerFrame::Pong,
        Ok(frame) => {
            commands
                .send_all(vec![Command::Frame {
                    connection_id,
                    user,
                    frame,
                    received_at: clock.now(),
                }])
                .await?;
            return Ok(());
        }
        Err(refusal) => {
            tracing::debug!(code = ?refusal.code, detail = %refusal.detail, "refused frame");
            ServerFrame::Error {
                code: refusal.code,
                message: refusal.code.describe().to_owned(),
                client_id: refusal.client_id,
            }
        }
    };
    match pusher
        .post(&connection_id, Bytes::from(reply.to_json()))
        .await
    {
        Ok(()) | Err(PushError::Gone) => Ok(()),
        Err(e) => Err(GatewayError::Push(e)),
    }
}
