//! The chat itself, end to end over real WebSockets: fan-out, membership, ordering, history, presence,
//! idempotent sends and several connections per person.

mod common;

use chatty_local::Settings;
use common::{alice_and_bob_in, connect, gateway, gateway_on, names};
use protocol::ServerFrame;
use serde_json::json;

/// A message reaches every member of the room, the sender included, and nobody outside it.
#[tokio::test]
async fn messages_fan_out_to_members_only() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    let mut bob = connect(&gw, "bob").await;
    let mut carol = connect(&gw, "carol").await;
    alice.join("general").await;
    bob.join("general").await;
    carol.join("random").await;

    alice.say("general", "a-1", "hello room").await;
    let for_alice = alice.next_message().await;
    let for_bob = bob.next_message().await;
    assert_eq!(for_alice, for_bob);
    assert_eq!(for_bob.body, "hello room");
    assert_eq!(for_bob.author.name, "alice");
    assert_eq!(for_bob.client_id.as_str(), "a-1");
    assert_eq!(for_bob.room.as_str(), "general");
    carol.expect_silence().await;
}

/// Everyone sees a room's messages in the same order, and ids grow in that order.
#[tokio::test]
async fn every_member_sees_the_same_order() {
    let gw = gateway().await;
    let (mut alice, mut bob) = alice_and_bob_in(&gw, "general").await;
    for i in 0..20 {
        let (who, id) = if i % 2 == 0 {
            (&mut alice, format!("a-{i}"))
        } else {
            (&mut bob, format!("b-{i}"))
        };
        who.say("general", &id, &format!("message {i}")).await;
    }
    let mut seen_by_alice = Vec::new();
    let mut seen_by_bob = Vec::new();
    for _ in 0..20 {
        seen_by_alice.push(alice.next_message().await);
        seen_by_bob.push(bob.next_message().await);
    }
    assert_eq!(seen_by_alice, seen_by_bob);
    assert!(
        seen_by_alice.windows(2).all(|w| w[0].id < w[1].id),
        "ids must increase"
    );
}

/// History pages go backwards with `before`, forwards with `after`, oldest first, with `has_more`.
#[tokio::test]
async fn history_pages_in_both_directions() {
    // 25 messages at a script's pace: this test is about paging, not the send rate.
    let gw = gateway_on(Settings {
        rate_limits: chatty_local::RateLimits::Off,
        ..Settings::default()
    })
    .await;
    let mut alice = connect(&gw, "alice").await;
    alice.join("general").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        alice
            .say("general", &format!("c-{i}"), &format!("m{i}"))
            .await;
        ids.push(alice.next_message().await.id);
    }

    alice
        .send_json(json!({"action": "history", "room": "general", "limit": 10}))
        .await;
    let ServerFrame::History {
        messages, has_more, ..
    } = alice.recv().await
    else {
        panic!("expected history")
    };
    let bodies: Vec<_> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        (15..25).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert!(has_more);

    let before = ids[15].to_string();
    alice
        .send_json(json!({"action": "history", "room": "general", "before": before, "limit": 10}))
        .await;
    let ServerFrame::History {
        messages, has_more, ..
    } = alice.recv().await
    else {
        panic!("expected history")
    };
    assert_eq!(messages.first().unwrap().body, "m5");
    assert_eq!(messages.last().unwrap().body, "m14");
    assert!(has_more);

    let before = ids[5].to_string();
    alice
        .send_json(json!({"action": "history", "room": "general", "before": before, "limit": 10}))
        .await;
    let ServerFrame::History {
        messages, has_more, ..
    } = alice.recv().await
    else {
        panic!("expected history")
    };
    assert_eq!(messages.len(), 5);
    assert!(!has_more);

    let after = ids[19].to_string();
    alice
        .send_json(json!({"action": "history", "room": "general", "after": after}))
        .await;
    let ServerFrame::History {
        messages, has_more, ..
    } = alice.recv().await
    else {
        panic!("expected history")
    };
    let bodies: Vec<_> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m20", "m21", "m22", "m23", "m24"]);
    assert!(!has_more);
}

