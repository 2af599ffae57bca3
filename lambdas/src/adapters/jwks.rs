//! The production [`KeySource`]: the issuer's JWKS fetched over HTTPS (rustls on ring). Cognito publishes
//! it at `<iss>/.well-known/jwks.json`; the URL is configuration so an emulator that serves it elsewhere
//! (moto: `/{pool id}/.well-known/jwks.json` on its own host) can be used. The verifier caches the set.

use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;

use crate::auth::{AuthError, KeySource};

/// Fetches a JWKS from a URL.
#[derive(Debug, Clone)]
pub struct HttpKeySource {
    client: reqwest::Client,
    url: String,
}

/// Where an issuer publishes its keys by default: `<iss>/.well-known/jwks.json`.
pub fn default_jwks_url(issuer: &str) -> String {
    format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
}

impl HttpKeySource {
    pub fn new(url: impl Into<String>) -> Result<Self, AuthError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AuthError::KeysUnavailable(e.into()))?;
        Ok(Self {
            client,
            url: url.into(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let unavailable = |e: reqwest::Error| AuthError::KeysUnavailable(e.into());
        self.client
            .get(&self.url)
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)
    }
}
