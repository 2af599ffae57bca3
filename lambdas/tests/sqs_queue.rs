//! The SQS queue adapter against a real SQS API (moto in server mode): items round-trip as their protocol
//! JSON, sends are batched by ten, oversized bodies are refused before anything is sent, and entries SQS
//! fails on its side are retried alone. moto never fails a batch entry by itself, so the partial-failure
//! tests mark one entry of a real response failed with an SDK interceptor — the retry goes to moto for real.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_sqs::{
    config::{
        interceptors::{BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextMut},
        ConfigBag, Intercept, RuntimeComponents,
    },
    operation::send_message_batch::{SendMessageBatchInput, SendMessageBatchOutput},
    types::BatchResultErrorEntry,
};
use lambdas::{
    adapters::{aws::sdk_config, sqs::SqsQueue},
    ports::{Queue, QueueError},
};
use protocol::{
    limits::MAX_QUEUE_MESSAGE_BYTES, Command, ConnectionId, Delivery, ErrorCode, ServerFrame,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Records the number of entries of every `SendMessageBatch` request, and fails one entry of the first
/// response when told to.
#[derive(Debug, Default, Clone)]
struct Recorder {
    batches: Arc<Mutex<Vec<usize>>>,
    fail_first: Option<(&'static str, bool)>,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input().downcast_ref::<SendMessageBatchInput>() {
            self.batches
                .lock()
                .unwrap()
                .push(input.entries.as_ref().map_or(0, Vec::len));
        }
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((entry_id, sender_fault)) = self.fail_first else {
            return Ok(());
        };
        if self.batches.lock().unwrap().len() != 1 {
            return Ok(());
        }
        if let Some(Ok(output)) = context.output_or_error_mut() {
            if let Some(output) = output.downcast_mut::<SendMessageBatchOutput>() {
                if let Some(at) = output.successful.iter().position(|e| e.id == entry_id) {
                    output.successful.remove(at);
                    output.failed.push(
                        BatchResultErrorEntry::builder()
                            .id(entry_id)
                            .sender_fault(sender_fault)
                            .code(if sender_fault {
                                "InvalidMessageContents"
                            } else {
                                "InternalError"
                            })
                            .message("marked failed by the test")
                            .build()
                            .unwrap(),
                    );
                }
            }
        }
        Ok(())
    }
}

/// A fresh queue on moto and an adapter for it whose client carries `recorder`.
async fn queue<T>(moto: &common::Server, name: &str, recorder: Recorder) -> SqsQueue<T> {
    let sdk = sdk_config(Some(&moto.http_url())).await;
    let plain = aws_sdk_sqs::Client::new(&sdk);
    let url = plain
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .expect("creating a queue on moto")
        .queue_url
        .unwrap();
    let config = aws_sdk_sqs::config::Builder::from(&sdk)
        .interceptor(recorder)
        .build();
    SqsQueue::new(aws_sdk_sqs::Client::from_conf(config), url)
}

fn forget(i: usize) -> Command {
    Command::Forget {
        connection_id: ConnectionId(format!("conn-{i}")),
    }
}

/// Receives until `count` messages arrived (or a deadline), returning them parsed.
async fn receive_all(queue: &SqsQueue<Command>, count: usize) -> Vec<Command> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < count && tokio::time::Instant::now() < deadline {
        let received = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        let handles = received.iter().map(|r| r.receipt_handle.clone()).collect();
        got.extend(
            received
                .iter()
                .map(|r| serde_json::from_str(&r.body).unwrap()),
        );
        queue.delete(handles).await.unwrap();
    }
    got
}

fn sorted(mut commands: Vec<Command>) -> Vec<String> {
    let mut ids: Vec<String> = commands
        .drain(..)
        .map(|c| c.connection_id().expect("connection commands").to_string())
        .collect();
    ids.sort();
    ids
}