/// Presence changes on join, leave and disconnect, and reaches everyone left in the room.
#[tokio::test]
async fn presence_follows_join_leave_and_disconnect() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    let mut bob = connect(&gw, "bob").await;
    let carol = connect(&gw, "carol").await;
    assert_eq!(names(&alice.join("general").await), ["alice"]);
    assert_eq!(names(&bob.join("general").await), ["alice", "bob"]);
    let ServerFrame::Presence { members, .. } = alice.recv().await else {
        panic!("expected presence")
    };
    assert_eq!(names(&members), ["alice", "bob"]);

    let mut carol = carol;
    carol.join("general").await;
    alice.recv().await;
    bob.recv().await;

    carol
        .send_json(json!({"action": "leave", "room": "general"}))
        .await;
    let ServerFrame::Presence { members, .. } = alice.recv().await else {
        panic!("expected presence")
    };
    assert_eq!(names(&members), ["alice", "bob"]);
    bob.recv().await;

    bob.close().await;
    let ServerFrame::Presence { members, .. } = alice.recv().await else {
        panic!("expected presence")
    };
    assert_eq!(names(&members), ["alice"]);
    carol.expect_silence().await;
}

/// A send retried with the same client id is stored once: the retry fans the stored message out again
/// (the first fan-out may not have finished), with the same id, so each client shows it once.
#[tokio::test]
async fn a_retried_send_is_stored_once() {
    let gw = gateway().await;
    let (mut alice, mut bob) = alice_and_bob_in(&gw, "general").await;

    alice.say("general", "same-id", "only once").await;
    let first = alice.next_message().await;
    assert_eq!(bob.next_message().await.id, first.id);
    alice.say("general", "same-id", "only once").await;
    assert_eq!(alice.next_message().await, first);
    assert_eq!(bob.next_message().await, first);

    alice
        .send_json(json!({"action": "history", "room": "general"}))
        .await;
    let ServerFrame::History { messages, .. } = alice.recv().await else {
        panic!("expected history")
    };
    assert_eq!(messages.len(), 1);
}

/// One person in two tabs: listed once in presence, and both tabs receive the room's messages.
#[tokio::test]
async fn one_person_many_connections() {
    let gw = gateway().await;
    let mut tab1 = connect(&gw, "alice").await;
    let mut tab2 = connect(&gw, "alice").await;
    let mut bob = connect(&gw, "bob").await;
    tab1.join("general").await;
    assert_eq!(names(&tab2.join("general").await), ["alice"]);
    assert_eq!(names(&bob.join("general").await), ["alice", "bob"]);

    bob.say("general", "b-1", "hi both tabs").await;
    assert_eq!(tab1.next_message().await.body, "hi both tabs");
    assert_eq!(tab2.next_message().await.body, "hi both tabs");

    tab1.close().await;
    tab2.recv_until(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    let ServerFrame::Presence { members, .. } = bob
        .recv_until(|f| matches!(f, ServerFrame::Presence { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(
        names(&members),
        ["alice", "bob"],
        "alice is still here in her other tab"
    );
}

/// Typing reaches the other members, not the typist (in any of their tabs).
#[tokio::test]
async fn typing_reaches_the_others() {
    let gw = gateway().await;
    let (mut alice, mut bob) = alice_and_bob_in(&gw, "general").await;
    alice
        .send_json(json!({"action": "typing", "room": "general"}))
        .await;
    let ServerFrame::Typing { user, room } = bob.recv().await else {
        panic!("expected typing")
    };
    assert_eq!((user.name.as_str(), room.as_str()), ("alice", "general"));
    alice.expect_silence().await;
}

/// The display name comes from the token: a frame cannot claim to be someone else.
#[tokio::test]
async fn the_author_is_who_the_token_says() {
    let gw = gateway().await;
    let mut mallory = connect(&gw, "mallory").await;
    mallory.join("general").await;
    mallory
        .send_json(json!({"action": "send", "room": "general", "client_id": "x", "body": "hi", "author": {"id": "1", "name": "alice"}}))
        .await;
    assert_eq!(mallory.next_message().await.author.name, "mallory");
}
