//! Authorization codes and PKCE (RFC 7636, S256 only): the one-time codes `POST /oauth2/authorize` hands
//! out, each bound to a name, a redirect URI and a code challenge, and redeemed only with the verifier
//! that hashes to that challenge, within [`CODE_TTL`].

use std::time::{Duration, Instant};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

use super::{lock, random_token, SignIn};

/// How long an authorization code can be exchanged.
const CODE_TTL: Duration = Duration::from_secs(300);

/// A code handed out and not yet exchanged.
pub(super) struct PendingCode {
    name: String,
    redirect_uri: String,
    code_challenge: String,
    issued: Instant,
}

/// Whether a sign-in request's PKCE parameters are acceptable: S256, and a challenge long enough to be
/// a SHA-256 digest (43 base64url characters).
pub(super) fn is_s256_challenge(method: &str, challenge: &str) -> bool {
    method == "S256" && challenge.len() >= 43
}

/// The S256 code challenge of `verifier`: base64url (no padding) of its SHA-256.
fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl SignIn {
    /// A fresh one-time code for `name`, to be redeemed at `redirect_uri` with the verifier of
    /// `code_challenge`.
    pub(super) fn issue_code(
        &self,
        name: String,
        redirect_uri: String,
        code_challenge: String,
    ) -> String {
        let code = random_token(24);
        lock(&self.codes).insert(
            code.clone(),
            PendingCode {
                name,
                redirect_uri,
                code_challenge,
                issued: Instant::now(),
            },
        );
        code
    }

    /// The name `code` was issued for, if it is known, still fresh, presented with the same redirect URI
    /// and the verifier of its challenge. A code is used up by any attempt, right or wrong.
    pub(super) fn redeem_code(
        &self,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: &str,
    ) -> Option<String> {
        let pending = lock(&self.codes).remove(code)?;
        let fresh = pending.issued.elapsed() <= CODE_TTL;
        (fresh
            && redirect_uri == Some(pending.redirect_uri.as_str())
            && challenge_of(verifier) == pending.code_challenge)
            .then_some(pending.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636, appendix B.
    #[test]
    fn the_s256_challenge_is_the_rfc_one() {
        let challenge = challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(is_s256_challenge("S256", &challenge));
        assert!(!is_s256_challenge("plain", &challenge));
        assert!(!is_s256_challenge("S256", "short"));
    }
}
