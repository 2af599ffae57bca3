//! Every limit of the wire contract in one place. The app checks them before sending, the backend checks
//! them on receipt, so a frame the app lets through is never refused by the server for its shape.

/// Largest client frame, in bytes. API Gateway refuses WebSocket frames over 32 KB (closing with 1009).
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// Largest server → client message, in bytes: API Gateway's `PostToConnection` payload limit is 128 KB.
/// History pages are cut short (with `has_more`) so they stay under it.
pub const MAX_SERVER_FRAME_BYTES: usize = 128 * 1024;

/// Most bytes of changed messages one `history` frame carries (half of [`MAX_SERVER_FRAME_BYTES`], so a
/// catch-up page has room for new messages too).
pub const MAX_CHANGES_BYTES: usize = MAX_SERVER_FRAME_BYTES / 2;

/// Largest SQS message body, in bytes. Deliveries to many connections are split to stay under it.
pub const MAX_QUEUE_MESSAGE_BYTES: usize = 256 * 1024;

/// Most recipients one delivery names. The sender posts to 32 of them at once, so a delivery takes about
/// 8 rounds of posts; a batch of 10 deliveries, 80 rounds: about 2.5 s at API Gateway's ~30 ms a post, far
/// inside the sender's 15 s timeout, whatever the room's size (a room of 1,000 is four deliveries, handed
/// out in turn: one message group per room).
pub const MAX_RECIPIENTS_PER_DELIVERY: usize = 250;

/// Most messages SQS accepts in one `SendMessageBatch`.
pub const MAX_QUEUE_BATCH: usize = 10;

/// Longest message body, in Unicode scalar values (what a person counts as characters).
/// 4,000 characters stay under [`MAX_FRAME_BYTES`] even when every one is escaped in JSON.
pub const MAX_BODY_CHARS: usize = 4_000;

/// Longest display name, in Unicode scalar values; longer names are cut ([`crate::text::display_name`]).
pub const MAX_NAME_CHARS: usize = 64;

/// Longest room name, in bytes (room names are ASCII).
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// Longest invite code a frame may carry, in bytes (the server issues 32).
pub const MAX_INVITE_CODE_LEN: usize = 64;

/// An invite link works this long after it was made, unless used first.
pub const INVITE_LINK_TTL_SECS: u64 = 7 * 24 * 60 * 60;

/// Live (unused, unexpired) invite links one private room may have at once (`too_many_invites` past it).
pub const MAX_INVITE_LINKS_PER_ROOM: usize = 50;

/// Longest client-generated message id, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// History page size when the client does not ask for one.
pub const DEFAULT_HISTORY_LIMIT: u16 = 50;

/// Largest history page a client may ask for.
pub const MAX_HISTORY_LIMIT: u16 = 100;

/// Messages kept per room; older ones are trimmed.
pub const ROOM_HISTORY_CAP: usize = 1_000;

/// A room's history is kept this long after its last message (and its members list after its last join),
/// then the store forgets the room.
pub const ROOM_RETENTION_SECS: u64 = 30 * 24 * 60 * 60;

/// Rooms one connection may be in at once (`too_many_rooms` past it).
pub const MAX_ROOMS_PER_CONNECTION: usize = 50;

/// Rooms and direct conversations one person may belong to (their list, kept by the server across
/// devices). The same as [`MAX_ROOMS_PER_CONNECTION`], as every connection joins every room on the list.
pub const MAX_ROOMS_PER_PERSON: usize = MAX_ROOMS_PER_CONNECTION;

/// People one private room may hold (`room_full` past it, for an invite).
pub const MAX_PEOPLE_PER_PRIVATE_ROOM: usize = 200;

/// Longest user id a frame may name (an `invite` or a `dm`), in bytes. Cognito's `sub` is a 36-character
/// UUID.
pub const MAX_USER_ID_LEN: usize = 128;

/// A person's list and their private rooms' people are kept this long after their last change.
pub const PERSON_RETENTION_SECS: u64 = ROOM_RETENTION_SECS;

/// Connections one person may hold open at once, across tabs and devices (`too_many_connections` past it:
/// the newest connection is refused and closed).
pub const MAX_CONNECTIONS_PER_PERSON: usize = 10;

/// Connections one room may hold (`room_full` past it).
pub const MAX_MEMBERS_PER_ROOM: usize = 1_000;

