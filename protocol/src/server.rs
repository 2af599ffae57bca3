//! Server → client frames, tagged by `"type"`, and the payloads they carry.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::ACTIONS;
use crate::ids::{ClientId, InviteCode, MessageId, RoomName};
use crate::limits::{
    INVITE_LINK_TTL_SECS, MAX_BODY_CHARS, MAX_CLIENT_ID_LEN, MAX_CONNECTIONS_PER_PERSON,
    MAX_FRAME_BYTES, MAX_HISTORY_LIMIT, MAX_INVITE_LINKS_PER_ROOM, MAX_MEMBERS_PER_ROOM,
    MAX_PEOPLE_PER_PRIVATE_ROOM, MAX_REACTIONS_PER_MESSAGE, MAX_ROOMS_PER_CONNECTION,
    MAX_ROOMS_PER_PERSON, MAX_ROOM_NAME_LEN, MAX_USER_ID_LEN, NEW_ROOM_RATE,
};
use crate::reaction::{Emoji, Reaction};

/// A signed-in person as others see them. `id` is the identity provider's `sub`; `name` comes from the
/// token, never from a frame, so nobody can speak as someone else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

/// A stored chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: RoomName,
    /// Assigned by the registry; orders messages within the room.
    pub id: MessageId,
    /// The sender's id for this message: how the sender matches it to what it sent.
    pub client_id: ClientId,
    pub author: User,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// When the author last edited the body; absent if never.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
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

/// One room or direct conversation on a person's list (the `rooms` frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEntry {
    pub room: RoomName,
    /// The newest message the person has read there, on any device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<MessageId>,
    /// For a direct conversation: the other person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<User>,
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    Presence { room: RoomName, members: Vec<User> },
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
    Rooms { rooms: Vec<RoomEntry> },
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
        #[serde(with = "time::serde::rfc3339")]
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

/// Machine-readable reasons for an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl ErrorCode {
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
}
