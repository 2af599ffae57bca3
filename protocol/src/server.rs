//! Server → client frames, tagged by `"type"`, and the payloads they carry.

use serde::de;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::client::ACTIONS;
use crate::flat::{name_index, Fields, FromFields, NameSeed};
use crate::ids::{ClientId, InviteCode, MessageId, RoomName};
use crate::limits::{
    INVITE_LINK_TTL_SECS, MAX_BODY_CHARS, MAX_CLIENT_ID_LEN, MAX_CONNECTIONS_PER_PERSON,
    MAX_FRAME_BYTES, MAX_HISTORY_LIMIT, MAX_INVITE_LINKS_PER_ROOM, MAX_MEMBERS_PER_ROOM,
    MAX_PEOPLE_PER_PRIVATE_ROOM, MAX_REACTIONS_PER_MESSAGE, MAX_ROOMS_PER_CONNECTION,
    MAX_ROOMS_PER_PERSON, MAX_ROOM_NAME_LEN, MAX_USER_ID_LEN, NEW_ROOM_RATE,
};
use crate::reaction::{Emoji, Reaction};

/// A signed-in person as others see them. `id` is the identity provider's `sub`; `name` comes from the
/// token, never from a frame, so nobody can speak as someone else. Read as a flat object ([`crate::flat`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

impl FromFields for User {
    const EXPECTING: &'static str = "struct User";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            id: fields.text("id")?,
            name: fields.text("name")?,
            picture: fields.optional_text("picture")?,
        })
    }
}

impl<'de> Deserialize<'de> for User {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::flat::deserialize(deserializer)
    }
}

/// A stored chat message. Its reader is the frames' own (below); the attributes say what it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub room: RoomName,
    /// Assigned by the registry; orders messages within the room.
    pub id: MessageId,
    /// The sender's id for this message: how the sender matches it to what it sent.
    pub client_id: ClientId,
    pub author: User,
    pub body: String,
    #[serde(with = "crate::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// When the author last edited the body; absent if never.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::rfc3339::option"
    )]
    pub edited_at: Option<OffsetDateTime>,
    /// The author deleted the message: `body` is empty, and the app shows a placeholder.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The room's change number of this message's latest change (edit, delete or reaction); absent if
    /// never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<u64>,
    /// The reactions, one per emoji reacted with, in [`Emoji::ALL`]'s order; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// Only in a frame to one person (a `history` page, or the `changed` frame of their own reaction):
    /// the emoji they reacted with, as of `rev`, whether or not they are among the names. Absent: the
    /// frame does not say (keep what you knew). The store never keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<Vec<Emoji>>,
}

/// One room or direct conversation on a person's list (the `rooms` frame). Read by the frames' own reader
/// ([`WireVisitor`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomEntry {
    pub room: RoomName,
    /// The newest message the person has read there, on any device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<MessageId>,
    /// For a direct conversation: the other person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<User>,
}

/// Every frame the server sends. Its reader is written out below (`WireFrame` says why it is not derived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A new message in a room, to every connection in it, the sender's included.
    Message(ChatMessage),
    /// A page of a room's history, oldest first, to the connection that asked.
    History {
        room: RoomName,
        messages: Vec<ChatMessage>,
        /// More messages exist beyond this page in the direction asked for.
        has_more: bool,
        /// With `changes_after`: the messages changed since then, latest versions, in change order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        changes: Vec<ChatMessage>,
        /// The room's change number this page is current to: ask for `changes_after` it next time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rev: Option<u64>,
    },
    /// Who is in the room (each person once, however many connections they have), whenever it changes.
    Presence {
        room: RoomName,
        members: Vec<User>,
        /// The room's presence revision: it grows with every join and leave while anyone is in the room.
        /// These frames are whole lists and may arrive out of order; one older than a list already shown
        /// is stale and is dropped. Counting starts afresh when the room empties, so a client compares
        /// only the frames it gets between its join and its leave. Absent (0) from an older server.
        #[serde(default)]
        rev: u64,
    },
    /// Someone else in the room is typing.
    Typing { room: RoomName, user: User },
    /// The frame this connection sent was refused; the connection stays open.
    Error {
        code: ErrorCode,
        message: String,
        /// The refused frame's `client_id`, when it had one, so the sender can mark that message failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// With `rate_limited` (and `too_many_new_rooms`): how long to wait before the same action fits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// With `no_such_room`: the room the refused frame named, so the app can drop it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<RoomName>,
    },
    /// The person's rooms and direct conversations with their read positions: the answer to `rooms`, and
    /// sent to each of their connections whenever the list changes (a join, a leave, an invite, a new
    /// direct conversation, a read position), so every tab and device shows the same.
    Rooms {
        rooms: Vec<RoomEntry>,
        /// The list's revision: it grows with every change of which rooms are on it (not with read
        /// positions, which only move forward). These frames are whole lists and may arrive out of order;
        /// one older than a list already shown is stale and is dropped. Absent (0) from an older server.
        #[serde(default)]
        rev: u64,
    },
    /// The answer to `ping`.
    Pong,
    /// A message was edited, deleted or reacted to: its latest version, to every connection in the room
    /// (with `mine` to the reactor's own).
    Changed(ChatMessage),
    /// The answer to `invite_link`: a single-use code for `room`, good until `expires_at`; the app shows
    /// it as `https://<app>/#join=<code>`. `client_id` echoes the request's.
    InviteLink {
        room: RoomName,
        code: InviteCode,
        #[serde(with = "crate::rfc3339")]
        expires_at: OffsetDateTime,
        client_id: ClientId,
    },
    /// The answer to a `redeem` that let this person in: `room` is on their list now; join it.
    Redeemed { room: RoomName },
}

