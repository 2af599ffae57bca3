//! The sender function: an SQS batch of [`protocol::Delivery`]s → [`crate::consumers::sender_batch`] →
//! `batchItemFailures` naming only the deliveries to retry whole.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use protocol::{Command, Delivery};

use crate::{
    consumers::sender_batch,
    functions::{batch_response, queue_messages},
    handlers::sender::SendPolicy,
    ports::{Pusher, Queue},
};

pub async fn handle(
    pusher: &dyn Pusher,
    commands: &dyn Queue<Command>,
    deliveries: &dyn Queue<Delivery>,
    policy: SendPolicy,
    event: SqsEvent,
) -> SqsBatchResponse {
    batch_response(sender_batch(pusher, commands, deliveries, queue_messages(event), policy).await)
}
