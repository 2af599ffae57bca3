//! The browser app: files from the built `dist` folder with a fallback to `index.html` for client-side
//! routes, the runtime `/config.json`, and, when the app has not been built, a page that says how.
//!
//! Pages are served under CloudFront's Content-Security-Policy ([`security::app_csp`]). `trunk build`
//! leaves an inline loader in `index.html`, which the deploy step moves into a file (`xtask`'s `site`);
//! locally that loader, and nothing else inline, is allowed by its hash, read from `index.html` as served.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    Json,
};
use protocol::{AppConfig, AuthConfig};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::{security, signin::LOCAL_CLIENT_ID, AppState};

/// `GET /config.json`: endpoints on the host the browser used, so the page works on any address.
pub async fn config(headers: HeaderMap) -> Json<AppConfig> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    Json(AppConfig {
        ws_url: format!("ws://{host}/ws"),
        auth: AuthConfig {
            authorize_url: format!("http://{host}/oauth2/authorize"),
            token_url: format!("http://{host}/oauth2/token"),
            revoke_url: format!("http://{host}/oauth2/revoke"),
            logout_url: format!("http://{host}/logout"),
            client_id: LOCAL_CLIENT_ID.to_owned(),
            identity_provider: None,
            scopes: "openid email profile".to_owned(),
        },
    })
}

/// Everything else: the built app, or the not-built page.
pub async fn serve(State(app): State<AppState>, request: Request) -> Response {
    match app.dist.as_ref().filter(|dist| dist.join("index.html").is_file()) {
        Some(dist) => {
            let host = request.headers().get(header::HOST).cloned();
            let index = ServeFile::new(dist.join("index.html"));
            let mut response = match ServeDir::new(dist).fallback(index).oneshot(request).await {
                Ok(response) => response.into_response(),
                Err(error) => {
                    return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
                }
            };
            // Every answer carries the page's policy, a `304 Not Modified` too: its headers replace the
            // cached page's, so a reload would otherwise run the cached page without the loader's hash.
            if let Some(host) = host.as_ref().and_then(|h| h.to_str().ok()) {
                let index = std::fs::read_to_string(dist.join("index.html")).unwrap_or_default();
                let loader = security::inline_hashes(&index, "script");
                security::set_csp(response.headers_mut(), &security::app_csp(host, &loader));
            }
            response
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(
                "<!doctype html><meta charset=utf-8><title>Chatty</title>\
                 <h1>The app is not built yet</h1>\
                 <p>Build it with <code>trunk build --release --offline</code> (or run \
                 <code>./scripts/dev</code>, which sets up and builds everything), then reload.</p>\
                 <p>The WebSocket (<code>/ws</code>) and sign-in endpoints are already running.</p>",
            ),
        )
            .into_response(),
    }
}
