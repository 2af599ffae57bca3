//! Client → server frames. API Gateway picks a route from the frame's `action` field
//! (`$request.body.action`); [`ClientFrame::parse`] is the same decision in code, plus every content rule.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ids::{ClientId, IdError, InviteCode, MessageId, RoomName},
    limits::{
        DEFAULT_HISTORY_LIMIT, MAX_BODY_CHARS, MAX_FRAME_BYTES, MAX_HISTORY_LIMIT, MAX_USER_ID_LEN,
    },
    reaction::Emoji,
    server::ErrorCode,
    text::strip_bidi_overrides,
};

/// Every frame a client may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Enter a room: receive its messages, presence and typing.
    Join { room: RoomName },
    /// Leave a room.
    Leave { room: RoomName },
    /// Post a message to a joined room. `client_id` makes retries safe: the same id is stored once.
    Send {
        room: RoomName,
        client_id: ClientId,
        body: String,
    },
    /// "I am typing" in a joined room; the other members see it.
    Typing { room: RoomName },
    /// A page of the room's history: the newest messages `before` an id (or the newest of all), or,
    /// with `after`, the oldest messages after an id (to catch up after a reconnect).
    History {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<MessageId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<MessageId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u16>,
        /// With `after`: also the messages changed (edited, deleted) since this room change number, the
        /// `rev` of the last `history` or `changed` frame seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changes_after: Option<u64>,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
    /// Create a private room, named with the creator's prefix ([`RoomName::private`]); the creator is
    /// its only member until they invite others. Join it after.
    Create { room: RoomName },
    /// Let a person (by user id) who shares a room with you into a private room you are in.
    Invite { room: RoomName, user: String },
    /// Open the direct conversation with a person (by user id) who shares a room with you.
    Dm { user: String },
    /// Ask for your list of rooms and direct conversations, with read positions (a `rooms` frame).
    Rooms,
    /// You have read the room up to and including message `id` (kept as a maximum, for every device).
    Read { room: RoomName, id: MessageId },
    /// Replace the body of one of your own messages; everyone in the room sees it marked edited.
    Edit {
        room: RoomName,
        id: MessageId,
        body: String,
    },
    /// Delete one of your own messages; everyone in the room sees a placeholder instead.
    Delete { room: RoomName, id: MessageId },
    /// React to a message with `emoji` (`on`), or take that reaction back (`on: false`): a setting, not
    /// a toggle, so a repeated command changes nothing.
    React {
        room: RoomName,
        id: MessageId,
        emoji: Emoji,
        on: bool,
    },
    /// Ask for a single-use invite link to a private room you are one of the people of (an
    /// `invite_link` frame answers). `client_id` makes a retry answer the same link.
    InviteLink { room: RoomName, client_id: ClientId },
    /// Use an invite link: become one of its room's people, with the room on your list (a `redeemed`
    /// frame answers; join it after).
    Redeem { code: InviteCode },
}

/// The `action` values, in the order of [`ClientFrame`]'s variants.
pub const ACTIONS: [&str; 16] = [
    "join",
    "leave",
    "send",
    "typing",
    "history",
    "ping",
    "create",
    "invite",
    "dm",
    "rooms",
    "read",
    "edit",
    "delete",
    "react",
    "invite_link",
    "redeem",
];

/// A refused frame: which error code to answer with, why, and the frame's `client_id` to echo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct FrameError {
    pub code: ErrorCode,
    pub detail: String,
    pub client_id: Option<String>,
}

impl FrameError {
    fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            client_id: None,
        }
    }
}

