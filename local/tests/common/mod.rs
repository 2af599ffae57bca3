//! What every black-box test of the local gateway needs: a gateway on an ephemeral loopback port, tokens
//! from its sign-in, and a WebSocket client that reads frames with a deadline.
#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use chatty_local::{start, ConnectionLimits, Running, Settings};
use futures_util::{SinkExt, StreamExt};
use protocol::{ServerFrame, User};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::{
    connect_async_with_config,
    tungstenite::{self, protocol::CloseFrame, Message},
    MaybeTlsStream, WebSocketStream,
};

#[path = "../../../lambdas/tests/common/mod.rs"]
pub mod servers;

/// How long a test waits for a frame it expects.
pub const FRAME_WAIT: Duration = Duration::from_secs(5);
/// How long a test waits to be sure a frame does NOT come.
pub const QUIET_WAIT: Duration = Duration::from_millis(300);

pub async fn gateway() -> Running {
    gateway_with(ConnectionLimits::default()).await
}

pub async fn gateway_with(limits: ConnectionLimits) -> Running {
    gateway_on(Settings {
        limits,
        ..Settings::default()
    })
    .await
}

pub async fn gateway_on(settings: Settings) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start(listener, settings).await.unwrap()
}

/// An ID token from the gateway's `POST /dev/token`.
pub async fn token(gateway: &Running, name: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("{}/dev/token", gateway.http_url()))
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    response["id_token"].as_str().unwrap().to_owned()
}

pub struct Client {
    pub name: String,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Connects as `name` with a fresh token.
pub async fn connect(gateway: &Running, name: &str) -> Client {
    let token = token(gateway, name).await;
    connect_with_token(gateway, name, &token).await.unwrap()
}

pub async fn connect_with_token(
    gateway: &Running,
    name: &str,
    token: &str,
) -> Result<Client, tungstenite::Error> {
    // Without Nagle's algorithm, as browsers connect: frames sent back to back reach the gateway back to
    // back, rather than the second waiting for the first's (delayed) ACK.
    let (socket, _) =
        connect_async_with_config(format!("{}?token={token}", gateway.ws_url()), None, true)
            .await?;
    Ok(Client {
        name: name.to_owned(),
        socket,
    })
}

impl Client {
    pub async fn send_json(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next server frame, failing the test if none comes in time.
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            let Ok(next) = tokio::time::timeout(FRAME_WAIT, self.socket.next()).await else {
                panic!("{}: no frame within {FRAME_WAIT:?}", self.name)
            };
            let Some(message) = next else {
                panic!("{}: socket ended", self.name)
            };
            let message = message.unwrap();
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("bad frame {text}: {e}"))
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("{}: expected a text frame, got {other:?}", self.name),
            }
        }
    }

    /// The next server frame, or `None` if none comes within `wait` (a closed socket fails the test).
    pub async fn try_recv(&mut self, wait: Duration) -> Option<ServerFrame> {
        loop {
            let next = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Some(
                        serde_json::from_str(&text)
                            .unwrap_or_else(|e| panic!("bad frame {text}: {e}")),
                    )
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("{}: expected a text frame, got {other:?}", self.name),
            }
        }
    }

    /// Skips frames until one matches, failing if none does in time.
    pub async fn recv_until(
        &mut self,
        mut wanted: impl FnMut(&ServerFrame) -> bool,
    ) -> ServerFrame {
        loop {
            let frame = self.recv().await;
            if wanted(&frame) {
                return frame;
            }
        }
    }

    /// Asserts nothing arrives for a while, on a socket that stays open: only a wait that times out with
    /// no frame passes. A frame, a close, or an error within the wait fails the test, so a dead socket
    /// cannot pass for a quiet one.
    pub async fn expect_silence(&mut self) {
        match tokio::time::timeout(QUIET_WAIT, self.socket.next()).await {
            Err(_) => {}
            Ok(Some(Ok(Message::Close(frame)))) => panic!(
                "{}: expected silence on an open socket, but the server closed it within \
                 {QUIET_WAIT:?} ({frame:?})",
                self.name
            ),
            Ok(Some(Ok(message))) => panic!(
                "{}: expected no frame within {QUIET_WAIT:?}, got {message:?}",
                self.name
            ),
            Ok(Some(Err(error))) => panic!(
                "{}: expected silence on an open socket, but it failed within {QUIET_WAIT:?}: \
                 {error}",
                self.name
            ),
            Ok(None) => panic!(
                "{}: expected silence on an open socket, but it ended within {QUIET_WAIT:?}",
                self.name
            ),
        }
    }

    /// Waits for the server to close the socket and returns its close frame.
    pub async fn expect_close(&mut self, within: Duration) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => panic!("{}: socket not closed within {within:?}", self.name),
                Ok(Some(Ok(Message::Close(frame)))) => return frame,
                Ok(None | Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Joins `room` and waits for the presence frame that confirms it.
    pub async fn join(&mut self, room: &str) -> Vec<User> {
        self.send_json(json!({"action": "join", "room": room}))
            .await;
        match self
            .recv_until(
                |f| matches!(f, ServerFrame::Presence { room: r, .. } if r.as_str() == room),
            )
            .await
        {
            ServerFrame::Presence { members, .. } => members,
            _ => unreachable!(),
        }
    }

    pub async fn say(&mut self, room: &str, client_id: &str, body: &str) {
        self.send_json(
            json!({"action": "send", "room": room, "client_id": client_id, "body": body}),
        )
        .await;
    }

    /// The next `message` frame, skipping presence and typing.
    pub async fn next_message(&mut self) -> protocol::ChatMessage {
        match self
            .recv_until(|f| matches!(f, ServerFrame::Message(_)))
            .await
        {
            ServerFrame::Message(m) => m,
            _ => unreachable!(),
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// alice and bob, connected and in `room`; the presence frame bob's arrival sent alice is read.
pub async fn alice_and_bob_in(gateway: &Running, room: &str) -> (Client, Client) {
    let mut alice = connect(gateway, "alice").await;
    let mut bob = connect(gateway, "bob").await;
    alice.join(room).await;
    bob.join(room).await;
    let arrival = alice
        .recv_until(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    assert!(matches!(arrival, ServerFrame::Presence { members, .. } if members.len() == 2));
    (alice, bob)
}

pub fn names(members: &[User]) -> Vec<&str> {
    members.iter().map(|m| m.name.as_str()).collect()
}

/// A gateway on each registry: memory, then a fresh `redis-server` (kept alive with it).
pub async fn gateways() -> Vec<(&'static str, Running, Option<servers::Server>)> {
    let memory = gateway_on(Settings::default()).await;
    let server = servers::redis_server();
    let redis = gateway_on(Settings {
        redis_url: Some(server.redis_url()),
        ..Settings::default()
    })
    .await;
    vec![("memory", memory, None), ("redis", redis, Some(server))]
}
