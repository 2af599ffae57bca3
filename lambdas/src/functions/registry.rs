//! The registry function: an SQS batch of [`protocol::Command`]s → [`crate::consumers::registry_batch`] →
//! `batchItemFailures` naming only the commands to retry.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use protocol::Delivery;

use crate::{
    consumers::registry_batch,
    functions::{batch_response, queue_messages},
    ports::{Queue, Registry},
};

pub async fn handle(
    store: &dyn Registry,
    deliveries: &dyn Queue<Delivery>,
    event: SqsEvent,
) -> SqsBatchResponse {
    batch_response(registry_batch(store, deliveries, queue_messages(event)).await)
}
