//! The gateway Lambda (outside the VPC). Reads `COMMAND_QUEUE_URL`, then serves
//! [`lambdas::lambda::gateway::Gateway::handle`].

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::{aws::sdk_config, sqs::SqsQueue},
    lambda::{gateway::Gateway, init_logs, Env},
    ports::SystemClock,
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let sdk = sdk_config(None).await;
    let commands = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        Env.required("COMMAND_QUEUE_URL")?,
    );
    let gateway = Gateway::new(Arc::new(commands), Arc::new(SystemClock));
    let gateway = &gateway;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        gateway.handle(event.payload).await.map_err(Error::from)
    }))
    .await
}
