//! The production pusher — `aws-sdk-apigatewaymanagement`'s `PostToConnection` — against the local
//! gateway's `@connections` API, which answers exactly as API Gateway does. moto's management API never
//! answers 410, so this is where the stale-connection path is proven with the real SDK client: a post to
//! an open connection arrives, a post to an unknown or closed one is `PushError::Gone`, and the sender
//! core forgets exactly the stale connection.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{connect, gateway};
use lambdas::{
    adapters::{apigw::ManagementApiPusher, aws::sdk_config, memory::memory_queue},
    core::sender::{deliver, Ports, SendPolicy},
    ports::{PushError, Pusher},
};
use protocol::{Command, ConnectionId, Delivery, ServerFrame};

async fn pusher(gw: &chatty_local::Running) -> ManagementApiPusher {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    ManagementApiPusher::new(&sdk_config(None).await, &gw.http_url())
}

async fn only_connection(gw: &chatty_local::Running) -> ConnectionId {
    for _ in 0..50 {
        if let [id] = gw.connections.open_ids().as_slice() {
            return id.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("expected exactly one open connection");
}

/// The SDK client's post reaches an open socket; after the socket closes, and for an id that never
/// existed, the same post is `Gone` (the SDK parsed API Gateway's `GoneException`).
#[tokio::test]
async fn the_sdk_client_sees_410_as_gone() {
    let gw = gateway().await;
    let pusher = pusher(&gw).await;
    let mut alice = connect(&gw, "alice").await;
    let id = only_connection(&gw).await;

    pusher
        .post(&id, Bytes::from(ServerFrame::Pong.to_json()))
        .await
        .unwrap();
    assert_eq!(alice.recv().await, ServerFrame::Pong);

    let unknown = pusher
        .post(
            &ConnectionId("NoSuchConnId=".into()),
            Bytes::from_static(b"{}"),
        )
        .await;
    assert!(matches!(unknown, Err(PushError::Gone)), "{unknown:?}");

    alice.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = pusher.post(&id, Bytes::from_static(b"{}")).await;
    assert!(matches!(closed, Err(PushError::Gone)), "{closed:?}");
}

/// Delivering to a live and a stale connection through the SDK client reaches the live one and queues a
/// `forget` for the stale one — that connection, not the sender's.
#[tokio::test]
async fn the_sender_forgets_exactly_the_stale_connection() {
    let gw = gateway().await;
    let pusher = pusher(&gw).await;
    let mut alice = connect(&gw, "alice").await;
    let live = only_connection(&gw).await;
    let stale = ConnectionId("StaleConnId0=".into());
    let (commands, mut forgotten) = memory_queue::<Command>();
    let (deliveries, _requeued) = memory_queue::<Delivery>();
    let ports = Ports {
        pusher: &pusher,
        commands: &commands,
        deliveries: &deliveries,
    };

    let report = deliver(
        ports,
        &Delivery::new(vec![live.clone(), stale.clone()], ServerFrame::Pong),
        SendPolicy::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(report.gone, std::slice::from_ref(&stale));
    assert!(report.retried.is_empty() && report.abandoned.is_empty());
    assert_eq!(alice.recv().await, ServerFrame::Pong);
    assert_eq!(
        forgotten.try_recv().unwrap(),
        Command::Forget {
            connection_id: stale
        }
    );
    assert!(
        forgotten.try_recv().is_err(),
        "only the stale connection is forgotten"
    );
}
