//! ID-token verification: the authorizer's whole decision, shared by the `$connect` authorizer Lambda and
//! the local gateway. RS256 only, against the issuer's JWKS; `iss`, `aud` (the app client id), `exp` and
//! `nbf` (with a small leeway) and `token_use = id` must all hold. Signature checks are `jsonwebtoken`'s;
//! nothing here parses a signature by hand. Tokens are never logged. The display name the verified token
//! claims is cleaned here ([`protocol::display_name`]), so every path to a `User` gets the same rules.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use jsonwebtoken::{
    decode, decode_header, errors::ErrorKind, jwk::JwkSet, Algorithm, DecodingKey, Validation,
};
use protocol::User;
use serde::Deserialize;
use time::OffsetDateTime;

/// Why a token was refused. Callers answer all of them the same way (401 / Deny); the variant is for logs.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no token")]
    Missing,
    #[error("not a JWT: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    #[error("algorithm {0:?} is not accepted; only RS256 is")]
    Algorithm(Algorithm),
    #[error("no key with this kid in the issuer's JWKS")]
    UnknownKey,
    #[error("token rejected: {0}")]
    Rejected(#[source] jsonwebtoken::errors::Error),
    #[error("token_use is {0:?}, not \"id\"")]
    NotAnIdToken(String),
    #[error("JWKS unavailable: {0}")]
    KeysUnavailable(#[source] crate::ports::BoxError),
    #[error("no JWKS yet: {failures} fetch(es) in a row failed; the next one in {retry_in:?} at the earliest")]
    KeysBackingOff { failures: u32, retry_in: Duration },
}

/// Where the issuer's public keys come from: an HTTPS JWKS endpoint in production, the local sign-in's
/// own keys in local mode.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> Result<JwkSet, AuthError>;
}

/// A fixed key set (the local sign-in's, or a test's).
pub struct StaticKeys(pub JwkSet);

#[async_trait]
impl KeySource for StaticKeys {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        Ok(self.0.clone())
    }
}

/// The claims of an ID token that Chatty reads. Cognito puts the display name in `name` for federated
/// Google users. `email` and `cognito:username` are deliberately not read: an email must never be shown to
/// a room, and a federated username (`Google_<account number>`) names the Google account.
#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    exp: i64,
    token_use: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

/// A verified ID token: who it names and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub expires_at: OffsetDateTime,
}

/// Settings for [`IdTokenVerifier`].
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The exact `iss`: `https://cognito-idp.<region>.amazonaws.com/<pool id>` on AWS.
    pub issuer: String,
    /// The app client id, which Cognito puts in an ID token's `aud`.
    pub client_id: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two JWKS refreshes caused by unknown `kid`s, so forged tokens cannot make the
    /// verifier hammer the endpoint. The first unknown `kid` after a quiet spell always refreshes, so a
    /// rotated key is picked up at once.
    pub refresh_interval: Duration,
    /// How long a failed fetch stops further fetches; it doubles with each failure in a row, up to
    /// `max_failure_backoff`. Meanwhile tokens with cached `kid`s still verify and the rest are denied, so an
    /// unreachable endpoint costs one fetch per pause, not one per connection attempt.
    pub failure_backoff: Duration,
    pub max_failure_backoff: Duration,
}

impl VerifierConfig {
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            leeway: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(60),
            failure_backoff: Duration::from_secs(1),
            max_failure_backoff: Duration::from_secs(60),
        }
    }

    /// The pause after `failures` failed fetches in a row (at least one).
    fn backoff_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.failure_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_failure_backoff)
    }
}

