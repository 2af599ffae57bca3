//! Messages on their way out, and drafts not yet sent. A sent message stays in the [`Outbox`] as
//! pending until the server echoes it back (matched by `client_id`: confirmed, it leaves the outbox and
//! appears in the room), or refuses it with an `error` frame naming that `client_id` (failed, with a
//! retry). A send with no answer after [`SEND_TIMEOUT_MS`] is failed too ("Not sent", with a retry);
//! an answer that comes later still confirms it, once, and a retry sends the same `client_id`, which the
//! server stores once. Both the outbox and the [`Drafts`] are plain serde values the client persists to
//! `localStorage`, so they survive a reload and a room switch. Pure: no browser calls.

use protocol::flat::{Fields, FromFields};
use protocol::{ClientFrame, ClientId, ErrorCode, FrameError, RoomName, ServerFrame};
use serde::{de, Deserialize, Deserializer, Serialize};

use crate::sorted_map::SortedMap;

/// A send not answered (echoed or refused) within this many milliseconds shows as "Not sent".
pub const SEND_TIMEOUT_MS: u64 = 10_000;

/// Where a pending message stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PendingStatus {
    /// Not yet sent on the current connection (typed offline, or the connection dropped since).
    Queued,
    /// Sent at `since_ms` (milliseconds since the epoch); waiting for the server's answer.
    Sent { since_ms: u64 },
    /// Refused by the server, or unanswered for [`SEND_TIMEOUT_MS`]; waits for the person to retry or
    /// discard it.
    Failed { reason: String },
}

/// A message the server has not confirmed yet. Saved as one flat object, its status named by `status`
/// beside the message's fields (`{"client_id":…,"room":…,"body":…,"status":"sent","since_ms":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "SavedPending")]
pub struct PendingMessage {
    pub client_id: ClientId,
    pub room: RoomName,
    pub body: String,
    pub status: PendingStatus,
}

/// A [`PendingMessage`] as saved: written out instead of `#[serde(flatten)]` of a tagged [`PendingStatus`],
/// whose reader buffers every object (serde's `Content`) and is a few KB of the app's download; the JSON is
/// the same. Read back as a flat object ([`protocol::flat`]), as a derived reader of this would (a test).
#[derive(Serialize)]
struct SavedPending {
    client_id: ClientId,
    room: RoomName,
    body: String,
    status: SavedStatus,
    /// With `sent`; absent in an outbox saved by an app from before send timeouts (it is requeued on load
    /// anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since_ms: Option<u64>,
    /// With `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum SavedStatus {
    Queued,
    Sent,
    Failed,
}

impl From<PendingMessage> for SavedPending {
    fn from(message: PendingMessage) -> Self {
        let (status, since_ms, reason) = match message.status {
            PendingStatus::Queued => (SavedStatus::Queued, None, None),
            PendingStatus::Sent { since_ms } => (SavedStatus::Sent, Some(since_ms), None),
            PendingStatus::Failed { reason } => (SavedStatus::Failed, None, Some(reason)),
        };
        Self {
            client_id: message.client_id,
            room: message.room,
            body: message.body,
            status,
            since_ms,
            reason,
        }
    }
}

impl FromFields for PendingMessage {
    const EXPECTING: &'static str = "struct SavedPending";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        let client_id = ClientId::new(fields.text("client_id")?).map_err(E::custom)?;
        let room = RoomName::new(fields.text("room")?).map_err(E::custom)?;
        let body = fields.text("body")?;
        let status = fields.text("status")?;
        let since_ms = fields.optional_number("since_ms")?;
        let reason = fields.optional_text("reason")?;
        let status = match status.as_str() {
            "queued" => PendingStatus::Queued,
            "sent" => PendingStatus::Sent {
                since_ms: since_ms.unwrap_or_default(),
            },
            "failed" => PendingStatus::Failed {
                reason: reason.ok_or_else(|| E::custom("missing field `reason`"))?,
            },
            other => return Err(E::unknown_variant(other, &["queued", "sent", "failed"])),
        };
        Ok(Self {
            client_id,
            room,
            body,
            status,
        })
    }
}

impl<'de> Deserialize<'de> for PendingMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        protocol::flat::deserialize(deserializer)
    }
}

