//! The ports: what the handlers need from the world, as small traits. Adapters implement them for
//! memory, Redis, SQS and API Gateway; the handlers take them as arguments and never look anything up.

use async_trait::async_trait;
use bytes::Bytes;
use protocol::{
    limits::{Rate, MAX_NAMED_REACTORS, MAX_REACTIONS_PER_MESSAGE},
    ChatMessage, ClientId, Command, ConnectionId, Delivery, Emoji, InviteCode, MessageId, Reaction,
    RoomEntry, RoomName, ServerFrame, User,
};
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
#[expect(
    clippy::large_enum_variant,
    reason = "made once per send and taken apart at once: boxing the message would cost an allocation"
)]
pub enum Appended {
    /// The sender's connection is not in the room: nothing was stored.
    NotAMember,
    /// The message is stored: send it to `recipients`, every connection in the room. For a retry of a
    /// message the room already has (`retry`), that is the stored message in its latest version, fanned
    /// out again as its first fan-out may never have finished; clients keep one copy per message id.
    FanOut {
        message: ChatMessage,
        recipients: Vec<ConnectionId>,
        retry: bool,
    },
    /// The author is a member but their bucket of the [`RateCheck`] is empty: nothing was stored; one
    /// token fits again after this many milliseconds.
    RateLimited { retry_after_ms: u64 },
}

/// A rate to check together with an action on a room ([`Registry::append`]): one token of the acting
/// person's bucket `bucket` *in that room* at `rate`, taken as [`Registry::admit`] takes one, once the
/// membership is checked (a refused non-member takes none) and before anything else, and nothing else
/// done past the rate. The bucket is the person's in the room, not across rooms, so it lives
/// with the room (on a Redis Cluster, in the room's slot) and the check is part of the action's one store
/// operation on every store, at no round trip of its own. The token is taken at the message's `sent_at`
/// (when the gateway received it), so the rate is the person's own: a backlog the queue hands over at once
/// is not a burst, and the store needs no clock reading of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateCheck<'a> {
    pub bucket: &'a str,
    pub rate: Rate,
}

/// A change to a stored message, by the person named in [`Registry::change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The author replaces the body (already checked like a sent one), at `at`.
    Edit { body: String, at: OffsetDateTime },
    /// The author deletes the message: its body and its reactions go, a placeholder stays.
    Delete,
    /// Anyone in the room reacts with `emoji` (`on`) or takes that reaction back.
    React { emoji: Emoji, on: bool },
}

impl Change {
    /// This change applied to `message`, whose reactors are `reactors`, by the person `by`: the reference
    /// rules every registry adapter follows. `Ok(false)` when the message is already so (a redelivered
    /// change), so nothing more changes; the author alone may edit or delete; a deleted message takes no
    /// change but its delete again.
    pub fn apply_to(
        &self,
        message: &mut ChatMessage,
        reactors: &mut Reactors,
        by: &User,
    ) -> Result<bool, Refused> {
        match self {
            Self::React { .. } if message.deleted => Err(Refused::UnknownMessage),
            Self::React { emoji, on } => {
                let changed = reactors.set(by, *emoji, *on)?;
                if changed {
                    message.reactions = reactors.summary();
                }
                Ok(changed)
            }
            _ if message.author.id != by.id => Err(Refused::NotYourMessage),
            Self::Delete if message.deleted => Ok(false),
            _ if message.deleted => Err(Refused::UnknownMessage),
            Self::Edit { body, .. } if *body == message.body => Ok(false),
            Self::Edit { body, at } => {
                message.body.clone_from(body);
                message.edited_at = Some(*at);
                Ok(true)
            }
            Self::Delete => {
                message.body.clear();
                message.deleted = true;
                message.reactions.clear();
                *reactors = Reactors::default();
                Ok(true)
            }
        }
    }
}

/// Everyone who reacted to one message: per emoji of the set, the people in the order they reacted
/// (without pictures). What the store keeps beside the message, which carries only the counts and the
/// first names ([`Reactors::summary`]); at most [`MAX_REACTIONS_PER_MESSAGE`] in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reactors(Vec<(Emoji, Vec<User>)>);

