//! The registry Lambda (inside the VPC, the only function that reaches Redis). Reads `REDIS_URL` and
//! `DELIVERY_QUEUE_URL`, connects once per cold start, then serves SQS batches of commands with
//! [`lambdas::consumer::RegistryConsumer`].

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::{aws::sdk_config, redis::RedisRegistry, sqs::SqsQueue},
    consumer::RegistryConsumer,
    lambda::{consume_sqs_event, init_logs, Env},
    ports::SystemClock,
};
use protocol::Delivery;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let env = Env;
    let registry = RedisRegistry::open(&env.required("REDIS_URL")?).await?;
    let sdk = sdk_config(None).await;
    let deliveries = SqsQueue::<Delivery>::new(
        aws_sdk_sqs::Client::new(&sdk),
        env.required("DELIVERY_QUEUE_URL")?,
    );
    let consumer = RegistryConsumer {
        registry: Arc::new(registry),
        deliveries: Arc::new(deliveries),
        clock: Arc::new(SystemClock),
        rate_limits: true,
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        Ok::<_, Error>(consume_sqs_event(consumer, event.payload).await)
    }))
    .await
}