impl ServerFrame {
    /// Serialises the frame. Server frames are built from valid values only, so this cannot fail.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }

    pub fn error(code: ErrorCode, client_id: Option<String>) -> Self {
        Self::Error {
            code,
            message: code.describe(),
            client_id,
            retry_after_ms: None,
            room: None,
        }
    }

    /// The answer to a frame about a room that does not exist, or is private and not the asker's: the
    /// same bytes either way, so nobody learns which.
    pub fn no_such_room(room: &RoomName) -> Self {
        Self::Error {
            code: ErrorCode::NoSuchRoom,
            message: ErrorCode::NoSuchRoom.describe(),
            client_id: None,
            retry_after_ms: None,
            room: Some(room.clone()),
        }
    }

    /// A refusal that fits again after `retry_after_ms` (a rate limit).
    pub fn retry_later(code: ErrorCode, client_id: Option<String>, retry_after_ms: u64) -> Self {
        Self::Error {
            code,
            message: code.describe(),
            client_id,
            retry_after_ms: Some(retry_after_ms),
            room: None,
        }
    }
}

/// Reads a frame in one pass through [`WireVisitor`]: the same frames as the derived reader, from JSON in
/// any key order, unknown fields ignored.
impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(WireVisitor::FRAME)?
            .into_frame()
    }
}

impl<'de> Deserialize<'de> for RoomEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(WireVisitor::ROOM_ENTRY)?
            .into_room_entry()
    }
}

impl<'de> Deserialize<'de> for Reaction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(WireVisitor::REACTION)?
            .into_reaction()
    }
}

/// Reads a message with the frames' own reader ([`WireVisitor`]), fields other than a message's ignored:
/// what the derived reader reads (a test holds the two together), without a second copy of every field's
/// reader in the browser app's download.
impl<'de> Deserialize<'de> for ChatMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(WireVisitor::MESSAGE)?
            .into_message()
    }
}

/// The frames' `"type"` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameType {
    Message,
    History,
    Presence,
    Typing,
    Error,
    Rooms,
    Pong,
    Changed,
    InviteLink,
    Redeemed,
}

impl FrameType {
    const ALL: [Self; 10] = [
        Self::Message,
        Self::History,
        Self::Presence,
        Self::Typing,
        Self::Error,
        Self::Rooms,
        Self::Pong,
        Self::Changed,
        Self::InviteLink,
        Self::Redeemed,
    ];

    /// Each of [`FrameType::ALL`]'s `type` value, in its order ([`ServerFrame`]'s `snake_case` names).
    const NAMES: [&'static str; 10] = [
        "message",
        "history",
        "presence",
        "typing",
        "error",
        "rooms",
        "pong",
        "changed",
        "invite_link",
        "redeemed",
    ];
}

/// Every field of every server frame and of the objects in them: the keys [`WireVisitor`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Room,
    Id,
    ClientId,
    Author,
    Body,
    SentAt,
    EditedAt,
    Deleted,
    Rev,
    Reactions,
    Mine,
    #[serde(rename = "type")]
    FrameType,
    Messages,
    HasMore,
    Changes,
    Members,
    User,
    Code,
    Message,
    RetryAfterMs,
    Rooms,
    ExpiresAt,
    Read,
    With,
    Emoji,
    Count,
    Users,
    #[serde(other)]
    Unknown,
}

/// Every field of every server frame, what a frame is read into before its `type` picks the variant.
/// serde's derived reader for an internally tagged enum buffers the whole frame first (its `Content`),
/// which compiles every payload type's reader a second time; a derived [`ChatMessage`] reader would be one
/// more copy of the message's fields; the browser app downloads that code with every first visit
/// (app/README.md, "Size"). Fields shared by several frames have one type across them: `client_id` is
/// checked as a [`ClientId`] only where it is one, `code` is read as text, then as an [`ErrorCode`] or an
/// [`InviteCode`] by the frame it is in, and `room`, optional in an `error` frame, is read as optional
/// everywhere (a `null` one is missing).
#[derive(Default)]
struct WireFrame {
    frame_type: Option<FrameType>,
    room: Option<RoomName>,
    id: Option<MessageId>,
    client_id: Option<String>,
    author: Option<User>,
    body: Option<String>,
    sent_at: Option<OffsetDateTime>,
    edited_at: Option<OffsetDateTime>,
    deleted: bool,
    rev: Option<u64>,
    reactions: Vec<Reaction>,
    mine: Option<Vec<Emoji>>,
    messages: Option<Vec<ChatMessage>>,
    has_more: Option<bool>,
    changes: Vec<ChatMessage>,
    members: Option<Vec<User>>,
    user: Option<User>,
    code: Option<String>,
    message: Option<String>,
    retry_after_ms: Option<u64>,
    rooms: Option<Vec<RoomEntry>>,
    expires_at: Option<OffsetDateTime>,
    read: Option<MessageId>,
    with: Option<User>,
    emoji: Option<Emoji>,
    count: Option<u32>,
    users: Option<Vec<User>>,
}

/// Reads a JSON object into a [`WireFrame`]: a whole frame, or one of the objects frames carry (a
/// [`ChatMessage`], a [`RoomEntry`], a [`Reaction`]), whose reader ignores every field that object does not
/// have, as its derived reader would (tests hold each to it). A field given twice is refused, as serde's
/// derived readers refuse it.
struct WireVisitor {
    /// The fields read, one bit per [`Field`]; the others are ignored.
    fields: u32,
    /// What the object is, for errors.
    expecting: &'static str,
}