impl PendingMessage {
    fn frame(&self) -> ClientFrame {
        ClientFrame::Send {
            room: self.room.clone(),
            client_id: self.client_id.clone(),
            body: self.body.clone(),
        }
    }
}

/// The unconfirmed messages, oldest first (the order they go out in).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    messages: Vec<PendingMessage>,
}

impl Outbox {
    /// Restores a persisted outbox. Whatever was `Sent` before the reload may not have arrived: it goes
    /// out again (the server stores a repeated `client_id` once).
    pub fn restored(mut self) -> Self {
        self.requeue();
        self
    }

    /// Adds a message, checked with the same rules the server applies. The caller sends it (through
    /// [`Outbox::take_queued`]) when online; until then it shows as pending.
    pub fn push(
        &mut self,
        room: RoomName,
        client_id: ClientId,
        body: String,
    ) -> Result<(), FrameError> {
        let message = PendingMessage {
            client_id,
            room,
            body,
            status: PendingStatus::Queued,
        };
        message.frame().validate()?;
        self.messages.push(message);
        Ok(())
    }

    /// Marks every queued message sent at `now_ms` and returns their frames, oldest first.
    pub fn take_queued(&mut self, now_ms: u64) -> Vec<ClientFrame> {
        self.messages
            .iter_mut()
            .filter(|m| m.status == PendingStatus::Queued)
            .map(|m| {
                m.status = PendingStatus::Sent { since_ms: now_ms };
                m.frame()
            })
            .collect()
    }

    /// The connection dropped: what was sent but not echoed may be lost, so it goes out again.
    pub fn requeue(&mut self) {
        for message in &mut self.messages {
            if matches!(message.status, PendingStatus::Sent { .. }) {
                message.status = PendingStatus::Queued;
            }
        }
    }

    /// Fails every message sent at least [`SEND_TIMEOUT_MS`] before `now_ms` and still unanswered.
    /// Returns whether anything changed.
    pub fn time_out(&mut self, now_ms: u64) -> bool {
        let mut changed = false;
        for message in &mut self.messages {
            if let PendingStatus::Sent { since_ms } = message.status {
                if now_ms.saturating_sub(since_ms) >= SEND_TIMEOUT_MS {
                    message.status = PendingStatus::Failed {
                        reason: format!(
                            "No answer from the server in {} seconds.",
                            SEND_TIMEOUT_MS / 1_000
                        ),
                    };
                    changed = true;
                }
            }
        }
        changed
    }

