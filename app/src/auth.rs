//! The pure half of sign-in: OAuth 2.0 authorization code + PKCE (RFC 7636, S256) against Cognito's
//! Hosted UI or the local stand-in, the token endpoint's request bodies and answers, and the session the
//! app keeps. No browser calls here (see `auth_flow` for redirects, storage and HTTP), so all of it is
//! tested natively.
//!
//! Tokens are kept in `sessionStorage` (see `auth_flow`): they survive a reload of the tab, but not the
//! tab itself, are never shared with other tabs, and are not written to long-lived storage, so a
//! refresh token does not outlive the browsing session that earned it.

use protocol::flat::{Fields, FromFields};
use protocol::AuthConfig;
use serde::{de, Deserialize, Deserializer, Serialize};

use protocol::sha256;

use crate::base64url;

/// Refresh the ID token when it has less than this left, so a WebSocket opened with it is never refused.
pub const REFRESH_MARGIN_MS: f64 = 5.0 * 60.0 * 1000.0;

/// A PKCE pair: the verifier stays in the tab, the challenge goes to the authorize endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// Builds the pair from 32 random bytes: the verifier is their base64url text (43 characters, within
    /// RFC 7636's 43–128), the challenge `BASE64URL(SHA256(verifier))`.
    pub fn from_random(random: &[u8; 32]) -> Self {
        let verifier = state_from_random(random);
        let challenge = challenge_for(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

/// An unguessable value from 32 random bytes (base64url): the `state` of an authorize request, and the
/// PKCE verifier.
pub fn state_from_random(random: &[u8; 32]) -> String {
    base64url::encode(random)
}

/// The S256 code challenge for a verifier.
pub fn challenge_for(verifier: &str) -> String {
    base64url::encode(&sha256::digest(verifier.as_bytes()))
}

/// What the tab remembers between leaving for the authorize page and coming back to the callback. This
/// module's types are read as flat objects ([`protocol::flat`]), each as its derived reader would (tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingSignIn {
    /// Echoed back by the authorize endpoint; a callback with another value is refused (CSRF).
    pub state: String,
    pub verifier: String,
    /// The app path to return to after signing in.
    pub return_to: String,
}

/// The authorize URL that starts the sign-in. With `identity_provider` set (`Google` on AWS), Cognito
/// skips its own page and goes straight to that provider.
pub fn authorize_url(
    config: &AuthConfig,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", &config.client_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("scope", &config.scopes),
    ];
    if let Some(provider) = &config.identity_provider {
        pairs.push(("identity_provider", provider));
    }
    with_query(&config.authorize_url, &form(&pairs))
}

/// The form body that trades an authorization code for tokens.
pub fn code_exchange_body(
    config: &AuthConfig,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> String {
    form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &config.client_id),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ])
}

/// The form body that trades a refresh token for a new ID token.
pub fn refresh_body(config: &AuthConfig, refresh_token: &str) -> String {
    form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &config.client_id),
        ("refresh_token", refresh_token),
    ])
}

/// The form that revokes a refresh token at `/oauth2/revoke` (a public client: no secret).
pub fn revoke_body(config: &AuthConfig, refresh_token: &str) -> String {
    form(&[("token", refresh_token), ("client_id", &config.client_id)])
}

/// Cognito's `/logout`: ends the Hosted UI's own session too, then returns to `logout_uri`.
pub fn logout_url(config: &AuthConfig, logout_uri: &str) -> String {
    let query = form(&[("client_id", &config.client_id), ("logout_uri", logout_uri)]);
    with_query(&config.logout_url, &query)
}

fn with_query(url: &str, query: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}{query}")
}

/// `pairs` as `application/x-www-form-urlencoded` text, byte for byte as the `form_urlencoded` crate's
/// `Serializer` writes it (the tests hold it to that crate): written out here, without the crate's
/// table of every byte's escape, for a smaller download (app/README.md, "Size").
fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape(&mut out, key);
        out.push('=');
        form_escape(&mut out, value);
    }
    out
}

/// Appends `text` to `out` as the URL standard's form serializer writes it: ASCII letters, digits and
/// `*-._` as they are, a space as `+`, every other byte of its UTF-8 as `%XX` (upper-case hex).
fn form_escape(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
            }
        }
    }
}

