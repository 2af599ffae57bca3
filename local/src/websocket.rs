//! The WebSocket side of the API Gateway stand-in: `GET /ws?token=…`. It runs the authorizer before the
//! upgrade (401 on a bad token, as API Gateway does), gives the socket a connection id, runs `$connect`,
//! routes every text frame to the gateway handler, enforces API Gateway's limits (32 KB frames → close
//! 1009; idle and maximum connection time → close 1001; a frame after the token expired → `token_expired`
//! and close 1008) and runs `$disconnect` when the socket ends.
//!
//! With a [`Meter`](lambdas::meter::Meter), it counts what API Gateway would bill and invoke: the
//! authorizer on every upgrade, the gateway function on `$connect`, on every frame it routes and on
//! `$disconnect` (each with its duration), the frames in and the answers out, and the connection's time.

use std::{future::Future, net::SocketAddr, time::Instant};

use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket},
        ConnectInfo, Query, State, WebSocketUpgrade,
    },
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use lambdas::{auth::Session, core::gateway, meter::FunctionMeter};
use protocol::{limits::MAX_FRAME_BYTES, ErrorCode, ServerFrame};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::{
    connections::{new_connection_id, Outbound},
    AppState,
};

/// Close codes API Gateway uses.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_TOO_BIG: u16 = 1009;
/// A frame after the connection's token expired (answered `token_expired`, then closed).
const CLOSE_POLICY: u16 = 1008;

/// Messages up to this size are read whole so that an oversized frame can be answered with 1009 rather
/// than a dropped socket.
const READ_LIMIT_BYTES: usize = 1024 * 1024;

/// The socket's read buffer. tungstenite's default (128 KiB, zero-filled) made an idle connection cost
/// ~136 KiB; client frames are small, and larger ones still arrive, in more reads.
const READ_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, Deserialize)]
pub struct ConnectParams {
    #[serde(default)]
    token: Option<String>,
}

/// `GET /ws?token=<ID token>`
pub async fn upgrade(
    State(app): State<AppState>,
    Query(params): Query<ConnectParams>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let verified = invoke(
        app.meter.as_ref().map(|m| &*m.authorizer),
        app.verifier
            .verify_session(params.token.as_deref().unwrap_or("")),
    )
    .await;
    let session = match verified {
        Ok(session) => session,
        Err(refusal) => {
            tracing::info!(reason = %refusal, "connection refused");
            return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        }
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    upgrade
        .max_message_size(READ_LIMIT_BYTES)
        .max_frame_size(READ_LIMIT_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(app, socket, session, peer, user_agent))
}

async fn run(
    app: AppState,
    socket: WebSocket,
    session: Session,
    peer: SocketAddr,
    user_agent: Option<String>,
) {
    let Session { user, expires_at } = session;
    let id = new_connection_id();
    let (outbound_tx, outbound_rx) = mpsc::unbounded_channel();
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, outbound_rx));

    let gateway_meter = app.meter.as_ref().map(|m| &*m.gateway);
    app.connections
        .begin(id.clone(), outbound_tx.clone(), peer, user_agent);
    let connected = invoke(
        gateway_meter,
        gateway::on_connect(&*app.commands, id.clone(), user.clone()),
    )
    .await;
    if let Err(error) = connected {
        tracing::error!(connection_id = %id, %error, "$connect failed");
        app.connections.remove(&id);
        let _ = outbound_tx.send(Outbound::Close(1011, "connect failed"));
        let _ = writer.await;
        return;
    }
    app.connections.open(&id);
    let opened = app.meter.as_ref().map(|m| m.api.opened());
    tracing::debug!(connection_id = %id, user = %user.id, "connected");

    let deadline = tokio::time::sleep(app.limits.max_connection);
    tokio::pin!(deadline);
    // The writer ends when the socket is closed from this side (`DELETE @connections/{id}`): the
    // connection is over then, as on API Gateway, whether or not the client answers the close.
    let mut writer = writer;
    let mut writer_done = false;
    loop {
        let next = tokio::select! {
            () = &mut deadline => {
                let _ = outbound_tx.send(Outbound::Close(CLOSE_GOING_AWAY, "Connection duration exceeded"));
                break;
            }
            _ = &mut writer => {
                writer_done = true;
                break;
            }
            next = tokio::time::timeout(app.limits.idle, stream.next()) => next,
        };
        let message = match next {
            Err(_) => {
                let _ = outbound_tx.send(Outbound::Close(CLOSE_GOING_AWAY, "Idle timeout"));
                break;
            }
            Ok(None | Some(Err(_))) => break,
            Ok(Some(Ok(message))) => message,
        };
        app.connections.touch(&id);
        let text = match message {
            Message::Text(text) => text.to_string(),
            // Frames are JSON text; binary ones are read as (lossy) text and refused as malformed.
            Message::Binary(data) => String::from_utf8_lossy(&data).into_owned(),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if text.len() > MAX_FRAME_BYTES {
            let _ = outbound_tx.send(Outbound::Close(CLOSE_TOO_BIG, "Message too big"));
            break;
        }
        if let Some(meter) = &app.meter {
            meter.api.frame_in(text.len());
        }
        let answer = invoke(
            gateway_meter,
            gateway::on_frame(
                &*app.commands,
                &*app.clock,
                id.clone(),
                user.clone(),
                Some(expires_at),
                &text,
            ),
        )
        .await;
        match answer {
            Ok(Some(answer)) => {
                let expired = matches!(
                    answer,
                    ServerFrame::Error {
                        code: ErrorCode::TokenExpired,
                        ..
                    }
                );
                let answer = answer.to_json();
                if let Some(meter) = &app.meter {
                    meter.api.frame_out(answer.len());
                }
                let _ = outbound_tx.send(Outbound::Text(answer.into()));
                if expired {
                    let _ = outbound_tx.send(Outbound::Close(CLOSE_POLICY, "Token expired"));
                    break;
                }
            }
            Ok(None) => {}
            Err(error) => tracing::error!(connection_id = %id, %error, "frame handling failed"),
        }
    }

    app.connections.remove(&id);
    if let (Some(meter), Some(opened)) = (&app.meter, opened) {
        meter.api.closed(opened);
    }
    drop(outbound_tx);
    if !writer_done {
        let _ = writer.await;
    }
    let disconnected = invoke(
        gateway_meter,
        gateway::on_disconnect(&*app.commands, id.clone()),
    )
    .await;
    if let Err(error) = disconnected {
        tracing::error!(connection_id = %id, %error, "$disconnect failed");
    }
    tracing::debug!(connection_id = %id, "disconnected");
}

/// Runs one function invocation, counting it and its duration in `meter`, if any.
async fn invoke<T>(meter: Option<&FunctionMeter>, invocation: impl Future<Output = T>) -> T {
    let Some(meter) = meter else {
        return invocation.await;
    };
    let started = Instant::now();
    let outcome = invocation.await;
    meter.invoked(started.elapsed());
    outcome
}

/// Writes what the connection is sent. Frames already queued are fed to the socket together and flushed
/// once, so a burst to one connection costs one `send(2)` rather than one per frame (measured: the busy-room
/// throughput went from 0.80x to 1.40x the bare relay's, docs/performance.md).
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    'connection: while let Some(mut next) = outbound.recv().await {
        loop {
            match next {
                Outbound::Text(text) => {
                    if sink.feed(Message::Text(text)).await.is_err() {
                        break 'connection;
                    }
                }
                Outbound::Close(code, reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })))
                        .await;
                    break 'connection;
                }
            }
            match outbound.try_recv() {
                Ok(queued) => next = queued,
                Err(_) => break,
            }
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}
