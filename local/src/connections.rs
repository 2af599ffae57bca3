//! The connection table: what API Gateway knows about each WebSocket. A connection is `Connecting` while
//! its `$connect` runs (posts to it answer 410, as API Gateway's do) and `Open` after. Posting writes to
//! the socket's writer task; a closed or unknown connection is Gone. This table is both the in-process
//! [`Pusher`] and the state behind the `@connections` HTTP API, so every frame posted to a client passes
//! here, where a [`Meter`] counts it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use lambdas::{
    meter::Meter,
    ports::{PushError, Pusher},
};
use protocol::ConnectionId;
use rand::RngCore;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// What the socket's writer task is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Text(Utf8Bytes),
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

/// What `GET @connections/{id}` reports.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub connected_at: OffsetDateTime,
    pub last_active_at: OffsetDateTime,
    pub source_ip: SocketAddr,
    pub user_agent: Option<String>,
}

#[derive(Debug)]
struct Entry {
    open: bool,
    outbound: mpsc::UnboundedSender<Outbound>,
    info: ConnectionInfo,
}

#[derive(Debug, Default)]
pub struct Connections {
    entries: Mutex<HashMap<ConnectionId, Entry>>,
    meter: Option<Arc<Meter>>,
}

/// A fresh connection id in API Gateway's shape (16 characters of base64, e.g. `L0SM9cOFvHcCIhw=`), in the
/// URL-safe alphabet so it can stand in an `@connections/{id}` path as it is.
pub fn new_connection_id() -> ConnectionId {
    use base64::Engine;
    let mut bytes = [0u8; 11];
    rand::thread_rng().fill_bytes(&mut bytes);
    ConnectionId(base64::engine::general_purpose::URL_SAFE.encode(bytes))
}

impl Connections {
    /// An empty table, counting the frames posted through it in `meter`, if any.
    pub fn new(meter: Option<Arc<Meter>>) -> Self {
        Self {
            entries: Mutex::default(),
            meter,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `text` to the socket of `connection_id`, in the locked table.
    fn post_locked(
        &self,
        entries: &HashMap<ConnectionId, Entry>,
        connection_id: &ConnectionId,
        text: Utf8Bytes,
    ) -> Result<(), PushError> {
        let bytes = text.len();
        match entries.get(connection_id) {
            Some(entry) if entry.open => {
                entry
                    .outbound
                    .send(Outbound::Text(text))
                    .map_err(|_| PushError::Gone)?;
                if let Some(meter) = &self.meter {
                    meter.api.frame_out(bytes);
                }
                Ok(())
            }
            _ => Err(PushError::Gone),
        }
    }

    /// Registers a connection whose `$connect` is about to run.
    pub fn begin(
        &self,
        id: ConnectionId,
        outbound: mpsc::UnboundedSender<Outbound>,
        source_ip: SocketAddr,
        user_agent: Option<String>,
    ) {
        let now = OffsetDateTime::now_utc();
        self.entries().insert(
            id,
            Entry {
                open: false,
                outbound,
                info: ConnectionInfo {
                    connected_at: now,
                    last_active_at: now,
                    source_ip,
                    user_agent,
                },
            },
        );
    }

    /// `$connect` succeeded: the connection can be posted to.
    pub fn open(&self, id: &ConnectionId) {
        if let Some(entry) = self.entries().get_mut(id) {
            entry.open = true;
        }
    }

    /// The client sent something.
    pub fn touch(&self, id: &ConnectionId) {
        if let Some(entry) = self.entries().get_mut(id) {
            entry.info.last_active_at = OffsetDateTime::now_utc();
        }
    }

    /// The socket is gone; later posts answer 410.
    pub fn remove(&self, id: &ConnectionId) {
        self.entries().remove(id);
    }

    pub fn info(&self, id: &ConnectionId) -> Option<ConnectionInfo> {
        self.entries()
            .get(id)
            .filter(|e| e.open)
            .map(|e| e.info.clone())
    }

    /// Asks the socket to close (`DELETE @connections/{id}`). False if there was no open connection.
    pub fn close(&self, id: &ConnectionId) -> bool {
        let entries = self.entries();
        match entries.get(id) {
            Some(entry) if entry.open => entry.outbound.send(Outbound::Close(1000, "")).is_ok(),
            _ => false,
        }
    }

    /// The ids of the open connections (what an operator would list; tests use it to address them).
    pub fn open_ids(&self) -> Vec<ConnectionId> {
        self.entries()
            .iter()
            .filter(|(_, e)| e.open)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// A payload as a text frame: it must be UTF-8, as API Gateway's text frames are.
fn text_frame(payload: Bytes) -> Result<Utf8Bytes, PushError> {
    Utf8Bytes::try_from(payload).map_err(|e| PushError::Failed(Box::new(e)))
}

#[async_trait]
impl Pusher for Connections {
    async fn post(&self, connection_id: &ConnectionId, payload: Bytes) -> Result<(), PushError> {
        let text = text_frame(payload)?;
        self.post_locked(&self.entries(), connection_id, text)
    }

    /// The whole delivery under one lock of the table, the payload checked once. A payload that is not
    /// UTF-8 is left to [`Pusher::post`], which says why it fails.
    fn post_all_now(
        &self,
        recipients: &[ConnectionId],
        payload: &Bytes,
    ) -> Option<Vec<Result<(), PushError>>> {
        let text = text_frame(payload.clone()).ok()?;
        let entries = self.entries();
        Some(
            recipients
                .iter()
                .map(|id| self.post_locked(&entries, id, text.clone()))
                .collect(),
        )
    }

    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
        if Connections::close(self, connection_id) {
            Ok(())
        } else {
            Err(PushError::Gone)
        }
    }
}
