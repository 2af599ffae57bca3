//! The sender Lambda (outside the VPC). Reads `CONNECTIONS_ENDPOINT` (the stage's management endpoint,
//! `https://<api id>.execute-api.<region>.amazonaws.com/<stage>`), `COMMAND_QUEUE_URL`, `DELIVERY_QUEUE_URL`
//! and optionally `SEND_CONCURRENCY`, then serves [`lambdas::functions::sender::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::{apigw::ManagementApiPusher, aws::sdk_config, sqs::SqsQueue},
    functions::{init_logs, sender::handle, Env},
    handlers::sender::SendPolicy,
};
use protocol::{Command, Delivery};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let env = Env;
    let sdk = sdk_config(None).await;
    let pusher = ManagementApiPusher::new(&sdk, &env.required("CONNECTIONS_ENDPOINT")?);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let commands = SqsQueue::<Command>::new(sqs.clone(), env.required("COMMAND_QUEUE_URL")?);
    let deliveries = SqsQueue::<Delivery>::new(sqs, env.required("DELIVERY_QUEUE_URL")?);
    let policy = SendPolicy {
        concurrency: env.parsed("SEND_CONCURRENCY", SendPolicy::default().concurrency)?,
        ..SendPolicy::default()
    };
    let (pusher, commands, deliveries) = (&pusher, &commands, &deliveries);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(pusher, commands, deliveries, policy, event.payload).await)
    }))
    .await
}