impl Reactors {
    /// Reactions in all, each person's each emoji once.
    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, people)| people.len()).sum()
    }

    /// `by` reacts with `emoji` (`on`) or takes it back: true if that changed anything (a repeat does
    /// not). A new reaction past [`MAX_REACTIONS_PER_MESSAGE`] is refused.
    pub fn set(&mut self, by: &User, emoji: Emoji, on: bool) -> Result<bool, Refused> {
        let people = self.0.iter().position(|(e, _)| *e == emoji);
        let reacted = people.and_then(|p| {
            let r = self.0[p].1.iter().position(|u| u.id == by.id)?;
            Some((p, r))
        });
        match (on, reacted) {
            (true, Some(_)) | (false, None) => Ok(false),
            (false, Some((p, r))) => {
                self.0[p].1.remove(r);
                self.0.retain(|(_, people)| !people.is_empty());
                Ok(true)
            }
            (true, None) if self.total() >= MAX_REACTIONS_PER_MESSAGE => {
                Err(Refused::TooManyReactions)
            }
            (true, None) => {
                match people {
                    Some(p) => self.0[p].1.push(reactor(by)),
                    None => {
                        self.0.push((emoji, vec![reactor(by)]));
                        self.0.sort_by_key(|(e, _)| *e);
                    }
                }
                Ok(true)
            }
        }
    }

    /// What the message carries: per emoji reacted with, in [`Emoji::ALL`]'s order, the count and the
    /// first [`MAX_NAMED_REACTORS`] people.
    pub fn summary(&self) -> Vec<Reaction> {
        self.0
            .iter()
            .map(|(emoji, people)| Reaction {
                emoji: *emoji,
                count: u32::try_from(people.len()).unwrap_or(u32::MAX),
                users: people.iter().take(MAX_NAMED_REACTORS).cloned().collect(),
            })
            .collect()
    }

    /// The emoji `user_id` reacted with, in [`Emoji::ALL`]'s order.
    pub fn of(&self, user_id: &str) -> Vec<Emoji> {
        self.0
            .iter()
            .filter(|(_, people)| people.iter().any(|u| u.id == user_id))
            .map(|(emoji, _)| *emoji)
            .collect()
    }
}

/// A reactor as the store keeps them: their id and name.
fn reactor(user: &User) -> User {
    User {
        id: user.id.clone(),
        name: user.name.clone(),
        picture: None,
    }
}

/// Why a [`Change`] was refused; nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The connection is not in the room.
    NotAMember,
    /// The room holds no such message (never sent, trimmed, or an edit of a deleted one).
    UnknownMessage,
    /// Someone else wrote the message.
    NotYourMessage,
    /// A new reaction to a message holding [`MAX_REACTIONS_PER_MESSAGE`] already.
    TooManyReactions,
}

/// What [`Registry::change`] did: the message's latest version, to fan out to `recipients` (every
/// connection in the room). A redelivered change stores nothing more and answers the same version again.
/// After a reaction, the message's `mine` holds the reactor's own reactions (for their connections only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub message: ChatMessage,
    pub recipients: Vec<ConnectionId>,
}

/// The messages of a room changed after a change number, latest versions in change order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesPage {
    pub messages: Vec<ChatMessage>,
    /// The change number the page is current to: the room's latest, or, when the page was cut short (at
    /// its limit or byte budget), the last change it holds.
    pub rev: u64,
    /// The page was cut short: more changes follow `rev`.
    pub has_more: bool,
}

/// What [`Registry::connect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    Recorded,
    /// The person was signed out by an operator ([`Registry::kick`]) and is kept out for now: this
    /// connection was not recorded.
    SignedOut,
    /// The person holds [`protocol::limits::MAX_CONNECTIONS_PER_PERSON`] live connections already: this one
    /// was not recorded.
    TooManyConnections,
}

/// What [`Registry::join`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The connection is in the room now (it may have been already).
    Joined,
    /// Nobody is in the room and nobody wrote in it: joining brings it into being, which was not allowed
    /// (see `new_room` in [`Registry::join`]). Nothing changed.
    WouldCreate,
    /// The connection is in [`protocol::limits::MAX_ROOMS_PER_CONNECTION`] rooms already. Nothing changed.
    TooManyRooms,
    /// The room holds [`protocol::limits::MAX_MEMBERS_PER_ROOM`] connections already. Nothing changed.
    RoomFull,
    /// The room is private and the person is not one of its people (or it does not exist: the same).
    /// Nothing changed.
    NoSuchRoom,
}

