//! The handler core on the in-memory adapters: what each command does to the registry and which frames go
//! to whom, including under SQS's at-least-once redelivery.

use std::collections::HashMap;
use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc, Mutex,
};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use lambdas::{
    adapters::memory::MemoryQueue,
    adapters::memory::{memory_queue, MemoryRegistry},
    consumer::{consume_batch, Body, RegistryConsumer, SenderConsumer},
    core::{gateway, registry, sender},
    metrics,
    ports::{Clock, HistoryQuery, PushError, Pusher, Registry},
};
use protocol::{
    ClientFrame, Command, ConnectionId, Delivery, Emoji, ErrorCode, RoomName, ServerFrame, User,
};
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;

fn user(name: &str) -> User {
    User {
        id: format!("sub-{name}"),
        name: name.into(),
        picture: None,
    }
}

fn conn(id: &str) -> ConnectionId {
    ConnectionId(id.into())
}

fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

fn frame(connection: &str, name: &str, text: &str) -> Command {
    Command::Frame {
        connection_id: conn(connection),
        user: user(name),
        frame: ClientFrame::parse(text).unwrap(),
        received_at: datetime!(2026-11-25 16:00 UTC),
    }
}

/// A clock the test moves by hand (rates refill with it).
struct TestClock(AtomicI64);

impl TestClock {
    fn new() -> Self {
        Self(AtomicI64::new(
            datetime!(2026-11-25 16:00 UTC).unix_timestamp() * 1000,
        ))
    }

    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(self.0.load(Ordering::SeqCst)) * 1_000_000,
        )
        .unwrap()
    }
}

/// Applies one command with the registry core, rate limits on.
async fn apply(
    registry: &MemoryRegistry,
    deliveries: &MemoryQueue<Delivery>,
    clock: &TestClock,
    command: Command,
) -> Result<registry::Handled, registry::RegistryHandlerError> {
    let ports = registry::Ports {
        registry,
        deliveries,
        clock,
        rate_limits: lambdas::core::registry::RateLimits::Enforced,
    };
    registry::apply(ports, &command).await
}

/// Runs commands through the registry core, collecting the deliveries they cause.
struct Harness {
    registry: MemoryRegistry,
    deliveries: lambdas::adapters::memory::MemoryQueue<Delivery>,
    out: UnboundedReceiver<Delivery>,
    clock: TestClock,
}

impl Harness {
    fn new() -> Self {
        Self::with_registry(MemoryRegistry::default())
    }

    fn with_registry(registry: MemoryRegistry) -> Self {
        let (deliveries, out) = memory_queue();
        Self {
            registry,
            deliveries,
            out,
            clock: TestClock::new(),
        }
    }

    /// A harness where alice (`c1`) and bob (`c2`) have joined `general`, their presence frames drained.
    async fn alice_and_bob_in_general() -> Self {
        let mut h = Self::new();
        for (connection, name) in [("c1", "alice"), ("c2", "bob")] {
            h.run(frame(
                connection,
                name,
                r#"{"action":"join","room":"general"}"#,
            ))
            .await;
        }
        h
    }

    /// Applies `command`, a frame as received now by the test's clock (as the gateway stamps it), and
    /// collects the deliveries it caused.
    async fn run(&mut self, command: Command) -> Vec<Delivery> {
        let now = self.clock.now();
        self.run_received_at(command, now).await
    }

    /// Applies `command`, a frame as received at `at` (a queue may hand it over much later), and
    /// collects the deliveries it caused.
    async fn run_received_at(&mut self, mut command: Command, at: OffsetDateTime) -> Vec<Delivery> {
        if let Command::Frame { received_at, .. } = &mut command {
            *received_at = at;
        }
        apply(&self.registry, &self.deliveries, &self.clock, command)
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Ok(delivery) = self.out.try_recv() {
            out.push(delivery);
        }
        out
    }
}

fn recipients(delivery: &Delivery) -> Vec<&str> {
    let mut ids: Vec<&str> = delivery.recipients.iter().map(|c| c.as_str()).collect();
    ids.sort_unstable();
    ids
}

