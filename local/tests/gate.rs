//! The local gateway is not an open door: it refuses to listen beyond loopback without
//! `--insecure-listen`, answers only requests addressed to a loopback name on its port (DNS rebinding
//! protection, before any route: the app, the sign-in, `/dev/token`, the WebSocket), sends sign-in codes
//! only to loopback pages, and sends the app under CloudFront's security headers and CSP.

mod common;

use std::collections::BTreeMap;

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use common::{gateway, gateway_on, token};
use reqwest::{redirect::Policy, StatusCode};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A GET of `path` with `Host: host`.
async fn get_as(gw: &chatty_local::Running, host: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", gw.http_url()))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

/// The binary refuses a listening address beyond loopback before binding it, naming the flag; with
/// `--insecure-listen` it gets past that check (and here fails to bind 192.0.2.1, a documentation address
/// no machine has, so nothing is ever opened).
#[test]
fn the_binary_refuses_a_public_address_without_the_flag() {
    let run = |extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_chatty-local"))
            .args(["--addr", "192.0.2.1:0"])
            .args(extra)
            .env_remove("CHATTY_INSECURE_LISTEN")
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let refused = run(&[]);
    assert!(refused.contains("--insecure-listen"), "{refused}");
    assert!(refused.contains("/dev/token"), "{refused}");
    assert!(
        !refused.contains("binding"),
        "refused before binding: {refused}"
    );
    let allowed = run(&["--insecure-listen"]);
    assert!(allowed.contains("binding 192.0.2.1:0"), "{allowed}");
}

/// A page, `/dev/token` and the sign-in asked for under another host name (a rebinding attacker's domain,
/// or the right name on the wrong port) are refused with 421; loopback names on the right port are served.
#[tokio::test]
async fn requests_for_other_hosts_are_refused() {
    let gw = gateway().await;
    let port = gw.addr.port();
    for host in [
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.evil.example:{port}"),
        format!("localhost:{}", port.wrapping_add(1)),
    ] {
        for path in [
            "/",
            "/config.json",
            "/oauth2/authorize",
            "/.well-known/jwks.json",
        ] {
            let response = get_as(&gw, &host, path).await;
            assert_eq!(
                response.status(),
                StatusCode::MISDIRECTED_REQUEST,
                "{host}{path}"
            );
        }
        let minted = client()
            .post(format!("{}/dev/token", gw.http_url()))
            .header("host", &host)
            .json(&serde_json::json!({"name": "mallory"}))
            .send()
            .await
            .unwrap();
        assert_eq!(minted.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let response = get_as(&gw, &host, "/.well-known/jwks.json").await;
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}

/// A WebSocket upgrade with a valid token but another `Host` is refused before the authorizer runs; the
/// same upgrade addressed to `localhost` connects.
#[tokio::test]
async fn websocket_upgrades_for_other_hosts_are_refused() {
    let gw = gateway().await;
    let token = token(&gw, "alice").await;
    let upgrade = |host: String| {
        let mut request = format!("{}?token={token}", gw.ws_url())
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("host", HeaderValue::from_str(&host).unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match upgrade(format!("rebound.evil.example:{}", gw.addr.port())).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST.as_u16())
        }
        Err(other) => panic!("expected 421, got {other}"),
        Ok(_) => panic!("a WebSocket for another host was accepted"),
    }
    assert!(upgrade(format!("localhost:{}", gw.addr.port()))
        .await
        .is_ok());
}

/// `/oauth2/authorize` refuses every redirect URI that a browser would send off this machine, however
/// much it looks like loopback, both when showing the page and when issuing a code.
#[tokio::test]
async fn look_alike_redirects_are_refused_at_authorize() {
    let gw = gateway().await;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(b"a-pkce-verifier"));
    for redirect in [
        "http://localhost:@evil.example/",
        "http://localhost@evil.example/",
        "http://127.0.0.1.evil.example/",
        "http://127.0.0.1:8080@evil.example/auth/callback",
        "https://evil.example/auth/callback",
    ] {
        let params = [
            ("response_type", "code"),
            ("client_id", "chatty-local"),
            ("redirect_uri", redirect),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let url = format!("{}/oauth2/authorize", gw.http_url());
        let page = client().get(&url).query(&params).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{redirect}");
        let mut form = params.to_vec();
        form.push(("name", "alice"));
        let submit = client().post(&url).form(&form).send().await.unwrap();
        assert_eq!(submit.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert!(submit.headers().get("location").is_none(), "{redirect}");
    }
}

/// template.yaml's CloudFront Content-Security-Policy, directive → sources.
fn cloudfront_csp() -> BTreeMap<String, String> {
    let template = include_str!("../../template.yaml");
    let policy: Vec<&str> = template
        .lines()
        .skip_while(|line| !line.contains("ContentSecurityPolicy: !Sub"))
        .skip(2)
        .take_while(|line| !line.trim_start().starts_with("- AuthHost"))
        .map(str::trim)
        .collect();
    assert!(!policy.is_empty(), "the CSP in template.yaml");
    directives(&policy.join(" "))
}

fn directives(policy: &str) -> BTreeMap<String, String> {
    policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once(' ') {
            Some((name, sources)) => (name.to_owned(), sources.to_owned()),
            None => (d.to_owned(), String::new()),
        })
        .collect()
}

/// The built app is served with CloudFront's headers (nosniff, DENY, the referrer and permissions
/// policies; no HSTS over http) and CloudFront's CSP directive for directive, except that `connect-src`
/// names the local socket and `script-src` also allows trunk's inline loader by its hash, and nothing else
/// inline. Client-side routes (the `index.html` fallback) get the same; the sign-in page has its own.
#[tokio::test]
async fn the_app_is_served_under_cloudfronts_headers() {
    let dist = std::env::temp_dir().join(format!("chatty-gate-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dist).unwrap();
    let loader = "\nimport init from '/chatty-app.js';\nawait init();\n";
    std::fs::write(
        dist.join("index.html"),
        format!(
            "<!doctype html><html><body><script type=\"module\">{loader}</script></body></html>"
        ),
    )
    .unwrap();
    let gw = gateway_on(chatty_local::Settings {
        dist: Some(dist.clone()),
        ..Default::default()
    })
    .await;

    let expected = cloudfront_csp();
    for path in ["/", "/rooms/general"] {
        let response = reqwest::get(format!("{}{path}", gw.http_url()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(
            headers["referrer-policy"],
            "strict-origin-when-cross-origin"
        );
        assert_eq!(
            headers["permissions-policy"],
            "camera=(), microphone=(), geolocation=(), payment=()"
        );
        assert!(headers.get("strict-transport-security").is_none());

        let local = directives(headers["content-security-policy"].to_str().unwrap());
        assert_eq!(
            local.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (name, sources) in &expected {
            let local = &local[name];
            match name.as_str() {
                "connect-src" => assert_eq!(local, &format!("'self' ws://{}", gw.addr)),
                "script-src" => {
                    let hash = STANDARD.encode(Sha256::digest(loader.as_bytes()));
                    assert_eq!(local, &format!("{sources} 'sha256-{hash}'"));
                }
                _ => assert_eq!(local, sources, "{name}"),
            }
        }
    }

    // A reload revalidates: the `304 Not Modified` carries the same policy, since its headers replace the
    // cached page's (without the loader's hash there, the reloaded app would not start).
    let first = reqwest::get(format!("{}/rooms/general", gw.http_url()))
        .await
        .unwrap();
    let last_modified = first.headers()["last-modified"].clone();
    let revalidated = reqwest::Client::new()
        .get(format!("{}/rooms/general", gw.http_url()))
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    let hash = STANDARD.encode(Sha256::digest(loader.as_bytes()));
    let policy = directives(
        revalidated.headers()["content-security-policy"]
            .to_str()
            .unwrap(),
    );
    assert!(
        policy["script-src"].ends_with(&format!("'sha256-{hash}'")),
        "{policy:?}"
    );

    let sign_in = client()
        .get(format!("{}/oauth2/authorize", gw.http_url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", "chatty-local"),
            ("redirect_uri", "http://localhost:1/"),
            (
                "code_challenge",
                &URL_SAFE_NO_PAD.encode(Sha256::digest(b"v")),
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), StatusCode::OK);
    let policy = directives(
        sign_in.headers()["content-security-policy"]
            .to_str()
            .unwrap(),
    );
    assert_eq!(policy["default-src"], "'none'");
    assert!(policy["style-src"].starts_with("'sha256-"));
    assert!(policy["form-action"].contains("http://localhost:*"));
    assert_eq!(policy["frame-ancestors"], "'none'");
    assert_eq!(sign_in.headers()["x-frame-options"], "DENY");

    gw.stop();
    std::fs::remove_dir_all(&dist).unwrap();
}
