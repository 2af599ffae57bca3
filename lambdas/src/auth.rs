//! ID-token verification: the authorizer's whole decision, shared by the `$connect` authorizer Lambda and
//! the local gateway. RS256 only, against the issuer's JWKS; `iss`, `aud` (the app client id), `exp` and
//! `nbf` (with a small leeway) and `token_use = id` must all hold. Signature checks are `jsonwebtoken`'s;
//! nothing here parses a signature by hand. Tokens are never logged. The display name the verified token
//! claims is cleaned here ([`protocol::display_name`]), so every path to a `User` gets the same rules.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use protocol::User;
use serde::Deserialize;
use tokio::sync::RwLock;

/// Why a token was refused. Callers answer all of them the same way (401 / Deny); the variant is for logs.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no token")]
    Missing,
    #[error("not a JWT: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    #[error("algorithm {0:?} is not accepted; only RS256 is")]
    Algorithm(Algorithm),
    #[error("no key with this kid in the issuer's JWKS")]
    UnknownKey,
    #[error("token rejected: {0}")]
    Rejected(#[source] jsonwebtoken::errors::Error),
    #[error("token_use is {0:?}, not \"id\"")]
    NotAnIdToken(String),
    #[error("JWKS unavailable: {0}")]
    KeysUnavailable(#[source] crate::ports::BoxError),
}

/// Where the issuer's public keys come from: an HTTPS JWKS endpoint in production, the local sign-in's
/// own keys in local mode.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> Result<JwkSet, AuthError>;
}

/// A fixed key set (the local sign-in's, or a test's).
pub struct StaticKeys(pub JwkSet);

#[async_trait]
impl KeySource for StaticKeys {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        Ok(self.0.clone())
    }
}

/// The claims of an ID token that Chatty reads. Cognito puts the display name in `name` for federated
/// Google users. `email` and `cognito:username` are deliberately not read: an email must never be shown to
/// a room, and a federated username (`Google_<account number>`) names the Google account.
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    token_use: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

/// Settings for [`IdTokenVerifier`].
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The exact `iss`: `https://cognito-idp.<region>.amazonaws.com/<pool id>` on AWS.
    pub issuer: String,
    /// The app client id, which Cognito puts in an ID token's `aud`.
    pub client_id: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two JWKS refreshes caused by unknown `kid`s, so forged tokens cannot make the
    /// verifier hammer the endpoint. The first unknown `kid` after a quiet spell always refreshes, so a
    /// rotated key is picked up at once.
    pub refresh_interval: Duration,
}

impl VerifierConfig {
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            leeway: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(60),
        }
    }
}

/// Verifies ID tokens, caching the JWKS and refreshing it once when a token names an unknown `kid`.
pub struct IdTokenVerifier {
    config: VerifierConfig,
    keys: Box<dyn KeySource>,
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    keys: Option<JwkSet>,
    /// When an unknown `kid` last caused a refresh.
    last_unknown_kid_refresh: Option<Instant>,
}

impl IdTokenVerifier {
    pub fn new(config: VerifierConfig, keys: Box<dyn KeySource>) -> Self {
        Self {
            config,
            keys,
            cache: RwLock::new(Cache::default()),
        }
    }

    /// The user a valid ID token names, or why it is refused. The name is the token's `name` as
    /// [`protocol::display_name`] cleans it (whichever identity provider wrote it), so no direction
    /// override, invisible character or email address reaches a room.
    pub async fn verify(&self, token: &str) -> Result<User, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let header = decode_header(token).map_err(AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Algorithm(header.alg));
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = self.key_for(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let claims = decode::<IdClaims>(token, &key, &validation)
            .map_err(AuthError::Rejected)?
            .claims;
        if claims.token_use != "id" {
            return Err(AuthError::NotAnIdToken(claims.token_use));
        }
        Ok(User {
            name: protocol::display_name(claims.name.as_deref(), &claims.sub),
            id: claims.sub,
            picture: claims.picture,
        })
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        {
            let cache = self.cache.read().await;
            match &cache.keys {
                Some(keys) if keys.find(kid).is_some() => return decoding_key(keys, kid),
                Some(_)
                    if cache
                        .last_unknown_kid_refresh
                        .is_some_and(|at| at.elapsed() < self.config.refresh_interval) =>
                {
                    return Err(AuthError::UnknownKey)
                }
                _ => {}
            }
        }
        let mut cache = self.cache.write().await;
        if cache.keys.is_some() {
            cache.last_unknown_kid_refresh = Some(Instant::now());
        }
        let keys = self.keys.fetch().await?;
        let key = decoding_key(&keys, kid);
        cache.keys = Some(keys);
        key
    }
}

fn decoding_key(set: &JwkSet, kid: &str) -> Result<DecodingKey, AuthError> {
    let jwk = set.find(kid).ok_or(AuthError::UnknownKey)?;
    DecodingKey::from_jwk(jwk).map_err(|e| AuthError::KeysUnavailable(e.into()))
}
