//! What the sign-in mints: ID tokens with Cognito's claim shape for a federated user, access tokens,
//! refresh tokens, the stable `sub` of a display name, and what `POST /oauth2/token` grants for an
//! authorization code (checked by `pkce`) or a refresh token.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{lock, random_token, SignIn, LOCAL_CLIENT_ID, TOKEN_TTL};

/// ID token claims, as Cognito writes them for a federated user.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub token_use: String,
    pub name: String,
    pub email: String,
    #[serde(rename = "cognito:username")]
    pub username: String,
    pub auth_time: i64,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    client_id: &'a str,
    token_use: &'static str,
    scope: &'static str,
    username: &'a str,
    iat: i64,
    exp: i64,
}

/// The form `POST /oauth2/token` takes.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: String,
    client_id: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The form `POST /oauth2/revoke` takes.
#[derive(Debug, Deserialize)]
pub struct RevokeRequest {
    token: String,
    client_id: String,
}

/// What `POST /oauth2/token` answers on success.
#[derive(Debug, Serialize)]
pub(super) struct TokenResponse {
    id_token: String,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    expires_in: u64,
    token_type: &'static str,
}

impl SignIn {
    /// The stable user id for a display name: the same name is the same person across sign-ins, tabs and
    /// restarts (a v5 UUID, the shape of a Cognito `sub`).
    pub fn subject_for(name: &str) -> String {
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("chatty-local:{}", name.to_lowercase()).as_bytes(),
        )
        .to_string()
    }

    /// The claims of a fresh ID token for `name`, valid from now for `ttl`.
    pub fn id_claims(&self, name: &str, ttl: Duration) -> IdTokenClaims {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let slug: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        IdTokenClaims {
            sub: Self::subject_for(name),
            iss: self.issuer.clone(),
            aud: LOCAL_CLIENT_ID.to_owned(),
            token_use: "id".to_owned(),
            name: name.to_owned(),
            email: format!(
                "{}@chatty.local",
                if slug.is_empty() { "user" } else { &slug }
            ),
            username: format!("local_{}", Self::subject_for(name)),
            auth_time: now,
            iat: now,
            exp: now + ttl.as_secs() as i64,
        }
    }

    /// A fresh ID token for `name`.
    pub fn id_token(&self, name: &str) -> String {
        self.sign(&self.id_claims(name, TOKEN_TTL))
    }

    fn access_token(&self, name: &str) -> String {
        let claims = self.id_claims(name, TOKEN_TTL);
        self.sign(&AccessTokenClaims {
            sub: &claims.sub,
            iss: &self.issuer,
            client_id: LOCAL_CLIENT_ID,
            token_use: "access",
            scope: "openid email profile",
            username: &claims.username,
            iat: claims.iat,
            exp: claims.exp,
        })
    }

    /// A new refresh token that keeps `name` signed in.
    fn issue_refresh_token(&self, name: &str) -> String {
        let refresh = random_token(32);
        lock(&self.refresh_tokens).insert(refresh.clone(), name.to_owned());
        refresh
    }

    /// The revocation endpoint's decision: the refresh token is forgotten (whether it was known or not).
    pub(super) fn revoke(&self, request: RevokeRequest) -> Result<(), &'static str> {
        if request.client_id != LOCAL_CLIENT_ID {
            return Err("invalid_client");
        }
        lock(&self.refresh_tokens).remove(&request.token);
        Ok(())
    }

    /// The token endpoint's decision: tokens for a redeemed code (with a new refresh token) or a known
    /// refresh token (without one), or the OAuth error code to answer with.
    pub(super) fn grant(&self, request: TokenRequest) -> Result<TokenResponse, &'static str> {
        if request.client_id != LOCAL_CLIENT_ID {
            return Err("invalid_client");
        }
        let (name, refresh_token) = match request.grant_type.as_str() {
            "authorization_code" => {
                let verifier = request.code_verifier.as_deref().unwrap_or("");
                let name = request
                    .code
                    .as_deref()
                    .and_then(|code| {
                        self.redeem_code(code, request.redirect_uri.as_deref(), verifier)
                    })
                    .ok_or("invalid_grant")?;
                let refresh = self.issue_refresh_token(&name);
                (name, Some(refresh))
            }
            "refresh_token" => {
                let name = request
                    .refresh_token
                    .as_deref()
                    .and_then(|token| lock(&self.refresh_tokens).get(token).cloned())
                    .ok_or("invalid_grant")?;
                (name, None)
            }
            _ => return Err("unsupported_grant_type"),
        };
        Ok(TokenResponse {
            id_token: self.id_token(&name),
            access_token: self.access_token(&name),
            refresh_token,
            expires_in: TOKEN_TTL.as_secs(),
            token_type: "Bearer",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_the_same_person() {
        assert_eq!(SignIn::subject_for("Alice"), SignIn::subject_for("alice"));
        assert_ne!(SignIn::subject_for("alice"), SignIn::subject_for("bob"));
    }
}
