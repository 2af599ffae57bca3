//! The gateway function: API Gateway WebSocket events (`$connect`, `$disconnect`, `$default` and the action
//! routes) → [`crate::core::gateway`]. The user comes from `requestContext.authorizer`, never from the
//! frame.
//!
//! The message routes are two-way (each has a `$default` route response), so what the core answers the
//! sender at once — an `error` frame for a bad frame, `pong` for `ping` — goes back as this invocation's
//! response body instead of a `PostToConnection`: the gateway never needs `execute-api:ManageConnections`,
//! and the answer costs no extra call.

use std::sync::Arc;

use aws_lambda_events::{
    apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest},
    encodings::Body,
};
use protocol::{Command, ConnectionId};

use crate::{
    core::gateway,
    lambda::authorizer::{expiry_from_context, user_from_context},
    ports::{Clock, Queue, QueueError},
};

#[derive(Debug, thiserror::Error)]
pub enum GatewayFunctionError {
    #[error("the event has no {0}")]
    Incomplete(&'static str),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What the gateway function holds across invocations.
pub struct Gateway {
    commands: Arc<dyn Queue<Command>>,
    clock: Arc<dyn Clock>,
}

impl Gateway {
    pub fn new(commands: Arc<dyn Queue<Command>>, clock: Arc<dyn Clock>) -> Self {
        Self { commands, clock }
    }

    /// Handles one event. A 200 lets `$connect` open the connection; for a frame, the body (if any) is the
    /// answer API Gateway sends back on the socket.
    pub async fn handle(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> Result<ApiGatewayProxyResponse, GatewayFunctionError> {
        let context = &event.request_context;
        let connection_id = ConnectionId(
            context
                .connection_id
                .clone()
                .ok_or(GatewayFunctionError::Incomplete("connection id"))?,
        );
        let route = context.route_key.as_deref().unwrap_or("$default");
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = 200;
        match route {
            "$disconnect" => gateway::on_disconnect(&*self.commands, connection_id).await?,
            "$connect" => {
                let Some(user) = user_from_context(&context.authorizer) else {
                    tracing::warn!("$connect without an authorizer context");
                    response.status_code = 401;
                    return Ok(response);
                };
                gateway::on_connect(&*self.commands, connection_id, user).await?;
            }
            _ => {
                let user = user_from_context(&context.authorizer)
                    .ok_or(GatewayFunctionError::Incomplete("authorizer context"))?;
                let expires_at = expiry_from_context(&context.authorizer);
                let answer = gateway::on_frame(
                    &*self.commands,
                    &*self.clock,
                    connection_id,
                    user,
                    expires_at,
                    event.body.as_deref().unwrap_or(""),
                )
                .await?;
                response.body = answer.map(|frame| Body::Text(frame.to_json()));
            }
        }
        Ok(response)
    }
}
