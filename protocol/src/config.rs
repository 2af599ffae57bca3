//! The runtime configuration the app fetches from `/config.json` at start, so one build of the app serves
//! the local gateway and any AWS deployment alike.

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::flat::{Fields, FromFields};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppConfig {
    /// Where to open the WebSocket; the app appends `?token=<ID token>`.
    pub ws_url: String,
    pub auth: AuthConfig,
}

/// An OAuth 2.0 authorization-code + PKCE client's settings: Cognito's Hosted UI in AWS, the local
/// sign-in stand-in on one machine. Read as a flat object ([`crate::flat`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// OAuth scopes, space-separated (`openid email profile`).
    pub scopes: String,
}

impl FromFields for AuthConfig {
    const EXPECTING: &'static str = "struct AuthConfig";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            authorize_url: fields.text("authorize_url")?,
            token_url: fields.text("token_url")?,
            revoke_url: fields.text("revoke_url")?,
            logout_url: fields.text("logout_url")?,
            client_id: fields.text("client_id")?,
            identity_provider: fields.optional_text("identity_provider")?,
            scopes: fields.text("scopes")?,
        })
    }
}

impl<'de> Deserialize<'de> for AuthConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::flat::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration reads as the derived reader reads it: the whole of it, each field missing,
    /// `null` or a number, and unknown fields of any kind.
    #[test]
    fn auth_config_reads_as_the_derived_reader_reads_it() {
        #[derive(Debug, Deserialize)]
        struct Derived {
            authorize_url: String,
            token_url: String,
            revoke_url: String,
            logout_url: String,
            client_id: String,
            #[serde(default)]
            identity_provider: Option<String>,
            scopes: String,
        }
        let whole = serde_json::json!({
            "authorize_url": "https://a/oauth2/authorize",
            "token_url": "https://a/oauth2/token",
            "revoke_url": "https://a/oauth2/revoke",
            "logout_url": "https://a/logout",
            "client_id": "abc",
            "identity_provider": "Google",
            "scopes": "openid email profile",
        });
        let mut objects = vec![whole.to_string()];
        let keys = whole
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .chain(["other".to_owned()]);
        for key in keys {
            let mut without = whole.clone();
            without.as_object_mut().unwrap().remove(&key);
            objects.push(without.to_string());
            for value in [
                serde_json::json!(null),
                serde_json::json!(5),
                serde_json::json!([{}]),
            ] {
                let mut changed = whole.clone();
                changed[&key] = value;
                objects.push(changed.to_string());
            }
        }
        for json in objects {
            let ours = serde_json::from_str::<AuthConfig>(&json).map_err(|e| e.to_string());
            let derived = serde_json::from_str::<Derived>(&json)
                .map(|d| AuthConfig {
                    authorize_url: d.authorize_url,
                    token_url: d.token_url,
                    revoke_url: d.revoke_url,
                    logout_url: d.logout_url,
                    client_id: d.client_id,
                    identity_provider: d.identity_provider,
                    scopes: d.scopes,
                })
                .map_err(|e| e.to_string());
            let without_position = |r: Result<AuthConfig, String>| {
                r.map_err(|e| e.split(" at line").next().unwrap_or_default().to_owned())
            };
            assert_eq!(without_position(ours), without_position(derived), "{json}");
        }
    }
}