    /// Reconciles with a server frame: an echoed message confirms (removes) its pending copy; a rate limit
    /// naming a pending `client_id` queues it again (the client sends it after `retry_after_ms`); any other
    /// error naming one marks it failed. Returns whether anything changed.
    pub fn on_frame(&mut self, frame: &ServerFrame) -> bool {
        match frame {
            ServerFrame::Message(message) => {
                let before = self.messages.len();
                self.messages.retain(|m| m.client_id != message.client_id);
                self.messages.len() != before
            }
            ServerFrame::Error {
                code,
                message,
                client_id: Some(client_id),
                ..
            } => {
                let status = if *code == ErrorCode::RateLimited {
                    PendingStatus::Queued
                } else {
                    PendingStatus::Failed {
                        reason: message.clone(),
                    }
                };
                match self
                    .messages
                    .iter_mut()
                    .find(|m| m.client_id.as_str() == client_id)
                {
                    Some(pending) => {
                        pending.status = status;
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// Puts a failed message back in the queue.
    pub fn retry(&mut self, client_id: &ClientId) {
        if let Some(message) = self.messages.iter_mut().find(|m| &m.client_id == client_id) {
            message.status = PendingStatus::Queued;
        }
    }

    /// Drops a message the person gave up on.
    pub fn discard(&mut self, client_id: &ClientId) {
        self.messages.retain(|m| &m.client_id != client_id);
    }

    /// Drops every pending message of a room the person left.
    pub fn discard_room(&mut self, room: &RoomName) {
        self.messages.retain(|m| &m.room != room);
    }

    /// A room's pending messages, oldest first.
    pub fn for_room<'a>(
        &'a self,
        room: &'a RoomName,
    ) -> impl Iterator<Item = &'a PendingMessage> + 'a {
        self.messages.iter().filter(move |m| &m.room == room)
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Text typed into a room's composer and not sent yet, per room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drafts(SortedMap<RoomName, String>);

impl Drafts {
    pub fn get(&self, room: &RoomName) -> &str {
        self.0.get(room).map_or("", String::as_str)
    }

    /// Stores the draft; an empty one is forgotten.
    pub fn set(&mut self, room: &RoomName, text: &str) {
        if text.is_empty() {
            self.0.remove(room);
        } else {
            self.0.insert(room.clone(), text.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::{ChatMessage, ErrorCode, MessageId, User};
    use time::OffsetDateTime;

    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).unwrap()
    }

    fn cid(id: &str) -> ClientId {
        ClientId::new(id).unwrap()
    }

    fn echo(client_id: &str) -> ServerFrame {
        ServerFrame::Message(ChatMessage {
            room: room("general"),
            id: MessageId::new(1, 0),
            client_id: cid(client_id),
            author: User {
                id: "me".into(),
                name: "Me".into(),
                picture: None,
            },
            body: "hi".into(),
            sent_at: OffsetDateTime::UNIX_EPOCH,
            edited_at: None,
            deleted: false,
            rev: None,
            reactions: Vec::new(),
            mine: None,
        })
    }

    /// An outbox holding "one" (`a`) and "two" (`b`) for `general`, neither sent yet.
    fn two_pushed() -> Outbox {
        let mut outbox = Outbox::default();
        for (id, body) in [("a", "one"), ("b", "two")] {
            outbox.push(room("general"), cid(id), body.into()).unwrap();
        }
        outbox
    }

    const SENT: PendingStatus = PendingStatus::Sent { since_ms: 0 };

    fn statuses(outbox: &Outbox) -> Vec<(String, PendingStatus)> {
        outbox
            .messages
            .iter()
            .map(|m| (m.client_id.to_string(), m.status.clone()))
            .collect()
    }

    #[test]
    fn queued_messages_go_out_once_in_order_and_the_echo_confirms_them() {
        let mut outbox = two_pushed();
        let frames = outbox.take_queued(0);
        assert_eq!(frames.len(), 2);
        assert!(
            matches!(&frames[0], ClientFrame::Send { client_id, body, .. } if client_id.as_str() == "a" && body == "one")
        );
        assert!(
            outbox.take_queued(0).is_empty(),
            "sent messages are not sent twice on one connection"
        );
        assert!(outbox.on_frame(&echo("a")));
        assert_eq!(statuses(&outbox), vec![("b".into(), SENT)]);
        assert!(
            !outbox.on_frame(&echo("a")),
            "a repeated echo changes nothing"
        );
        assert!(outbox.on_frame(&echo("b")));
        assert!(outbox.is_empty());
    }

    #[test]
    fn an_error_naming_the_client_id_fails_that_message_and_retry_requeues_it() {
        let mut outbox = two_pushed();
        outbox.take_queued(0);
        let refusal = ServerFrame::error(ErrorCode::NotAMember, Some("b".into()));
        assert!(outbox.on_frame(&refusal));
        assert_eq!(
            statuses(&outbox)[1].1,
            PendingStatus::Failed {
                reason: ErrorCode::NotAMember.describe()
            }
        );
        assert!(!outbox.on_frame(&ServerFrame::error(ErrorCode::Internal, None)));
        assert!(!outbox.on_frame(&ServerFrame::error(ErrorCode::Internal, Some("zzz".into()))));
        outbox.retry(&cid("b"));
        let frames = outbox.take_queued(0);
        assert_eq!(
            frames.len(),
            1,
            "only the retried message goes out: {frames:?}"
        );
        outbox.discard(&cid("b"));
        assert_eq!(statuses(&outbox), vec![("a".into(), SENT)]);
    }

    #[test]
    fn a_rate_limited_message_waits_in_the_outbox_and_goes_again() {
        let mut outbox = two_pushed();
        outbox.take_queued(0);
        let refusal = ServerFrame::retry_later(ErrorCode::RateLimited, Some("b".into()), 200);
        assert!(outbox.on_frame(&refusal));
        assert_eq!(
            statuses(&outbox),
            vec![("a".into(), SENT), ("b".into(), PendingStatus::Queued)]
        );
        let again = outbox.take_queued(0);
        assert_eq!(again.len(), 1, "only the refused message goes again");
        assert!(outbox.on_frame(&echo("b")));
    }

    #[test]
    fn a_send_unanswered_for_too_long_fails_and_a_late_echo_still_confirms_it_once() {
        let mut outbox = two_pushed();
        outbox.take_queued(1_000);
        outbox.retry(&cid("b"));
        assert_eq!(outbox.take_queued(5_000).len(), 1, "b went again later");
        assert!(!outbox.time_out(1_000 + SEND_TIMEOUT_MS - 1));
        assert!(outbox.time_out(1_000 + SEND_TIMEOUT_MS));
        assert!(matches!(
            statuses(&outbox)[0].1,
            PendingStatus::Failed { ref reason } if reason.contains("No answer")
        ));
        assert_eq!(
            statuses(&outbox)[1].1,
            PendingStatus::Sent { since_ms: 5_000 },
            "each send has its own deadline"
        );
        assert!(!outbox.time_out(1_000 + SEND_TIMEOUT_MS), "once");

        // The person retries the timed-out message: it goes with the same id, so the server stores it once.
        outbox.retry(&cid("a"));
        let again = outbox.take_queued(20_000);
        assert!(
            matches!(&again[..], [ClientFrame::Send { client_id, .. }] if client_id.as_str() == "a")
        );
        // The first send's answer arrives late: it confirms; the retry's answer then changes nothing.
        assert!(outbox.on_frame(&echo("a")));
        assert!(!outbox.on_frame(&echo("a")));
        assert_eq!(
            statuses(&outbox),
            vec![("b".into(), PendingStatus::Sent { since_ms: 5_000 })]
        );
    }

    #[test]
    fn a_timed_out_message_confirmed_by_a_late_echo_leaves_the_outbox() {
        let mut outbox = two_pushed();
        outbox.take_queued(0);
        assert!(outbox.time_out(SEND_TIMEOUT_MS));
        assert!(outbox.on_frame(&echo("a")));
        assert_eq!(statuses(&outbox).len(), 1);
    }

    /// Each message is saved as one flat object with its status beside its fields, exactly as apps before
    /// this one saved it, and reads back as itself; a failed message without its reason is refused.
    #[test]
    fn the_saved_outbox_is_one_flat_object_per_message() {
        let message = |id: &str, status| PendingMessage {
            client_id: cid(id),
            room: room("general"),
            body: "hi".into(),
            status,
        };
        let outbox = Outbox {
            messages: vec![
                message("a", PendingStatus::Queued),
                message("b", PendingStatus::Sent { since_ms: 5 }),
                message(
                    "c",
                    PendingStatus::Failed {
                        reason: "Slow down".into(),
                    },
                ),
            ],
        };
        let saved = serde_json::to_string(&outbox).unwrap();
        assert_eq!(
            saved,
            r#"{"messages":[{"client_id":"a","room":"general","body":"hi","status":"queued"},{"client_id":"b","room":"general","body":"hi","status":"sent","since_ms":5},{"client_id":"c","room":"general","body":"hi","status":"failed","reason":"Slow down"}]}"#
        );
        assert_eq!(serde_json::from_str::<Outbox>(&saved).unwrap(), outbox);
        let no_reason =
            r#"{"messages":[{"client_id":"c","room":"general","body":"hi","status":"failed"}]}"#;
        assert!(serde_json::from_str::<Outbox>(no_reason).is_err());
    }

    /// A pending message reads as the derived reader of [`SavedPending`] (with `try_from`) read it: every
    /// status, each field missing, `null` or of another kind, unknown fields.
    #[test]
    fn pending_messages_read_as_the_derived_reader_read_them() {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum DerivedStatus {
            Queued,
            Sent,
            Failed,
        }
        #[derive(Deserialize)]
        struct Derived {
            client_id: ClientId,
            room: RoomName,
            body: String,
            status: DerivedStatus,
            #[serde(default)]
            since_ms: Option<u64>,
            #[serde(default)]
            reason: Option<String>,
        }
        let derived = |d: Derived| {
            let status = match d.status {
                DerivedStatus::Queued => PendingStatus::Queued,
                DerivedStatus::Sent => PendingStatus::Sent {
                    since_ms: d.since_ms.unwrap_or_default(),
                },
                DerivedStatus::Failed => PendingStatus::Failed { reason: d.reason? },
            };
            Some(PendingMessage {
                client_id: d.client_id,
                room: d.room,
                body: d.body,
                status,
            })
        };
        for status in ["queued", "sent", "failed", "lost"] {
            let whole = serde_json::json!({"client_id": "c-1", "room": "general", "body": "hi",
                "status": status, "since_ms": 5, "reason": "Slow down"});
            let values = [
                serde_json::json!(null),
                serde_json::json!("has space"),
                serde_json::json!(7),
                serde_json::json!(-7),
                serde_json::json!([]),
            ];
            let keys = protocol::variants::keys_and_another(&whole);
            for json in protocol::variants::object_variants(&whole, &keys, &values, false) {
                let ours = serde_json::from_str::<PendingMessage>(&json).ok();
                let theirs = serde_json::from_str::<Derived>(&json)
                    .ok()
                    .and_then(derived);
                assert_eq!(ours, theirs, "{json}");
            }
        }
    }

    #[test]
    fn a_dropped_connection_or_a_reload_sends_unconfirmed_messages_again() {
        let mut outbox = two_pushed();
        outbox.take_queued(0);
        outbox.on_frame(&ServerFrame::error(ErrorCode::Internal, Some("b".into())));
        outbox.requeue();
        assert_eq!(
            outbox.take_queued(0).len(),
            1,
            "failed messages wait for an explicit retry"
        );

        let saved = serde_json::to_string(&outbox).unwrap();
        let before_timeouts =
            r#"{"messages":[{"client_id":"a","room":"general","body":"x","status":"sent"}]}"#;
        let older: Outbox = serde_json::from_str(before_timeouts).unwrap();
        assert_eq!(
            older.restored().messages[0].status,
            PendingStatus::Queued,
            "an outbox saved by an older app loads"
        );
        let mut reloaded = serde_json::from_str::<Outbox>(&saved).unwrap().restored();
        assert_eq!(reloaded.take_queued(0).len(), 1);
        assert!(matches!(
            statuses(&reloaded)[1].1,
            PendingStatus::Failed { .. }
        ));
    }

    #[test]
    fn messages_the_server_would_refuse_never_enter_the_outbox() {
        let mut outbox = Outbox::default();
        let blank = outbox
            .push(room("general"), cid("a"), "  \n".into())
            .unwrap_err();
        assert_eq!(blank.code, ErrorCode::EmptyBody);
        let long = outbox
            .push(room("general"), cid("b"), "x".repeat(4001))
            .unwrap_err();
        assert_eq!(long.code, ErrorCode::BodyTooLong);
        assert!(outbox.is_empty());
    }

    #[test]
    fn pending_messages_are_listed_per_room_and_leaving_a_room_drops_them() {
        let mut outbox = Outbox::default();
        outbox.push(room("a"), cid("1"), "x".into()).unwrap();
        outbox.push(room("b"), cid("2"), "y".into()).unwrap();
        assert_eq!(outbox.for_room(&room("a")).count(), 1);
        outbox.discard_room(&room("a"));
        assert_eq!(outbox.for_room(&room("a")).count(), 0);
        assert_eq!(outbox.for_room(&room("b")).count(), 1);
    }

    #[test]
    fn drafts_are_kept_per_room_and_survive_serialisation() {
        let mut drafts = Drafts::default();
        drafts.set(&room("a"), "half a thought");
        drafts.set(&room("b"), "other");
        drafts.set(&room("b"), "");
        let drafts: Drafts =
            serde_json::from_str(&serde_json::to_string(&drafts).unwrap()).unwrap();
        assert_eq!(drafts.get(&room("a")), "half a thought");
        assert_eq!(drafts.get(&room("b")), "");
    }

    /// Drafts are saved as one JSON object, room to text, so drafts saved by older apps load.
    #[test]
    fn drafts_are_saved_as_an_object_by_room() {
        let mut drafts = Drafts::default();
        drafts.set(&room("b"), "second");
        drafts.set(&room("a"), "first");
        let json = serde_json::to_string(&drafts).unwrap();
        assert_eq!(json, r#"{"a":"first","b":"second"}"#);
        let old: Drafts = serde_json::from_str(r#"{"b":"x","a":"y","b":"z"}"#).unwrap();
        assert_eq!((old.get(&room("a")), old.get(&room("b"))), ("y", "z"));
    }
}