/// The token endpoint's answer. A refresh answers without `refresh_token` (Cognito keeps the old one).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub id_token: String,
    pub refresh_token: Option<String>,
}

/// A refusal from one of the provider's OAuth endpoints (RFC 6749, 5.2): only its `error` code is shown.
#[derive(Debug, Clone)]
pub struct OAuthRefusal {
    pub error: String,
}

/// The ID token claims the app reads. The browser does not verify the signature (the server does on
/// every connection); it only needs the name to show and the expiry to plan refreshes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `cognito:username`.
    pub username: Option<String>,
    pub picture: Option<String>,
    /// Seconds since the epoch.
    pub exp: u64,
}

impl FromFields for PendingSignIn {
    const EXPECTING: &'static str = "struct PendingSignIn";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            state: fields.text("state")?,
            verifier: fields.text("verifier")?,
            return_to: fields.text("return_to")?,
        })
    }
}

impl FromFields for TokenResponse {
    const EXPECTING: &'static str = "struct TokenResponse";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            id_token: fields.text("id_token")?,
            refresh_token: fields.optional_text("refresh_token")?,
        })
    }
}

impl FromFields for OAuthRefusal {
    const EXPECTING: &'static str = "struct OAuthRefusal";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            error: fields.text("error")?,
        })
    }
}

impl FromFields for Claims {
    const EXPECTING: &'static str = "struct Claims";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            sub: fields.text("sub")?,
            name: fields.optional_text("name")?,
            email: fields.optional_text("email")?,
            username: fields.optional_text("cognito:username")?,
            picture: fields.optional_text("picture")?,
            exp: fields.number("exp")?,
        })
    }
}

impl FromFields for Session {
    const EXPECTING: &'static str = "struct Session";

    fn from_fields<E: de::Error>(mut fields: Fields) -> Result<Self, E> {
        Ok(Self {
            id_token: fields.text("id_token")?,
            refresh_token: fields.optional_text("refresh_token")?,
            sub: fields.text("sub")?,
            name: fields.text("name")?,
            picture: fields.optional_text("picture")?,
            expires_at_ms: fields.number("expires_at_ms")?,
        })
    }
}

/// Each of this module's types is read as a flat object.
macro_rules! read_flat {
    ($($name:ident),*) => {$(
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                protocol::flat::deserialize(deserializer)
            }
        }
    )*};
}

read_flat!(PendingSignIn, TokenResponse, OAuthRefusal, Claims, Session);

impl Claims {
    /// Reads the payload (second part) of a JWT.
    pub fn decode(jwt: &str) -> Result<Self, AuthError> {
        let payload = jwt.split('.').nth(1).ok_or(AuthError::MalformedToken)?;
        let bytes =
            base64url::decode(payload.trim_end_matches('=')).ok_or(AuthError::MalformedToken)?;
        // Read as text, like every other JSON the app reads: one copy of serde_json's parser in the app.
        let text = String::from_utf8(bytes).map_err(|_| AuthError::MalformedToken)?;
        serde_json::from_str(&text).map_err(|_| AuthError::MalformedToken)
    }

    /// The name to show: the same order the server uses (`name`, else `email`, else the username).
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.email.clone())
            .or_else(|| self.username.clone())
            .unwrap_or_else(|| "you".to_owned())
    }
}

/// Why signing in or refreshing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The token endpoint sent something that is not a JWT we can read.
    MalformedToken,
    /// The callback's `state` is not the one this tab sent (or the tab has no sign-in under way).
    StateMismatch,
    /// The authorize endpoint answered with an error (e.g. the person cancelled).
    Denied(String),
    /// The token endpoint refused the code or the refresh token: the session is over.
    Rejected(String),
    /// The token endpoint could not be reached; worth retrying.
    Network(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MalformedToken => {
                f.write_str("The sign-in service sent a token this app cannot read.")
            }
            Self::StateMismatch => f.write_str(
                "This sign-in link is stale or was not started here. Please sign in again.",
            ),
            Self::Denied(why) => write!(f, "Sign-in was not completed ({why})."),
            Self::Rejected(why) => write!(f, "The sign-in service refused the request ({why})."),
            Self::Network(why) => write!(f, "Could not reach the sign-in service ({why})."),
        }
    }
}

