//! The sender Lambda (outside the VPC). Reads `CONNECTIONS_ENDPOINT` (the stage's management endpoint,
//! `https://<api id>.execute-api.<region>.amazonaws.com/<stage>`), `COMMAND_QUEUE_URL`, `DELIVERY_QUEUE_URL`
//! and optionally `SEND_CONCURRENCY`, then serves SQS batches of deliveries with
//! [`lambdas::consumer::SenderConsumer`].

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::{apigw::ManagementApiPusher, aws::sdk_config, sqs::SqsQueue},
    consumer::SenderConsumer,
    core::sender::SendPolicy,
    lambda::{consume_sqs_event, init_logs, Env},
};
use protocol::{Command, Delivery};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let env = Env;
    let sdk = sdk_config(None).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let consumer = SenderConsumer {
        pusher: Arc::new(ManagementApiPusher::new(
            &sdk,
            &env.required("CONNECTIONS_ENDPOINT")?,
        )),
        commands: Arc::new(SqsQueue::<Command>::new(
            sqs.clone(),
            env.required("COMMAND_QUEUE_URL")?,
        )),
        deliveries: Arc::new(SqsQueue::<Delivery>::new(
            sqs,
            env.required("DELIVERY_QUEUE_URL")?,
        )),
        policy: SendPolicy {
            concurrency: env.parsed("SEND_CONCURRENCY", SendPolicy::default().concurrency)?,
            ..SendPolicy::default()
        },
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        Ok::<_, Error>(consume_sqs_event(consumer, event.payload).await)
    }))
    .await
}
