//! Implementations of the [`crate::ports`]. Each adapter lives in its own module and is the only code that
//! knows its backend. The production ones (feature `aws`) are: [`redis`] (the registry), [`sqs`] (the
//! queues), [`apigw`] (the pusher, API Gateway's management API), [`jwks`] (the verifier's keys), with
//! [`aws`] building the SDK configuration they share.

pub mod memory;

#[cfg(feature = "aws")]
pub mod apigw;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod jwks;
#[cfg(feature = "aws")]
pub mod redis;
#[cfg(feature = "aws")]
pub mod sqs;