impl WireVisitor {
    const FRAME: Self = Self {
        fields: (1 << Field::Read as u32) - 1,
        expecting: "internally tagged enum ServerFrame",
    };
    const MESSAGE: Self = Self {
        fields: (1 << (Field::Mine as u32 + 1)) - 1,
        expecting: "struct ChatMessage",
    };
    const ROOM_ENTRY: Self = Self {
        fields: 1 << Field::Room as u32 | 1 << Field::Read as u32 | 1 << Field::With as u32,
        expecting: "struct RoomEntry",
    };
    const REACTION: Self = Self {
        fields: 1 << Field::Emoji as u32 | 1 << Field::Count as u32 | 1 << Field::Users as u32,
        expecting: "struct Reaction",
    };
}

impl<'de> de::Visitor<'de> for WireVisitor {
    type Value = WireFrame;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<WireFrame, A::Error> {
        let mut frame = WireFrame::default();
        let mut seen = 0u32;
        while let Some(field) = map.next_key::<Field>()? {
            let bit = 1 << field as u32;
            if field == Field::Unknown || self.fields & bit == 0 {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            }
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(field.name()));
            }
            seen |= bit;
            match field {
                Field::Room => frame.room = map.next_value()?,
                Field::Id => frame.id = Some(map.next_value()?),
                Field::ClientId => frame.client_id = map.next_value()?,
                Field::Author => frame.author = Some(map.next_value()?),
                Field::Body => frame.body = Some(map.next_value()?),
                Field::SentAt => {
                    frame.sent_at = Some(map.next_value_seed(Rfc3339Seed)?);
                }
                Field::EditedAt => frame.edited_at = map.next_value_seed(OptionalRfc3339Seed)?,
                Field::Deleted => frame.deleted = map.next_value()?,
                Field::Rev => frame.rev = map.next_value()?,
                Field::Reactions => frame.reactions = map.next_value()?,
                Field::Mine => frame.mine = map.next_value()?,
                Field::FrameType => {
                    let index = map.next_value_seed(NameSeed(&FrameType::NAMES))?;
                    frame.frame_type = Some(FrameType::ALL[index]);
                }
                Field::Messages => frame.messages = Some(map.next_value()?),
                Field::HasMore => frame.has_more = Some(map.next_value()?),
                Field::Changes => frame.changes = map.next_value()?,
                Field::Members => frame.members = Some(map.next_value()?),
                Field::User => frame.user = Some(map.next_value()?),
                Field::Code => frame.code = Some(map.next_value()?),
                Field::Message => frame.message = Some(map.next_value()?),
                Field::RetryAfterMs => frame.retry_after_ms = map.next_value()?,
                Field::Rooms => frame.rooms = Some(map.next_value()?),
                Field::ExpiresAt => {
                    frame.expires_at = Some(map.next_value_seed(Rfc3339Seed)?);
                }
                Field::Read => frame.read = map.next_value()?,
                Field::With => frame.with = map.next_value()?,
                Field::Emoji => frame.emoji = Some(map.next_value()?),
                Field::Count => frame.count = Some(map.next_value()?),
                Field::Users => frame.users = Some(map.next_value()?),
                Field::Unknown => {}
            }
        }
        Ok(frame)
    }
}

impl Field {
    /// The key as the wire spells it, for errors.
    fn name(self) -> &'static str {
        const NAMES: [&str; 27] = [
            "room",
            "id",
            "client_id",
            "author",
            "body",
            "sent_at",
            "edited_at",
            "deleted",
            "rev",
            "reactions",
            "mine",
            "type",
            "messages",
            "has_more",
            "changes",
            "members",
            "user",
            "code",
            "message",
            "retry_after_ms",
            "rooms",
            "expires_at",
            "read",
            "with",
            "emoji",
            "count",
            "users",
        ];
        NAMES.get(self as usize).copied().unwrap_or_default()
    }
}

/// A required RFC 3339 value ([`crate::rfc3339`]).
struct Rfc3339Seed;

impl<'de> de::DeserializeSeed<'de> for Rfc3339Seed {
    type Value = OffsetDateTime;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        crate::rfc3339::deserialize(deserializer)
    }
}

/// An optional RFC 3339 value: `null` is `None`.
struct OptionalRfc3339Seed;

impl<'de> de::DeserializeSeed<'de> for OptionalRfc3339Seed {
    type Value = Option<OffsetDateTime>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        crate::rfc3339::option::deserialize(deserializer)
    }
}

/// `field`'s value, or the error a derived reader gives for its absence.
fn required<T, E: de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