/// What [`Registry::create_room`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The private room exists now, with its creator as its one person.
    Created,
    /// The creator is one of its people already (a retried `create`). Nothing changed.
    AlreadyIn,
    /// The room exists without the creator. Nothing changed.
    Taken,
}

/// What [`Registry::add_people`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Every one of them is among the room's people now (some may have been already).
    Added,
    /// The one adding them is not among the room's people, or there is no such room. Nothing changed.
    NoSuchRoom,
    /// They would make more than [`protocol::limits::MAX_PEOPLE_PER_PRIVATE_ROOM`]. Nothing changed.
    RoomFull,
}

/// What [`Registry::create_invite`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteCreated {
    /// A live link (a new one, or the one this person's same request made before), until `expires_ms`.
    Created { code: InviteCode, expires_ms: u64 },
    /// The asker is not among the room's people, or there is no such room. Nothing changed.
    NoSuchRoom,
    /// The room has [`protocol::limits::MAX_INVITE_LINKS_PER_ROOM`] live links. Nothing changed.
    TooMany,
}

/// What [`Registry::redeem_invite`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The person is among the room's people (they may have been already: a repeated redemption).
    Redeemed(RoomName),
    /// No live link of this code for this person: used by someone else, expired, never issued, or its
    /// room is gone. Nothing changed.
    Invalid,
    /// The room holds [`protocol::limits::MAX_PEOPLE_PER_PRIVATE_ROOM`] people. The code stays this
    /// person's.
    RoomFull,
}

/// A fresh invite code: 128 bits from the operating system's generator, as 32 hex digits.
pub fn new_invite_code() -> InviteCode {
    let mut bits = [0u8; 16];
    getrandom::fill(&mut bits).expect("the operating system's random generator works");
    let hex: String = bits.iter().map(|b| format!("{b:02x}")).collect();
    InviteCode::new(hex).expect("hex digits are an invite code")
}

/// A room's members as [`Registry::members`] read them, and the room's presence revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomMembers {
    pub members: Vec<Member>,
    /// Grows by one with every join (a repeated one too) and every leave or disconnect of a member while
    /// anyone is in the room, and starts afresh (at 0) once it empties, so it never moves back while a
    /// connection is in the room: clients compare the `presence` frames they get between their join and
    /// their leave by it (`ServerFrame::Presence`).
    pub rev: u64,
}

/// A person's list as [`Registry::rooms`] read it: the rooms by name, and the list's revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomList {
    pub rooms: Vec<RoomEntry>,
    /// Grows with every change of which rooms are on the list (not with a read position): a change sets
    /// it to the larger of one more than before and the time of the change in milliseconds, so it also
    /// starts above earlier revisions when the list expired or the store lost it. Clients drop a list
    /// older than one they have shown (`ServerFrame::Rooms`).
    pub rev: u64,
}

