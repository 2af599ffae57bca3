//! The registry Lambda (inside the VPC, the only function that reaches Redis). Reads `REDIS_URL`,
//! `REDIS_CLUSTER` (`true` when `REDIS_URL` is a cluster's endpoint, as ElastiCache Serverless's is;
//! default `false`) and `DELIVERY_QUEUE_URL`, connects once per cold start, then serves SQS batches of commands with
//! [`lambdas::consumer::RegistryConsumer`].

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::{
        aws::sdk_config,
        redis::{RedisRegistry, Topology},
        sqs::SqsQueue,
    },
    consumer::RegistryConsumer,
    lambda::{consume_sqs_event, init_logs, Env},
    ports::SystemClock,
};
use protocol::Delivery;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let env = Env;
    let topology = if env.parsed("REDIS_CLUSTER", false)? {
        Topology::Cluster
    } else {
        Topology::Standalone
    };
    let registry = RedisRegistry::open_with(&env.required("REDIS_URL")?, topology).await?;
    let sdk = sdk_config(None).await;
    let deliveries = SqsQueue::<Delivery>::new(
        aws_sdk_sqs::Client::new(&sdk),
        env.required("DELIVERY_QUEUE_URL")?,
    );
    let consumer = RegistryConsumer {
        registry: Arc::new(registry),
        deliveries: Arc::new(deliveries),
        clock: Arc::new(SystemClock),
        rate_limits: lambdas::core::registry::RateLimits::Enforced,
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        Ok::<_, Error>(consume_sqs_event(consumer, event.payload).await)
    }))
    .await
}
