//! The baseline: the least a Rust WebSocket fan-out can do, built on `tokio-tungstenite` alone, speaking
//! just enough of Chatty's frames that the same generator drives it. Exactly what it does:
//!
//! - accepts any WebSocket upgrade on any path; a `?token=` is ignored (no authentication);
//! - reads each text frame as JSON into `{action, room, client_id, body}` (borrowed strings; nothing
//!   is validated) and ignores anything else, including frames that do not parse;
//! - `{"action":"join","room":R}` adds the connection to room R and answers the joiner alone with
//!   `{"type":"presence","room":R,"members":[]}` (Chatty tells the whole room, with every member);
//! - `{"action":"send","room":R,"client_id":C,"body":B}` is serialised once as
//!   `{"type":"message","room":R,"client_id":C,"body":B}` and the same bytes are queued to every member
//!   of R, the sender included when it joined R (it is not checked);
//! - each connection has one writer task draining an unbounded queue; the frames queued when it wakes are
//!   written together and flushed once (one `send(2)` per burst, as Chatty's gateway does); a closed
//!   connection leaves its rooms.
//!
//! What it leaves out, and Chatty does: token verification, frame validation, message ids, authors,
//! timestamps, history, presence lists, de-duplication of retries, and the command/delivery queues
//! between the gateway, registry and sender handlers. The difference in cost is what the benchmark shows.

use std::{
    borrow::Cow,
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

use crate::target::ensure_loopback_addr;

/// The rooms: name → (connection number → its outbound queue).
#[derive(Default)]
struct Rooms {
    rooms: Mutex<HashMap<String, HashMap<u64, mpsc::UnboundedSender<Message>>>>,
}

impl Rooms {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<u64, mpsc::UnboundedSender<Message>>>>
    {
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Deserialize)]
struct Inbound<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(default, borrow)]
    room: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    body: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct Outbound<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<[(); 0]>,
}

/// A running relay.
pub struct Relay {
    pub addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Relay {
    /// `ws://127.0.0.1:PORT/ws`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn stop(self) {
        self.server.abort();
    }

    /// Runs until the accept loop ends.
    pub async fn wait(self) {
        let _ = self.server.await;
    }
}

/// Starts the relay on `listener`, which must be bound to a loopback address.
pub fn start(listener: TcpListener) -> anyhow::Result<Relay> {
    let addr = listener.local_addr()?;
    ensure_loopback_addr(addr)?;
    let rooms = Arc::new(Rooms::default());
    let next_id = Arc::new(AtomicU64::new(0));
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(connection(stream, id, rooms.clone()));
        }
    });
    Ok(Relay { addr, server })
}

async fn connection(stream: tokio::net::TcpStream, id: u64, rooms: Arc<Rooms>) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let (outbound, mut queue) = mpsc::unbounded_channel::<Message>();
    // Everything queued when the writer wakes is fed together and flushed once: one `send(2)` per burst,
    // not one per frame.
    let writer = tokio::spawn(async move {
        'wake: while let Some(first) = queue.recv().await {
            let mut next = Some(first);
            while let Some(message) = next {
                if sink.feed(message).await.is_err() {
                    break 'wake;
                }
                next = queue.try_recv().ok();
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut joined: Vec<String> = Vec::new();
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            if message.is_close() {
                break;
            }
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Inbound<'_>>(&text) else {
            continue;
        };
        let Some(room) = frame.room.as_deref() else {
            continue;
        };
        match &*frame.action {
            "join" => {
                rooms
                    .lock()
                    .entry(room.to_owned())
                    .or_default()
                    .insert(id, outbound.clone());
                joined.push(room.to_owned());
                let ack = Outbound {
                    kind: "presence",
                    room,
                    client_id: None,
                    body: None,
                    members: Some([]),
                };
                let _ = outbound.send(to_message(&ack));
            }
            "send" => {
                let frame = to_message(&Outbound {
                    kind: "message",
                    room,
                    client_id: frame.client_id.as_deref(),
                    body: frame.body.as_deref(),
                    members: None,
                });
                if let Some(members) = rooms.lock().get(room) {
                    for member in members.values() {
                        let _ = member.send(frame.clone());
                    }
                }
            }
            _ => {}
        }
    }
    {
        let mut rooms = rooms.lock();
        for room in joined {
            if let Some(members) = rooms.get_mut(&room) {
                members.remove(&id);
            }
        }
    }
    drop(outbound);
    let _ = writer.await;
}

fn to_message(frame: &Outbound<'_>) -> Message {
    Message::text(serde_json::to_string(frame).expect("relay frames always serialise"))
}
