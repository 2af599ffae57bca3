//! The gateway function's core (outside the VPC): API Gateway's `$connect`, `$disconnect` and message
//! routes. It validates frames with `protocol`, answers bad frames and pings itself, and turns everything
//! else into a [`Command`] for the registry. It holds no state and never reaches Redis.
//!
//! The answer to a frame is returned, not posted: on AWS it is the route response's body (no
//! `PostToConnection`, no `execute-api:ManageConnections`), locally the WebSocket writes it back.

use protocol::{ClientFrame, Command, ConnectionId, ErrorCode, ServerFrame, User};
use time::OffsetDateTime;

use crate::ports::{Clock, Queue, QueueError};

/// `$connect`, after the authorizer allowed it: records the connection and its user.
pub async fn on_connect(
    commands: &dyn Queue<Command>,
    connection_id: ConnectionId,
    user: User,
) -> Result<(), QueueError> {
    commands
        .send_all(vec![Command::Connect {
            connection_id,
            user,
        }])
        .await
}

/// `$disconnect`: the registry forgets the connection and tells its rooms.
pub async fn on_disconnect(
    commands: &dyn Queue<Command>,
    connection_id: ConnectionId,
) -> Result<(), QueueError> {
    commands
        .send_all(vec![Command::Disconnect { connection_id }])
        .await
}

/// A frame on any message route (`join`, `send`, …, and `$default` for the rest). Returns the answer for
/// the sender, if there is one now.
///
/// Rules: a session ends when its token does: after `expires_at` every frame is answered `token_expired`
/// and goes no further (the client reconnects with a fresh token); a frame that fails
/// [`ClientFrame::parse`] is answered with an `error` frame (echoing its `client_id`) and goes no further;
/// `ping` is answered with `pong` here; every other frame is queued for the registry with the user the
/// authorizer vouched for, never one named in the frame, and is answered later through the delivery queue.
pub async fn on_frame(
    commands: &dyn Queue<Command>,
    clock: &dyn Clock,
    connection_id: ConnectionId,
    user: User,
    expires_at: Option<OffsetDateTime>,
    text: &str,
) -> Result<Option<ServerFrame>, QueueError> {
    let now = clock.now();
    if expires_at.is_some_and(|expiry| now >= expiry) {
        return Ok(Some(ServerFrame::error(ErrorCode::TokenExpired, None)));
    }
    match ClientFrame::parse(text) {
        Ok(ClientFrame::Ping) => Ok(Some(ServerFrame::Pong)),
        Ok(frame) => {
            commands
                .send_all(vec![Command::Frame {
                    connection_id,
                    user,
                    frame,
                    received_at: now,
                }])
                .await?;
            Ok(None)
        }
        Err(refusal) => {
            tracing::debug!(code = ?refusal.code, detail = %refusal.detail, "refused frame");
            Ok(Some(ServerFrame::error(refusal.code, refusal.client_id)))
        }
    }
}
