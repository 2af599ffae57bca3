//! The ports: what the handlers need from the world, as small traits. Adapters implement them for
//! memory, Redis, SQS and API Gateway; the handlers take them as arguments and never look anything up.

use async_trait::async_trait;
use bytes::Bytes;
use protocol::{ChatMessage, ClientId, ConnectionId, MessageId, RoomName, User};
use time::OffsetDateTime;

/// A connection in a room, with the person holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub connection_id: ConnectionId,
    pub user: User,
}

/// A message to store; the registry assigns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub room: RoomName,
    pub client_id: ClientId,
    pub author: User,
    pub body: String,
    pub sent_at: OffsetDateTime,
}

/// What [`Registry::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The sender's connection is not in the room: nothing was stored.
    NotAMember,
    /// The message is stored and has not been fanned out yet (a new message, or a retry of one whose
    /// fan-out never completed): send it to `recipients`, every connection in the room, then
    /// [`Registry::mark_fanned_out`].
    FanOut {
        message: ChatMessage,
        recipients: Vec<ConnectionId>,
    },
    /// A retry of a message the room already has and was sent: confirm it to its sender only.
    AlreadySent { message: ChatMessage },
}

/// Which part of a room's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The newest `limit` messages, optionally only those older than an id.
    Before {
        before: Option<MessageId>,
        limit: u16,
    },
    /// The oldest `limit` messages newer than an id.
    After { after: MessageId, limit: u16 },
}

/// A page of history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub messages: Vec<ChatMessage>,
    /// More messages exist beyond the page, in the direction asked.
    pub has_more: bool,
}

/// Any error an adapter's backend raised, kept as the source of a port's error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why the registry could not do what it was asked. Either way the command may be retried.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The store could not be reached or refused the operation.
    #[error("registry {operation} failed: {source}")]
    Backend {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// The store holds something this code cannot read.
    #[error("registry holds an unreadable {what}: {source}")]
    Corrupt {
        what: &'static str,
        #[source]
        source: BoxError,
    },
}

/// The connection and room registry: connections, membership, presence and each room's capped history.
/// In production this is Redis, reached only from inside the VPC.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Records an open connection and who holds it.
    async fn connect(&self, connection_id: &ConnectionId, user: &User)
        -> Result<(), RegistryError>;
    /// Forgets a connection everywhere; returns the rooms it was in.
    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError>;
    /// Puts a connection in a room (idempotent).
    async fn join(&self, room: &RoomName, member: &Member) -> Result<(), RegistryError>;
    /// Takes a connection out of a room; says whether it was in it.
    async fn leave(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
    ) -> Result<bool, RegistryError>;
    /// Every connection in the room, with its user.
    async fn members(&self, room: &RoomName) -> Result<Vec<Member>, RegistryError>;
    /// Stores a message from `sender`, a connection that must be in the message's room, once per (room,
    /// author, client id), assigning it the next id in the room and trimming the room's history to its cap;
    /// answers who must receive it. One store operation: the membership check, the append and the
    /// recipients are read together.
    async fn append(
        &self,
        sender: &ConnectionId,
        message: NewMessage,
    ) -> Result<Appended, RegistryError>;
    /// Records that a message reached the delivery queue, so a retry of it is answered to its sender only.
    async fn mark_fanned_out(&self, message: &ChatMessage) -> Result<(), RegistryError>;
    async fn history(
        &self,
        room: &RoomName,
        query: HistoryQuery,
    ) -> Result<HistoryPage, RegistryError>;
}

/// Why items could not be queued. Nothing is half-sent by the caller's reckoning: retry the whole call.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The in-process queue's consumer has stopped (the process is shutting down).
    #[error("the queue's consumer has stopped")]
    Closed,
    /// An item is larger than one queue message may be; nothing was sent.
    #[error("an item of {bytes} bytes is over the queue's {limit}-byte message limit")]
    TooLarge { bytes: usize, limit: usize },
    /// The queue service failed or refused the call.
    #[error("queue {operation} failed: {source}")]
    Backend {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

/// A work queue (SQS in production). Delivery is at least once; consumers must be idempotent.
#[async_trait]
pub trait Queue<T: Send + 'static>: Send + Sync {
    async fn send_all(&self, items: Vec<T>) -> Result<(), QueueError>;
}

/// Why a post to a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is gone (HTTP 410): forget it. Not a failure of the delivery.
    #[error("connection is gone")]
    Gone,
    /// Too many requests (API Gateway's `LimitExceededException`): retry after a pause.
    #[error("throttled")]
    Throttled,
    /// Anything else; the recipient may be retried later.
    #[error("post failed: {0}")]
    Failed(#[source] BoxError),
}

/// Posts a frame to one connection (API Gateway's `@connections` API in production).
#[async_trait]
pub trait Pusher: Send + Sync {
    /// `payload` is one serialised server frame (UTF-8 JSON), shared by every recipient.
    async fn post(&self, connection_id: &ConnectionId, payload: Bytes) -> Result<(), PushError>;
}

/// The time, as a port so tests can fix it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