/// A join tells everyone in the room who is there; a send reaches every member; a redelivered send
/// command (SQS's at-least-once) is stored once, and fanned out again with the same id (its first fan-out
/// may not have finished; clients keep one copy per id).
#[tokio::test]
async fn send_is_stored_once_even_when_redelivered() {
    let mut h = Harness::new();
    h.run(frame(
        "c1",
        "alice",
        r#"{"action":"join","room":"general"}"#,
    ))
    .await;
    let joined = h
        .run(frame("c2", "bob", r#"{"action":"join","room":"general"}"#))
        .await;
    assert_eq!(recipients(&joined[0]), ["c1", "c2"]);

    let send = frame(
        "c1",
        "alice",
        r#"{"action":"send","room":"general","client_id":"m1","body":"hi"}"#,
    );
    let first = h.run(send.clone()).await;
    assert_eq!(first.len(), 1);
    assert_eq!(recipients(&first[0]), ["c1", "c2"]);
    let again = h.run(send).await;
    assert_eq!(recipients(&again[0]), ["c1", "c2"]);
    let (ServerFrame::Message(a), ServerFrame::Message(b)) = (&first[0].frame, &again[0].frame)
    else {
        panic!("expected message frames");
    };
    assert_eq!(a.id, b.id);
    let page = h
        .registry
        .history(
            &conn("c1"),
            &room("general"),
            HistoryQuery::Before {
                before: None,
                limit: 50,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.messages.len(), 1);
}

/// If a send was stored but its fan-out never reached the queue, the redelivered command fans it out, in
/// its latest version.
#[tokio::test]
async fn a_send_stored_but_not_fanned_out_is_fanned_out_on_retry() {
    let mut h = Harness::alice_and_bob_in_general().await;
    // Simulate the crash: the message is stored, the fan-out never happened.
    let stored = h
        .registry
        .append(
            &ConnectionId("c1".into()),
            lambdas::ports::NewMessage {
                room: room("general"),
                client_id: protocol::ClientId::new("m1").unwrap(),
                author: user("alice"),
                body: "hi".into(),
                sent_at: OffsetDateTime::UNIX_EPOCH,
            },
            None,
        )
        .await
        .unwrap();
    let lambdas::ports::Appended::FanOut { message, .. } = stored else {
        panic!("a new message is fanned out: {stored:?}");
    };
    // Edited before the retry comes: the retry fans out what the room has now.
    h.run(frame(
        "c1",
        "alice",
        &format!(
            r#"{{"action":"edit","room":"general","id":"{}","body":"hi, edited"}}"#,
            message.id
        ),
    ))
    .await;
    let retry = h
        .run(frame(
            "c1",
            "alice",
            r#"{"action":"send","room":"general","client_id":"m1","body":"hi"}"#,
        ))
        .await;
    assert_eq!(recipients(&retry[0]), ["c1", "c2"]);
    let ServerFrame::Message(again) = &retry[0].frame else {
        panic!("expected the message: {:?}", retry[0].frame);
    };
    assert_eq!((again.id, again.body.as_str()), (message.id, "hi, edited"));
}

/// The same client id from two different people is two messages.
#[tokio::test]
async fn client_ids_are_per_author() {
    let mut h = Harness::alice_and_bob_in_general().await;
    h.run(frame(
        "c1",
        "alice",
        r#"{"action":"send","room":"general","client_id":"1","body":"a"}"#,
    ))
    .await;
    let bobs = h
        .run(frame(
            "c2",
            "bob",
            r#"{"action":"send","room":"general","client_id":"1","body":"b"}"#,
        ))
        .await;
    assert_eq!(recipients(&bobs[0]), ["c1", "c2"]);
}

/// Leaving twice, or disconnecting twice, changes nothing the second time (idempotent under redelivery).
#[tokio::test]
async fn leave_and_disconnect_are_idempotent() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let leave = frame("c2", "bob", r#"{"action":"leave","room":"general"}"#);
    assert_eq!(h.run(leave.clone()).await.len(), 1);
    assert!(h.run(leave).await.is_empty());
    let gone = Command::Disconnect {
        connection_id: conn("c1"),
    };
    assert!(
        h.run(gone.clone()).await.is_empty(),
        "nobody left in the room to tell"
    );
    assert!(h.run(gone).await.is_empty());
    assert!(h
        .registry
        .members(&room("general"))
        .await
        .unwrap()
        .members
        .is_empty());
}

/// A stale connection reported by the sender is forgotten, and its rooms are told.
#[tokio::test]
async fn forget_removes_a_stale_connection() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let out = h
        .run(Command::Forget {
            connection_id: conn("c2"),
        })
        .await;
    assert_eq!(recipients(&out[0]), ["c1"]);
    let ServerFrame::Presence { members, .. } = &out[0].frame else {
        panic!("expected presence")
    };
    assert_eq!(members, &[user("alice")]);
}

/// History pages that would pass API Gateway's 128 KB limit are cut, keeping the newest, with `has_more`.
#[tokio::test]
async fn large_history_pages_are_cut_to_fit() {
    let mut h = Harness::new();
    h.run(frame(
        "c1",
        "alice",
        r#"{"action":"join","room":"general"}"#,
    ))
    .await;
    let body = "x".repeat(4000);
    for i in 0..60 {
        let text =
            format!(r#"{{"action":"send","room":"general","client_id":"m{i}","body":"{body}"}}"#);
        h.run(frame("c1", "alice", &text)).await;
        h.clock.advance(Duration::from_secs(1));
    }
    let out = h
        .run(frame(
            "c1",
            "alice",
            r#"{"action":"history","room":"general","limit":100}"#,
        ))
        .await;
    let ServerFrame::History {
        messages, has_more, ..
    } = &out[0].frame
    else {
        panic!("expected history")
    };
    assert!(*has_more);
    assert!(messages.len() < 60 && messages.len() > 20);
    assert_eq!(messages.last().unwrap().client_id.as_str(), "m59");
    assert!(out[0].frame.to_json().len() <= protocol::limits::MAX_SERVER_FRAME_BYTES);
}

/// The room's history is capped; the oldest messages go first.
#[tokio::test]
async fn history_is_capped() {
    let mut h = Harness::with_registry(MemoryRegistry::with_history_cap(3));
    h.run(frame("c1", "alice", r#"{"action":"join","room":"r"}"#))
        .await;
    for i in 0..5 {
        let text = format!(r#"{{"action":"send","room":"r","client_id":"m{i}","body":"b{i}"}}"#);
        h.run(frame("c1", "alice", &text)).await;
    }
    let page = h
        .registry
        .history(
            &conn("c1"),
            &room("r"),
            HistoryQuery::Before {
                before: None,
                limit: 50,
            },
        )
        .await
        .unwrap()
        .unwrap();
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["b2", "b3", "b4"]);
    assert!(!page.has_more);
}

/// A pusher whose answers the test scripts per connection, recording what reached whom; `at_once`, it
/// also takes whole deliveries without waiting, as the local gateway's connection table does.
#[derive(Default)]
struct ScriptedPusher {
    at_once: bool,
    gone: Vec<&'static str>,
    throttle_first: Mutex<HashMap<String, u32>>,
    broken: Vec<&'static str>,
    delivered: Mutex<Vec<(String, Bytes)>>,
    closed: Mutex<Vec<String>>,
    /// Whom [`Pusher::post`] was called for, one by one.
    posted_one_by_one: Mutex<Vec<String>>,
}

impl ScriptedPusher {
    fn answer(&self, connection_id: &ConnectionId, payload: Bytes) -> Result<(), PushError> {
        let id = connection_id.as_str();
        if self.gone.contains(&id) {
            return Err(PushError::Gone);
        }
        if self.broken.contains(&id) {
            return Err(PushError::Failed("boom".into()));
        }
        if let Some(left) = self.throttle_first.lock().unwrap().get_mut(id) {
            if *left > 0 {
                *left -= 1;
                return Err(PushError::Throttled);
            }
        }
        self.delivered
            .lock()
            .unwrap()
            .push((id.to_owned(), payload));
        Ok(())
    }
}

#[async_trait]
impl Pusher for ScriptedPusher {
    async fn post(&self, connection_id: &ConnectionId, payload: Bytes) -> Result<(), PushError> {
        self.posted_one_by_one
            .lock()
            .unwrap()
            .push(connection_id.to_string());
        self.answer(connection_id, payload)
    }

    fn post_all_now(
        &self,
        recipients: &[ConnectionId],
        payload: &Bytes,
    ) -> Option<Vec<Result<(), PushError>>> {
        self.at_once.then(|| {
            recipients
                .iter()
                .map(|id| self.answer(id, payload.clone()))
                .collect()
        })
    }

    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
        self.closed.lock().unwrap().push(connection_id.to_string());
        Ok(())
    }
}

/// The sender posts the same bytes to everyone; a 410 queues `forget` for that connection (not the
/// sender's), throttling is retried, and other failures are queued again for a precise retry: the same
/// whether the pusher posts one by one or takes the delivery at once (whom it could not reach at once
/// is posted to one by one, with the retries).
#[tokio::test]
async fn sender_handles_gone_throttled_and_failed_recipients() {
    for at_once in [false, true] {
        sender_handles_gone_throttled_and_failed(at_once).await;
    }
}

async fn sender_handles_gone_throttled_and_failed(at_once: bool) {
    let pusher = ScriptedPusher {
        at_once,
        gone: vec!["stale"],
        broken: vec!["broken"],
        throttle_first: Mutex::new(HashMap::from([("slow".to_owned(), 2)])),
        ..ScriptedPusher::default()
    };
    let (commands, mut queued) = memory_queue::<Command>();
    let (deliveries, mut requeued) = memory_queue::<Delivery>();
    let delivery = Delivery::new(
        ["ok", "stale", "slow", "broken"].map(conn).to_vec(),
        ServerFrame::Pong,
    );
    let policy = sender::SendPolicy {
        first_backoff: Duration::from_millis(1),
        ..sender::SendPolicy::default()
    };
    let ports = sender::Ports {
        pusher: &pusher,
        commands: &commands,
        deliveries: &deliveries,
    };
    let report = sender::deliver(ports, &delivery, policy).await.unwrap();
    assert_eq!(report.delivered, 2, "at once: {at_once}");
    assert_eq!(report.gone, [conn("stale")]);
    assert_eq!(report.retried, [conn("broken")]);
    assert_eq!(recipients(&requeued.try_recv().unwrap()), ["broken"]);
    assert_eq!(
        queued.try_recv().unwrap(),
        Command::Forget {
            connection_id: conn("stale")
        }
    );
    assert!(queued.try_recv().is_err());
    let delivered = pusher.delivered.lock().unwrap();
    assert!(delivered
        .iter()
        .all(|(_, bytes)| bytes == &Bytes::from(ServerFrame::Pong.to_json())));
    let mut one_by_one = pusher.posted_one_by_one.lock().unwrap().clone();
    one_by_one.sort();
    one_by_one.dedup();
    let expected: &[&str] = if at_once {
        &["broken", "slow"]
    } else {
        &["broken", "ok", "slow", "stale"]
    };
    assert_eq!(one_by_one, expected);
}

/// A recipient that can never be reached is queued again alone, one retry more each time, and given up
/// on after the policy's last requeue, so it cannot circle forever; every outcome is counted.
#[tokio::test]
async fn unreachable_recipients_are_retried_a_bounded_number_of_times() {
    let pusher = Arc::new(ScriptedPusher {
        gone: vec!["stale"],
        broken: vec!["broken"],
        ..ScriptedPusher::default()
    });
    let (commands, _forgotten) = memory_queue::<Command>();
    let (deliveries, mut requeued) = memory_queue::<Delivery>();
    let consumer = SenderConsumer {
        pusher: pusher.clone(),
        commands: Arc::new(commands),
        deliveries: Arc::new(deliveries),
        policy: sender::SendPolicy {
            requeues: 2,
            ..sender::SendPolicy::default()
        },
    };
    let first = Delivery::new(
        ["ok", "stale", "broken"].map(conn).to_vec(),
        ServerFrame::Pong,
    );
    let mut body = first.to_json();
    let mut totals = metrics::Counts::default();
    let mut retries_seen = Vec::new();
    loop {
        let report = consume_batch(&consumer, &[Body::Json(body)]).await;
        assert!(
            report.failed.is_empty(),
            "the queue message itself succeeds"
        );
        for name in [
            metrics::DELIVERED,
            metrics::GONE,
            metrics::RETRIED,
            metrics::ABANDONED,
        ] {
            totals.add(name, report.counts.get(name) as usize);
        }
        let Ok(again) = requeued.try_recv() else {
            break;
        };
        assert_eq!(
            recipients(&again),
            ["broken"],
            "only the unreached recipient"
        );
        retries_seen.push(again.retries);
        body = again.to_json();
    }
    assert_eq!(retries_seen, [1, 2]);
    assert_eq!(totals.get(metrics::DELIVERED), 1);
    assert_eq!(totals.get(metrics::GONE), 1);
    assert_eq!(totals.get(metrics::RETRIED), 2);
    assert_eq!(totals.get(metrics::ABANDONED), 1);
    let posts_to_ok = pusher
        .delivered
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, _)| id == "ok")
        .count();
    assert_eq!(
        posts_to_ok, 1,
        "a reached recipient never gets the frame twice"
    );
}

/// The registry batch counts the new messages it fanned out (a redelivered send, fanned out again, is not
/// a second message) and the queue messages it failed.
#[tokio::test]
async fn the_registry_batch_counts_messages_sent_and_failures() {
    let (deliveries, _out) = memory_queue::<Delivery>();
    let consumer = RegistryConsumer {
        registry: Arc::new(MemoryRegistry::default()),
        deliveries: Arc::new(deliveries),
        clock: Arc::new(TestClock::new()),
        rate_limits: lambdas::core::registry::RateLimits::Enforced,
    };
    let send = frame(
        "c1",
        "alice",
        r#"{"action":"send","room":"general","client_id":"m1","body":"hi"}"#,
    );
    let bodies = [
        serde_json::to_string(&frame(
            "c1",
            "alice",
            r#"{"action":"join","room":"general"}"#,
        ))
        .unwrap(),
        serde_json::to_string(&send).unwrap(),
        serde_json::to_string(&send).unwrap(),
        "not a command".to_owned(),
    ];
    let batch: Vec<Body<Command>> = bodies.into_iter().map(Body::Json).collect();
    let report = consume_batch(&consumer, &batch).await;
    assert_eq!(report.failed, [3]);
    assert_eq!(report.counts.get(metrics::MESSAGES_SENT), 1);
    assert_eq!(report.counts.get(metrics::BATCH_ITEM_FAILURES), 1);
}

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        datetime!(2026-11-25 16:00 UTC)
    }
}

