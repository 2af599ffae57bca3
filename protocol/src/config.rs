//! The runtime configuration the app fetches from `/config.json` at start, so one build of the app serves
//! the local gateway and any AWS deployment alike.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    /// Where to open the WebSocket; the app appends `?token=<ID token>`.
    pub ws_url: String,
    pub auth: AuthConfig,
}

/// An OAuth 2.0 authorization-code + PKCE client's settings: Cognito's Hosted UI in AWS, the local
/// sign-in stand-in on one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// `…/oauth2/authorize`
    pub authorize_url: String,
    /// `…/oauth2/token`
    pub token_url: String,
    /// `…/oauth2/revoke`: sign-out revokes the refresh token here.
    pub revoke_url: String,
    /// `…/logout`
    pub logout_url: String,
    /// The public app client's id (no secret).
    pub client_id: String,
    /// `Google` on AWS (the button goes straight to Google); absent locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// OAuth scopes, space-separated (`openid email profile`).
    pub scopes: String,
}
