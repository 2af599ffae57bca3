//! The `@connections` API in API Gateway's shape: post, get and delete an open connection; 410 Gone with
//! `GoneException` for an unknown or closed one, which is what the sender's "forget it" path relies on.

mod common;

use std::time::Duration;

use common::{connect, gateway};
use protocol::ServerFrame;

async fn only_connection(gw: &chatty_local::Running) -> String {
    for _ in 0..50 {
        if let [id] = gw.connections.open_ids().as_slice() {
            return id.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("expected exactly one open connection");
}

/// A post reaches the socket as a text frame; GET describes the connection.
#[tokio::test]
async fn post_and_get_an_open_connection() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    let id = only_connection(&gw).await;
    let http = reqwest::Client::new();
    let url = format!("{}/@connections/{id}", gw.http_url());

    let response = http
        .post(&url)
        .body(r#"{"type":"pong"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(alice.recv().await, ServerFrame::Pong);

    let info: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
    assert!(info["connectedAt"].as_str().unwrap().ends_with('Z'));
}

/// Unknown connections, and connections after they close, answer 410 with API Gateway's error type.
#[tokio::test]
async fn gone_connections_answer_410() {
    let gw = gateway().await;
    let http = reqwest::Client::new();
    let unknown = http
        .post(format!("{}/@connections/NoSuchConnId=", gw.http_url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 410);
    assert_eq!(unknown.headers()["x-amzn-errortype"], "GoneException");

    let alice = connect(&gw, "alice").await;
    let id = only_connection(&gw).await;
    alice.close().await;
    let url = format!("{}/@connections/{id}", gw.http_url());
    let mut status = 0;
    for _ in 0..50 {
        status = http
            .post(&url)
            .body("{}")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 410 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 410);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 410);
}

/// DELETE closes the socket.
#[tokio::test]
async fn delete_closes_the_socket() {
    let gw = gateway().await;
    let mut alice = connect(&gw, "alice").await;
    let id = only_connection(&gw).await;
    let url = format!("{}/@connections/{id}", gw.http_url());
    let response = reqwest::Client::new().delete(&url).send().await.unwrap();
    assert_eq!(response.status(), 204);
    alice.expect_close(Duration::from_secs(5)).await;
}
