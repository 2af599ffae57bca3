//! The production [`Pusher`]: API Gateway's management API (`POST @connections/{id}`) through
//! `aws-sdk-apigatewaymanagement`. `GoneException` (410) becomes [`PushError::Gone`] — a stale
//! connection, not a failure — and `LimitExceededException` (429) becomes [`PushError::Throttled`]. Closing
//! a connection is `DELETE @connections/{id}` (`DeleteConnection`).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::{
    error::DisplayErrorContext,
    operation::{
        delete_connection::DeleteConnectionError, post_to_connection::PostToConnectionError,
    },
    primitives::Blob,
    Client,
};
use bytes::Bytes;
use protocol::ConnectionId;

use crate::ports::{PushError, Pusher};

/// Posts to the connections of one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ManagementApiPusher {
    client: Client,
}

impl ManagementApiPusher {
    /// A pusher for the stage whose management endpoint is `endpoint`:
    /// `https://{api id}.execute-api.{region}.amazonaws.com/{stage}` on AWS, `http://127.0.0.1:PORT` for the
    /// local gateway.
    pub fn new(config: &SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

/// A failure that is neither gone nor throttling, with the SDK's whole error context.
fn failed(error: impl std::error::Error + Send + Sync + 'static) -> PushError {
    PushError::Failed(DisplayErrorContext(error).to_string().into())
}

#[async_trait]
impl Pusher for ManagementApiPusher {
    async fn post(&self, connection_id: &ConnectionId, payload: Bytes) -> Result<(), PushError> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id.as_str())
            .data(Blob::new(payload))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(match error.as_service_error() {
                Some(PostToConnectionError::GoneException(_)) => PushError::Gone,
                Some(PostToConnectionError::LimitExceededException(_)) => PushError::Throttled,
                _ if error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 410) =>
                {
                    PushError::Gone
                }
                _ => failed(error),
            }),
        }
    }

    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
        let result = self
            .client
            .delete_connection()
            .connection_id(connection_id.as_str())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(match error.as_service_error() {
                Some(DeleteConnectionError::GoneException(_)) => PushError::Gone,
                Some(DeleteConnectionError::LimitExceededException(_)) => PushError::Throttled,
                _ if error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 410) =>
                {
                    PushError::Gone
                }
                _ => failed(error),
            }),
        }
    }
}