/// Verifies ID tokens, caching the JWKS and refreshing it when a token names an unknown `kid`.
///
/// Two locks, neither held while the other is awaited: `state` (a plain mutex, held only to read or swap the
/// cached set, never across an `.await`) and `fetching` (held by the one task fetching). A token whose `kid`
/// is cached never waits for a fetch; tokens that need one wait for the fetch in flight instead of starting
/// their own.
pub struct IdTokenVerifier {
    config: VerifierConfig,
    keys: Box<dyn KeySource>,
    state: Mutex<KeyState>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct KeyState {
    keys: Option<Arc<JwkSet>>,
    /// When an unknown `kid` last caused a refresh (the first load does not count).
    last_unknown_kid_refresh: Option<Instant>,
    /// Failed fetches in a row, and until when the last one stops further fetches.
    failures: u32,
    retry_at: Option<Instant>,
    /// Counts finished fetches, so a task that waited for another's fetch does not fetch again.
    fetches_done: u64,
}

/// What the cache says about a `kid`.
enum Lookup {
    Found(Arc<JwkSet>),
    Refused(AuthError),
    /// No answer without a fetch; `u64` is `fetches_done` when that was decided.
    NeedsFetch(u64),
}

impl KeyState {
    fn lookup(&self, kid: &str, config: &VerifierConfig, now: Instant) -> Lookup {
        if let Some(keys) = &self.keys {
            if keys.find(kid).is_some() {
                return Lookup::Found(keys.clone());
            }
        }
        if let Some(retry_at) = self.retry_at.filter(|at| now < *at) {
            return Lookup::Refused(match self.keys {
                Some(_) => AuthError::UnknownKey,
                None => AuthError::KeysBackingOff {
                    failures: self.failures,
                    retry_in: retry_at - now,
                },
            });
        }
        let refreshed_lately = self
            .last_unknown_kid_refresh
            .is_some_and(|at| now.duration_since(at) < config.refresh_interval);
        if self.keys.is_some() && refreshed_lately {
            return Lookup::Refused(AuthError::UnknownKey);
        }
        Lookup::NeedsFetch(self.fetches_done)
    }
}

impl IdTokenVerifier {
    pub fn new(config: VerifierConfig, keys: Box<dyn KeySource>) -> Self {
        Self {
            config,
            keys,
            state: Mutex::new(KeyState::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The user a valid ID token names, or why it is refused. The name is the token's `name` as
    /// [`protocol::display_name`] cleans it (whichever identity provider wrote it), so no direction
    /// override, invisible character or email address reaches a room.
    pub async fn verify(&self, token: &str) -> Result<User, AuthError> {
        Ok(self.verify_session(token).await?.user)
    }

    /// [`Self::verify`], with when the token expires: a connection opened with it lasts no longer.
    pub async fn verify_session(&self, token: &str) -> Result<Session, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let header = decode_header(token).map_err(AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Algorithm(header.alg));
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = self.key_for(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let claims = decode::<IdClaims>(token, &key, &validation)
            .map_err(AuthError::Rejected)?
            .claims;
        if claims.token_use != "id" {
            return Err(AuthError::NotAnIdToken(claims.token_use));
        }
        Ok(Session {
            expires_at: OffsetDateTime::from_unix_timestamp(claims.exp)
                .map_err(|_| AuthError::Rejected(ErrorKind::InvalidToken.into()))?,
            user: User {
                name: protocol::display_name(claims.name.as_deref(), &claims.sub),
                id: claims.sub,
                picture: claims.picture,
            },
        })
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let seen = match self.lookup(kid) {
            Lookup::Found(keys) => return decoding_key(&keys, kid),
            Lookup::Refused(error) => return Err(error),
            Lookup::NeedsFetch(seen) => seen,
        };
        // One fetch at a time; whoever waited here finds the set the fetch before it brought.
        let _fetching = self.fetching.lock().await;
        let refresh = {
            let mut state = self.state();
            match state.lookup(kid, &self.config, Instant::now()) {
                Lookup::Found(keys) => return decoding_key(&keys, kid),
                Lookup::Refused(error) => return Err(error),
                // The fetch this task waited for brought a set without the kid: that was the refresh.
                Lookup::NeedsFetch(done) if done != seen && state.keys.is_some() => {
                    return Err(AuthError::UnknownKey)
                }
                Lookup::NeedsFetch(_) => {}
            }
            let refresh = state.keys.is_some();
            if refresh {
                state.last_unknown_kid_refresh = Some(Instant::now());
            }
            refresh
        };
        let fetched = self.keys.fetch().await;
        let mut state = self.state();
        state.fetches_done += 1;
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                state.keys = Some(keys.clone());
                state.failures = 0;
                state.retry_at = None;
                drop(state);
                decoding_key(&keys, kid)
            }
            Err(error) => {
                state.failures += 1;
                state.retry_at = Some(Instant::now() + self.config.backoff_after(state.failures));
                tracing::warn!(
                    failures = state.failures,
                    refresh,
                    error = %error,
                    "JWKS fetch failed; backing off"
                );
                Err(error)
            }
        }
    }

    fn lookup(&self, kid: &str) -> Lookup {
        self.state().lookup(kid, &self.config, Instant::now())
    }

    /// The key state; a panic elsewhere while holding it leaves nothing half-written worth refusing over.
    fn state(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn decoding_key(set: &JwkSet, kid: &str) -> Result<DecodingKey, AuthError> {
    let jwk = set.find(kid).ok_or(AuthError::UnknownKey)?;
    DecodingKey::from_jwk(jwk).map_err(|e| AuthError::KeysUnavailable(e.into()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use tokio::sync::Notify;

    use super::*;

    /// A key source that counts its fetches, serves `serve` (or fails when it is `None`) and, when `hold` is
    /// set, announces each fetch on `started` and answers only after `release`.
    #[derive(Default)]
    struct CountingKeys {
        fetches: AtomicUsize,
        serve: Mutex<Option<JwkSet>>,
        hold: bool,
        started: Notify,
        release: Notify,
    }

    impl CountingKeys {
        fn serving(kids: &[&str]) -> Self {
            let keys = Self::default();
            keys.set(Some(kids));
            keys
        }

        fn set(&self, kids: Option<&[&str]>) {
            *self.serve.lock().unwrap() = kids.map(jwks);
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl KeySource for Arc<CountingKeys> {
        async fn fetch(&self) -> Result<JwkSet, AuthError> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            if self.hold {
                self.started.notify_one();
                self.release.notified().await;
            }
            let served = self.serve.lock().unwrap().clone();
            served.ok_or_else(|| AuthError::KeysUnavailable("the JWKS endpoint is down".into()))
        }
    }

    /// A set of RSA public keys named `kids` (any modulus will do: no signature here is meant to verify).
    fn jwks(kids: &[&str]) -> JwkSet {
        let keys: Vec<serde_json::Value> = kids
            .iter()
            .map(|kid| {
                serde_json::json!({
                    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                    "n": URL_SAFE_NO_PAD.encode([0xc5; 256]), "e": "AQAB"
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "keys": keys })).unwrap()
    }

    /// An RS256 token naming `kid` with a signature that cannot verify: `verify` answers `Rejected` only once
    /// it has a key for the kid, so that answer shows the key lookup succeeded.
    fn token(kid: &str) -> String {
        let part = |json: serde_json::Value| URL_SAFE_NO_PAD.encode(json.to_string());
        format!(
            "{}.{}.{}",
            part(serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": kid })),
            part(serde_json::json!({ "sub": "alice" })),
            URL_SAFE_NO_PAD.encode([7; 256])
        )
    }

    fn verifier(
        keys: &Arc<CountingKeys>,
        adjust: impl FnOnce(&mut VerifierConfig),
    ) -> Arc<IdTokenVerifier> {
        let mut config = VerifierConfig::new("https://issuer.test", "client");
        adjust(&mut config);
        Arc::new(IdTokenVerifier::new(config, Box::new(keys.clone())))
    }

    const SOON: Duration = Duration::from_secs(2);

    /// While a refresh for an unknown kid is in flight (held open by the source), a token whose kid is cached
    /// gets its key at once, and a second unknown kid waits for that fetch instead of starting another.
    #[tokio::test]
    async fn cached_kids_do_not_wait_for_a_refresh_in_flight() {
        let keys = Arc::new(CountingKeys {
            hold: true,
            ..CountingKeys::serving(&["a"])
        });
        let verifier = verifier(&keys, |_| {});
        let first = tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.verify(&token("a")).await }
        });
        keys.started.notified().await;
        keys.release.notify_one();
        assert!(matches!(first.await.unwrap(), Err(AuthError::Rejected(_))));

        keys.set(Some(&["a", "b"]));
        let refresh = tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.verify(&token("b")).await }
        });
        keys.started.notified().await;
        let also_unknown = tokio::spawn({
            let verifier = verifier.clone();
            async move { verifier.verify(&token("c")).await }
        });
        let cached = tokio::time::timeout(SOON, verifier.verify(&token("a")))
            .await
            .expect("a cached kid waited for the refresh");
        assert!(matches!(cached, Err(AuthError::Rejected(_))), "{cached:?}");
        assert!(!refresh.is_finished() && !also_unknown.is_finished());

        keys.release.notify_one();
        assert!(matches!(
            refresh.await.unwrap(),
            Err(AuthError::Rejected(_))
        ));
        assert!(matches!(
            also_unknown.await.unwrap(),
            Err(AuthError::UnknownKey)
        ));
        assert_eq!(
            keys.fetches(),
            2,
            "the first load, then one refresh for both unknown kids"
        );
    }

    /// Many connections arriving before the first load finishes cause one fetch between them.
    #[tokio::test]
    async fn a_cold_start_fetches_once_for_everyone() {
        let keys = Arc::new(CountingKeys {
            hold: true,
            ..CountingKeys::serving(&["a"])
        });
        let verifier = verifier(&keys, |_| {});
        let waiting: Vec<_> = (0..20)
            .map(|_| {
                let verifier = verifier.clone();
                tokio::spawn(async move { verifier.verify(&token("a")).await })
            })
            .collect();
        keys.started.notified().await;
        keys.release.notify_one();
        for verification in waiting {
            assert!(matches!(
                verification.await.unwrap(),
                Err(AuthError::Rejected(_))
            ));
        }
        assert_eq!(keys.fetches(), 1);
    }

    /// An unreachable JWKS endpoint is asked once per pause, and each failure in a row doubles the pause;
    /// meanwhile every attempt is denied with a typed reason, without a fetch.
    #[tokio::test]
    async fn failed_fetches_back_off_and_the_pause_grows() {
        let keys = Arc::new(CountingKeys::default());
        let verifier = verifier(&keys, |config| {
            config.failure_backoff = Duration::from_millis(200);
            config.max_failure_backoff = Duration::from_secs(10);
        });
        let first = verifier.verify(&token("a")).await;
        assert!(
            matches!(first, Err(AuthError::KeysUnavailable(_))),
            "{first:?}"
        );
        for _ in 0..50 {
            let denied = verifier.verify(&token("a")).await;
            assert!(
                matches!(denied, Err(AuthError::KeysBackingOff { failures: 1, .. })),
                "{denied:?}"
            );
        }
        assert_eq!(
            keys.fetches(),
            1,
            "one fetch for 51 attempts inside the pause"
        );

        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(verifier.verify(&token("a")).await.is_err());
        assert_eq!(keys.fetches(), 2, "the pause ended: one more try");

        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(verifier.verify(&token("a")).await.is_err());
        assert_eq!(keys.fetches(), 2, "the second pause is 400 ms, not 200");

        tokio::time::sleep(Duration::from_millis(250)).await;
        keys.set(Some(&["a"]));
        assert!(matches!(
            verifier.verify(&token("a")).await,
            Err(AuthError::Rejected(_))
        ));
        assert_eq!(
            keys.fetches(),
            3,
            "after it, the endpoint is back and the keys load"
        );
    }

    /// With keys cached and refreshes allowed at any time, a failing refresh still backs off: forged kids
    /// cannot turn an outage into a fetch per connection, and the cached keys keep working.
    #[tokio::test]
    async fn a_failing_refresh_backs_off_and_keeps_the_cached_keys() {
        let keys = Arc::new(CountingKeys::serving(&["a"]));
        let verifier = verifier(&keys, |config| config.refresh_interval = Duration::ZERO);
        assert!(matches!(
            verifier.verify(&token("a")).await,
            Err(AuthError::Rejected(_))
        ));
        keys.set(None);
        for kid in 0..100 {
            let denied = verifier.verify(&token(&format!("forged-{kid}"))).await;
            assert!(denied.is_err(), "{denied:?}");
            assert!(matches!(
                verifier.verify(&token("a")).await,
                Err(AuthError::Rejected(_))
            ));
        }
        assert_eq!(keys.fetches(), 2, "the first load and one failed refresh");
    }

    /// The pause doubles per failure from `failure_backoff` and stops at `max_failure_backoff`.
    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let config = VerifierConfig::new("https://issuer.test", "client");
        let pauses: Vec<u64> = [1, 2, 3, 6, 7, 40]
            .map(|n| config.backoff_after(n).as_secs())
            .to_vec();
        assert_eq!(pauses, [1, 2, 4, 32, 60, 60]);
    }
}
