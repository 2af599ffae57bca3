//! The sentences `ErrorCode::describe` tells people against the rules `ClientFrame::parse` enforces: for
//! every limit a sentence names, a frame at the limit is accepted, one just past it is refused with that
//! code, and the sentence states the limit's number. Change a constant, the rule or the sentence alone,
//! and one of these fails.

use protocol::{
    client::ACTIONS,
    limits::{
        MAX_BODY_CHARS, MAX_CLIENT_ID_LEN, MAX_FRAME_BYTES, MAX_HISTORY_LIMIT,
        MAX_REACTIONS_PER_MESSAGE, MAX_ROOM_NAME_LEN, MAX_USER_ID_LEN,
    },
    ClientFrame, Emoji, ErrorCode,
};
use serde_json::json;

/// Asserts `at_limit` parses, `past_limit` is refused with `code`, and `code`'s sentence says `number`.
fn holds(
    code: ErrorCode,
    number: usize,
    at_limit: serde_json::Value,
    past_limit: serde_json::Value,
) {
    if let Err(refusal) = ClientFrame::parse(&at_limit.to_string()) {
        panic!(
            "{code:?}: a frame at the limit was refused: {}",
            refusal.detail
        );
    }
    let refused = ClientFrame::parse(&past_limit.to_string())
        .expect_err("a frame past the limit must be refused");
    assert_eq!(refused.code, code);
    let sentence = code.describe();
    assert!(
        sentence.contains(&format!(" {number} ")),
        "{code:?} says {sentence:?}, but the limit is {number}"
    );
}

fn send(room: &str, client_id: &str, body: &str) -> serde_json::Value {
    json!({"action": "send", "room": room, "client_id": client_id, "body": body})
}

#[test]
fn the_body_length_sentence_is_the_enforced_limit() {
    holds(
        ErrorCode::BodyTooLong,
        MAX_BODY_CHARS,
        send("r", "c", &"é".repeat(MAX_BODY_CHARS)),
        send("r", "c", &"é".repeat(MAX_BODY_CHARS + 1)),
    );
}

#[test]
fn the_user_id_sentence_is_the_enforced_limit() {
    holds(
        ErrorCode::InvalidUser,
        MAX_USER_ID_LEN,
        json!({"action": "dm", "user": "u".repeat(MAX_USER_ID_LEN)}),
        json!({"action": "dm", "user": "u".repeat(MAX_USER_ID_LEN + 1)}),
    );
}

#[test]
fn the_room_name_sentence_is_the_enforced_limit() {
    holds(
        ErrorCode::InvalidRoom,
        MAX_ROOM_NAME_LEN,
        json!({"action": "join", "room": "r".repeat(MAX_ROOM_NAME_LEN)}),
        json!({"action": "join", "room": "r".repeat(MAX_ROOM_NAME_LEN + 1)}),
    );
}

#[test]
fn the_client_id_sentence_is_the_enforced_limit() {
    holds(
        ErrorCode::InvalidClientId,
        MAX_CLIENT_ID_LEN,
        send("r", &"c".repeat(MAX_CLIENT_ID_LEN), "hi"),
        send("r", &"c".repeat(MAX_CLIENT_ID_LEN + 1), "hi"),
    );
}

#[test]
fn the_history_page_sentence_is_the_enforced_limit() {
    holds(
        ErrorCode::InvalidLimit,
        usize::from(MAX_HISTORY_LIMIT),
        json!({"action": "history", "room": "r", "limit": MAX_HISTORY_LIMIT}),
        json!({"action": "history", "room": "r", "limit": MAX_HISTORY_LIMIT + 1}),
    );
}

#[test]
fn the_frame_size_sentence_is_the_enforced_limit() {
    // A body of escaped characters grows in JSON: at the character limit it still fits the frame limit,
    // and the frame limit is what the sentence names, in KB.
    let escaped = "\u{1}".repeat(MAX_BODY_CHARS);
    let frame = send("r", "c", &escaped).to_string();
    assert!(
        frame.len() <= MAX_FRAME_BYTES,
        "the body limit fits a frame"
    );
    let sentence = ErrorCode::FrameTooLarge.describe();
    assert!(
        sentence.contains(&format!(" {} KB", MAX_FRAME_BYTES / 1024)),
        "{sentence:?}"
    );
}

#[test]
fn the_unknown_action_sentence_lists_every_action() {
    let sentence = ErrorCode::UnknownAction.describe();
    for action in ACTIONS {
        assert!(sentence.contains(action), "{sentence:?} lacks {action}");
    }
    let refused = ClientFrame::parse(r#"{"action":"shout"}"#).unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnknownAction);
}

#[test]
fn the_emoji_sentence_lists_the_set_it_enforces() {
    let sentence = ErrorCode::InvalidEmoji.describe();
    let react = |emoji: &str| json!({"action": "react", "room": "r", "id": "1-0", "emoji": emoji, "on": true});
    for emoji in Emoji::ALL {
        assert!(
            sentence.contains(emoji.as_str()),
            "{sentence:?} lacks {emoji}"
        );
        assert!(ClientFrame::parse(&react(emoji.as_str()).to_string()).is_ok());
    }
    let refused = ClientFrame::parse(&react("🍕").to_string()).unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidEmoji);
}

#[test]
fn the_reactions_sentence_names_the_cap() {
    let sentence = ErrorCode::TooManyReactions.describe();
    assert!(
        sentence.contains(&format!(" {MAX_REACTIONS_PER_MESSAGE} ")),
        "{sentence:?}"
    );
}
