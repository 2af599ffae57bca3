//! The registry Lambda (inside the VPC, the only function that reaches Redis). Reads `REDIS_URL` and
//! `DELIVERY_QUEUE_URL`, connects once per cold start, then serves [`lambdas::functions::registry::handle`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::{aws::sdk_config, redis::RedisRegistry, sqs::SqsQueue},
    functions::{init_logs, registry::handle, Env},
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let env = Env;
    let store = RedisRegistry::open(&env.required("REDIS_URL")?).await?;
    let sdk = sdk_config(None).await;
    let deliveries = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        env.required("DELIVERY_QUEUE_URL")?,
    );
    let (store, deliveries) = (&store, &deliveries);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(store, deliveries, event.payload).await)
    }))
    .await
}
