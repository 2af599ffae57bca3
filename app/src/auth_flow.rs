//! The browser half of sign-in, shared as the [`Auth`] context: sending the person to the authorize
//! page, finishing on the callback route, refreshing the ID token before it expires, and signing out
//! (the refresh token revoked at `/oauth2/revoke`, then the identity provider's `/logout`).
//!
//! Storage decision: the session (ID and refresh tokens) lives in `sessionStorage`, never in
//! `localStorage`. It survives a reload of the tab, which a chat needs, but ends with the tab, is not
//! shared with other tabs, and is not left on disk for later; an XSS bug could read it either way, which
//! is why the app never renders message text as HTML. Each tab signs in on its own (the Hosted UI's own
//! cookie makes that a click).

use futures::FutureExt;
use leptos::prelude::*;
use protocol::AppConfig;

use crate::{
    auth::{self, AuthError, OAuthRefusal, PendingSignIn, Pkce, Session, TokenResponse},
    http,
    storage::{self, Area},
    ws::Credentials,
};

const SESSION_KEY: &str = "chatty.session";
const PENDING_KEY: &str = "chatty.sign-in";

/// The app's configuration and the current session, provided as context.
#[derive(Clone, Copy)]
pub struct Auth {
    pub config: StoredValue<AppConfig>,
    pub session: RwSignal<Option<Session>>,
}

impl Auth {
    /// Starts with the session this tab kept, if any.
    pub fn new(config: AppConfig) -> Self {
        Self {
            config: StoredValue::new(config),
            session: RwSignal::new(storage::load(Area::Session, SESSION_KEY)),
        }
    }

    /// Leaves for the authorize page; the callback returns to `return_to`.
    pub fn sign_in(&self, return_to: &str) {
        let pkce = Pkce::from_random(&random_bytes());
        let pending = PendingSignIn {
            state: auth::state_from_random(&random_bytes()),
            verifier: pkce.verifier.clone(),
            return_to: return_to.to_owned(),
        };
        storage::save(Area::Session, PENDING_KEY, &pending);
        let url = self.config.with_value(|c| {
            auth::authorize_url(&c.auth, &redirect_uri(), &pending.state, &pkce.challenge)
        });
        go_to(&url);
    }

    /// Finishes the sign-in on the callback route: checks `state`, trades the code for tokens and keeps
    /// the session. Returns the path to go back to.
    pub async fn finish_sign_in(
        &self,
        code: Option<String>,
        state: Option<String>,
        error: Option<String>,
    ) -> Result<String, AuthError> {
        if let Some(error) = error {
            return Err(AuthError::Denied(error));
        }
        let pending: PendingSignIn =
            storage::load(Area::Session, PENDING_KEY).ok_or(AuthError::StateMismatch)?;
        if state.as_deref() != Some(pending.state.as_str()) {
            return Err(AuthError::StateMismatch);
        }
        let code = code.ok_or_else(|| AuthError::Denied("no code".into()))?;
        let (token_url, body) = self.config.with_value(|c| {
            (
                c.auth.token_url.clone(),
                auth::code_exchange_body(&c.auth, &code, &redirect_uri(), &pending.verifier),
            )
        });
        let tokens = post_token(&token_url, body).await?;
        storage::remove(Area::Session, PENDING_KEY);
        self.keep(Session::from_tokens(tokens, None)?);
        Ok(pending.return_to)
    }

    /// An ID token good for a while: the current one, or a refreshed one when it is close to expiry (or
    /// `force` is set). `None` once the session is over (refused refresh, or no session).
    pub async fn credentials(self, force: bool) -> Option<Credentials> {
        let session = self.session.get_untracked()?;
        let now = js_sys::Date::now();
        let session = if force || session.needs_refresh(now) {
            match self.refresh(&session).await {
                Ok(fresh) => fresh,
                // The token endpoint is unreachable (often the whole server is): keep the session and
                // try with the token we have; if the server refuses it, the connection loop backs
                // off and asks again, until the endpoint answers one way or the other.
                Err(AuthError::Network(_)) => session,
                Err(_) => {
                    self.forget();
                    return None;
                }
            }
        } else {
            session
        };
        Some(Credentials {
            id_token: session.id_token,
            expires_at_ms: session.expires_at_ms as f64,
        })
    }

    /// The same, boxed for [`crate::ws::run`].
    pub fn credentials_boxed(
        self,
        force: bool,
    ) -> futures::future::LocalBoxFuture<'static, Option<Credentials>> {
        self.credentials(force).boxed_local()
    }

    async fn refresh(&self, session: &Session) -> Result<Session, AuthError> {
        let refresh_token = session
            .refresh_token
            .clone()
            .ok_or_else(|| AuthError::Rejected("no refresh token".into()))?;
        let (token_url, body) = self.config.with_value(|c| {
            (
                c.auth.token_url.clone(),
                auth::refresh_body(&c.auth, &refresh_token),
            )
        });
        let tokens = post_token(&token_url, body).await?;
        let fresh = Session::from_tokens(tokens, Some(refresh_token))?;
        self.keep(fresh.clone());
        Ok(fresh)
    }

    /// Ends the session here and at the identity provider: the refresh token is revoked (so a copy of it
    /// is worth nothing), then the provider's `/logout` ends its own session and sends the browser back to
    /// `/`. A revocation that fails (offline) does not keep the person signed in here.
    pub fn sign_out(&self) {
        let refresh_token = self
            .session
            .with_untracked(|s| s.as_ref().and_then(|s| s.refresh_token.clone()));
        self.forget();
        let (revoke_url, logout_url) = self.config.with_value(|c| {
            (
                c.auth.revoke_url.clone(),
                auth::logout_url(&c.auth, &format!("{}/", origin())),
            )
        });
        let body = refresh_token.map(|token| {
            self.config
                .with_value(|c| auth::revoke_body(&c.auth, &token))
        });
        leptos::task::spawn_local(async move {
            if let Some(body) = body {
                if let Err(error) = post_form(&revoke_url, body).await {
                    leptos::logging::warn!("revoking the refresh token failed: {error}");
                }
            }
            go_to(&logout_url);
        });
    }

    fn keep(&self, session: Session) {
        storage::save(Area::Session, SESSION_KEY, &session);
        self.session.set(Some(session));
    }

    fn forget(&self) {
        storage::remove(Area::Session, SESSION_KEY);
        self.session.set(None);
    }
}

/// POSTs a form to the token endpoint and reads the tokens.
async fn post_token(url: &str, body: String) -> Result<TokenResponse, AuthError> {
    let response = post_form(url, body).await?;
    serde_json::from_str(&response.text).map_err(|_| AuthError::MalformedToken)
}

/// POSTs a form to one of the provider's OAuth endpoints; a refusal comes back with its OAuth `error`.
async fn post_form(url: &str, body: String) -> Result<http::Reply, AuthError> {
    let response = http::post_form(url, &body)
        .await
        .map_err(AuthError::Network)?;
    if response.status >= 500 {
        return Err(AuthError::Network(format!("HTTP {}", response.status)));
    }
    if !response.ok() {
        let reason = serde_json::from_str::<OAuthRefusal>(&response.text)
            .map(|refusal| refusal.error)
            .unwrap_or_else(|_| format!("HTTP {}", response.status));
        return Err(AuthError::Rejected(reason));
    }
    Ok(response)
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn redirect_uri() -> String {
    format!("{}/auth/callback", origin())
}

fn go_to(url: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(url);
    }
}

/// 32 bytes from the browser's cryptographic generator.
fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    }
    bytes
}
