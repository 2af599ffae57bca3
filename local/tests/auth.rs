//! The authorizer on `$connect`: only a valid ID token from the issuer opens a socket; everything else is
//! refused with HTTP 401 before the upgrade, as API Gateway does.

mod common;

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chatty_local::signin::SignIn;
use common::{connect_with_token, gateway, token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio_tungstenite::tungstenite;

async fn refused(gw: &chatty_local::Running, token: &str) -> bool {
    match connect_with_token(gw, "x", token).await {
        Err(tungstenite::Error::Http(response)) => response.status() == 401,
        Err(other) => panic!("expected a 401, got {other}"),
        Ok(_) => false,
    }
}

/// A token from the local sign-in opens a socket (the control case for the refusals below).
#[tokio::test]
async fn a_valid_token_connects() {
    let gw = gateway().await;
    let token = token(&gw, "alice").await;
    assert!(connect_with_token(&gw, "alice", &token).await.is_ok());
}

/// Missing, empty and garbage tokens are refused.
#[tokio::test]
async fn missing_or_garbage_tokens_are_refused() {
    let gw = gateway().await;
    let no_token = tokio_tungstenite::connect_async(gw.ws_url()).await;
    assert!(matches!(no_token, Err(tungstenite::Error::Http(r)) if r.status() == 401));
    assert!(refused(&gw, "").await);
    assert!(refused(&gw, "not-a-jwt").await);
}

/// Expired tokens, and tokens for another audience or issuer, are refused though correctly signed.
#[tokio::test]
async fn wrong_claims_are_refused() {
    let gw = gateway().await;
    let signin = &gw.signin;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let mut expired = signin.id_claims("alice", Duration::from_secs(3600));
    expired.exp = now - 120;
    assert!(refused(&gw, &signin.sign(&expired)).await, "expired");

    let mut other_audience = signin.id_claims("alice", Duration::from_secs(3600));
    other_audience.aud = "someone-elses-client".into();
    assert!(
        refused(&gw, &signin.sign(&other_audience)).await,
        "wrong aud"
    );

    let mut other_issuer = signin.id_claims("alice", Duration::from_secs(3600));
    other_issuer.iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_evil".into();
    assert!(refused(&gw, &signin.sign(&other_issuer)).await, "wrong iss");

    let mut access = signin.id_claims("alice", Duration::from_secs(3600));
    access.token_use = "access".into();
    assert!(refused(&gw, &signin.sign(&access)).await, "access token");
}

/// Forgeries: another key, `alg: none`, HS256, and a payload edited after signing.
#[tokio::test]
async fn forged_tokens_are_refused() {
    let gw = gateway().await;
    let genuine = token(&gw, "alice").await;
    let [header, payload, signature]: [&str; 3] =
        genuine.split('.').collect::<Vec<_>>().try_into().unwrap();

    let impostor = SignIn::generate(gw.signin.issuer().to_owned()).unwrap();
    assert!(
        refused(&gw, &impostor.id_token("alice")).await,
        "signed by another key"
    );

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert!(
        refused(&gw, &format!("{none_header}.{payload}.")).await,
        "alg none"
    );

    let claims = gw.signin.id_claims("alice", Duration::from_secs(3600));
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(serde_json::to_string(gw.signin.jwks()).unwrap().as_bytes()),
    )
    .unwrap();
    assert!(
        refused(&gw, &hs256).await,
        "HS256 keyed with the public key"
    );

    let mut claims_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims_json["name"] = "mallory".into();
    let tampered = URL_SAFE_NO_PAD.encode(claims_json.to_string());
    assert!(
        refused(&gw, &format!("{header}.{tampered}.{signature}")).await,
        "tampered payload"
    );
}

/// A key source that counts how often it is asked, serving whichever key set the test puts in it.
struct CountingKeys {
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    keys: std::sync::Arc<std::sync::Mutex<jsonwebtoken::jwk::JwkSet>>,
}

#[async_trait::async_trait]
impl lambdas::auth::KeySource for CountingKeys {
    async fn fetch(&self) -> Result<jsonwebtoken::jwk::JwkSet, lambdas::auth::AuthError> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.keys.lock().unwrap().clone())
    }
}

/// The JWKS is fetched once and cached; a token with an unknown `kid` (a rotated key) triggers one
/// refresh, and further unknown `kid`s within the refresh interval do not hammer the endpoint.
#[tokio::test]
async fn jwks_is_cached_and_refreshed_once_for_a_new_kid() {
    use lambdas::auth::{IdTokenVerifier, VerifierConfig};
    use std::sync::atomic::Ordering;

    let old = SignIn::generate("https://issuer.test".into()).unwrap();
    let rotated = SignIn::generate("https://issuer.test".into()).unwrap();
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let keys = std::sync::Arc::new(std::sync::Mutex::new(old.jwks().clone()));
    let verifier = IdTokenVerifier::new(
        VerifierConfig::new("https://issuer.test", chatty_local::signin::LOCAL_CLIENT_ID),
        Box::new(CountingKeys {
            fetches: fetches.clone(),
            keys: keys.clone(),
        }),
    );

    for _ in 0..3 {
        assert_eq!(
            verifier.verify(&old.id_token("alice")).await.unwrap().name,
            "alice"
        );
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "cached after the first fetch"
    );

    // The issuer rotates its key; the first token signed with it causes one refresh.
    let mut both = old.jwks().clone();
    both.keys.extend(rotated.jwks().keys.clone());
    *keys.lock().unwrap() = both;
    assert_eq!(
        verifier
            .verify(&rotated.id_token("bob"))
            .await
            .unwrap()
            .name,
        "bob"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    let stranger = SignIn::generate("https://issuer.test".into()).unwrap();
    for _ in 0..3 {
        assert!(verifier.verify(&stranger.id_token("eve")).await.is_err());
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "unknown kids within the interval fetch nothing"
    );
}

/// Starts a gateway on `addr` (retrying while the previous one there lets go of it) with its signing key in
/// `key`.
async fn gateway_at(addr: std::net::SocketAddr, key: &std::path::Path) -> chatty_local::Running {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => break listener,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("binding {addr} again: {error}"),
        }
    };
    let settings = chatty_local::Settings {
        signing_key: Some(key.to_owned()),
        ..chatty_local::Settings::default()
    };
    chatty_local::start(listener, settings).await.unwrap()
}

/// With a kept signing key, a gateway restarted on the same address accepts the tokens issued before the
/// restart, so nobody is signed out; the key file is created on first use, readable by its owner only; a
/// gateway with another key refuses those tokens.
#[tokio::test]
async fn a_kept_signing_key_survives_a_restart() {
    let folder = std::env::temp_dir().join(format!("chatty-signing-key-{}", std::process::id()));
    let key = folder.join("keys").join("signing.pem");
    let _ = std::fs::remove_dir_all(&folder);
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };

    let first = gateway_at(addr, &key).await;
    let issued = token(&first, "alice").await;
    first.stop();
    let pem = std::fs::read_to_string(&key).expect("the key file is created");
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner may read the key");
    }

    let restarted = gateway_at(addr, &key).await;
    assert!(
        connect_with_token(&restarted, "alice", &issued)
            .await
            .is_ok(),
        "a token from before the restart still connects"
    );
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        pem,
        "the key is reused, not replaced"
    );
    restarted.stop();

    let other = gateway_at(addr, &folder.join("other.pem")).await;
    assert!(refused(&other, &issued).await, "another key refuses it");
    other.stop();
    std::fs::remove_dir_all(&folder).unwrap();
}
