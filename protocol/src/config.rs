//! The runtime configuration the app fetches from `/config.json` at start, so one build of the app serves
//! the local gateway and any AWS deployment alike.

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::flat::{Fields, FromFields};

/// Read by a reader written out below (no derived one: its second form, for JSON arrays nobody sends,
/// is download size for the app; app/README.md, "Size"), which reads what the derived one reads (a test).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl<'de> Deserialize<'de> for AppConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AppConfigVisitor)
    }
}

struct AppConfigVisitor;

impl<'de> de::Visitor<'de> for AppConfigVisitor {
    type Value = AppConfig;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("struct AppConfig")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<AppConfig, A::Error> {
        let mut ws_url = None;
        let mut auth = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "ws_url" if ws_url.is_some() => return Err(de::Error::duplicate_field("ws_url")),
                "ws_url" => ws_url = Some(map.next_value()?),
                "auth" if auth.is_some() => return Err(de::Error::duplicate_field("auth")),
                "auth" => auth = Some(map.next_value()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(AppConfig {
            ws_url: ws_url.ok_or_else(|| de::Error::missing_field("ws_url"))?,
            auth: auth.ok_or_else(|| de::Error::missing_field("auth"))?,
        })
    }
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

    /// The whole configuration reads as the derived reader reads it, errors and their positions too: each
    /// field missing, given twice, `null`, of another kind, and unknown fields.
    #[test]
    fn app_config_reads_as_the_derived_reader_reads_it() {
        mod derived {
            /// Named as ours, so that its errors name the same struct.
            #[derive(Debug, serde::Deserialize)]
            pub struct AppConfig {
                pub ws_url: String,
                pub auth: super::AuthConfig,
            }
        }
        let auth = r#"{"authorize_url":"a","token_url":"t","revoke_url":"r","logout_url":"l","client_id":"c","scopes":"s"}"#;
        let mut objects = vec![
            format!(r#"{{"ws_url":"wss://x/ws","auth":{auth}}}"#),
            format!(r#"{{"auth":{auth},"ws_url":"wss://x/ws","other":[1,{{}}]}}"#),
            format!(r#"{{"auth":{auth}}}"#),
            r#"{"ws_url":"wss://x/ws"}"#.to_owned(),
            r#"{"ws_url":"wss://x/ws","auth":{}}"#.to_owned(),
            format!(r#"{{"ws_url":"a","ws_url":"b","auth":{auth}}}"#),
            format!(r#"{{"ws_url":"a","auth":{auth},"auth":{auth}}}"#),
            "{}".to_owned(),
            "[]".to_owned(),
            "\"x\"".to_owned(),
            format!(r#"{{"ws_url":"wss://x/ws","auth":{auth}"#),
        ];
        for value in ["null", "5", "true", "[]", "{}", "\"s\""] {
            objects.push(format!(r#"{{"ws_url":{value},"auth":{auth}}}"#));
            objects.push(format!(r#"{{"ws_url":"wss://x/ws","auth":{value}}}"#));
        }
        for json in objects {
            let ours = serde_json::from_str::<AppConfig>(&json).map_err(|e| e.to_string());
            let derived = serde_json::from_str::<derived::AppConfig>(&json)
                .map(|d| AppConfig {
                    ws_url: d.ws_url,
                    auth: d.auth,
                })
                .map_err(|e| e.to_string());
            if json == "[]" {
                // The array form, which nobody sends, is the derived reader's alone.
                assert!(ours.is_err(), "{json}");
                continue;
            }
            assert_eq!(ours, derived, "{json}");
        }
    }

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
        let values = [
            serde_json::json!(null),
            serde_json::json!(5),
            serde_json::json!([{}]),
        ];
        let keys = crate::variants::keys_and_another(&whole);
        for json in crate::variants::object_variants(&whole, &keys, &values, false) {
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