/// Commands sent through the adapter come back from SQS as the same values; deleted messages do not come
/// back, and a received message that is not deleted is delivered again when its visibility timeout ends.
#[tokio::test]
async fn send_receive_delete_and_redelivery() {
    let moto = common::moto_server();
    let queue = queue::<Command>(&moto, "round-trip", Recorder::default()).await;
    let sent: Vec<Command> = (0..3).map(forget).collect();
    queue.send_all(sent.clone()).await.unwrap();
    assert_eq!(sorted(receive_all(&queue, 3).await), sorted(sent));
    assert!(
        queue
            .receive(10, Duration::from_secs(2))
            .await
            .unwrap()
            .is_empty(),
        "deleted messages stay deleted"
    );

    queue.send_all(vec![forget(9)]).await.unwrap();
    let first = queue.receive(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = queue.receive(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(again.len(), 1, "an undeleted message is redelivered");
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].body, first[0].body);
}

/// 25 items go out as three `SendMessageBatch` calls of 10, 10 and 5, and all 25 arrive.
#[tokio::test]
async fn twenty_five_items_take_three_batches() {
    let moto = common::moto_server();
    let recorder = Recorder::default();
    let queue = queue::<Command>(&moto, "batching", recorder.clone()).await;
    let sent: Vec<Command> = (0..25).map(forget).collect();
    queue.send_all(sent.clone()).await.unwrap();
    assert_eq!(*recorder.batches.lock().unwrap(), [10, 10, 5]);
    assert_eq!(sorted(receive_all(&queue, 25).await), sorted(sent));
}

/// A body over SQS's 256 KB limit is refused with an error and nothing of the call is sent.
#[tokio::test]
async fn an_oversized_body_is_refused_loudly() {
    let moto = common::moto_server();
    let recorder = Recorder::default();
    let queue = queue::<Delivery>(&moto, "oversized", recorder.clone()).await;
    let huge = Delivery::new(
        vec![ConnectionId("a".into())],
        ServerFrame::Error {
            code: ErrorCode::Internal,
            message: "x".repeat(MAX_QUEUE_MESSAGE_BYTES),
            client_id: None,
            retry_after_ms: None,
            room: None,
        },
    );
    let small = Delivery::new(vec![ConnectionId("b".into())], ServerFrame::Pong);
    let error = queue.send_all(vec![small, huge]).await.unwrap_err();
    assert!(
        matches!(error, QueueError::TooLarge { limit, .. } if limit == MAX_QUEUE_MESSAGE_BYTES),
        "{error}"
    );
    assert!(
        recorder.batches.lock().unwrap().is_empty(),
        "nothing was sent"
    );
}

/// An entry SQS fails on its side is sent again, alone, and arrives; the others are not sent twice.
#[tokio::test]
async fn a_failed_entry_is_retried_alone() {
    let moto = common::moto_server();
    let recorder = Recorder {
        fail_first: Some(("3", false)),
        ..Recorder::default()
    };
    let queue = queue::<Command>(&moto, "partial", recorder.clone()).await;
    let sent: Vec<Command> = (0..5).map(forget).collect();
    queue.send_all(sent.clone()).await.unwrap();
    assert_eq!(
        *recorder.batches.lock().unwrap(),
        [5, 1],
        "only the failed entry was retried"
    );
    // moto did store the entry the test marked failed, so it arrives twice: at least once, as SQS promises.
    let mut expected = sorted(sent);
    expected.push("conn-3".into());
    expected.sort();
    assert_eq!(sorted(receive_all(&queue, 6).await), expected);
}

/// An entry refused as the sender's fault is not retried: the send fails with SQS's reason.
#[tokio::test]
async fn a_sender_fault_is_an_error_not_a_retry() {
    let moto = common::moto_server();
    let recorder = Recorder {
        fail_first: Some(("0", true)),
        ..Recorder::default()
    };
    let queue = queue::<Command>(&moto, "sender-fault", recorder.clone()).await;
    let error = queue
        .send_all(vec![forget(0), forget(1)])
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("InvalidMessageContents"),
        "{error}"
    );
    assert_eq!(*recorder.batches.lock().unwrap(), [2]);
}
