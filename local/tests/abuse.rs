//! What one signed-in person can do to everyone else, tried as they would: real WebSocket clients against
//! `chatty-local`, each attack once in memory and once on a real `redis-server` (the limits live in the
//! registry's store, so they hold across every Lambda instance). Each refusal carries its error code.

mod common;

use common::servers;

use std::time::Duration;

use chatty_local::{Running, Settings};
use common::{connect, gateway_on, Client};
use protocol::{
    limits::{MAX_ROOMS_PER_CONNECTION, SEND_RATE, TYPING_RATE},
    ErrorCode, ServerFrame,
};
use serde_json::json;

/// The two registries every attack is tried on.
enum Store {
    Memory,
    Redis(servers::Server),
}

impl Store {
    fn both() -> [fn() -> Store; 2] {
        [|| Store::Memory, || Store::Redis(servers::redis_server())]
    }

    async fn gateway(&self) -> Running {
        gateway_on(Settings {
            redis_url: match self {
                Store::Memory => None,
                Store::Redis(server) => Some(server.redis_url()),
            },
            ..Settings::default()
        })
        .await
    }

    fn name(&self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Redis(_) => "redis",
        }
    }
}

/// Reads frames until `quiet` passes with none, returning them.
async fn drain(client: &mut Client, quiet: Duration) -> Vec<ServerFrame> {
    let mut frames = Vec::new();
    while let Some(frame) = client.try_recv(quiet).await {
        frames.push(frame);
    }
    frames
}

fn error_code(frame: &ServerFrame) -> Option<ErrorCode> {
    match frame {
        ServerFrame::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// Reading a room's history needs membership: someone who guesses a room's name gets `not_a_member`, not
/// its messages, and so cannot read it without showing in its presence.
#[tokio::test]
async fn history_of_a_room_never_joined_is_refused() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let mut alice = connect(&gw, "alice").await;
        let mut eve = connect(&gw, "eve").await;
        alice.join("secret").await;
        alice.say("secret", "s-1", "the plan").await;
        alice.next_message().await;

        eve.send_json(json!({"action": "history", "room": "secret"}))
            .await;
        let answer = eve.recv().await;
        assert_eq!(
            error_code(&answer),
            Some(ErrorCode::NotAMember),
            "{}: {answer:?}",
            store.name()
        );
        eve.expect_silence().await;
    }
}

/// A burst of 300 sends from one connection: the first `SEND_RATE.burst` go through, the rest are refused
/// with `rate_limited` (each echoing its `client_id`, with `retry_after_ms`), and nothing refused is stored
/// or reaches anyone.
#[tokio::test]
async fn a_burst_of_sends_is_rate_limited() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let mut spammer = connect(&gw, "spammer").await;
        let mut bob = connect(&gw, "bob").await;
        spammer.join("general").await;
        bob.join("general").await;
        spammer.recv().await; // bob's arrival

        for i in 0..300 {
            spammer
                .send_json(json!({"action": "send", "room": "general", "client_id": format!("s-{i}"), "body": "spam"}))
                .await;
        }
        let to_spammer = drain(&mut spammer, Duration::from_secs(2)).await;
        let refused: Vec<&ServerFrame> = to_spammer
            .iter()
            .filter(|f| error_code(f) == Some(ErrorCode::RateLimited))
            .collect();
        let confirmed = to_spammer
            .iter()
            .filter(|f| matches!(f, ServerFrame::Message(_)))
            .count();
        // The bucket refills while the burst is being applied, so a few more than the burst may fit.
        let allowed = SEND_RATE.burst as usize;
        assert!(
            (allowed..allowed + 10).contains(&confirmed),
            "{}: {confirmed} confirmed",
            store.name()
        );
        assert_eq!(confirmed + refused.len(), 300, "{}", store.name());
        assert!(refused.iter().all(|f| matches!(f,
            ServerFrame::Error { client_id: Some(_), retry_after_ms: Some(ms), .. } if *ms > 0)));

        let to_bob = drain(&mut bob, Duration::from_millis(500)).await;
        assert_eq!(
            to_bob.len(),
            confirmed,
            "{}: bob sees only what was stored",
            store.name()
        );

        bob.send_json(json!({"action": "history", "room": "general", "limit": 100}))
            .await;
        let ServerFrame::History { messages, .. } = bob.recv().await else {
            panic!("expected history")
        };
        assert_eq!(messages.len(), confirmed, "{}", store.name());
    }
}

/// The send rate is a person's in one room, as team chats limit posting per channel: once a burst has
/// emptied their bucket in one room, that room refuses them while another still takes their messages.
#[tokio::test]
async fn the_send_rate_is_per_room() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let mut amy = connect(&gw, "amy").await;
        amy.join("general").await;
        amy.join("random").await;
        // Right after the burst, before the bucket refills: general refuses amy, random does not.
        let burst = SEND_RATE.burst as usize + 5;
        for i in 0..burst {
            amy.send_json(json!({"action": "send", "room": "general", "client_id": format!("g-{i}"), "body": "hi"}))
                .await;
        }
        amy.say("random", "r-0", "elsewhere").await;
        let frames = drain(&mut amy, Duration::from_secs(1)).await;
        assert!(
            frames
                .iter()
                .any(|f| error_code(f) == Some(ErrorCode::RateLimited)),
            "{}: the burst in general is refused past the rate",
            store.name()
        );
        assert!(
            frames
                .iter()
                .any(|f| matches!(f, ServerFrame::Message(m) if m.client_id.as_str() == "r-0")),
            "{}: random takes amy's message: {frames:?}",
            store.name()
        );
    }
}