impl WireFrame {
    fn into_frame<E: de::Error>(self) -> Result<ServerFrame, E> {
        Ok(match required(self.frame_type, "type")? {
            FrameType::Message => ServerFrame::Message(self.into_message()?),
            FrameType::Changed => ServerFrame::Changed(self.into_message()?),
            FrameType::History => ServerFrame::History {
                room: required(self.room, "room")?,
                messages: required(self.messages, "messages")?,
                has_more: required(self.has_more, "has_more")?,
                changes: self.changes,
                rev: self.rev,
            },
            FrameType::Presence => ServerFrame::Presence {
                room: required(self.room, "room")?,
                members: required(self.members, "members")?,
                rev: self.rev.unwrap_or_default(),
            },
            FrameType::Typing => ServerFrame::Typing {
                room: required(self.room, "room")?,
                user: required(self.user, "user")?,
            },
            FrameType::Error => ServerFrame::Error {
                code: ErrorCode::ALL[name_index(
                    &required::<String, E>(self.code, "code")?,
                    &ErrorCode::NAMES,
                )?],
                message: required(self.message, "message")?,
                client_id: self.client_id,
                retry_after_ms: self.retry_after_ms,
                room: self.room,
            },
            FrameType::Rooms => ServerFrame::Rooms {
                rooms: required(self.rooms, "rooms")?,
                rev: self.rev.unwrap_or_default(),
            },
            FrameType::Pong => ServerFrame::Pong,
            FrameType::InviteLink => ServerFrame::InviteLink {
                room: required(self.room, "room")?,
                code: InviteCode::new(required(self.code, "code")?).map_err(E::custom)?,
                expires_at: required(self.expires_at, "expires_at")?,
                client_id: ClientId::new(required(self.client_id, "client_id")?)
                    .map_err(E::custom)?,
            },
            FrameType::Redeemed => ServerFrame::Redeemed {
                room: required(self.room, "room")?,
            },
        })
    }

    fn into_room_entry<E: de::Error>(self) -> Result<RoomEntry, E> {
        Ok(RoomEntry {
            room: required(self.room, "room")?,
            read: self.read,
            with: self.with,
        })
    }

    fn into_reaction<E: de::Error>(self) -> Result<Reaction, E> {
        Ok(Reaction {
            emoji: required(self.emoji, "emoji")?,
            count: required(self.count, "count")?,
            users: required(self.users, "users")?,
        })
    }

    /// The [`ChatMessage`] a `message` or `changed` frame carries at its top level, or a message object.
    fn into_message<E: de::Error>(self) -> Result<ChatMessage, E> {
        let client_id = required(self.client_id, "client_id")?;
        Ok(ChatMessage {
            room: required(self.room, "room")?,
            id: required(self.id, "id")?,
            client_id: ClientId::new(client_id).map_err(E::custom)?,
            author: required(self.author, "author")?,
            body: required(self.body, "body")?,
            sent_at: required(self.sent_at, "sent_at")?,
            edited_at: self.edited_at,
            deleted: self.deleted,
            rev: self.rev,
            reactions: self.reactions,
            mine: self.mine,
        })
    }
}

