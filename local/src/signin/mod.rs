//! The local stand-in for Cognito's Hosted UI: `/oauth2/authorize` (a page to pick a display name),
//! `/oauth2/token` (authorization code + PKCE S256, and refresh tokens), `/oauth2/revoke`, `/logout`,
//! `/.well-known/jwks.json`, and the tools-only shortcut `POST /dev/token`. It issues RS256 ID tokens
//! with Cognito's claim shape, which the production verifier ([`lambdas::auth`]) checks. This module
//! exists only in the local gateway; no Lambda links it.
//!
//! # Layout
//! - this file: [`SignIn`] (the signer plus the codes and refresh tokens it handed out), the client id and
//!   token lifetime.
//! - `keys`: the RS256 signing key (generated, or loaded from / created in a PEM file), its `kid`
//!   (derived from the key), the JWKS, and signing.
//! - `tokens`: ID and access token claims and minting, refresh tokens, and what `/oauth2/token` grants
//!   ([`TokenRequest`]) and what `/oauth2/revoke` forgets ([`RevokeRequest`]).
//! - `pkce`: authorization codes and the S256 code challenge that guards each one.
//! - `pages`: the HTML the sign-in serves (the name form, its refusals), escaped, and the
//!   Content-Security-Policy those pages need.
//! - `routes`: the axum handlers ([`authorize_page`], [`authorize_submit`], [`token`], [`revoke`], [`logout`],
//!   [`jwks`], [`dev_token`]), the request rules they enforce (loopback redirects only, display names),
//!   and [`with_sign_in_csp`], which puts the pages' policy on their responses.

mod keys;
mod pages;
mod pkce;
mod routes;
mod tokens;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::jwk::JwkSet;
use rand::RngCore;
use serde::Serialize;

pub use routes::{
    authorize_page, authorize_submit, dev_token, jwks, logout, revoke, token, with_sign_in_csp,
    AuthorizeParams, DevTokenRequest, LogoutParams,
};
pub use tokens::{IdTokenClaims, RevokeRequest, TokenRequest};

/// The app client id the local sign-in knows.
pub const LOCAL_CLIENT_ID: &str = "chatty-local";
/// How long issued tokens live, like Cognito's default.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// The signing key and what tokens must say, plus the codes and refresh tokens handed out.
pub struct SignIn {
    issuer: String,
    key: keys::SigningKey,
    codes: Mutex<HashMap<String, pkce::PendingCode>>,
    /// Refresh token → display name.
    refresh_tokens: Mutex<HashMap<String, String>>,
}

impl SignIn {
    /// A new signer with a fresh 2048-bit RSA key, issuing tokens as `issuer`.
    pub fn generate(issuer: String) -> anyhow::Result<Self> {
        Ok(Self::with_key(issuer, keys::SigningKey::generate()?))
    }

    /// A signer whose key lives in `path` (PKCS#1 PEM), created there (readable by its owner only) if the
    /// file does not exist yet. Tokens it issued stay valid across restarts that keep the file and the
    /// address (the issuer).
    pub fn load_or_create(issuer: String, path: &Path) -> anyhow::Result<Self> {
        Ok(Self::with_key(
            issuer,
            keys::SigningKey::load_or_create(path)?,
        ))
    }

    fn with_key(issuer: String, key: keys::SigningKey) -> Self {
        Self {
            issuer,
            key,
            codes: Mutex::default(),
            refresh_tokens: Mutex::default(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> &JwkSet {
        self.key.jwks()
    }

    /// Signs any claims with the local key (RS256, with its `kid`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        self.key.sign(claims)
    }
}

/// `bytes` random bytes, base64url without padding: codes and refresh tokens.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Locks one of the sign-in's tables; a panic elsewhere while holding it leaves the map usable.
fn lock<T>(table: &Mutex<T>) -> MutexGuard<'_, T> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}
