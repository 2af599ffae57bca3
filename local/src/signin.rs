//! The local stand-in for Cognito's Hosted UI: `/oauth2/authorize` (a page to pick a display name),
//! `/oauth2/token` (authorization code + PKCE S256, and refresh tokens), `/logout`,
//! `/.well-known/jwks.json`, and the tools-only shortcut `POST /dev/token`. It issues RS256 ID tokens
//! with Cognito's claim shape, which the production verifier ([`lambdas::auth`]) checks. This module
//! exists only in the local gateway; no Lambda links it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::{
    extract::{Query, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    Form, Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{
    jwk::{
        AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
        RSAKeyParameters,
    },
    Algorithm, EncodingKey, Header,
};
use rand::RngCore;
use rsa::{
    pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding},
    traits::PublicKeyParts,
    RsaPrivateKey,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;

/// The app client id the local sign-in knows.
pub const LOCAL_CLIENT_ID: &str = "chatty-local";
/// How long issued tokens live, like Cognito's default.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
const CODE_TTL: Duration = Duration::from_secs(300);

/// The signing key and what tokens must say, plus the codes and refresh tokens handed out.
pub struct SignIn {
    issuer: String,
    kid: String,
    encoding_key: EncodingKey,
    jwks: JwkSet,
    codes: Mutex<HashMap<String, PendingCode>>,
    refresh_tokens: Mutex<HashMap<String, String>>,
}

struct PendingCode {
    name: String,
    redirect_uri: String,
    code_challenge: String,
    issued: Instant,
}

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

impl SignIn {
    /// A new signer with a fresh 2048-bit RSA key, issuing tokens as `issuer`.
    pub fn generate(issuer: String) -> anyhow::Result<Self> {
        Self::with_key(issuer, &RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?)
    }

    /// A signer whose key lives in `path` (PKCS#1 PEM), created there (readable by its owner only) if the
    /// file does not exist yet. Tokens it issued stay valid across restarts that keep the file and the
    /// address (the issuer).
    pub fn load_or_create(issuer: String, path: &Path) -> anyhow::Result<Self> {
        let key = match std::fs::read_to_string(path) {
            Ok(pem) => RsaPrivateKey::from_pkcs1_pem(&pem)
                .with_context(|| format!("{} is not a PKCS#1 PEM RSA key", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?;
                write_private(path, key.to_pkcs1_pem(LineEnding::LF)?.as_bytes())?;
                key
            }
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        Self::with_key(issuer, &key)
    }

    fn with_key(issuer: String, key: &RsaPrivateKey) -> anyhow::Result<Self> {
        let der = key.to_pkcs1_der()?;
        let n = key.n().to_bytes_be();
        // Named after the key itself, so a signer reloaded from the same file serves the same `kid`.
        let kid = format!(
            "local-{}",
            &URL_SAFE_NO_PAD.encode(Sha256::digest(&n))[..12]
        );
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_id: Some(kid.clone()),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: Default::default(),
                n: URL_SAFE_NO_PAD.encode(n),
                e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            }),
        };
        Ok(Self {
            issuer,
            kid,
            encoding_key: EncodingKey::from_rsa_der(der.as_bytes()),
            jwks: JwkSet { keys: vec![jwk] },
            codes: Mutex::default(),
            refresh_tokens: Mutex::default(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

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

    /// Signs any claims with the local key (RS256, with its `kid`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
            .expect("RS256 signing with a valid key")
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
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The display name rules of the local sign-in: 1 to 32 characters after trimming, no control characters.
fn clean_name(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= 32 && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}

/// Only loopback pages may receive codes: the local sign-in must not become an open redirect.
fn allowed_redirect(uri: &str) -> bool {
    [
        "http://127.0.0.1:",
        "http://localhost:",
        "http://127.0.0.1/",
        "http://localhost/",
    ]
    .iter()
    .any(|prefix| uri.starts_with(prefix))
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An OAuth error response, as Cognito shapes them.
fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

/// Writes a new file that only its owner can read, creating its folder.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating {}", folder.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .with_context(|| format!("writing {}", path.display()))
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeParams {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    state: Option<String>,
    code_challenge: String,
    code_challenge_method: String,
    #[serde(default)]
    name: Option<String>,
}

impl AuthorizeParams {
    fn check(&self) -> Result<(), &'static str> {
        if self.response_type != "code" {
            return Err("unsupported_response_type");
        }
        if self.client_id != LOCAL_CLIENT_ID {
            return Err("invalid_client");
        }
        if !allowed_redirect(&self.redirect_uri) {
            return Err("invalid_request: redirect_uri must be a loopback URL");
        }
        if self.code_challenge_method != "S256" || self.code_challenge.len() < 43 {
            return Err("invalid_request: PKCE with S256 is required");
        }
        Ok(())
    }
}

/// `GET /oauth2/authorize`: the sign-in page, carrying the request's parameters to the form post.
pub async fn authorize_page(Query(params): Query<AuthorizeParams>) -> Response {
    if let Err(error) = params.check() {
        return (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<p>Sign-in request refused: {}</p>",
                escape_html(error)
            )),
        )
            .into_response();
    }
    let hidden = [
        ("response_type", params.response_type.as_str()),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("state", params.state.as_deref().unwrap_or("")),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
    ]
    .iter()
    .map(|(k, v)| {
        format!(
            r#"<input type="hidden" name="{k}" value="{}">"#,
            escape_html(v)
        )
    })
    .collect::<String>();
    Html(include_str!("signin.html").replace("{{hidden}}", &hidden)).into_response()
}

/// `POST /oauth2/authorize`: the person chose a name; hand the app a one-time code.
pub async fn authorize_submit(
    State(app): State<AppState>,
    Form(params): Form<AuthorizeParams>,
) -> Response {
    if let Err(error) = params.check() {
        return oauth_error(StatusCode::BAD_REQUEST, error);
    }
    let Some(name) = params.name.as_deref().and_then(clean_name) else {
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>Choose a display name of 1 to 32 characters.</p>"),
        )
            .into_response();
    };
    let code = random_token(24);
    app.signin
        .codes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            code.clone(),
            PendingCode {
                name,
                redirect_uri: params.redirect_uri.clone(),
                code_challenge: params.code_challenge,
                issued: Instant::now(),
            },
        );
    let separator = if params.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut target = format!("{}{separator}code={code}", params.redirect_uri);
    if let Some(state) = params.state.filter(|s| !s.is_empty()) {
        target.push_str("&state=");
        target.push_str(&urlencode(&state));
    }
    Redirect::to(&target).into_response()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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

#[derive(Debug, Serialize)]
struct TokenResponse {
    id_token: String,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    expires_in: u64,
    token_type: &'static str,
}

/// `POST /oauth2/token`: exchanges a code (checking the PKCE verifier) or a refresh token for tokens.
pub async fn token(State(app): State<AppState>, Form(request): Form<TokenRequest>) -> Response {
    let signin = &app.signin;
    if request.client_id != LOCAL_CLIENT_ID {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    }
    let (name, refresh_token) = match request.grant_type.as_str() {
        "authorization_code" => {
            let pending = request.code.as_deref().and_then(|code| {
                signin
                    .codes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(code)
            });
            let Some(pending) = pending else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = request.code_verifier.as_deref().unwrap_or("");
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if pending.issued.elapsed() > CODE_TTL
                || request.redirect_uri.as_deref() != Some(pending.redirect_uri.as_str())
                || challenge != pending.code_challenge
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let refresh = random_token(32);
            signin
                .refresh_tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(refresh.clone(), pending.name.clone());
            (pending.name, Some(refresh))
        }
        "refresh_token" => {
            let name = request.refresh_token.as_deref().and_then(|token| {
                signin
                    .refresh_tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(token)
                    .cloned()
            });
            match name {
                Some(name) => (name, None),
                None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(TokenResponse {
            id_token: signin.id_token(&name),
            access_token: signin.access_token(&name),
            refresh_token,
            expires_in: TOKEN_TTL.as_secs(),
            token_type: "Bearer",
        }),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct LogoutParams {
    #[serde(default)]
    logout_uri: Option<String>,
}

/// `GET /logout`: back to the app, like Cognito's logout endpoint.
pub async fn logout(Query(params): Query<LogoutParams>) -> Response {
    match params.logout_uri.filter(|uri| allowed_redirect(uri)) {
        Some(uri) => Redirect::to(&uri).into_response(),
        None => Redirect::to("/").into_response(),
    }
}

/// `GET /.well-known/jwks.json`
pub async fn jwks(State(app): State<AppState>) -> Json<JwkSet> {
    Json(app.signin.jwks().clone())
}

#[derive(Debug, Deserialize)]
pub struct DevTokenRequest {
    name: String,
}

/// `POST /dev/token` `{"name":"alice"}` → `{"id_token":"…"}`: a token without the browser dance, for
/// tools and tests. Local only.
pub async fn dev_token(
    State(app): State<AppState>,
    Json(request): Json<DevTokenRequest>,
) -> Response {
    match clean_name(&request.name) {
        Some(name) => {
            Json(serde_json::json!({ "id_token": app.signin.id_token(&name) })).into_response()
        }
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request: name must be 1 to 32 characters",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  alice "), Some("alice".into()));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name(&"x".repeat(33)), None);
        assert_eq!(clean_name("a\u{7}b"), None);
    }

    #[test]
    fn only_loopback_redirects_are_allowed() {
        assert!(allowed_redirect("http://127.0.0.1:8080/auth/callback"));
        assert!(allowed_redirect("http://localhost:3000/auth/callback"));
        assert!(!allowed_redirect("https://evil.example/auth/callback"));
        assert!(!allowed_redirect("http://127.0.0.1.evil.example/"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_same_name_is_the_same_person() {
        assert_eq!(SignIn::subject_for("Alice"), SignIn::subject_for("alice"));
        assert_ne!(SignIn::subject_for("alice"), SignIn::subject_for("bob"));
    }
}
