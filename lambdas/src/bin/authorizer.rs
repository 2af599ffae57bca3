//! The `$connect` authorizer Lambda. Reads `COGNITO_ISSUER`, `COGNITO_CLIENT_ID` and optionally `JWKS_URL`
//! (default `<issuer>/.well-known/jwks.json`), then serves [`lambdas::lambda::authorizer::authorize`].

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdas::{
    adapters::jwks::{default_jwks_url, HttpKeySource},
    auth::{IdTokenVerifier, VerifierConfig},
    lambda::{authorizer::authorize, init_logs, Env},
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let env = Env;
    let issuer = env.required("COGNITO_ISSUER")?;
    let client_id = env.required("COGNITO_CLIENT_ID")?;
    let jwks_url = env
        .optional("JWKS_URL")
        .unwrap_or_else(|| default_jwks_url(&issuer));
    let verifier = IdTokenVerifier::new(
        VerifierConfig::new(issuer, client_id),
        Box::new(HttpKeySource::new(jwks_url)?),
    );
    let verifier = &verifier;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async move {
        Ok::<_, Error>(authorize(verifier, event.payload).await)
    }))
    .await
}