/// The gateway answers bad frames and pings itself and queues everything else, stamped with the user the
/// authorizer vouched for.
#[tokio::test]
async fn gateway_answers_bad_frames_and_queues_good_ones() {
    let (commands, mut queued) = memory_queue::<Command>();
    let alice = user("alice");
    let mut answers = Vec::new();
    for text in ["{", r#"{"action":"ping"}"#] {
        let answer = gateway::on_frame(
            &commands,
            &FixedClock,
            conn("c1"),
            alice.clone(),
            None,
            text,
        )
        .await
        .unwrap();
        answers.push(answer.expect("an immediate answer"));
    }
    assert!(
        queued.try_recv().is_err(),
        "nothing queued for bad frames or pings"
    );
    assert!(matches!(
        answers[0],
        ServerFrame::Error {
            code: ErrorCode::MalformedFrame,
            ..
        }
    ));
    assert_eq!(answers[1], ServerFrame::Pong);

    let answer = gateway::on_frame(
        &commands,
        &FixedClock,
        conn("c1"),
        alice.clone(),
        Some(FixedClock.now() + time::Duration::seconds(1)),
        r#"{"action":"join","room":"r"}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        answer, None,
        "a queued frame is answered later, by the registry"
    );
    assert_eq!(
        queued.try_recv().unwrap(),
        frame("c1", "alice", r#"{"action":"join","room":"r"}"#)
    );
}

/// A session ends when its token does: once the token has expired, every frame (a ping too) is answered
/// `token_expired` and nothing is queued, so an expired token cannot act, only reconnect with a fresh one.
#[tokio::test]
async fn frames_after_the_token_expired_are_refused() {
    let (commands, mut queued) = memory_queue::<Command>();
    let expired = Some(FixedClock.now());
    for text in [
        r#"{"action":"join","room":"r"}"#,
        r#"{"action":"send","room":"r","client_id":"c-1","body":"hi"}"#,
        r#"{"action":"ping"}"#,
    ] {
        let answer = gateway::on_frame(
            &commands,
            &FixedClock,
            conn("c1"),
            user("alice"),
            expired,
            text,
        )
        .await
        .unwrap();
        assert!(
            matches!(
                answer,
                Some(ServerFrame::Error {
                    code: ErrorCode::TokenExpired,
                    client_id: None,
                    ..
                })
            ),
            "{text}: {answer:?}"
        );
    }
    assert!(queued.try_recv().is_err(), "nothing reaches the registry");
}

/// Sends `body` as alice in `general` and answers the stored message's id.
async fn alice_sends(h: &mut Harness, client_id: &str, body: &str) -> protocol::MessageId {
    let sent = h
        .run(frame(
            "c1",
            "alice",
            &format!(
                r#"{{"action":"send","room":"general","client_id":"{client_id}","body":"{body}"}}"#
            ),
        ))
        .await;
    let ServerFrame::Message(message) = &sent[0].frame else {
        panic!("expected the message, got {sent:?}");
    };
    message.id
}

/// A person's send rate counts when the gateway received each message, not when the registry gets to it:
/// a backlog the queue hands over at once (after an outage of its consumer) is no burst, and a burst the
/// person did send is refused past its ten however late it is handled.
#[tokio::test]
async fn the_send_rate_counts_when_each_message_was_received() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let send = |i: usize| {
        frame(
            "c1",
            "alice",
            &format!(r#"{{"action":"send","room":"general","client_id":"m{i}","body":"hi"}}"#),
        )
    };
    let is_message = |out: &[Delivery]| matches!(&out[0].frame, ServerFrame::Message(_));
    let start = h.clock.now();
    // Fifteen received four a second (under the rate of five), all handled now, seconds later.
    h.clock.advance(Duration::from_secs(10));
    for i in 0..15 {
        let at = start + Duration::from_millis(250 * i as u64);
        let out = h.run_received_at(send(i), at).await;
        assert!(is_message(&out), "m{i} of a steady four a second: {out:?}");
    }
    // Fifteen received at one instant, handled one by one later: the first ten fit, the rest wait.
    let instant = h.clock.now();
    h.clock.advance(Duration::from_secs(5));
    for i in 15..30 {
        let out = h.run_received_at(send(i), instant).await;
        if i < 25 {
            assert!(is_message(&out), "m{i} within the burst: {out:?}");
        } else {
            assert!(
                matches!(
                    &out[0].frame,
                    ServerFrame::Error {
                        code: ErrorCode::RateLimited,
                        ..
                    }
                ),
                "m{i} past the burst: {out:?}"
            );
        }
    }
}

/// An edit reaches every member as a `changed` frame with the new body, the edited mark and the room's
/// change number; a redelivered edit sends the same version again and changes nothing; someone else's
/// edit or delete is refused with `not_your_message`, an unknown message with `unknown_message`.
#[tokio::test]
async fn edits_and_deletes_reach_everyone_and_only_the_author_may() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let id = alice_sends(&mut h, "m1", "helo").await;
    let edit = frame(
        "c1",
        "alice",
        &format!(r#"{{"action":"edit","room":"general","id":"{id}","body":"hello"}}"#),
    );
    let first = h.run(edit.clone()).await;
    assert_eq!(recipients(&first[0]), ["c1", "c2"]);
    let ServerFrame::Changed(changed) = &first[0].frame else {
        panic!("expected a changed frame, got {first:?}");
    };
    assert_eq!((changed.body.as_str(), changed.rev), ("hello", Some(1)));
    assert!(changed.edited_at.is_some() && !changed.deleted);
    let again = h.run(edit).await;
    assert_eq!(
        again[0].frame, first[0].frame,
        "a redelivery changes nothing"
    );

    for (who, connection, text) in [
        (
            "bob",
            "c2",
            format!(r#"{{"action":"delete","room":"general","id":"{id}"}}"#),
        ),
        (
            "bob",
            "c2",
            format!(r#"{{"action":"edit","room":"general","id":"{id}","body":"mine"}}"#),
        ),
        (
            "alice",
            "c1",
            r#"{"action":"delete","room":"general","id":"1-0"}"#.to_owned(),
        ),
    ] {
        let refused = h.run(frame(connection, who, &text)).await;
        assert_eq!(recipients(&refused[0]), [connection]);
        let ServerFrame::Error { code, .. } = refused[0].frame else {
            panic!("expected a refusal, got {refused:?}");
        };
        let expected = if who == "bob" {
            ErrorCode::NotYourMessage
        } else {
            ErrorCode::UnknownMessage
        };
        assert_eq!(code, expected, "{text}");
    }

    let deleted = h
        .run(frame(
            "c1",
            "alice",
            &format!(r#"{{"action":"delete","room":"general","id":"{id}"}}"#),
        ))
        .await;
    let ServerFrame::Changed(gone) = &deleted[0].frame else {
        panic!("expected a changed frame, got {deleted:?}");
    };
    assert!(gone.deleted && gone.body.is_empty());
    assert_eq!(gone.rev, Some(2));
}

/// A catch-up (`history` with `after` and `changes_after`) brings the messages edited or deleted while
/// away, even ones older than `after`, with the room's change number; every history page carries the
/// latest versions and the change number.
#[tokio::test]
async fn catch_up_brings_changes_made_while_away() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let old = alice_sends(&mut h, "m1", "old news").await;
    let newest = alice_sends(&mut h, "m2", "latest").await;
    let latest_page = h
        .run(frame(
            "c2",
            "bob",
            r#"{"action":"history","room":"general"}"#,
        ))
        .await;
    let ServerFrame::History { rev, .. } = &latest_page[0].frame else {
        panic!("expected history");
    };
    assert_eq!(*rev, Some(0));
    // Bob is away; alice edits her old message and deletes nothing else.
    h.run(frame(
        "c1",
        "alice",
        &format!(r#"{{"action":"edit","room":"general","id":"{old}","body":"old news, fixed"}}"#),
    ))
    .await;
    let caught_up = h
        .run(frame(
            "c2",
            "bob",
            &format!(
                r#"{{"action":"history","room":"general","after":"{newest}","changes_after":0}}"#
            ),
        ))
        .await;
    let ServerFrame::History {
        messages,
        changes,
        rev,
        has_more,
        ..
    } = &caught_up[0].frame
    else {
        panic!("expected history, got {caught_up:?}");
    };
    assert!(messages.is_empty() && !has_more);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].id, changes[0].body.as_str()),
        (old, "old news, fixed")
    );
    assert_eq!(*rev, Some(1));
    let page = h
        .run(frame(
            "c2",
            "bob",
            r#"{"action":"history","room":"general"}"#,
        ))
        .await;
    let ServerFrame::History { messages, rev, .. } = &page[0].frame else {
        panic!("expected history");
    };
    assert_eq!(messages[0].body, "old news, fixed");
    assert!(messages[0].edited_at.is_some());
    assert_eq!(*rev, Some(1));
}

/// `who` on `connection` reacts to message `id` in `general` with `emoji` (`on`) or takes it back.
fn react(connection: &str, who: &str, id: protocol::MessageId, emoji: &str, on: bool) -> Command {
    frame(
        connection,
        who,
        &format!(
            r#"{{"action":"react","room":"general","id":"{id}","emoji":"{emoji}","on":{on}}}"#
        ),
    )
}

/// The `changed` frames a reaction caused, as (recipients, message).
fn changed_to(out: &[Delivery]) -> Vec<(Vec<&str>, &protocol::ChatMessage)> {
    out.iter()
        .map(|d| match &d.frame {
            ServerFrame::Changed(message) => (recipients(d), message),
            other => panic!("expected changed frames, got {other:?}"),
        })
        .collect()
}

/// A reaction reaches every member as a `changed` frame carrying the message's reactions (count and
/// names) and the next change number; the reactor's own connection is told which emoji are theirs,
/// everyone else gets the same version without. Setting what is already so (a redelivery, a retry)
/// changes nothing and sends the same frames; taking a reaction back counts down; history and a catch-up
/// carry the reactions, with the reader's own.
#[tokio::test]
async fn reactions_reach_everyone_and_count_each_person_once() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let id = alice_sends(&mut h, "m1", "lunch?").await;
    let bob_likes = h.run(react("c2", "bob", id, "👍", true)).await;
    let frames = changed_to(&bob_likes);
    assert_eq!(frames.len(), 2, "{bob_likes:?}");
    let (own, others) = (&frames[0], &frames[1]);
    assert_eq!(
        (own.0.as_slice(), others.0.as_slice()),
        (&["c2"][..], &["c1"][..])
    );
    assert_eq!(own.1.mine, Some(vec![Emoji::ThumbsUp]));
    assert_eq!(others.1.mine, None);
    assert_eq!(own.1.rev, Some(1));
    assert_eq!(own.1.reactions, others.1.reactions);
    let thumbs = &own.1.reactions[0];
    assert_eq!((thumbs.emoji, thumbs.count), (Emoji::ThumbsUp, 1));
    assert_eq!(thumbs.users[0].name, "bob");
    assert_eq!(
        h.run(react("c2", "bob", id, "👍", true)).await,
        bob_likes,
        "a redelivered reaction changes nothing"
    );

    let alice_too = h.run(react("c1", "alice", id, "👍", true)).await;
    let (own, message) = &changed_to(&alice_too)[0];
    assert_eq!(own.as_slice(), ["c1"]);
    let thumbs = &message.reactions[0];
    let names: Vec<&str> = thumbs.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["bob", "alice"], "in the order they reacted");
    assert_eq!(thumbs.count, 2);
    h.run(react("c1", "alice", id, "🎉", true)).await;

    let bob_unlikes = h.run(react("c2", "bob", id, "👍", false)).await;
    let frames = changed_to(&bob_unlikes);
    assert_eq!(frames[0].1.mine, Some(vec![]));
    assert_eq!(frames[0].1.rev, Some(4));
    let counts: Vec<(Emoji, u32)> = frames[0]
        .1
        .reactions
        .iter()
        .map(|r| (r.emoji, r.count))
        .collect();
    assert_eq!(counts, [(Emoji::ThumbsUp, 1), (Emoji::Party, 1)]);
    assert_eq!(
        changed_to(&h.run(react("c2", "bob", id, "👍", false)).await)[0]
            .1
            .rev,
        Some(4),
        "taking back what is not there changes nothing"
    );

    for (connection, who, mine) in [
        ("c1", "alice", vec![Emoji::ThumbsUp, Emoji::Party]),
        ("c2", "bob", vec![]),
    ] {
        let page = h
            .run(frame(
                connection,
                who,
                r#"{"action":"history","room":"general"}"#,
            ))
            .await;
        let ServerFrame::History { messages, rev, .. } = &page[0].frame else {
            panic!("expected history, got {page:?}");
        };
        assert_eq!(messages[0].reactions.len(), 2);
        assert_eq!(messages[0].mine.as_ref(), Some(&mine), "{who}'s own");
        assert_eq!(*rev, Some(4));
        let caught_up = h
            .run(frame(
                connection,
                who,
                &format!(
                    r#"{{"action":"history","room":"general","after":"{id}","changes_after":1}}"#
                ),
            ))
            .await;
        let ServerFrame::History { changes, .. } = &caught_up[0].frame else {
            panic!("expected history, got {caught_up:?}");
        };
        assert_eq!(changes[0].reactions, messages[0].reactions);
        assert_eq!(changes[0].mine.as_ref(), Some(&mine));
    }
}

