//! API Gateway's connection lifetime rules, shortened: idle connections close, every connection closes at
//! its maximum age, both with 1001, and `$disconnect` then updates presence.

mod common;

use std::time::Duration;

use chatty_local::ConnectionLimits;
use common::{connect, gateway_with, names};
use protocol::ServerFrame;
use serde_json::json;

/// A connection that sends nothing for the idle timeout is closed with 1001, and its room is told.
#[tokio::test]
async fn idle_connections_close() {
    let gw = gateway_with(ConnectionLimits {
        idle: Duration::from_millis(1500),
        max_connection: Duration::from_secs(60),
    })
    .await;
    let mut idle = connect(&gw, "idle").await;
    let mut busy = connect(&gw, "busy").await;
    idle.join("general").await;
    busy.join("general").await;

    // `busy` keeps talking; `idle` says nothing more.
    let started = tokio::time::Instant::now();
    let close = loop {
        busy.send_json(json!({"action": "ping"})).await;
        tokio::select! {
            close = idle.expect_close(Duration::from_secs(10)) => break close,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    };
    assert_eq!(u16::from(close.expect("a close frame").code), 1001);
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let ServerFrame::Presence { members, .. } = busy
        .recv_until(|f| matches!(f, ServerFrame::Presence { members, .. } if members.len() == 1))
        .await
    else {
        unreachable!()
    };
    assert_eq!(names(&members), ["busy"]);
}

/// Even a busy connection is closed at its maximum age.
#[tokio::test]
async fn connections_close_at_their_maximum_age() {
    let gw = gateway_with(ConnectionLimits {
        idle: Duration::from_secs(60),
        max_connection: Duration::from_secs(2),
    })
    .await;
    let mut client = connect(&gw, "alice").await;
    let close = loop {
        client.send_json(json!({"action": "ping"})).await;
        tokio::select! {
            close = client.expect_close(Duration::from_secs(10)) => break close,
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
    };
    assert_eq!(u16::from(close.expect("a close frame").code), 1001);
}

/// A connection lasts no longer than its token: a frame after the token expired is answered
/// `token_expired` and the connection closes with 1008, so the client reconnects with a fresh token.
#[tokio::test]
async fn a_frame_after_the_token_expired_closes_the_connection() {
    let gw = common::gateway().await;
    let claims = gw.signin.id_claims("brief", Duration::from_secs(2));
    let token = gw.signin.sign(&claims);
    let mut brief = common::connect_with_token(&gw, "brief", &token)
        .await
        .unwrap();
    brief.join("general").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    brief
        .send_json(json!({"action": "send", "room": "general", "client_id": "late", "body": "hi"}))
        .await;
    let answer = brief.recv().await;
    assert!(
        matches!(
            answer,
            ServerFrame::Error {
                code: protocol::ErrorCode::TokenExpired,
                ..
            }
        ),
        "{answer:?}"
    );
    let close = brief.expect_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1008));
}
