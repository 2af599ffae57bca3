//! The `@connections` management API, shaped like API Gateway's (`POST`/`GET`/`DELETE
//! /@connections/{connectionId}`), so the production `aws-sdk-apigatewaymanagement` client can target the
//! local gateway. An unknown, closed or still-connecting connection answers `410 Gone` with API Gateway's
//! error type header and body.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderName, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use lambdas::ports::{PushError, Pusher};
use protocol::{limits::MAX_SERVER_FRAME_BYTES, ConnectionId};
use time::format_description::well_known::Rfc3339;

use crate::AppState;

const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

fn aws_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [(ERROR_TYPE, error_type)],
        Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

fn gone() -> Response {
    aws_error(StatusCode::GONE, "GoneException", "")
}

/// `POST /@connections/{id}`: the body is sent to the connection as one text frame.
pub async fn post(State(app): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    if let Some(meter) = &app.meter {
        meter.api.post();
    }
    if body.len() > MAX_SERVER_FRAME_BYTES {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "Payload too large",
        );
    }
    match app.connections.post(&ConnectionId(id), body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(PushError::Gone) => gone(),
        Err(PushError::Throttled) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Too many requests",
        ),
        Err(error @ PushError::Failed(_)) => aws_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            &error.to_string(),
        ),
    }
}

/// `GET /@connections/{id}`
pub async fn get(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(info) = app.connections.info(&ConnectionId(id)) else {
        return gone();
    };
    let format = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    Json(serde_json::json!({
        "connectedAt": format(info.connected_at),
        "lastActiveAt": format(info.last_active_at),
        "identity": {
            "sourceIp": info.source_ip.ip().to_string(),
            "userAgent": info.user_agent,
        },
    }))
    .into_response()
}

/// `DELETE /@connections/{id}`: closes the socket; `$disconnect` follows.
pub async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if app.connections.close(&ConnectionId(id)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}