/// Only members react (`not_a_member`), only to a message the room holds (`unknown_message`), not to a
/// deleted one, whose reactions go with its body; reactions have their own rate (`rate_limited` past its
/// burst) that leaves editing alone.
#[tokio::test]
async fn reactions_need_a_member_a_live_message_and_keep_to_their_rate() {
    let mut h = Harness::alice_and_bob_in_general().await;
    let id = alice_sends(&mut h, "m1", "hello").await;
    let refusal = |out: &[Delivery]| match out {
        [Delivery {
            frame: ServerFrame::Error { code, .. },
            recipients,
            ..
        }] => (*code, recipients[0].as_str().to_owned()),
        other => panic!("expected one refusal, got {other:?}"),
    };
    let outsider = h.run(react("c3", "carol", id, "👍", true)).await;
    assert_eq!(refusal(&outsider), (ErrorCode::NotAMember, "c3".to_owned()));
    let unknown = h
        .run(react(
            "c2",
            "bob",
            protocol::MessageId::new(1, 0),
            "👍",
            true,
        ))
        .await;
    assert_eq!(refusal(&unknown).0, ErrorCode::UnknownMessage);

    for emoji in ["👍", "❤️", "😂", "🎉", "😮", "😢"] {
        h.run(react("c2", "bob", id, emoji, true)).await;
    }
    for emoji in ["👍", "❤️", "😂", "🎉", "😮", "😢"] {
        h.run(react("c2", "bob", id, emoji, false)).await;
    }
    for emoji in ["👍", "❤️", "😂", "🎉", "😮", "😢"] {
        h.run(react("c2", "bob", id, emoji, true)).await;
    }
    // Bob's refused reaction to an unknown message took a token too: this is his twentieth.
    let spent = h.run(react("c2", "bob", id, "😢", false)).await;
    assert_eq!(
        changed_to(&spent).len(),
        2,
        "the twentieth reaction still fits"
    );
    let over = h.run(react("c2", "bob", id, "😢", true)).await;
    let ServerFrame::Error {
        code,
        retry_after_ms,
        ..
    } = &over[0].frame
    else {
        panic!("expected a refusal, got {over:?}");
    };
    assert_eq!(
        (*code, *retry_after_ms),
        (ErrorCode::RateLimited, Some(500))
    );
    h.clock.advance(Duration::from_millis(500));
    assert_eq!(
        changed_to(&h.run(react("c2", "bob", id, "😢", true)).await).len(),
        2
    );

    let deleted = h
        .run(frame(
            "c1",
            "alice",
            &format!(r#"{{"action":"delete","room":"general","id":"{id}"}}"#),
        ))
        .await;
    let (_, gone) = &changed_to(&deleted)[0];
    assert!(gone.deleted && gone.reactions.is_empty() && gone.mine.is_none());
    h.clock.advance(Duration::from_secs(1));
    for on in [true, false] {
        let late = h.run(react("c2", "bob", id, "👍", on)).await;
        assert_eq!(refusal(&late).0, ErrorCode::UnknownMessage);
    }
}

/// A message holds at most `MAX_REACTIONS_PER_MESSAGE` reactions (`too_many_reactions` past it, nothing
/// stored); one taken back makes room again. However many reacted, the message names only the first few
/// per emoji, so its frame stays small.
#[tokio::test]
async fn a_message_holds_a_bounded_number_of_reactions() {
    use protocol::limits::{MAX_NAMED_REACTORS, MAX_REACTIONS_PER_MESSAGE};
    let mut h = Harness::alice_and_bob_in_general().await;
    let id = alice_sends(&mut h, "m1", "vote!").await;
    let set = ["👍", "❤️", "😂", "🎉", "😮", "😢"];
    let people = MAX_REACTIONS_PER_MESSAGE.div_ceil(set.len());
    for i in 0..people {
        let (connection, who) = (format!("v{i}"), format!("voter{i}"));
        h.run(frame(
            &connection,
            &who,
            r#"{"action":"join","room":"general"}"#,
        ))
        .await;
        for (n, emoji) in set.iter().enumerate() {
            let out = h.run(react(&connection, &who, id, emoji, true)).await;
            if i * set.len() + n + 1 > MAX_REACTIONS_PER_MESSAGE {
                let ServerFrame::Error { code, .. } = &out[0].frame else {
                    panic!("expected a refusal, got {out:?}");
                };
                assert_eq!(*code, ErrorCode::TooManyReactions);
            }
        }
    }
    let full = h.run(react("c2", "bob", id, "👍", true)).await;
    assert!(matches!(
        &full[0].frame,
        ServerFrame::Error {
            code: ErrorCode::TooManyReactions,
            ..
        }
    ));
    h.run(react("v0", "voter0", id, "👍", false)).await;
    let fits = h.run(react("c2", "bob", id, "👍", true)).await;
    let (_, message) = &changed_to(&fits)[0];
    let total: u32 = message.reactions.iter().map(|r| r.count).sum();
    assert_eq!(total as usize, MAX_REACTIONS_PER_MESSAGE);
    assert!(message
        .reactions
        .iter()
        .all(|r| r.users.len() == MAX_NAMED_REACTORS));
    assert_eq!(
        message.mine,
        Some(vec![Emoji::ThumbsUp]),
        "bob is not among the names, yet knows"
    );
    assert!(fits[0].frame.to_json().len() < 8 * 1024);
}

/// `who` on `connection` asks for an invite link to `room` with request `client_id`: the frame answered.
async fn ask_link(
    h: &mut Harness,
    connection: &str,
    who: &str,
    room: &RoomName,
    client_id: &str,
) -> ServerFrame {
    let out = h
        .run(frame(
            connection,
            who,
            &format!(r#"{{"action":"invite_link","room":"{room}","client_id":"{client_id}"}}"#),
        ))
        .await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(recipients(&out[0]), [connection]);
    out[0].frame.clone()
}

/// `who` on `connection` redeems `code`: every delivery caused.
async fn redeem(h: &mut Harness, connection: &str, who: &str, code: &str) -> Vec<Delivery> {
    h.run(frame(
        connection,
        who,
        &format!(r#"{{"action":"redeem","code":"{code}"}}"#),
    ))
    .await
}

/// Ada's private room `plans`, created, joined and written in by her (`c1`); answers its name.
async fn adas_plans(h: &mut Harness) -> RoomName {
    let plans = RoomName::private("sub-ada", "plans").unwrap();
    for text in [
        format!(r#"{{"action":"create","room":"{plans}"}}"#),
        format!(r#"{{"action":"join","room":"{plans}"}}"#),
        format!(r#"{{"action":"send","room":"{plans}","client_id":"p1","body":"the plan"}}"#),
    ] {
        h.run(frame("c1", "ada", &text)).await;
    }
    plans
}

fn link_code(frame: &ServerFrame) -> String {
    match frame {
        ServerFrame::InviteLink { code, .. } => code.to_string(),
        other => panic!("expected an invite link, got {other:?}"),
    }
}

/// An invite link is one person's way in: Ada's link (the same one for a retried request, good for
/// seven days) lets Grace in — among the room's people, the room on her list on every device, the room
/// named to her — and she can then join and read it; Grace redeeming it again is let in again; Eve, with
/// the same link afterwards, or with a made-up code, gets one and the same refusal, and cannot join.
#[tokio::test]
async fn an_invite_link_lets_the_first_person_in_and_no_one_else() {
    let mut h = Harness::new();
    let plans = adas_plans(&mut h).await;
    let answer = ask_link(&mut h, "c1", "ada", &plans, "l-1").await;
    let ServerFrame::InviteLink {
        room,
        expires_at,
        client_id,
        ..
    } = &answer
    else {
        panic!("expected an invite link, got {answer:?}");
    };
    assert_eq!((room, client_id.as_str()), (&plans, "l-1"));
    assert_eq!(
        *expires_at,
        h.clock.now() + Duration::from_secs(7 * 24 * 3600)
    );
    assert_eq!(
        ask_link(&mut h, "c1", "ada", &plans, "l-1").await,
        answer,
        "a retried request answers the same link"
    );
    let code = link_code(&answer);
    assert_eq!(code.len(), 32);
    assert_ne!(
        link_code(&ask_link(&mut h, "c1", "ada", &plans, "l-2").await),
        code
    );

    h.run(Command::Connect {
        connection_id: conn("g2"),
        user: user("grace"),
    })
    .await;
    let welcomed = redeem(&mut h, "g1", "grace", &code).await;
    assert_eq!(welcomed.len(), 2, "{welcomed:?}");
    assert_eq!(recipients(&welcomed[0]), ["g1"]);
    assert_eq!(
        welcomed[0].frame,
        ServerFrame::Redeemed {
            room: plans.clone()
        }
    );
    assert_eq!(
        recipients(&welcomed[1]),
        ["g2"],
        "her other device learns of the room"
    );
    assert!(
        matches!(&welcomed[1].frame, ServerFrame::Rooms { rooms, .. } if rooms[0].room == plans)
    );
    assert_eq!(
        redeem(&mut h, "g1", "grace", &code).await[0].frame,
        welcomed[0].frame,
        "the same person again is let in again"
    );
    let joined = h
        .run(frame(
            "g1",
            "grace",
            &format!(r#"{{"action":"join","room":"{plans}"}}"#),
        ))
        .await;
    assert!(
        matches!(&joined[0].frame, ServerFrame::Presence { members, .. } if members.len() == 2)
    );
    let page = h
        .run(frame(
            "g1",
            "grace",
            &format!(r#"{{"action":"history","room":"{plans}"}}"#),
        ))
        .await;
    assert!(
        matches!(&page[0].frame, ServerFrame::History { messages, .. } if messages[0].body == "the plan")
    );

    let refused = redeem(&mut h, "e1", "eve", &code).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].frame,
        ServerFrame::error(ErrorCode::InvalidInvite, None)
    );
    let made_up = redeem(&mut h, "e1", "eve", "0123456789abcdef0123456789abcdef").await;
    assert_eq!(made_up, refused, "a made-up code: the same answer");
    let eve_joins = h
        .run(frame(
            "e1",
            "eve",
            &format!(r#"{{"action":"join","room":"{plans}"}}"#),
        ))
        .await;
    assert_eq!(eve_joins[0].frame, ServerFrame::no_such_room(&plans));
}

/// A link expires after seven days (then the same refusal as any other); only the room's people may ask
/// for one (`no_such_room`, as for a room that does not exist; public rooms take none); a room has at
/// most 50 live links (`too_many_invites`), a used one making room; links go with their room, and a room
/// made again under the same name does not take them back.
#[tokio::test]
async fn invite_links_expire_are_bounded_and_go_with_their_room() {
    use protocol::limits::{INVITE_LINK_TTL_SECS, MAX_INVITE_LINKS_PER_ROOM};
    let mut h = Harness::new();
    let plans = adas_plans(&mut h).await;
    let old = link_code(&ask_link(&mut h, "c1", "ada", &plans, "l-0").await);
    h.clock.advance(Duration::from_secs(INVITE_LINK_TTL_SECS));
    let expired = redeem(&mut h, "g1", "grace", &old).await;
    assert_eq!(
        expired[0].frame,
        ServerFrame::error(ErrorCode::InvalidInvite, None)
    );

    assert_eq!(
        ask_link(&mut h, "e1", "eve", &plans, "x").await,
        ServerFrame::no_such_room(&plans)
    );
    let general = room("general");
    h.run(frame("c1", "ada", r#"{"action":"join","room":"general"}"#))
        .await;
    assert_eq!(
        ask_link(&mut h, "c1", "ada", &general, "x").await,
        ServerFrame::no_such_room(&general)
    );

    let mut codes = Vec::new();
    for i in 0..MAX_INVITE_LINKS_PER_ROOM {
        // The invite rate: 30 at once, then one every two minutes.
        h.clock.advance(Duration::from_secs(120));
        codes.push(link_code(
            &ask_link(&mut h, "c1", "ada", &plans, &format!("l-{i}")).await,
        ));
    }
    h.clock.advance(Duration::from_secs(120));
    let full = ask_link(&mut h, "c1", "ada", &plans, "one-more").await;
    assert!(
        matches!(
            full,
            ServerFrame::Error {
                code: ErrorCode::TooManyInvites,
                ..
            }
        ),
        "{full:?}"
    );
    redeem(&mut h, "g1", "grace", &codes[0]).await;
    h.clock.advance(Duration::from_secs(120));
    link_code(&ask_link(&mut h, "c1", "ada", &plans, "one-more").await);

    // Everyone leaves: the room and its links are gone, even once Ada makes the name again.
    for (connection, who) in [("g1", "grace"), ("c1", "ada")] {
        h.run(frame(
            connection,
            who,
            &format!(r#"{{"action":"leave","room":"{plans}"}}"#),
        ))
        .await;
    }
    h.run(frame(
        "c1",
        "ada",
        &format!(r#"{{"action":"create","room":"{plans}"}}"#),
    ))
    .await;
    let gone = redeem(&mut h, "e1", "eve", &codes[1]).await;
    assert_eq!(
        gone[0].frame,
        ServerFrame::error(ErrorCode::InvalidInvite, None)
    );
}