impl ClientFrame {
    /// Parses and validates one frame as received. Checks, in order: size, JSON object, known `action`,
    /// field shapes, then (once a `send` body has lost its bidi overrides) the content rules (see
    /// [`ClientFrame::validate`]).
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(FrameError::new(
                ErrorCode::FrameTooLarge,
                format!(
                    "{} bytes is over the {MAX_FRAME_BYTES}-byte limit",
                    text.len()
                ),
            ));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FrameError::new(ErrorCode::MalformedFrame, format!("not JSON: {e}")))?;
        let Value::Object(fields) = &value else {
            return Err(FrameError::new(
                ErrorCode::MalformedFrame,
                "a frame is a JSON object",
            ));
        };
        let client_id = fields
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let with_client_id = |mut e: FrameError| {
            e.client_id = client_id.clone();
            e
        };
        let action = match fields.get("action") {
            Some(Value::String(action)) => action.as_str(),
            Some(_) => {
                return Err(with_client_id(FrameError::new(
                    ErrorCode::MalformedFrame,
                    "`action` must be a string",
                )))
            }
            None => {
                return Err(with_client_id(FrameError::new(
                    ErrorCode::MalformedFrame,
                    "a frame needs an `action`",
                )))
            }
        };
        if !ACTIONS.contains(&action) {
            return Err(with_client_id(FrameError::new(
                ErrorCode::UnknownAction,
                format!("unknown action `{action}`"),
            )));
        }
        let frame: ClientFrame = serde_json::from_value(value.clone())
            .map_err(|e| with_client_id(field_error(&value, e)))?;
        let frame = frame.normalised();
        frame.validate().map_err(with_client_id)?;
        Ok(frame)
    }

    /// The frame as the server keeps it: a `send` body loses its bidi overrides
    /// ([`strip_bidi_overrides`]), so it cannot turn around the text shown after it. Applied before the
    /// content rules, so a body of nothing but overrides is refused as empty.
    fn normalised(self) -> Self {
        match self {
            Self::Send {
                room,
                client_id,
                body,
            } => Self::Send {
                room,
                client_id,
                body: strip_bidi_overrides(&body),
            },
            Self::Edit { room, id, body } => Self::Edit {
                room,
                id,
                body: strip_bidi_overrides(&body),
            },
            other => other,
        }
    }

    /// The content rules that types alone do not carry: a body that is not blank and not too long, a
    /// history limit in range. The app calls this before sending; [`ClientFrame::parse`] calls it on receipt.
    pub fn validate(&self) -> Result<(), FrameError> {
        match self {
            Self::Send { body, .. } | Self::Edit { body, .. } => check_body(body)?,
            Self::History {
                limit: Some(limit), ..
            } if *limit == 0 || *limit > MAX_HISTORY_LIMIT => {
                return Err(FrameError::new(
                    ErrorCode::InvalidLimit,
                    format!("limit {limit} is outside 1..={MAX_HISTORY_LIMIT}"),
                ));
            }
            Self::Invite { user, .. } | Self::Dm { user } if !valid_user_id(user) => {
                return Err(FrameError::new(
                    ErrorCode::InvalidUser,
                    format!("a user id is 1 to {MAX_USER_ID_LEN} printable ASCII characters"),
                ));
            }
            _ => {}
        }
        let text = self.to_json();
        if text.len() > MAX_FRAME_BYTES {
            return Err(FrameError::new(
                ErrorCode::FrameTooLarge,
                format!(
                    "{} bytes is over the {MAX_FRAME_BYTES}-byte limit",
                    text.len()
                ),
            ));
        }
        Ok(())
    }

    /// Serialises the frame for the socket.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialise")
    }

    /// The `action` this frame is routed by.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Join { .. } => ACTIONS[0],
            Self::Leave { .. } => ACTIONS[1],
            Self::Send { .. } => ACTIONS[2],
            Self::Typing { .. } => ACTIONS[3],
            Self::History { .. } => ACTIONS[4],
            Self::Ping => ACTIONS[5],
            Self::Create { .. } => ACTIONS[6],
            Self::Invite { .. } => ACTIONS[7],
            Self::Dm { .. } => ACTIONS[8],
            Self::Rooms => ACTIONS[9],
            Self::Read { .. } => ACTIONS[10],
            Self::Edit { .. } => ACTIONS[11],
            Self::Delete { .. } => ACTIONS[12],
            Self::React { .. } => ACTIONS[13],
            Self::InviteLink { .. } => ACTIONS[14],
            Self::Redeem { .. } => ACTIONS[15],
        }
    }

    /// The room the frame is about, if any.
    pub fn room(&self) -> Option<&RoomName> {
        match self {
            Self::Join { room }
            | Self::Leave { room }
            | Self::Send { room, .. }
            | Self::Typing { room }
            | Self::History { room, .. }
            | Self::Create { room }
            | Self::Invite { room, .. }
            | Self::Read { room, .. }
            | Self::Edit { room, .. }
            | Self::Delete { room, .. }
            | Self::React { room, .. }
            | Self::InviteLink { room, .. } => Some(room),
            Self::Ping | Self::Dm { .. } | Self::Rooms | Self::Redeem { .. } => None,
        }
    }

    /// The page size a history request asks for, with the default filled in.
    pub fn history_limit(limit: Option<u16>) -> u16 {
        limit.unwrap_or(DEFAULT_HISTORY_LIMIT)
    }
}

