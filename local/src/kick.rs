//! `POST /dev/kick`: the operator's "sign this person out everywhere", locally. On AWS `cargo xtask kick`
//! does the same through Cognito (global sign-out) and the command queue; here the gateway queues the
//! registry's `kick` command itself. Like `POST /dev/token`, it exists only in `chatty-local`.

use axum::{extract::State, http::StatusCode, Json};
use protocol::Command;
use serde::Deserialize;

use crate::{signin::TOKEN_TTL, AppState};

#[derive(Debug, Deserialize)]
pub struct KickRequest {
    /// The person's id (the ID token's `sub`), as the presence frames show it.
    user_id: String,
}

/// Signs the person out: every connection of theirs is told `signed_out` and closed, and new ones are
/// refused until the tokens this sign-in issued have all expired.
pub async fn kick(State(app): State<AppState>, Json(request): Json<KickRequest>) -> StatusCode {
    let until = app.clock.now() + TOKEN_TTL;
    let command = Command::Kick {
        user_id: request.user_id,
        until,
    };
    match app.commands.send_all(vec![command]).await {
        Ok(()) => StatusCode::ACCEPTED,
        Err(error) => {
            tracing::error!(%error, "queueing a kick failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