/// Reactions one message may hold, each person's each emoji counted once (`too_many_reactions` past it):
/// as many as a full room's connections. The store keeps every reactor (so a repeated reaction changes
/// nothing and a person's own reactions are known), so this bounds a message's reactors, and a room's
/// with [`ROOM_HISTORY_CAP`].
pub const MAX_REACTIONS_PER_MESSAGE: usize = MAX_MEMBERS_PER_ROOM;

/// People a message names per emoji, the first to react (shown on hover); its count says how many in
/// all. Ten names of the longest ids and names, for each emoji of the set, keep the largest message well
/// inside [`MAX_SERVER_FRAME_BYTES`] (a test in `server.rs` proves it).
pub const MAX_NAMED_REACTORS: usize = 10;

/// A per-person rate: a token bucket holding at most `burst` actions, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub per_second: f64,
}

impl Rate {
    /// This rate `factor` times over (burst and refill): what a benchmark uses to keep the checks running
    /// while never hitting them.
    pub fn scaled(self, factor: u32) -> Rate {
        Rate {
            burst: self.burst.saturating_mul(factor),
            per_second: self.per_second * f64::from(factor),
        }
    }
}

/// `send`, per person and room: a fast typist never sends ten messages to one room in two seconds; a
/// script does at once. Per room, as team chats limit posting per channel, so the bucket lives with the
/// room and the store checks it in the append itself; across rooms a person is bounded by this times
/// [`MAX_ROOMS_PER_PERSON`].
pub const SEND_RATE: Rate = Rate {
    burst: 10,
    per_second: 5.0,
};

/// `join` and `leave`, per person. The burst covers a reconnect re-joining every room at once.
pub const JOIN_RATE: Rate = Rate {
    burst: MAX_ROOMS_PER_CONNECTION as u32 + 10,
    per_second: 2.0,
};

/// `history`, per person. The burst covers a reconnect's catch-up of every room at once.
pub const HISTORY_RATE: Rate = Rate {
    burst: MAX_ROOMS_PER_CONNECTION as u32 + 10,
    per_second: 5.0,
};

/// `typing`, per person and room: one fan-out every two seconds, extra ones dropped silently. The burst of
/// two lets the keystroke right after a send announce typing afresh (the app does, as a message ends it).
pub const TYPING_RATE: Rate = Rate {
    burst: 2,
    per_second: 0.5,
};

/// `edit` and `delete`, per person (one bucket for both): fixing a typo or two at once, not rewriting a
/// room's history in a loop.
pub const EDIT_RATE: Rate = Rate {
    burst: 10,
    per_second: 1.0,
};

/// `react`, per person: reading down a conversation and reacting to a message or two a second, not
/// flooding a room with fan-outs (every reaction reaches every member, as a message does). Its own bucket,
/// not `edit`'s: reacting to a few messages in a row must not hold up fixing a typo.
pub const REACT_RATE: Rate = Rate {
    burst: 20,
    per_second: 2.0,
};

/// Rooms a person may bring into being (by joining a room nobody is in and nobody wrote in), per hour.
pub const NEW_ROOM_RATE: Rate = Rate {
    burst: 20,
    per_second: 20.0 / 3600.0,
};

/// `invite`, `invite_link` and `dm` together, per person: enough to gather a team, not to spam a server's
/// people.
pub const INVITE_RATE: Rate = Rate {
    burst: 30,
    per_second: 30.0 / 3600.0,
};

/// `redeem`, per person: opening invite links, at the invites' pace. Its own bucket, so inviting does not
/// stop a person from accepting an invitation. (A code is 128 random bits: no rate makes guessing one
/// thinkable; this one bounds the work.)
pub const REDEEM_RATE: Rate = INVITE_RATE;

/// `read` and `rooms`, per person. The app sends `read` at most every few seconds per tab; the burst covers
/// several tabs and a reconnect.
pub const READ_RATE: Rate = Rate {
    burst: 30,
    per_second: 2.0,
};

/// The length in bytes of `value`'s JSON, as `serde_json::to_string` would write it, without building the
/// string: how frames and envelopes are measured against the limits above.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value).expect("protocol types always serialise");
    counter.0
}

#[cfg(test)]
mod tests {
    use super::json_len;

    #[test]
    fn json_len_counts_what_serde_json_writes() {
        for value in [
            "",
            "plain",
            "quote \" and \\ and \n",
            "é ünïcode 🦀",
            "\u{1}",
        ] {
            assert_eq!(json_len(value), serde_json::to_string(value).unwrap().len());
        }
        let nested = serde_json::json!({"a": [1, 2.5, null], "b": {"c": "d"}});
        assert_eq!(json_len(&nested), nested.to_string().len());
    }
}
