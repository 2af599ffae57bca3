//! The `$connect` REQUEST authorizer: the ID token from the `token` query parameter, verified by
//! [`IdTokenVerifier`] (the one verification path), becomes an Allow policy for the connection with the user
//! as authorizer context, or a Deny. The token is never logged; the reason for a Deny is.
//!
//! The context keys (`sub`, `name`, `picture`) are read back by [`user_from_context`] when API Gateway passes
//! them to the gateway function in `requestContext.authorizer`.

use aws_lambda_events::{
    apigw::{
        ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
        ApiGatewayCustomAuthorizerResponse, ApiGatewayRequestAuthorizer,
    },
    iam::{IamPolicyEffect, IamPolicyStatement},
};
use protocol::User;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::auth::{IdTokenVerifier, Session};

/// The query parameter holding the ID token (`wss://…/prod?token=…`); the browser cannot set headers on a
/// WebSocket.
pub const TOKEN_PARAMETER: &str = "token";

/// Decides whether the connection may open.
pub async fn authorize(
    verifier: &IdTokenVerifier,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> ApiGatewayCustomAuthorizerResponse {
    let resource = event.method_arn.clone().unwrap_or_default();
    let token = event
        .query_string_parameters
        .first(TOKEN_PARAMETER)
        .unwrap_or("");
    match verifier.verify_session(token).await {
        Ok(Session { user, expires_at }) => {
            tracing::info!(user = %user.id, "allowed");
            policy(
                &user.id,
                IamPolicyEffect::Allow,
                resource,
                json!({
                    "sub": user.id,
                    "name": user.name,
                    "picture": user.picture,
                    "exp": expires_at.unix_timestamp(),
                }),
            )
        }
        Err(refusal) => {
            tracing::info!(reason = %refusal, "denied");
            policy("anonymous", IamPolicyEffect::Deny, resource, json!({}))
        }
    }
}

fn policy(
    principal: &str,
    effect: IamPolicyEffect,
    resource: String,
    context: Value,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(principal.to_owned());
    response.policy_document = document;
    // API Gateway refuses null context values.
    response.context = match context {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    };
    response
}

/// When the connection's ID token expires (the `exp` the authorizer passed), as a number or its text.
pub fn expiry_from_context(authorizer: &ApiGatewayRequestAuthorizer) -> Option<OffsetDateTime> {
    let exp = authorizer
        .other
        .get("exp")
        .or_else(|| authorizer.fields.get("exp"))?;
    let secs = exp
        .as_i64()
        .or_else(|| exp.as_str().and_then(|s| s.parse().ok()))?;
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// The user the authorizer vouched for, from a WebSocket event's `requestContext.authorizer` (API Gateway
/// puts the context keys there, beside `principalId`).
pub fn user_from_context(authorizer: &ApiGatewayRequestAuthorizer) -> Option<User> {
    let text = |key: &str| {
        authorizer
            .other
            .get(key)
            .or_else(|| authorizer.fields.get(key))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Some(User {
        id: text("sub")?,
        name: text("name")?,
        picture: text("picture"),
    })
}
