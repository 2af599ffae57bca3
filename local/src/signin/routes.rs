//! The sign-in's HTTP surface, as axum handlers: `GET`/`POST /oauth2/authorize`, `POST /oauth2/token`,
//! `GET /logout`, `GET /.well-known/jwks.json` and `POST /dev/token`, with the request rules they enforce
//! (this client id only, loopback redirects only, display names of 1 to 32 characters) and Cognito's
//! error shape.

use axum::{
    extract::{Query, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    Form, Json,
};
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use super::{pages, pkce, RevokeRequest, TokenRequest, LOCAL_CLIENT_ID};
use crate::{security, AppState};

/// The display name rules of the local sign-in: 1 to 32 characters after trimming, no control characters.
fn clean_name(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name.chars().count() <= 32 && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}

/// Only loopback pages may receive codes: the local sign-in must not become an open redirect. The URI is
/// parsed as a browser parses it (WHATWG, the `url` crate), then must be http or https, carry no userinfo
/// (`http://localhost@evil.example/` goes to evil.example), and name exactly `localhost`, an address in
/// 127.0.0.0/8 or `[::1]`.
fn allowed_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && loopback
}

/// Every response of the sign-in pages carries their own policy ([`pages::csp`]): the app's would
/// block the form's inline style and its redirect to the app on another loopback port.
pub async fn with_sign_in_csp(mut response: Response) -> Response {
    security::set_csp(response.headers_mut(), pages::csp());
    response
}

/// An OAuth error response, as Cognito shapes them.
fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    (status, Json(serde_json::json!({ "error": error }))).into_response()
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
        if !pkce::is_s256_challenge(&self.code_challenge_method, &self.code_challenge) {
            return Err("invalid_request: PKCE with S256 is required");
        }
        Ok(())
    }
}

/// `GET /oauth2/authorize`: the sign-in page, carrying the request's parameters to the form post.
pub async fn authorize_page(Query(params): Query<AuthorizeParams>) -> Response {
    if let Err(error) = params.check() {
        return (StatusCode::BAD_REQUEST, Html(pages::request_refused(error))).into_response();
    }
    Html(pages::sign_in(&[
        ("response_type", params.response_type.as_str()),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("state", params.state.as_deref().unwrap_or("")),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
    ]))
    .into_response()
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
        return (StatusCode::BAD_REQUEST, Html(pages::NAME_REFUSED)).into_response();
    };
    let code = app
        .signin
        .issue_code(name, params.redirect_uri.clone(), params.code_challenge);
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

/// `POST /oauth2/token`: exchanges a code (checking the PKCE verifier) or a refresh token for tokens.
pub async fn token(State(app): State<AppState>, Form(request): Form<TokenRequest>) -> Response {
    match app.signin.grant(request) {
        Ok(tokens) => ([(header::CACHE_CONTROL, "no-store")], Json(tokens)).into_response(),
        Err(error) => oauth_error(StatusCode::BAD_REQUEST, error),
    }
}

/// `POST /oauth2/revoke` (`token`, `client_id`): the refresh token stops working, as at Cognito. Like
/// Cognito (and RFC 7009), an unknown token is not an error: the answer is 200 either way.
pub async fn revoke(State(app): State<AppState>, Form(request): Form<RevokeRequest>) -> Response {
    match app.signin.revoke(request) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => oauth_error(StatusCode::BAD_REQUEST, error),
    }
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

    /// Loopback pages on any port, over http or https, may receive codes.
    #[test]
    fn loopback_redirects_are_allowed() {
        for good in [
            "http://127.0.0.1:8080/auth/callback",
            "http://localhost:3000/auth/callback",
            "http://localhost/",
            "https://localhost:8443/cb?x=1",
            "http://127.0.0.2:8080/",
            "http://[::1]:8080/auth/callback",
            "http://LOCALHOST:8080/",
        ] {
            assert!(allowed_redirect(good), "{good}");
        }
    }

    /// Anything that a browser would send elsewhere is refused, however much it looks like loopback.
    #[test]
    fn look_alike_redirects_are_refused() {
        for bad in [
            "https://evil.example/auth/callback",
            "http://localhost:@evil.example/",
            "http://localhost@evil.example/",
            "http://127.0.0.1:8080@evil.example/",
            "http://user:pass@localhost:8080/",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "http://evil.example/http://localhost/",
            "javascript://localhost/%0aalert(1)",
            "file://localhost/etc/passwd",
            "ftp://127.0.0.1/",
            "//localhost/cb",
            "/auth/callback",
            "http://[::2]/",
            "http://192.168.1.5:8080/",
            "not a url",
            "",
        ] {
            assert!(!allowed_redirect(bad), "{bad}");
        }
    }
}
