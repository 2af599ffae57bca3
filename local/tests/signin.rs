//! The local stand-in for Cognito's Hosted UI: the authorization-code flow with PKCE (S256) as the app
//! performs it, refresh tokens, and the refusals that keep it honest.

mod common;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::{connect_with_token, gateway};
use reqwest::{redirect::Policy, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

/// Signs in as `name` through the form; returns the redirect's code.
async fn sign_in(gw: &chatty_local::Running, name: &str, redirect_uri: &str) -> String {
    let form = [
        ("response_type", "code"),
        ("client_id", "chatty-local"),
        ("redirect_uri", redirect_uri),
        ("state", "xyz 123"),
        ("code_challenge", &challenge()),
        ("code_challenge_method", "S256"),
        ("name", name),
    ];
    let response = client()
        .post(format!("{}/oauth2/authorize", gw.http_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(redirect_uri), "{location}");
    assert!(location.contains("state=xyz%20123"), "{location}");
    location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

async fn exchange(gw: &chatty_local::Running, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/oauth2/token", gw.http_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// The whole flow: the page, the code, the token exchange with the verifier, a socket with the ID token,
/// a refresh, and the refresh token's revocation.
#[tokio::test]
async fn code_flow_with_pkce_signs_in() {
    let gw = gateway().await;
    let redirect = format!("{}/auth/callback", gw.http_url());
    let page = client()
        .get(format!(
            "{}/oauth2/authorize?response_type=code&client_id=chatty-local&redirect_uri={redirect}&state=s&code_challenge={}&code_challenge_method=S256",
            gw.http_url(),
            challenge()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(r#"name="name""#));

    let code = sign_in(&gw, "Alice Liddell", &redirect).await;
    let (status, tokens) = exchange(
        &gw,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "chatty-local"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    assert!(connect_with_token(&gw, "alice", id_token).await.is_ok());
    assert!(
        connect_with_token(&gw, "alice", tokens["access_token"].as_str().unwrap())
            .await
            .is_err(),
        "an access token must not open a socket"
    );

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = exchange(
        &gw,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "chatty-local"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(refreshed.get("refresh_token").is_none());
    assert!(
        connect_with_token(&gw, "alice", refreshed["id_token"].as_str().unwrap())
            .await
            .is_ok()
    );

    // Revoked (sign-out), the refresh token gets nothing more; revoking needs the right client, and an
    // unknown token is no error (as at Cognito).
    let revoke = |form: Vec<(&'static str, String)>| {
        client()
            .post(format!("{}/oauth2/revoke", gw.http_url()))
            .form(&form)
            .send()
    };
    let wrong_client = revoke(vec![
        ("token", refresh.into()),
        ("client_id", "other".into()),
    ])
    .await
    .unwrap();
    assert_eq!(wrong_client.status(), 400);
    for _ in 0..2 {
        let revoked = revoke(vec![
            ("token", refresh.into()),
            ("client_id", "chatty-local".into()),
        ])
        .await
        .unwrap();
        assert_eq!(revoked.status(), 200);
    }
    let (status, error) = exchange(
        &gw,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "chatty-local"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_grant");

    // A code works once.
    let (status, error) = exchange(
        &gw,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "chatty-local"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

/// A code exchanged with the wrong verifier is refused: PKCE protects a stolen code.
#[tokio::test]
async fn the_wrong_verifier_is_refused() {
    let gw = gateway().await;
    let redirect = format!("{}/auth/callback", gw.http_url());
    let code = sign_in(&gw, "bob", &redirect).await;
    let (status, error) = exchange(
        &gw,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "chatty-local"),
            ("code", &code),
            ("redirect_uri", &redirect),
            (
                "code_verifier",
                "some-other-verifier-some-other-verifier-00000",
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

/// The sign-in page will not send codes to a site off this machine.
#[tokio::test]
async fn codes_only_go_to_loopback_pages() {
    let gw = gateway().await;
    let response = client()
        .get(format!(
            "{}/oauth2/authorize?response_type=code&client_id=chatty-local&redirect_uri=https://evil.example/cb&code_challenge={}&code_challenge_method=S256",
            gw.http_url(),
            challenge()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// `/config.json` names this server's endpoints; without a built app the page says how to build it.
#[tokio::test]
async fn config_and_the_unbuilt_app_page() {
    let gw = gateway().await;
    let config: protocol::AppConfig = reqwest::get(format!("{}/config.json", gw.http_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config.ws_url, gw.ws_url());
    assert_eq!(
        config.auth.token_url,
        format!("{}/oauth2/token", gw.http_url())
    );
    let page = reqwest::get(format!("{}/rooms/general", gw.http_url()))
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("trunk build"));
}
