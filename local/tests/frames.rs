//! Bad input costs nothing else: every refused frame gets an `error` frame with a machine-readable code
//! (echoing its `client_id`), and the same connection keeps working. Frames over 32 KB close the socket
//! with 1009, as API Gateway does.

mod common;

use std::time::Duration;

use common::{connect, gateway};
use protocol::{ErrorCode, ServerFrame};
use serde_json::json;

async fn expect_error(client: &mut common::Client, code: ErrorCode, client_id: Option<&str>) {
    match client.recv().await {
        ServerFrame::Error {
            code: got,
            message,
            client_id: echoed,
            ..
        } => {
            assert_eq!(got, code);
            assert!(!message.is_empty());
            assert_eq!(echoed.as_deref(), client_id);
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// Each kind of bad frame is answered with its own code, and the connection stays usable after all of them.
#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_stays_usable() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;

    alice.send_text("this is not json".into()).await;
    expect_error(&mut alice, ErrorCode::MalformedFrame, None).await;
    alice
        .send_json(json!({"action": "dance", "client_id": "c-7"}))
        .await;
    expect_error(&mut alice, ErrorCode::UnknownAction, Some("c-7")).await;
    alice.send_json(json!({"room": "general"})).await;
    expect_error(&mut alice, ErrorCode::MalformedFrame, None).await;
    alice
        .send_json(json!({"action": "join", "room": "No Spaces Allowed"}))
        .await;
    expect_error(&mut alice, ErrorCode::InvalidRoom, None).await;
    alice
        .send_json(json!({"action": "send", "room": "general", "client_id": "c-8", "body": "   "}))
        .await;
    expect_error(&mut alice, ErrorCode::EmptyBody, Some("c-8")).await;
    let long = "x".repeat(4001);
    alice
        .send_json(json!({"action": "send", "room": "general", "client_id": "c-9", "body": long}))
        .await;
    expect_error(&mut alice, ErrorCode::BodyTooLong, Some("c-9")).await;
    alice
        .send_json(json!({"action": "history", "room": "general", "limit": 1000}))
        .await;
    expect_error(&mut alice, ErrorCode::InvalidLimit, None).await;

    alice.send_json(json!({"action": "ping"})).await;
    assert_eq!(alice.recv().await, ServerFrame::Pong);
    alice.join("general").await;
    alice.say("general", "ok-1", "still here").await;
    assert_eq!(alice.next_message().await.body, "still here");
}

/// Sending or typing to a room you have not joined is an error frame, not a silent drop, and nobody in
/// that room sees it.
#[tokio::test]
async fn sending_to_a_room_you_are_not_in_is_an_error() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    let mut bob = connect(&gw, "bob").await;
    bob.join("secret").await;
    alice.say("secret", "c-1", "let me in").await;
    expect_error(&mut alice, ErrorCode::NotAMember, Some("c-1")).await;
    alice
        .send_json(json!({"action": "typing", "room": "secret"}))
        .await;
    expect_error(&mut alice, ErrorCode::NotAMember, None).await;
    bob.expect_silence().await;
}

/// A frame over 32 KB closes the socket with 1009, like API Gateway; other connections are unaffected.
#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    let mut bob = connect(&gw, "bob").await;
    alice
        .send_text(format!(
            r#"{{"action":"ping","pad":"{}"}}"#,
            "x".repeat(33 * 1024)
        ))
        .await;
    let close = alice
        .expect_close(Duration::from_secs(5))
        .await
        .expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);

    bob.send_json(json!({"action": "ping"})).await;
    assert_eq!(bob.recv().await, ServerFrame::Pong);
}

/// `expect_silence` holds only on a socket that stays open: a socket that has ended (here after the
/// server's close frame was read) fails it, so a dead socket cannot pass for a quiet one.
#[tokio::test]
#[should_panic(expected = "expected silence on an open socket")]
async fn a_closed_socket_is_not_silence() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    alice
        .send_text(format!(
            r#"{{"action":"ping","pad":"{}"}}"#,
            "x".repeat(33 * 1024)
        ))
        .await;
    alice.expect_close(Duration::from_secs(5)).await;
    alice.expect_silence().await;
}
