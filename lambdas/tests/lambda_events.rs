//! The Lambda functions' event translation, in process, on the recorded API Gateway and SQS events in
//! `tests/fixtures/events/` (the same files `tests/lambda/run.sh` feeds the built binaries): every fixture
//! deserialises into its `aws_lambda_events` type, and each function turns it into the right calls of the
//! handler core and the right response.

use std::{path::PathBuf, sync::Arc};

use lambdas::{
    adapters::memory::{memory_queue, MemoryRegistry},
    consumer::{RegistryConsumer, SenderConsumer},
    core::sender::SendPolicy,
    lambda::{consume_sqs_event, gateway::Gateway},
    ports::{Registry, SystemClock},
};
use protocol::{Command, ConnectionId, Delivery, RoomName};
use serde::de::DeserializeOwned;

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const ALICE_CONNECTION: &str = "Cj3sIfRRIAMCJgw=";

/// `$connect`, a `send` frame and `$disconnect` become the matching commands, in the name of the user the
/// authorizer put in the request context; none of them answers on the socket.
#[tokio::test]
async fn gateway_events_become_commands() {
    let (commands, mut queued) = memory_queue::<Command>();
    let gateway = Gateway::new(Arc::new(commands), Arc::new(SystemClock));
    for name in [
        "gateway-connect.json",
        "gateway-send.json",
        "gateway-disconnect.json",
    ] {
        let response = gateway.handle(fixture(name)).await.unwrap();
        assert_eq!(response.status_code, 200, "{name}");
        assert!(response.body.is_none(), "{name}: no answer on the socket");
    }
    let Command::Connect {
        user,
        connection_id,
    } = queued.try_recv().unwrap()
    else {
        panic!("not a connect")
    };
    assert_eq!(
        (user.name.as_str(), connection_id.as_str()),
        ("Alice Liddell", ALICE_CONNECTION)
    );
    let Command::Frame { user, frame, .. } = queued.try_recv().unwrap() else {
        panic!("not a frame")
    };
    assert_eq!(user.id, "b8f1e1a2-7c1b-4d1e-9a53-2f9d3c1e0b11");
    assert!(matches!(frame, protocol::ClientFrame::Send { .. }));
    assert!(matches!(
        queued.try_recv().unwrap(),
        Command::Disconnect { .. }
    ));
}

/// A bad frame is answered in the route response (an `error` frame echoing its client id) and queues
/// nothing: the gateway never posts to connections itself.
#[tokio::test]
async fn a_bad_frame_is_answered_in_the_route_response() {
    let (commands, mut queued) = memory_queue::<Command>();
    let gateway = Gateway::new(Arc::new(commands), Arc::new(SystemClock));
    let response = gateway
        .handle(fixture("gateway-bad-frame.json"))
        .await
        .unwrap();
    let Some(aws_lambda_events::encodings::Body::Text(body)) = response.body else {
        panic!("no answer: {response:?}")
    };
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["code"], "invalid_room");
    assert_eq!(answer["client_id"], "c-2");
    assert!(queued.try_recv().is_err());
}

/// The registry function applies every readable command of a batch and reports only the unreadable one as
/// a batch item failure; running the same batch again (SQS redelivery) stores the message once.
#[tokio::test]
async fn the_registry_function_reports_only_failed_messages() {
    let store = Arc::new(MemoryRegistry::default());
    let (deliveries, mut out) = memory_queue::<Delivery>();
    let consumer = RegistryConsumer {
        registry: store.clone(),
        deliveries: Arc::new(deliveries),
        clock: Arc::new(SystemClock),
        rate_limits: lambdas::core::registry::RateLimits::Enforced,
    };
    for _ in 0..2 {
        let response = consume_sqs_event(&consumer, fixture("registry-batch.json")).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["4d3a1f3e-0004-4c1e-9a53-2f9d3c1e0b11"]);
    }
    let general = RoomName::new("general").unwrap();
    assert!(store
        .members(&general)
        .await
        .unwrap()
        .members
        .iter()
        .any(|m| m.connection_id.as_str() == ALICE_CONNECTION));
    let page = store
        .history(
            &ConnectionId(ALICE_CONNECTION.into()),
            &general,
            lambdas::ports::HistoryQuery::Before {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap()
        .expect("alice is in the room");
    assert_eq!(page.messages.len(), 1, "stored once despite the redelivery");
    let mut kinds = Vec::new();
    while let Ok(delivery) = out.try_recv() {
        kinds.push(serde_json::to_value(&delivery.frame).unwrap()["type"].clone());
    }
    assert!(
        kinds.contains(&"presence".into()) && kinds.contains(&"message".into()),
        "{kinds:?}"
    );
}

/// The sender function posts a delivery to each recipient, forgets the gone one, and reports only the
/// unreadable message.
#[tokio::test]
async fn the_sender_function_reports_only_failed_messages() {
    let connections = Arc::new(one_open_connection::Recorder::default());
    let (commands, mut forgotten) = memory_queue::<Command>();
    let (deliveries, mut retried) = memory_queue::<Delivery>();
    let consumer = SenderConsumer {
        pusher: connections.clone(),
        commands: Arc::new(commands),
        deliveries: Arc::new(deliveries),
        policy: SendPolicy::default(),
    };
    let response = consume_sqs_event(&consumer, fixture("sender-batch.json")).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["7e2b9c1d-0002-4f0a-8b1c-5d6e7f8a9b0c"]);
    assert_eq!(connections.posted(), [ALICE_CONNECTION]);
    assert_eq!(
        forgotten.try_recv().unwrap(),
        Command::Forget {
            connection_id: ConnectionId("Dk4tJgSSJBNDKhx=".into())
        }
    );
    assert!(retried.try_recv().is_err(), "nobody to retry");
}

/// A pusher that knows one open connection and records what reaches it; every other id is gone.
mod one_open_connection {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use bytes::Bytes;
    use lambdas::ports::{PushError, Pusher};
    use protocol::ConnectionId;

    #[derive(Default)]
    pub struct Recorder {
        posted: Mutex<Vec<String>>,
    }

    impl Recorder {
        pub fn posted(&self) -> Vec<String> {
            self.posted.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Pusher for Recorder {
        async fn post(&self, id: &ConnectionId, _: Bytes) -> Result<(), PushError> {
            if id.as_str() != super::ALICE_CONNECTION {
                return Err(PushError::Gone);
            }
            self.posted.lock().unwrap().push(id.to_string());
            Ok(())
        }

        async fn close(&self, _: &ConnectionId) -> Result<(), PushError> {
            unreachable!("no delivery here closes a connection")
        }
    }
}