/// A signed-in person's tokens and who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id_token: String,
    pub refresh_token: Option<String>,
    pub sub: String,
    pub name: String,
    pub picture: Option<String>,
    /// When the ID token expires, in milliseconds since the epoch.
    pub expires_at_ms: u64,
}

impl Session {
    /// Builds a session from a token answer; a refresh answer keeps the previous refresh token.
    pub fn from_tokens(
        tokens: TokenResponse,
        previous_refresh: Option<String>,
    ) -> Result<Self, AuthError> {
        let claims = Claims::decode(&tokens.id_token)?;
        Ok(Self {
            name: claims.display_name(),
            sub: claims.sub,
            picture: claims.picture,
            expires_at_ms: claims.exp.saturating_mul(1000),
            id_token: tokens.id_token,
            refresh_token: tokens.refresh_token.or(previous_refresh),
        })
    }

    /// The ID token expires within [`REFRESH_MARGIN_MS`] (or already has).
    pub fn needs_refresh(&self, now_ms: f64) -> bool {
        (self.expires_at_ms as f64) - now_ms < REFRESH_MARGIN_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            authorize_url: "https://auth.example.com/oauth2/authorize".into(),
            token_url: "https://auth.example.com/oauth2/token".into(),
            revoke_url: "https://auth.example.com/oauth2/revoke".into(),
            logout_url: "https://auth.example.com/logout".into(),
            client_id: "abc123".into(),
            identity_provider: Some("Google".into()),
            scopes: "openid email profile".into(),
        }
    }

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            base64url::encode(payload.as_bytes())
        )
    }

    /// RFC 7636 appendix B: the published random octets, verifier and S256 challenge.
    #[test]
    fn pkce_matches_the_rfc_example() {
        let octets = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let pkce = Pkce::from_random(&octets);
        assert_eq!(pkce.verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_is_43_unreserved_characters_and_pairs_with_its_challenge() {
        let pkce = Pkce::from_random(&[0xAB; 32]);
        assert_eq!(pkce.verifier.len(), 43);
        assert!(pkce
            .verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(pkce.challenge, challenge_for(&pkce.verifier));
        assert_ne!(Pkce::from_random(&[1; 32]).verifier, pkce.verifier);
    }

    #[test]
    fn authorize_url_carries_every_parameter_encoded() {
        let url = authorize_url(
            &config(),
            "https://chat.example.com/auth/callback",
            "st&ate",
            "chal",
        );
        assert!(url.starts_with("https://auth.example.com/oauth2/authorize?response_type=code&"));
        for part in [
            "client_id=abc123",
            "redirect_uri=https%3A%2F%2Fchat.example.com%2Fauth%2Fcallback",
            "state=st%26ate",
            "code_challenge=chal",
            "code_challenge_method=S256",
            "scope=openid+email+profile",
            "identity_provider=Google",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        let local = AuthConfig {
            identity_provider: None,
            ..config()
        };
        assert!(!authorize_url(&local, "r", "s", "c").contains("identity_provider"));
    }

    #[test]
    fn token_bodies_are_form_encoded() {
        assert_eq!(
            code_exchange_body(&config(), "c/1", "https://x/cb", "v"),
            "grant_type=authorization_code&client_id=abc123&code=c%2F1&redirect_uri=https%3A%2F%2Fx%2Fcb&code_verifier=v"
        );
        assert_eq!(
            refresh_body(&config(), "r+t"),
            "grant_type=refresh_token&client_id=abc123&refresh_token=r%2Bt"
        );
        assert_eq!(
            revoke_body(&config(), "r+t"),
            "token=r%2Bt&client_id=abc123"
        );
        assert_eq!(
            logout_url(&config(), "https://chat.example.com/"),
            "https://auth.example.com/logout?client_id=abc123&logout_uri=https%3A%2F%2Fchat.example.com%2F"
        );
    }

    /// The written-out form encoder writes what `form_urlencoded::Serializer` does: every byte value alone and
    /// amid others, multi-byte characters, spaces, the reserved characters, empty keys and values, and
    /// any number of pairs.
    #[test]
    fn form_matches_the_form_urlencoded_crate() {
        let mut texts: Vec<String> = (0..=0x7f_u8).map(|b| char::from(b).to_string()).collect();
        texts.extend(
            [
                "",
                "a b",
                "  ",
                "x=y&z",
                "100% + 1",
                "é",
                "日本",
                "🎉 party",
                "\u{0}\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}",
                "https://chat.example.com/auth/callback?x=1#frag",
                "*-._~!'()",
            ]
            .map(String::from),
        );
        for (i, key) in texts.iter().enumerate() {
            for value in texts.iter().skip(i % 7).step_by(7) {
                let theirs = form_urlencoded::Serializer::new(String::new())
                    .append_pair(key, value)
                    .finish();
                assert_eq!(form(&[(key, value)]), theirs, "{key:?}={value:?}");
            }
        }
        for count in 0..4 {
            let pairs: Vec<(&str, &str)> = texts
                .iter()
                .rev()
                .take(count * 2)
                .collect::<Vec<_>>()
                .chunks(2)
                .map(|pair| (pair[0].as_str(), pair[1].as_str()))
                .collect();
            let mut theirs = form_urlencoded::Serializer::new(String::new());
            for (key, value) in &pairs {
                theirs.append_pair(key, value);
            }
            assert_eq!(form(&pairs), theirs.finish(), "{pairs:?}");
        }
    }

    /// Every variant of `whole`: each key (and an unknown one) missing, and set to a value of every kind.
    fn variants(whole: serde_json::Value) -> Vec<String> {
        let values = [
            serde_json::json!(null),
            serde_json::json!("text"),
            serde_json::json!(5),
            serde_json::json!(-5),
            serde_json::json!(1.5),
            serde_json::json!(true),
            serde_json::json!([1, {"a": []}]),
            serde_json::json!({"a": [1]}),
        ];
        let keys = protocol::variants::keys_and_another(&whole);
        let mut objects = protocol::variants::object_variants(&whole, &keys, &values, false);
        objects.extend(["{}", "[]", "null", "7"].map(String::from));
        objects
    }

    /// `Ours` reads what `Derived` reads, and refuses what it refuses, from every variant of `whole`.
    fn agree<Ours, Derived, Value>(
        whole: serde_json::Value,
        ours: fn(Ours) -> Value,
        derived: fn(Derived) -> Value,
    ) where
        Ours: serde::de::DeserializeOwned,
        Derived: serde::de::DeserializeOwned,
        Value: PartialEq + std::fmt::Debug,
    {
        for json in variants(whole) {
            assert_eq!(
                serde_json::from_str::<Ours>(&json).map(ours).ok(),
                serde_json::from_str::<Derived>(&json).map(derived).ok(),
                "{json}"
            );
        }
    }

    /// The sign-in's types, read as flat objects, read what their derived readers read.
    #[test]
    fn sign_in_types_read_as_derived_readers_do() {
        #[derive(Deserialize)]
        struct DerivedClaims {
            sub: String,
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            email: Option<String>,
            #[serde(default, rename = "cognito:username")]
            username: Option<String>,
            #[serde(default)]
            picture: Option<String>,
            exp: u64,
        }
        agree(
            serde_json::json!({"sub": "u-1", "name": "Ada", "email": "a@x", "cognito:username": "google_1",
                "picture": "https://x/a.png", "exp": 1_700_000_000_u64, "email_verified": true,
                "identities": [{"providerName": "Google"}], "aud": "abc"}),
            |c: Claims| (c.sub, c.name, c.email, c.username, c.picture, c.exp),
            |c: DerivedClaims| (c.sub, c.name, c.email, c.username, c.picture, c.exp),
        );
        #[derive(Deserialize)]
        struct DerivedSession {
            id_token: String,
            refresh_token: Option<String>,
            sub: String,
            name: String,
            picture: Option<String>,
            expires_at_ms: u64,
        }
        agree(
            serde_json::json!({"id_token": "t", "refresh_token": "r", "sub": "u", "name": "Ada",
                "picture": "p", "expires_at_ms": 1_700_000_000_000_u64}),
            |s: Session| {
                (
                    s.id_token,
                    s.refresh_token,
                    s.sub,
                    s.name,
                    s.picture,
                    s.expires_at_ms,
                )
            },
            |s: DerivedSession| {
                (
                    s.id_token,
                    s.refresh_token,
                    s.sub,
                    s.name,
                    s.picture,
                    s.expires_at_ms,
                )
            },
        );
        #[derive(Deserialize)]
        struct DerivedPending {
            state: String,
            verifier: String,
            return_to: String,
        }
        agree(
            serde_json::json!({"state": "s", "verifier": "v", "return_to": "/rooms/general"}),
            |p: PendingSignIn| (p.state, p.verifier, p.return_to),
            |p: DerivedPending| (p.state, p.verifier, p.return_to),
        );
        #[derive(Deserialize)]
        struct DerivedTokens {
            id_token: String,
            #[serde(default)]
            refresh_token: Option<String>,
        }
        agree(
            serde_json::json!({"id_token": "t", "refresh_token": "r", "access_token": "a",
                "expires_in": 3600, "token_type": "Bearer"}),
            |t: TokenResponse| (t.id_token, t.refresh_token),
            |t: DerivedTokens| (t.id_token, t.refresh_token),
        );
        #[derive(Deserialize)]
        struct DerivedRefusal {
            error: String,
        }
        agree(
            serde_json::json!({"error": "invalid_grant", "error_description": "expired"}),
            |r: OAuthRefusal| r.error,
            |r: DerivedRefusal| r.error,
        );
    }

    /// A session saved by this build reads back as itself.
    #[test]
    fn a_saved_session_reads_back() {
        let session = Session {
            id_token: "t".into(),
            refresh_token: None,
            sub: "u".into(),
            name: "Ada \"A\"".into(),
            picture: Some("p".into()),
            expires_at_ms: u64::MAX,
        };
        let json = serde_json::to_string(&session).unwrap();
        assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), session);
    }

    #[test]
    fn claims_are_read_from_the_payload() {
        let token = jwt(
            r#"{"sub":"u-1","name":"Ada","email":"ada@example.com","exp":1700000000,"token_use":"id"}"#,
        );
        let claims = Claims::decode(&token).unwrap();
        assert_eq!(claims.sub, "u-1");
        assert_eq!(claims.display_name(), "Ada");
        let email_only = Claims::decode(&jwt(r#"{"sub":"u","email":"e@x","exp":1}"#)).unwrap();
        assert_eq!(email_only.display_name(), "e@x");
        for bad in ["", "abc", "a.!!!.c", &jwt("not json")] {
            assert_eq!(Claims::decode(bad), Err(AuthError::MalformedToken), "{bad}");
        }
    }

    #[test]
    fn a_refresh_keeps_the_old_refresh_token_and_tracks_the_new_expiry() {
        let first = Session::from_tokens(
            TokenResponse {
                id_token: jwt(r#"{"sub":"u","name":"Ada","exp":1000}"#),
                refresh_token: Some("r1".into()),
            },
            None,
        )
        .unwrap();
        assert_eq!(first.expires_at_ms, 1_000_000);
        let refreshed = Session::from_tokens(
            TokenResponse {
                id_token: jwt(r#"{"sub":"u","name":"Ada","exp":5000}"#),
                refresh_token: None,
            },
            first.refresh_token.clone(),
        )
        .unwrap();
        assert_eq!(refreshed.refresh_token.as_deref(), Some("r1"));
        assert_eq!(refreshed.expires_at_ms, 5_000_000);
    }

    #[test]
    fn refresh_is_due_five_minutes_before_expiry() {
        let session = Session {
            id_token: String::new(),
            refresh_token: None,
            sub: "u".into(),
            name: "n".into(),
            picture: None,
            expires_at_ms: 10_000_000,
        };
        assert!(!session.needs_refresh(10_000_000.0 - REFRESH_MARGIN_MS - 1.0));
        assert!(session.needs_refresh(10_000_000.0 - REFRESH_MARGIN_MS + 1.0));
    }
}
