//! The deployed app's `/config.json`: the stack's outputs mapped onto [`protocol::AppConfig`], the type the app
//! itself reads, so the file can never drift from what the app expects.

use anyhow::Result;
use protocol::{AppConfig, AuthConfig};

use crate::outputs::{StackOutputs, AUTH_BASE_URL, USER_POOL_CLIENT_ID, WEB_SOCKET_URL};

/// The identity provider the app sends people to directly (template.yaml's `GoogleIdentityProvider`).
pub const IDENTITY_PROVIDER: &str = "Google";
/// The scopes the app asks for; template.yaml's `UserPoolClient.AllowedOAuthScopes` allows exactly these.
pub const SCOPES: &str = "openid email profile";

/// Cognito's Hosted UI endpoints hang off the domain: `/oauth2/authorize`, `/oauth2/token`, `/logout`.
pub fn from_outputs(outputs: &StackOutputs) -> Result<AppConfig> {
    let auth_base = outputs.get(AUTH_BASE_URL)?.trim_end_matches('/');
    Ok(AppConfig {
        ws_url: outputs.get(WEB_SOCKET_URL)?.to_owned(),
        auth: AuthConfig {
            authorize_url: format!("{auth_base}/oauth2/authorize"),
            token_url: format!("{auth_base}/oauth2/token"),
            revoke_url: format!("{auth_base}/oauth2/revoke"),
            logout_url: format!("{auth_base}/logout"),
            client_id: outputs.get(USER_POOL_CLIENT_ID)?.to_owned(),
            identity_provider: Some(IDENTITY_PROVIDER.to_owned()),
            scopes: SCOPES.to_owned(),
        },
    })
}

/// `config.json` as written to `app/dist`.
pub fn to_json(config: &AppConfig) -> String {
    let mut json = serde_json::to_string_pretty(config).expect("AppConfig always serialises");
    json.push('\n');
    json
}