/// 200 `typing` frames in a burst reach the others at most the rate's burst of times: a typing indicator
/// needs no more, and the extra ones are dropped without an error.
#[tokio::test]
async fn a_burst_of_typing_reaches_others_at_most_the_burst() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let mut typist = connect(&gw, "typist").await;
        let mut bob = connect(&gw, "bob").await;
        typist.join("general").await;
        bob.join("general").await;
        typist.recv().await; // bob's arrival

        for _ in 0..200 {
            typist
                .send_json(json!({"action": "typing", "room": "general"}))
                .await;
        }
        let to_bob = drain(&mut bob, Duration::from_secs(1)).await;
        let typing = to_bob
            .iter()
            .filter(|f| matches!(f, ServerFrame::Typing { .. }))
            .count();
        assert!(
            (1..=TYPING_RATE.burst as usize).contains(&typing),
            "{}: {typing} of 200 typing frames reached bob",
            store.name()
        );
        assert!(
            drain(&mut typist, Duration::from_millis(300))
                .await
                .is_empty(),
            "{}: no errors for dropped typing",
            store.name()
        );
    }
}

/// One connection joining 1,500 rooms stops at the cap: the rest are refused with `too_many_rooms` (or,
/// past the join rate, `rate_limited`), and the connection is in exactly the capped number of rooms.
#[tokio::test]
async fn joining_rooms_without_end_stops_at_the_cap() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let mut collector = connect(&gw, "collector").await;
        for i in 0..1_500 {
            collector
                .send_json(json!({"action": "join", "room": format!("room-{i}")}))
                .await;
        }
        let frames = drain(&mut collector, Duration::from_secs(2)).await;
        let joined = frames
            .iter()
            .filter(|f| matches!(f, ServerFrame::Presence { .. }))
            .count();
        let refused = frames.iter().filter_map(error_code).collect::<Vec<_>>();
        assert!(
            joined <= MAX_ROOMS_PER_CONNECTION,
            "{}: {joined}",
            store.name()
        );
        assert_eq!(joined + refused.len(), 1_500, "{}", store.name());
        assert!(refused.iter().all(|code| matches!(
            code,
            ErrorCode::TooManyRooms | ErrorCode::RateLimited | ErrorCode::TooManyNewRooms
        )));
        assert!(
            !refused.is_empty(),
            "{}: the flood was refused at all",
            store.name()
        );
    }
}

/// A person's connections are capped across tabs and devices: past the cap the newest connection is told
/// `too_many_connections` and closed, and the others keep working.
#[tokio::test]
async fn connections_per_person_are_capped() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let token = common::token(&gw, "hoarder").await;
        let mut open = Vec::new();
        for _ in 0..protocol::limits::MAX_CONNECTIONS_PER_PERSON {
            let mut client = common::connect_with_token(&gw, "hoarder", &token)
                .await
                .unwrap();
            client.join("general").await;
            open.push(client);
        }
        let mut one_more = common::connect_with_token(&gw, "hoarder", &token)
            .await
            .unwrap();
        let refusal = one_more.recv().await;
        assert_eq!(
            error_code(&refusal),
            Some(ErrorCode::TooManyConnections),
            "{}",
            store.name()
        );
        one_more.expect_close(Duration::from_secs(5)).await;
        open[0].say("general", "still-here", "hello").await;
        open[0].next_message().await;
    }
}

/// There is a way to remove a person: an operator's kick (`POST /dev/kick` here, `cargo xtask kick` on
/// AWS) tells every connection of theirs `signed_out` and closes it, refuses their next connection the
/// same way, and leaves everyone else connected; the room sees them go.
#[tokio::test]
async fn a_kicked_person_is_signed_out_everywhere_and_kept_out() {
    for store in Store::both() {
        let store = store();
        let gw = store.gateway().await;
        let token = common::token(&gw, "mallory").await;
        let mut tabs = Vec::new();
        for _ in 0..2 {
            let mut tab = common::connect_with_token(&gw, "mallory", &token)
                .await
                .unwrap();
            tab.join("general").await;
            tabs.push(tab);
        }
        let mut bob = connect(&gw, "bob").await;
        let present = bob.join("general").await;
        let mallory_id = present
            .iter()
            .find(|u| u.name == "mallory")
            .expect("mallory is in the room")
            .id
            .clone();

        let kicked = reqwest::Client::new()
            .post(format!("{}/dev/kick", gw.http_url()))
            .json(&json!({ "user_id": mallory_id }))
            .send()
            .await
            .unwrap();
        assert_eq!(kicked.status(), 202, "{}", store.name());
        for tab in &mut tabs {
            let told = tab
                .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
                .await;
            assert_eq!(
                error_code(&told),
                Some(ErrorCode::SignedOut),
                "{}",
                store.name()
            );
            tab.expect_close(Duration::from_secs(5)).await;
        }
        let after = bob
            .recv_until(
                |f| matches!(f, ServerFrame::Presence { members, .. } if members.len() == 1),
            )
            .await;
        assert!(matches!(after, ServerFrame::Presence { .. }));

        let mut again = common::connect_with_token(&gw, "mallory", &token)
            .await
            .unwrap();
        assert_eq!(error_code(&again.recv().await), Some(ErrorCode::SignedOut));
        again.expect_close(Duration::from_secs(5)).await;
        bob.say("general", "still-here", "still talking").await;
        bob.next_message().await;
    }
}