/// A user id as frames may name one: what identity providers issue (`sub`), nothing longer or stranger.
fn valid_user_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_USER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A body's rules, for a `send` and an `edit` alike: not blank, at most [`MAX_BODY_CHARS`] characters.
fn check_body(body: &str) -> Result<(), FrameError> {
    if body.trim().is_empty() {
        return Err(FrameError::new(ErrorCode::EmptyBody, "the body is empty"));
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(FrameError::new(
            ErrorCode::BodyTooLong,
            format!("{chars} characters is over the {MAX_BODY_CHARS}-character limit"),
        ));
    }
    Ok(())
}

/// Names the field that failed, by re-checking the identifier fields one by one; serde's own message is
/// kept as the detail.
fn field_error(value: &Value, error: serde_json::Error) -> FrameError {
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let code = if field("room").is_some_and(|r| RoomName::new(r).is_err()) {
        ErrorCode::InvalidRoom
    } else if field("client_id").is_some_and(|c| ClientId::new(c).is_err()) {
        ErrorCode::InvalidClientId
    } else if ["before", "after", "id"]
        .iter()
        .any(|f| field(f).is_some_and(|id| id.parse::<MessageId>().is_err()))
    {
        ErrorCode::InvalidMessageId
    } else if value
        .get("limit")
        .is_some_and(|l| l.as_u64().is_none_or(|n| n > u64::from(u16::MAX)))
    {
        ErrorCode::InvalidLimit
    } else if value
        .get("emoji")
        .is_some_and(|e| Emoji::deserialize(e).is_err())
    {
        ErrorCode::InvalidEmoji
    } else if value
        .get("code")
        .is_some_and(|c| InviteCode::deserialize(c).is_err())
    {
        // The same answer as for a code of the right shape that is no live link: nothing to learn.
        ErrorCode::InvalidInvite
    } else {
        ErrorCode::MalformedFrame
    };
    let detail = match code {
        ErrorCode::InvalidRoom => IdError::RoomName.to_string(),
        ErrorCode::InvalidClientId => IdError::ClientId.to_string(),
        ErrorCode::InvalidMessageId => IdError::MessageId.to_string(),
        ErrorCode::InvalidInvite => IdError::InviteCode.to_string(),
        _ => error.to_string(),
    };
    FrameError::new(code, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(text: &str) -> ErrorCode {
        ClientFrame::parse(text).unwrap_err().code
    }

    #[test]
    fn actions_list_matches_the_variants() {
        let room = RoomName::new("general").unwrap();
        let frames = [
            ClientFrame::Join { room: room.clone() },
            ClientFrame::Leave { room: room.clone() },
            ClientFrame::Send {
                room: room.clone(),
                client_id: ClientId::new("c").unwrap(),
                body: "hi".into(),
            },
            ClientFrame::Typing { room: room.clone() },
            ClientFrame::History {
                room: room.clone(),
                before: None,
                after: None,
                limit: None,
                changes_after: None,
            },
            ClientFrame::Ping,
            ClientFrame::Create {
                room: RoomName::private("ada", "plans").unwrap(),
            },
            ClientFrame::Invite {
                room: RoomName::private("ada", "plans").unwrap(),
                user: "grace".into(),
            },
            ClientFrame::Dm {
                user: "grace".into(),
            },
            ClientFrame::Rooms,
            ClientFrame::Read {
                room: RoomName::new("general").unwrap(),
                id: MessageId::new(1, 0),
            },
            ClientFrame::Edit {
                room: room.clone(),
                id: MessageId::new(1, 0),
                body: "hi!".into(),
            },
            ClientFrame::Delete {
                room: room.clone(),
                id: MessageId::new(1, 0),
            },
            ClientFrame::React {
                room,
                id: MessageId::new(1, 0),
                emoji: Emoji::Party,
                on: true,
            },
            ClientFrame::InviteLink {
                room: RoomName::private("ada", "plans").unwrap(),
                client_id: ClientId::new("l-1").unwrap(),
            },
            ClientFrame::Redeem {
                code: InviteCode::new("0123456789abcdef0123456789abcdef").unwrap(),
            },
        ];
        for (frame, action) in frames.iter().zip(ACTIONS) {
            assert_eq!(frame.action(), action);
            let json: Value = serde_json::from_str(&frame.to_json()).unwrap();
            assert_eq!(json["action"], action);
            assert_eq!(&ClientFrame::parse(&frame.to_json()).unwrap(), frame);
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        assert_eq!(code_of("not json"), ErrorCode::MalformedFrame);
        assert_eq!(code_of("[1,2]"), ErrorCode::MalformedFrame);
        assert_eq!(code_of(r#"{"room":"general"}"#), ErrorCode::MalformedFrame);
        assert_eq!(code_of(r#"{"action":7}"#), ErrorCode::MalformedFrame);
        assert_eq!(code_of(r#"{"action":"dance"}"#), ErrorCode::UnknownAction);
        assert_eq!(code_of(r#"{"action":"join"}"#), ErrorCode::MalformedFrame);
        assert_eq!(
            code_of(r#"{"action":"join","room":"Not Valid"}"#),
            ErrorCode::InvalidRoom
        );
        assert_eq!(
            code_of(r#"{"action":"send","room":"general","client_id":"a b","body":"x"}"#),
            ErrorCode::InvalidClientId
        );
        assert_eq!(
            code_of(r#"{"action":"send","room":"general","client_id":"c","body":"  \n "}"#),
            ErrorCode::EmptyBody
        );
        assert_eq!(
            code_of(r#"{"action":"history","room":"general","before":"yesterday"}"#),
            ErrorCode::InvalidMessageId
        );
        assert_eq!(
            code_of(r#"{"action":"history","room":"general","limit":0}"#),
            ErrorCode::InvalidLimit
        );
        assert_eq!(
            code_of(r#"{"action":"history","room":"general","limit":101}"#),
            ErrorCode::InvalidLimit
        );
        assert_eq!(
            code_of(r#"{"action":"history","room":"general","limit":-1}"#),
            ErrorCode::InvalidLimit
        );
        assert_eq!(
            code_of(r#"{"action":"dm","user":""}"#),
            ErrorCode::InvalidUser
        );
        assert_eq!(
            code_of(r#"{"action":"invite","room":"_x","user":"a b"}"#),
            ErrorCode::InvalidUser
        );
        assert_eq!(
            code_of(r#"{"action":"read","room":"general","id":"last"}"#),
            ErrorCode::InvalidMessageId
        );
    }

    #[test]
    fn body_limit_counts_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_BODY_CHARS);
        let frame =
            format!(r#"{{"action":"send","room":"r","client_id":"c","body":"{at_limit}"}}"#);
        assert!(ClientFrame::parse(&frame).is_ok());
        let over = "é".repeat(MAX_BODY_CHARS + 1);
        let frame = format!(r#"{{"action":"send","room":"r","client_id":"c","body":"{over}"}}"#);
        assert_eq!(code_of(&frame), ErrorCode::BodyTooLong);
    }

    #[test]
    fn oversized_frames_are_refused_before_parsing() {
        let frame = format!(
            r#"{{"action":"ping","pad":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(code_of(&frame), ErrorCode::FrameTooLarge);
    }

    #[test]
    fn a_body_at_the_limit_fits_in_a_frame_even_fully_escaped() {
        let worst = "\u{1}".repeat(MAX_BODY_CHARS);
        let frame = ClientFrame::Send {
            room: RoomName::new("x".repeat(64)).unwrap(),
            client_id: ClientId::new("c".repeat(64)).unwrap(),
            body: worst,
        };
        assert!(frame.to_json().len() <= MAX_FRAME_BYTES);
        assert!(frame.validate().is_ok());
    }

    /// A received body loses its bidi overrides before it is checked and passed on; one made of nothing
    /// else is empty.
    #[test]
    fn received_bodies_lose_bidi_overrides() {
        let frame = ClientFrame::parse(
            r#"{"action":"send","room":"r","client_id":"c","body":"pay \u202egnp.exe"}"#,
        )
        .unwrap();
        assert!(matches!(frame, ClientFrame::Send { body, .. } if body == "pay gnp.exe"));
        assert_eq!(
            code_of(r#"{"action":"send","room":"r","client_id":"c","body":"\u202e\u2066 \u2069"}"#),
            ErrorCode::EmptyBody
        );
    }

    /// An edit's body follows a send's rules (cleaned, not blank, not too long) and its id must be one.
    #[test]
    fn edits_follow_the_body_rules() {
        let edit = |id: &str, body: &str| {
            format!(r#"{{"action":"edit","room":"r","id":"{id}","body":"{body}"}}"#)
        };
        assert_eq!(code_of(&edit("1-0", "  ")), ErrorCode::EmptyBody);
        assert_eq!(
            code_of(&edit("1-0", &"x".repeat(MAX_BODY_CHARS + 1))),
            ErrorCode::BodyTooLong
        );
        assert_eq!(code_of(&edit("first", "x")), ErrorCode::InvalidMessageId);
        assert_eq!(
            code_of(r#"{"action":"delete","room":"r","id":"1"}"#),
            ErrorCode::InvalidMessageId
        );
        let frame = ClientFrame::parse(&edit("1-0", r"a\u202eb")).unwrap();
        assert!(matches!(frame, ClientFrame::Edit { body, .. } if body == "ab"));
    }

    /// A reaction names one emoji of the set (`invalid_emoji` for anything else, a heart without its
    /// variation selector included) and says whether it is on.
    #[test]
    fn reactions_name_an_emoji_of_the_set() {
        let react = |emoji: &str, on: &str| {
            format!(r#"{{"action":"react","room":"r","id":"1-0","emoji":{emoji},"on":{on}}}"#)
        };
        let frame = ClientFrame::parse(&react("\"👍\"", "false")).unwrap();
        assert!(matches!(
            frame,
            ClientFrame::React {
                emoji: Emoji::ThumbsUp,
                on: false,
                ..
            }
        ));
        for bad in ["\"❤\"", "\"🍕\"", "\"\"", "\"thumbs_up\"", "7", "null"] {
            assert_eq!(
                code_of(&react(bad, "true")),
                ErrorCode::InvalidEmoji,
                "{bad}"
            );
        }
        assert_eq!(
            code_of(&react("\"👍\"", "\"yes\"")),
            ErrorCode::MalformedFrame
        );
        assert_eq!(
            code_of(r#"{"action":"react","room":"r","id":"1-0","emoji":"👍"}"#),
            ErrorCode::MalformedFrame
        );
        assert_eq!(
            code_of(&react("\"👍\"", "true").replace("1-0", "x")),
            ErrorCode::InvalidMessageId
        );
    }

    /// A code of the wrong shape is refused with `invalid_invite`, what the registry answers any code
    /// that is no live link, so its shape tells nothing either.
    #[test]
    fn malformed_invite_codes_get_the_invalid_invite_answer() {
        let redeem = |code: &str| format!(r#"{{"action":"redeem","code":"{code}"}}"#);
        for good in ["abc", "9f1c2e7a4b0d4c6e8a2f1b3c5d7e9f01", "A-b_9"] {
            assert!(ClientFrame::parse(&redeem(good)).is_ok(), "{good}");
        }
        for bad in ["", "has space", "ü", "a/b", &"a".repeat(65)] {
            assert_eq!(code_of(&redeem(bad)), ErrorCode::InvalidInvite, "{bad}");
        }
        assert_eq!(
            code_of(r#"{"action":"redeem","code":7}"#),
            ErrorCode::InvalidInvite
        );
        assert_eq!(
            code_of(r#"{"action":"invite_link","room":"_x"}"#),
            ErrorCode::MalformedFrame
        );
    }

    #[test]
    fn errors_echo_the_client_id() {
        let err =
            ClientFrame::parse(r#"{"action":"send","room":"general","client_id":"c-9","body":""}"#)
                .unwrap_err();
        assert_eq!(err.client_id.as_deref(), Some("c-9"));
        let err = ClientFrame::parse(r#"{"action":"shout","client_id":"c-10"}"#).unwrap_err();
        assert_eq!(err.client_id.as_deref(), Some("c-10"));
    }
}