/// What [`Registry::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The action fits the rate; one token was taken.
    Admitted,
    /// The bucket is empty; one token fits again after this many milliseconds. Nothing was taken.
    Wait { retry_after_ms: u64 },
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
    /// Records an open connection and who holds it (and the person's profile, for [`Registry::profile`]),
    /// unless the person holds
    /// [`protocol::limits::MAX_CONNECTIONS_PER_PERSON`] live connections already. A connection's records
    /// expire after API Gateway's two-hour maximum plus a margin, so lost disconnects leave no ghosts for good.
    async fn connect(
        &self,
        connection_id: &ConnectionId,
        user: &User,
        now_ms: u64,
    ) -> Result<Connected, RegistryError>;
    /// Forgets a connection everywhere; returns the rooms it was in.
    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError>;
    /// Puts a connection in a room (idempotent: a connection already in it is [`Joined::Joined`] whatever the
    /// caps). Refuses, changing nothing, past the caps, when the room does not exist yet (no members,
    /// no history) and `new_room` is false, or when the room is private and the connection's person is not
    /// among its people ([`Joined::NoSuchRoom`]; `new_room` never creates a private room). Refreshes the
    /// room's retention. A join moves the room's presence revision on ([`RoomMembers::rev`]).
    async fn join(
        &self,
        room: &RoomName,
        member: &Member,
        new_room: bool,
        now_ms: u64,
    ) -> Result<Joined, RegistryError>;
    /// Takes a connection out of a room (and the room out of the connection's set); says whether it was
    /// in it. Moves the room's presence revision on if it was, or forgets it with the last member.
    async fn leave(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
    ) -> Result<bool, RegistryError>;
    /// Every connection in the room, with its user, and the room's presence revision, read together.
    async fn members(&self, room: &RoomName) -> Result<RoomMembers, RegistryError>;
    /// Stores a message from `sender`, a connection that must be in the message's room, once per (room,
    /// author, client id), assigning it the next id in the room and trimming the room's history to its cap;
    /// answers who must receive it. One store operation: the membership check, the append and the
    /// recipients are read together. With a `rate`, a member's token is taken before anything is stored
    /// ([`Appended::RateLimited`] past it).
    async fn append(
        &self,
        sender: &ConnectionId,
        message: NewMessage,
        rate: Option<RateCheck<'_>>,
    ) -> Result<Appended, RegistryError>;
    /// A page of the room's history for `reader`, a connection that must be in the room (`None` if it is
    /// not). Reads in bounded batches and stops once the page holds
    /// [`protocol::limits::MAX_SERVER_FRAME_BYTES`] of messages (`has_more` then says so). Every message
    /// with reactions carries the reader's own in `mine`.
    async fn history(
        &self,
        reader: &ConnectionId,
        room: &RoomName,
        query: HistoryQuery,
    ) -> Result<Option<HistoryPage>, RegistryError>;
    /// Applies `change` to the message `id` of `room`, by `by` (a connection that must be in the room, and
    /// its person), as [`Change::apply_to`] rules, with the message's [`Reactors`] the store keeps; a
    /// change that changes something takes the room's next change number (the message's `rev`). After a
    /// reaction, the answer's `mine` holds `by`'s own reactions. One store operation.
    async fn change(
        &self,
        by: &Member,
        room: &RoomName,
        id: MessageId,
        change: Change,
    ) -> Result<Result<Changed, Refused>, RegistryError>;
    /// For `reader`, a connection that must be in the room (`None` if it is not): the messages changed
    /// after change number `after` (at most `limit`, within [`protocol::limits::MAX_SERVER_FRAME_BYTES`]),
    /// and the number the page is current to. `limit` 0 answers the room's latest change number alone.
    /// Every message with reactions carries the reader's own in `mine`.
    async fn changes(
        &self,
        reader: &ConnectionId,
        room: &RoomName,
        after: u64,
        limit: u16,
    ) -> Result<Option<ChangesPage>, RegistryError>;
    /// Signs a person out: keeps them out of [`Registry::connect`] until `until_ms`, and answers their live
    /// connections (for the caller to close).
    async fn kick(
        &self,
        user_id: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<ConnectionId>, RegistryError>;
    /// Brings private room `room` into being with `user_id` as its one person, unless it exists (people,
    /// members or history).
    async fn create_room(
        &self,
        room: &RoomName,
        user_id: &str,
        now_ms: u64,
    ) -> Result<Created, RegistryError>;
    /// Adds people to a private room's people: `by` (when given) must be among them already; at most
    /// [`protocol::limits::MAX_PEOPLE_PER_PRIVATE_ROOM`]. Idempotent. Refreshes the room's retention.
    async fn add_people(
        &self,
        room: &RoomName,
        by: Option<&str>,
        people: &[&str],
        now_ms: u64,
    ) -> Result<Added, RegistryError>;
    /// A single-use invite link to private room `room`, asked for by `by` (who must be among its people)
    /// with `client_id`: the same request answers the same link. A link lives
    /// [`protocol::limits::INVITE_LINK_TTL_SECS`] (the room's live links are at most
    /// [`protocol::limits::MAX_INVITE_LINKS_PER_ROOM`]) and goes with its room.
    async fn create_invite(
        &self,
        room: &RoomName,
        by: &str,
        client_id: &ClientId,
        now_ms: u64,
    ) -> Result<InviteCreated, RegistryError>;
    /// Uses invite link `code` for `user_id`: the first person to redeem a live link makes it theirs and
    /// becomes one of its room's people (within the people cap); anyone else after is
    /// [`Redemption::Invalid`], and the same person again is let in again. Refreshes the room's
    /// retention.
    async fn redeem_invite(
        &self,
        code: &InviteCode,
        user_id: &str,
        now_ms: u64,
    ) -> Result<Redemption, RegistryError>;
    /// Takes a person out of a private room's people; the last one out deletes the room (people,
    /// members, history, links). Says whether the room is gone. Nothing for a public room.
    async fn remove_person(&self, room: &RoomName, user_id: &str) -> Result<bool, RegistryError>;
    /// Puts `room` on the person's list (keeping its read position; `with` names a direct conversation's
    /// other person), unless the list holds [`protocol::limits::MAX_ROOMS_PER_PERSON`] others: then false,
    /// nothing changed. Refreshes the list's retention. A change moves the list's revision
    /// ([`RoomList::rev`]) on, at `now_ms` at least.
    async fn list_add(
        &self,
        user_id: &str,
        room: &RoomName,
        with: Option<&User>,
        now_ms: u64,
    ) -> Result<bool, RegistryError>;
    /// Takes `room` off the person's list, moving its revision on (at `now_ms` at least) if it was there.
    async fn list_remove(
        &self,
        user_id: &str,
        room: &RoomName,
        now_ms: u64,
    ) -> Result<(), RegistryError>;
    /// The person's list, by room name, and its revision, read together.
    async fn rooms(&self, user_id: &str) -> Result<RoomList, RegistryError>;
    /// Moves the person's read position in `room` to `id` if that is newer; says whether it moved (false
    /// too when the room is not on their list). Leaves the list's revision: read positions only move
    /// forward, and clients keep the newest they see.
    async fn mark_read(
        &self,
        user_id: &str,
        room: &RoomName,
        id: MessageId,
    ) -> Result<bool, RegistryError>;
    /// The person as their last connection's token named them ([`Registry::connect`] records it), if they
    /// connected within [`protocol::limits::PERSON_RETENTION_SECS`].
    async fn profile(&self, user_id: &str) -> Result<Option<User>, RegistryError>;
    /// The person's live connections.
    async fn live(&self, user_id: &str, now_ms: u64) -> Result<Vec<ConnectionId>, RegistryError>;
    /// Takes one token from the person's bucket `bucket` (e.g. `send`, `typing:general`), refilled at
    /// `rate`; atomic, so the limit holds across every process sharing the store. An unused bucket is
    /// forgotten once it would be full again.
    async fn admit(
        &self,
        user_id: &str,
        bucket: &str,
        rate: Rate,
        now_ms: u64,
    ) -> Result<Admission, RegistryError>;
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

/// What keeps queue items in order, as an SQS FIFO queue's `MessageGroupId`: items of one group are handed
/// out in the order they were queued, one group's items after another's failed one only once it succeeded;
/// items of different groups in any order, at once.
pub trait MessageGroup {
    fn message_group(&self) -> String;
}

/// A command's group is its connection: a connection's `join`, `send`s and `$disconnect` apply in the order
/// it sent them (never a `send` before its `join`), while different connections' commands apply at once.
impl MessageGroup for Command {
    fn message_group(&self) -> String {
        match self {
            Self::Kick { user_id, .. } => format!("user:{user_id}"),
            _ => self
                .connection_id()
                .map(|c| c.0.clone())
                .unwrap_or_default(),
        }
    }
}

/// A delivery's group is its room: a room's frames reach each member in the order the registry queued
/// them. A frame about no room (an error, a refusal) goes with its first recipient.
impl MessageGroup for Delivery {
    fn message_group(&self) -> String {
        match &self.frame {
            ServerFrame::Message(message) | ServerFrame::Changed(message) => {
                format!("room:{}", message.room)
            }
            ServerFrame::History { room, .. }
            | ServerFrame::Presence { room, .. }
            | ServerFrame::Typing { room, .. } => format!("room:{room}"),
            _ => match self.recipients.first() {
                Some(recipient) => format!("to:{recipient}"),
                None => String::new(),
            },
        }
    }
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
    /// Closes the connection (`DELETE @connections/{id}`); [`PushError::Gone`] if it already is.
    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError>;
    /// Posts `payload` to every one of `recipients` without waiting, when this pusher can (an in-process
    /// connection table): one outcome per recipient, in order. `None` (the default, and API Gateway's)
    /// when it cannot: the sender then posts one by one with [`Pusher::post`].
    fn post_all_now(
        &self,
        _recipients: &[ConnectionId],
        _payload: &Bytes,
    ) -> Option<Vec<Result<(), PushError>>> {
        None
    }
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

/// `time` in Unix milliseconds, the unit the store keeps times in (0 before 1970).
pub fn unix_millis(time: OffsetDateTime) -> u64 {
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