/// Machine-readable reasons for an `error` frame. Read by name ([`crate::flat::deserialize_name`]), as the
/// derived reader reads it (a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, or a field of the wrong type.
    MalformedFrame,
    /// `action` names no known route.
    UnknownAction,
    InvalidRoom,
    InvalidClientId,
    InvalidMessageId,
    EmptyBody,
    BodyTooLong,
    InvalidLimit,
    /// The frame is larger than API Gateway accepts.
    FrameTooLarge,
    /// Sending, typing or reading history in a room this connection has not joined.
    NotAMember,
    /// Too many of this action too fast; `retry_after_ms` says when it fits again. Nothing was done.
    RateLimited,
    /// This connection is in [`MAX_ROOMS_PER_CONNECTION`] rooms already.
    TooManyRooms,
    /// The room holds [`MAX_MEMBERS_PER_ROOM`] connections already.
    RoomFull,
    /// This person brought too many new rooms into being this hour; `retry_after_ms` says when one fits.
    TooManyNewRooms,
    /// This person holds [`MAX_CONNECTIONS_PER_PERSON`] connections already; this one is closed.
    TooManyConnections,
    /// The connection's ID token has expired: reconnect with a fresh one. Nothing was done.
    TokenExpired,
    /// An operator signed this person out everywhere; the connection is closed, and new ones are refused
    /// until their sign-in expires.
    SignedOut,
    /// The server failed; the frame may be retried.
    Internal,
    /// Joining or inviting to a private room this person is not in, or to a room that does not exist
    /// (one answer for both).
    NoSuchRoom,
    /// `create` named a room without the creator's private prefix.
    NotYourRoomName,
    /// An `invite` or `dm` named a user id that is not one.
    InvalidUser,
    /// An `invite` or `dm` named someone who shares no room with this person.
    UnknownPerson,
    /// The invited person belongs to [`MAX_ROOMS_PER_PERSON`] rooms already.
    TheirRoomsFull,
    /// Editing or deleting a message someone else wrote.
    NotYourMessage,
    /// Editing, deleting or reacting to a message the room does not hold (never sent, trimmed, or
    /// deleted already).
    UnknownMessage,
    /// A `react` named an emoji outside the set ([`Emoji::ALL`]).
    InvalidEmoji,
    /// The message holds [`MAX_REACTIONS_PER_MESSAGE`] reactions already.
    TooManyReactions,
    /// A `redeem` named no live invite link: used by someone else, expired, or never issued (one
    /// answer for all, which tells nothing about any room).
    InvalidInvite,
    /// The room has [`MAX_INVITE_LINKS_PER_ROOM`] unused invite links already.
    TooManyInvites,
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::ALL[crate::flat::deserialize_name(deserializer, &Self::NAMES)?])
    }
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 29] = [
        Self::MalformedFrame,
        Self::UnknownAction,
        Self::InvalidRoom,
        Self::InvalidClientId,
        Self::InvalidMessageId,
        Self::EmptyBody,
        Self::BodyTooLong,
        Self::InvalidLimit,
        Self::FrameTooLarge,
        Self::NotAMember,
        Self::RateLimited,
        Self::TooManyRooms,
        Self::RoomFull,
        Self::TooManyNewRooms,
        Self::TooManyConnections,
        Self::TokenExpired,
        Self::SignedOut,
        Self::Internal,
        Self::NoSuchRoom,
        Self::NotYourRoomName,
        Self::InvalidUser,
        Self::UnknownPerson,
        Self::TheirRoomsFull,
        Self::NotYourMessage,
        Self::UnknownMessage,
        Self::InvalidEmoji,
        Self::TooManyReactions,
        Self::InvalidInvite,
        Self::TooManyInvites,
    ];

    /// Each of [`ErrorCode::ALL`]'s name on the wire, in its order.
    const NAMES: [&'static str; 29] = [
        "malformed_frame",
        "unknown_action",
        "invalid_room",
        "invalid_client_id",
        "invalid_message_id",
        "empty_body",
        "body_too_long",
        "invalid_limit",
        "frame_too_large",
        "not_a_member",
        "rate_limited",
        "too_many_rooms",
        "room_full",
        "too_many_new_rooms",
        "too_many_connections",
        "token_expired",
        "signed_out",
        "internal",
        "no_such_room",
        "not_your_room_name",
        "invalid_user",
        "unknown_person",
        "their_rooms_full",
        "not_your_message",
        "unknown_message",
        "invalid_emoji",
        "too_many_reactions",
        "invalid_invite",
        "too_many_invites",
    ];

    /// A sentence for a person. Every number in it is the limit's constant in [`crate::limits`], so the
    /// sentence cannot drift from what is enforced.
    pub fn describe(self) -> String {
        match self {
            Self::MalformedFrame => {
                "That frame is not a JSON object with the fields its action needs.".to_owned()
            }
            Self::UnknownAction => {
                format!("Unknown action. Known actions: {}.", ACTIONS.join(", "))
            }
            Self::InvalidRoom => format!(
                "Room names are 1 to {MAX_ROOM_NAME_LEN} characters: lowercase letters, digits, '-' and '_'."
            ),
            Self::InvalidClientId => format!(
                "client_id must be 1 to {MAX_CLIENT_ID_LEN} printable characters without spaces."
            ),
            Self::InvalidMessageId => "Message ids look like `1732550400000-0`.".to_owned(),
            Self::EmptyBody => "A message cannot be empty.".to_owned(),
            Self::BodyTooLong => format!("Messages are at most {MAX_BODY_CHARS} characters."),
            Self::InvalidLimit => format!("History pages hold 1 to {MAX_HISTORY_LIMIT} messages."),
            Self::FrameTooLarge => format!("Frames are at most {} KB.", MAX_FRAME_BYTES / 1024),
            Self::NotAMember => "Join the room first.".to_owned(),
            Self::RateLimited => "Slow down: too many at once. Try again in a moment.".to_owned(),
            Self::TooManyRooms => {
                format!("You can be in at most {MAX_ROOMS_PER_CONNECTION} rooms at once.")
            }
            Self::RoomFull => format!(
                "This room is full ({MAX_MEMBERS_PER_ROOM} connections, or {MAX_PEOPLE_PER_PRIVATE_ROOM} people in a private room)."
            ),
            Self::TooManyNewRooms => format!(
                "You can start at most {} new rooms an hour.",
                NEW_ROOM_RATE.burst
            ),
            Self::TooManyConnections => format!(
                "You have {MAX_CONNECTIONS_PER_PERSON} connections open already; close a tab or device."
            ),
            Self::TokenExpired => "Your sign-in expired; reconnecting.".to_owned(),
            Self::SignedOut => "You were signed out. Sign in again later.".to_owned(),
            Self::Internal => "Something went wrong on our side; try again.".to_owned(),
            Self::NoSuchRoom => {
                "There is no such room, or it is private and you are not in it.".to_owned()
            }
            Self::NotYourRoomName => {
                "A private room you create is named with your handle: pick another name.".to_owned()
            }
            Self::InvalidUser => {
                format!("A user id is 1 to {MAX_USER_ID_LEN} printable characters.")
            }
            Self::UnknownPerson => {
                "You can only invite or write to someone who shares a room with you.".to_owned()
            }
            Self::TheirRoomsFull => {
                format!("They are in {MAX_ROOMS_PER_PERSON} rooms already.")
            }
            Self::NotYourMessage => "You can only edit or delete your own messages.".to_owned(),
            Self::UnknownMessage => {
                "That message is not in the room any more (deleted, or too old).".to_owned()
            }
            Self::InvalidEmoji => format!(
                "Reactions are one of {}.",
                Emoji::ALL.map(Emoji::as_str).join(" ")
            ),
            Self::TooManyReactions => {
                format!("This message has {MAX_REACTIONS_PER_MESSAGE} reactions already.")
            }
            Self::InvalidInvite => "This invite link can't be used: it was used already, it \
                 expired, or it never was one. Ask for a new one."
                .to_owned(),
            Self::TooManyInvites => format!(
                "This room has {MAX_INVITE_LINKS_PER_ROOM} unused invite links already; each \
                 expires {} days after it was made.",
                INVITE_LINK_TTL_SECS / (24 * 60 * 60)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_describes_itself_for_a_person() {
        let frame = ServerFrame::error(ErrorCode::NotAMember, Some("c-1".into()));
        let json: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(json["type"], "error");
        assert_eq!(json["code"], "not_a_member");
        assert_eq!(json["client_id"], "c-1");
        assert_eq!(json["message"], ErrorCode::NotAMember.describe());
    }

    /// The largest message there can be — the longest body, fully escaped, every emoji reacted with by
    /// a full room, each naming the most people with the longest ids and names, and the reader's own
    /// reactions — fits one server frame with room to spare, so reactions never make a message
    /// unsendable.
    #[test]
    fn the_largest_message_fits_a_server_frame() {
        use crate::limits::{MAX_NAMED_REACTORS, MAX_NAME_CHARS, MAX_SERVER_FRAME_BYTES};
        let longest_user = User {
            id: "\"".repeat(MAX_USER_ID_LEN),
            name: "𝕏".repeat(MAX_NAME_CHARS),
            picture: None,
        };
        let at = OffsetDateTime::UNIX_EPOCH;
        let message = ChatMessage {
            room: RoomName::new("x".repeat(MAX_ROOM_NAME_LEN)).unwrap(),
            id: MessageId::new(u64::MAX, u64::MAX),
            client_id: ClientId::new("c".repeat(MAX_CLIENT_ID_LEN)).unwrap(),
            author: longest_user.clone(),
            body: "\u{1}".repeat(MAX_BODY_CHARS),
            sent_at: at,
            edited_at: Some(at),
            deleted: false,
            rev: Some(u64::MAX),
            reactions: Emoji::ALL
                .map(|emoji| Reaction {
                    emoji,
                    count: MAX_REACTIONS_PER_MESSAGE as u32,
                    users: vec![longest_user.clone(); MAX_NAMED_REACTORS],
                })
                .to_vec(),
            mine: Some(Emoji::ALL.to_vec()),
        };
        let frame = ServerFrame::Changed(message).to_json();
        assert!(
            frame.len() < MAX_SERVER_FRAME_BYTES / 2,
            "{} bytes",
            frame.len()
        );
    }

    #[test]
    fn error_without_client_id_omits_the_field() {
        let json = ServerFrame::error(ErrorCode::UnknownAction, None).to_json();
        assert!(!json.contains("client_id"), "{json}");
    }

    fn message(body: &str) -> ChatMessage {
        ChatMessage {
            room: RoomName::new("general").unwrap(),
            id: MessageId::new(1_732_550_400_000, 3),
            client_id: ClientId::new("c-1").unwrap(),
            author: User {
                id: "u-1".into(),
                name: "Ada".into(),
                picture: Some("https://example.com/a.png".into()),
            },
            body: body.into(),
            sent_at: OffsetDateTime::from_unix_timestamp(1_732_550_400).unwrap(),
            edited_at: None,
            deleted: false,
            rev: None,
            reactions: Vec::new(),
            mine: None,
        }
    }

    /// One frame of every kind, with every optional field both present and absent somewhere.
    fn every_frame() -> Vec<ServerFrame> {
        let edited = ChatMessage {
            edited_at: Some(OffsetDateTime::from_unix_timestamp(1_732_550_460).unwrap()),
            rev: Some(7),
            ..message("fixed")
        };
        let reacted = ChatMessage {
            rev: Some(9),
            reactions: vec![Reaction {
                emoji: Emoji::Heart,
                count: 2,
                users: vec![message("").author],
            }],
            mine: Some(vec![Emoji::Heart]),
            ..message("nice")
        };
        let seen_by_others = ChatMessage {
            mine: None,
            ..reacted.clone()
        };
        let deleted = ChatMessage {
            body: String::new(),
            deleted: true,
            rev: Some(8),
            ..message("")
        };
        let general = RoomName::new("general").unwrap();
        vec![
            ServerFrame::Message(message("hello")),
            ServerFrame::Changed(edited.clone()),
            ServerFrame::Changed(deleted.clone()),
            ServerFrame::Changed(reacted.clone()),
            ServerFrame::Changed(seen_by_others),
            ServerFrame::History {
                room: general.clone(),
                messages: vec![message("a"), edited, reacted],
                has_more: true,
                changes: vec![deleted],
                rev: Some(8),
            },
            ServerFrame::History {
                room: general.clone(),
                messages: Vec::new(),
                has_more: false,
                changes: Vec::new(),
                rev: None,
            },
            ServerFrame::Presence {
                room: general.clone(),
                members: vec![message("").author],
                rev: 3,
            },
            ServerFrame::Typing {
                room: general.clone(),
                user: message("").author,
            },
            ServerFrame::error(ErrorCode::BodyTooLong, Some("c-1".into())),
            ServerFrame::retry_later(ErrorCode::RateLimited, None, 1_500),
            ServerFrame::no_such_room(&general),
            ServerFrame::InviteLink {
                room: general.clone(),
                code: InviteCode::new("0123456789abcdef0123456789abcdef").unwrap(),
                expires_at: OffsetDateTime::from_unix_timestamp(1_733_155_200).unwrap(),
                client_id: ClientId::new("c-2").unwrap(),
            },
            ServerFrame::Redeemed {
                room: general.clone(),
            },
            ServerFrame::Rooms {
                rooms: vec![RoomEntry {
                    room: general,
                    read: Some(MessageId::new(1_732_550_400_000, 3)),
                    with: None,
                }],
                rev: 1_732_550_400_000,
            },
            ServerFrame::Pong,
        ]
    }

    /// Every frame reads back as itself, and the same with its keys in reverse order (`type` last).
    #[test]
    fn every_frame_reads_back_whatever_the_key_order() {
        for frame in every_frame() {
            let json = frame.to_json();
            assert_eq!(
                serde_json::from_str::<ServerFrame>(&json).unwrap(),
                frame,
                "{json}"
            );
            let serde_json::Value::Object(fields) = serde_json::from_str(&json).unwrap() else {
                panic!("{json}");
            };
            let reversed = format!(
                "{{{}}}",
                fields
                    .iter()
                    .rev()
                    .map(|(k, v)| format!("{}:{v}", serde_json::Value::from(k.as_str())))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            assert_eq!(
                serde_json::from_str::<ServerFrame>(&reversed).unwrap(),
                frame,
                "{reversed}"
            );
        }
    }

    /// What serde derives for [`ChatMessage`]: its reader must read the same.
    #[derive(Debug, Deserialize)]
    struct DerivedMessage {
        room: RoomName,
        id: MessageId,
        client_id: ClientId,
        author: User,
        body: String,
        #[serde(with = "time::serde::rfc3339")]
        sent_at: OffsetDateTime,
        #[serde(default, with = "time::serde::rfc3339::option")]
        edited_at: Option<OffsetDateTime>,
        #[serde(default)]
        deleted: bool,
        #[serde(default)]
        rev: Option<u64>,
        #[serde(default)]
        reactions: Vec<Reaction>,
        #[serde(default)]
        mine: Option<Vec<Emoji>>,
    }

    impl From<DerivedMessage> for ChatMessage {
        fn from(m: DerivedMessage) -> Self {
            ChatMessage {
                room: m.room,
                id: m.id,
                client_id: m.client_id,
                author: m.author,
                body: m.body,
                sent_at: m.sent_at,
                edited_at: m.edited_at,
                deleted: m.deleted,
                rev: m.rev,
                reactions: m.reactions,
                mine: m.mine,
            }
        }
    }

    /// A message reads as the derived reader reads it: every message of [`every_frame`], then each with
    /// every field in turn taken out, set to `null`, given a value of the wrong kind, given twice, and with
    /// the fields only frames have (`type`, `members`, …) added, whatever their values.
    #[test]
    fn messages_read_as_the_derived_reader_reads_them() {
        let messages: Vec<ChatMessage> = every_frame()
            .into_iter()
            .flat_map(|frame| match frame {
                ServerFrame::Message(m) | ServerFrame::Changed(m) => vec![m],
                ServerFrame::History {
                    messages, changes, ..
                } => [messages, changes].concat(),
                _ => Vec::new(),
            })
            .collect();
        let same = |json: &str| {
            let ours = serde_json::from_str::<ChatMessage>(json);
            let derived = serde_json::from_str::<DerivedMessage>(json).map(ChatMessage::from);
            assert_eq!(ours.as_ref().ok(), derived.as_ref().ok(), "{json}");
        };
        let mut tried = 0;
        for message in &messages {
            let serde_json::Value::Object(fields) = serde_json::to_value(message).unwrap() else {
                panic!("a message is an object");
            };
            let keys = [
                "room",
                "id",
                "client_id",
                "author",
                "body",
                "sent_at",
                "edited_at",
                "deleted",
                "rev",
                "reactions",
                "mine",
                "type",
                "members",
                "has_more",
                "code",
                "expires_at",
            ];
            let values = [
                serde_json::Value::Null,
                serde_json::json!(true),
                serde_json::json!(7),
                serde_json::json!("general"),
                serde_json::json!("2024-11-25T16:00:00Z"),
                serde_json::json!([]),
                serde_json::json!({}),
            ];
            same(&serde_json::Value::Object(fields.clone()).to_string());
            for key in keys {
                let mut without = fields.clone();
                without.remove(key);
                same(&serde_json::Value::Object(without).to_string());
                for value in &values {
                    let mut changed = fields.clone();
                    changed.insert(key.to_owned(), value.clone());
                    let json = serde_json::Value::Object(changed).to_string();
                    same(&json);
                    same(&format!("{},\"{key}\":{value}}}", &json[..json.len() - 1]));
                    tried += 2;
                }
            }
        }
        assert!(tried > 1_000, "{tried}");
    }

    /// A person reads as the derived reader reads them, errors and all, from objects with every field
    /// present, absent, `null`, of the wrong kind or given twice, and with unknown fields of every kind.
    #[test]
    fn users_read_as_the_derived_reader_reads_them() {
        #[derive(Debug, Deserialize)]
        struct Derived {
            id: String,
            name: String,
            #[serde(default)]
            picture: Option<String>,
        }
        let values = [
            "null",
            "\"ada\"",
            "\"a\\\"b\"",
            "7",
            "-7",
            "1.5",
            "true",
            "[1,[2]]",
            "{\"a\":{}}",
        ];
        let mut objects =
            vec![r#"{"id":"u-1","name":"Ada","picture":"https://x/a.png"}"#.to_owned()];
        for key in ["id", "name", "picture", "other"] {
            for value in values {
                for base in [
                    r#"{"id":"u-1","name":"Ada""#,
                    r#"{"id":"u-1","name":"Ada","picture":"p""#,
                    r#"{"name":"Ada""#,
                ] {
                    objects.push(format!("{base},\"{key}\":{value}}}"));
                    objects.push(format!("{{\"{key}\":{value},{}}}", &base[1..]));
                }
            }
        }
        objects.extend(["{}", "[]", "\"ada\"", "null", r#"["u-1","Ada",null]"#].map(String::from));
        for json in objects {
            let ours = serde_json::from_str::<User>(&json);
            let derived = serde_json::from_str::<Derived>(&json).map(|d| User {
                id: d.id,
                name: d.name,
                picture: d.picture,
            });
            // With two things wrong (a key given twice, or `id` missing too), either error may come
            // first; both readers refuse.
            let count = |key: &str| json.matches(&format!("\"{key}\":")).count();
            let doubled = count("id") != 1 || count("name") != 1 || count("picture") > 1;
            match (ours, derived) {
                (Ok(ours), Ok(derived)) => assert_eq!(ours, derived, "{json}"),
                (Err(ours), Err(derived)) if !doubled && !json.starts_with('[') => assert_eq!(
                    ours.to_string().split(" at line").next(),
                    derived.to_string().split(" at line").next(),
                    "{json}"
                ),
                (Err(_), Err(_)) => {}
                (ours, derived) => {
                    // Only the array form, which nobody sends, is the derived reader's alone.
                    assert!(json.starts_with('['), "{json}: {ours:?} vs {derived:?}");
                }
            }
        }
    }

    /// The names read are the names written: every error code's and frame type's, in their lists' order,
    /// and the lists hold every variant.
    #[test]
    fn names_read_are_the_names_written() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code as usize, i);
            assert_eq!(serde_json::to_value(code).unwrap(), ErrorCode::NAMES[i]);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        assert_eq!(ErrorCode::ALL.len(), ErrorCode::TooManyInvites as usize + 1);
        for (i, kind) in FrameType::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
        }
        assert_eq!(FrameType::ALL.len(), FrameType::Redeemed as usize + 1);
        for frame in every_frame() {
            let json: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
            let name = json["type"].as_str().unwrap();
            let kind = FrameType::ALL[FrameType::NAMES.iter().position(|n| *n == name).unwrap()];
            assert_eq!(
                format!("{kind:?}"),
                format!("{frame:?}").split([' ', '(']).next().unwrap()
            );
        }
        let err = serde_json::from_str::<ErrorCode>("\"nope\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown variant `nope`, expected one of `malformed_frame`"),
            "{err}"
        );
    }

    /// Every variant of `whole`: each of `keys` (the object's own and others') missing, set to a value of
    /// every kind, and given twice.
    fn variants(whole: &serde_json::Value, keys: &[&str]) -> Vec<String> {
        let values = [
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(7),
            serde_json::json!(-7),
            serde_json::json!("general"),
            serde_json::json!("5-6"),
            serde_json::json!("👍"),
            serde_json::json!([]),
            serde_json::json!([{"id": "u", "name": "n"}]),
            serde_json::json!({"id": "u", "name": "n"}),
        ];
        crate::variants::object_variants(whole, keys, &values, true)
    }

    /// Room entries and reactions read as their derived readers read them, from every variant of each.
    #[test]
    fn room_entries_and_reactions_read_as_derived_readers_do() {
        #[derive(Deserialize)]
        struct DerivedEntry {
            room: RoomName,
            #[serde(default)]
            read: Option<MessageId>,
            #[serde(default)]
            with: Option<User>,
        }
        #[derive(Deserialize)]
        struct DerivedReaction {
            emoji: Emoji,
            count: u32,
            users: Vec<User>,
        }
        let keys = [
            "room", "read", "with", "emoji", "count", "users", "type", "id", "body", "other",
        ];
        let entry =
            serde_json::json!({"room": "general", "read": "5-6", "with": {"id": "u", "name": "n"}});
        for json in variants(&entry, &keys) {
            let ours = serde_json::from_str::<RoomEntry>(&json).ok();
            let derived = serde_json::from_str::<DerivedEntry>(&json)
                .ok()
                .map(|d| RoomEntry {
                    room: d.room,
                    read: d.read,
                    with: d.with,
                });
            assert_eq!(ours, derived, "{json}");
        }
        let reaction =
            serde_json::json!({"emoji": "❤️", "count": 2, "users": [{"id": "u", "name": "n"}]});
        for json in variants(&reaction, &keys) {
            let ours = serde_json::from_str::<Reaction>(&json).ok();
            let derived = serde_json::from_str::<DerivedReaction>(&json)
                .ok()
                .map(|d| Reaction {
                    emoji: d.emoji,
                    count: d.count,
                    users: d.users,
                });
            assert_eq!(ours, derived, "{json}");
        }
    }

    /// Fields a frame does not have (a newer server's) are ignored; an unknown `type` is an error.
    #[test]
    fn unknown_fields_are_ignored_and_unknown_types_refused() {
        let pong: ServerFrame = serde_json::from_str(r#"{"type":"pong","since":"2025"}"#).unwrap();
        assert_eq!(pong, ServerFrame::Pong);
        let err = serde_json::from_str::<ServerFrame>(r#"{"type":"reaction","room":"general"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `reaction`"), "{err}");
    }

    /// A frame missing what its type needs, or with an invalid client id, is refused with a reason.
    #[test]
    fn incomplete_or_invalid_frames_are_refused() {
        let err = serde_json::from_str::<ServerFrame>(r#"{"type":"typing","room":"general"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `user`"), "{err}");
        let mut json: serde_json::Value =
            serde_json::from_str(&ServerFrame::Message(message("hi")).to_json()).unwrap();
        json["client_id"] = "has space".into();
        let err = serde_json::from_str::<ServerFrame>(&json.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("client ids are"), "{err}");
        json["client_id"] = serde_json::Value::Null;
        let err = serde_json::from_str::<ServerFrame>(&json.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `client_id`"), "{err}");
        assert!(serde_json::from_str::<ServerFrame>(r#"{"room":"general"}"#).is_err());
        let err =
            serde_json::from_str::<ServerFrame>(r#"{"type":"error","code":"nope","message":""}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("unknown variant `nope`"), "{err}");
        let err = serde_json::from_str::<ServerFrame>(
            r#"{"type":"invite_link","room":"general","code":"no spaces","expires_at":"2024-12-02T16:00:00Z","client_id":"c-2"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invite codes are"), "{err}");
    }
}
