//! The sign-in's RS256 signing key: generated fresh or kept in a PKCS#1 PEM file (created owner-only if
//! missing), its `kid` (derived from the key, so a reloaded key serves the same one), the JWKS that
//! publishes it, and signing claims with it.

use std::path::Path;

use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{
    jwk::{
        AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
        RSAKeyParameters,
    },
    Algorithm, EncodingKey, Header,
};
use rsa::{
    pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding},
    traits::PublicKeyParts,
    RsaPrivateKey,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A private key ready to sign, with the public half as a JWKS.
pub(super) struct SigningKey {
    kid: String,
    encoding_key: EncodingKey,
    jwks: JwkSet,
}

impl SigningKey {
    /// A fresh 2048-bit RSA key.
    pub(super) fn generate() -> anyhow::Result<Self> {
        Self::from_rsa(&RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?)
    }

    /// The key in `path` (PKCS#1 PEM), or a fresh one written there (readable by its owner only) if the
    /// file does not exist yet.
    pub(super) fn load_or_create(path: &Path) -> anyhow::Result<Self> {
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
        Self::from_rsa(&key)
    }

    fn from_rsa(key: &RsaPrivateKey) -> anyhow::Result<Self> {
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
            kid,
            encoding_key: EncodingKey::from_rsa_der(der.as_bytes()),
            jwks: JwkSet { keys: vec![jwk] },
        })
    }

    /// The public key, as `/.well-known/jwks.json` serves it.
    pub(super) fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Signs any claims (RS256, with the key's `kid`).
    pub(super) fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
            .expect("RS256 signing with a valid key")
    }
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
