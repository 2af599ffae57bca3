//! The authorizer's verification path against Cognito-shaped tokens from a real emulator: moto's
//! `cognito-idp` creates a user pool, an app client and a user, and `AdminInitiateAuth` issues the ID
//! token; the verifier fetches the pool's JWKS over HTTP from where moto serves it (the token's `iss` names
//! the real Cognito host, so the JWKS URL is configuration). Forged tokens — `alg: none`, HS256 keyed with
//! the public key, an unknown `kid`, expired, wrong `iss`, wrong `aud`, an access token, a tampered
//! payload — are all denied, and the Lambda function's answer is an Allow or Deny policy accordingly.
//! Tokens with chosen claims are signed with the pool's own key (moto ships it), so only the claim under
//! test is wrong.

mod common;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{errors::ErrorKind, Algorithm, EncodingKey, Header};
use lambdas::{
    adapters::jwks::HttpKeySource,
    auth::{AuthError, IdTokenVerifier, VerifierConfig},
    lambda::authorizer::authorize,
};
use rsa::{pkcs1::EncodeRsaPrivateKey, pkcs8::EncodePublicKey, BigUint, RsaPrivateKey};
use serde_json::{json, Value};

/// A user pool on moto with one app client and one user.
struct Pool {
    moto: common::Server,
    id: String,
    client_id: String,
}

async fn cognito(moto: &common::Server, action: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(moto.http_url())
        .header("X-Amz-Target", format!("AWSCognitoIdentityProviderService.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{action}: {status} {body}");
    body
}

impl Pool {
    async fn create() -> Self {
        let moto = common::moto_server();
        let pool = cognito(&moto, "CreateUserPool", json!({ "PoolName": "chatty" })).await;
        let id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
        let client = cognito(
            &moto,
            "CreateUserPoolClient",
            json!({
                "UserPoolId": id,
                "ClientName": "app",
                "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
                "ReadAttributes": ["name", "email"],
            }),
        )
        .await;
        let client_id = client["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned();
        cognito(
            &moto,
            "AdminCreateUser",
            json!({
                "UserPoolId": id,
                "Username": "alice",
                "MessageAction": "SUPPRESS",
                "UserAttributes": [
                    { "Name": "name", "Value": "Alice Liddell" },
                    { "Name": "email", "Value": "alice@example.com" },
                ],
            }),
        )
        .await;
        cognito(
            &moto,
            "AdminSetUserPassword",
            json!({ "UserPoolId": id, "Username": "alice", "Password": "Wonderland-1865", "Permanent": true }),
        )
        .await;
        Self {
            moto,
            id,
            client_id,
        }
    }

    /// The `(id token, access token)` pair `AdminInitiateAuth` issues.
    async fn sign_in(&self) -> (String, String) {
        let auth = cognito(
            &self.moto,
            "AdminInitiateAuth",
            json!({
                "UserPoolId": self.id,
                "ClientId": self.client_id,
                "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                "AuthParameters": { "USERNAME": "alice", "PASSWORD": "Wonderland-1865" },
            }),
        )
        .await;
        let result = &auth["AuthenticationResult"];
        (
            result["IdToken"].as_str().unwrap().to_owned(),
            result["AccessToken"].as_str().unwrap().to_owned(),
        )
    }

    fn issuer(&self) -> String {
        format!("https://cognito-idp.us-east-1.amazonaws.com/{}", self.id)
    }

    fn jwks_url(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", self.moto.http_url(), self.id)
    }

    fn verifier(&self) -> IdTokenVerifier {
        IdTokenVerifier::new(
            VerifierConfig::new(self.issuer(), &self.client_id),
            Box::new(HttpKeySource::new(self.jwks_url()).unwrap()),
        )
    }
}

/// moto's signing key for every pool, from the JWK it ships.
fn pool_private_key() -> (String, RsaPrivateKey) {
    let path = common::tool("moto_server")
        .canonicalize()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let gz = std::fs::read_dir(path.join("lib"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|python| {
            python
                .path()
                .join("site-packages/moto/cognitoidp/resources/jwks-private.json.gz")
        })
        .find(|p| p.is_file())
        .expect("moto's cognito private key");
    let output = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap();
    let jwk: Value = serde_json::from_slice(&output.stdout).unwrap();
    let number = |name: &str| {
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap())
    };
    let key = RsaPrivateKey::from_components(
        number("n"),
        number("e"),
        number("d"),
        Vec::new(), // moto's JWK has no primes; they are recovered from d
    )
    .unwrap();
    (jwk["kid"].as_str().unwrap().to_owned(), key)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn sign(kid: &str, key: &RsaPrivateKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&segments(token)[1]).unwrap()).unwrap()
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The ID token moto's Cognito issues through `AdminInitiateAuth` is accepted, its user read from the
/// claims (`sub`, and the `name` attribute), with the keys fetched from the configured JWKS URL.
#[tokio::test]
async fn a_cognito_id_token_is_accepted() {
    let pool = Pool::create().await;
    let (id_token, _) = pool.sign_in().await;
    let claims = claims_of(&id_token);
    assert_eq!(
        claims["iss"],
        pool.issuer(),
        "moto's iss names the real Cognito host"
    );
    let user = pool.verifier().verify(&id_token).await.unwrap();
    assert_eq!(user.id, claims["sub"].as_str().unwrap());
    assert_eq!(user.name, "Alice Liddell");
}

/// Which refusal a forged token must meet.
type ExpectedRefusal = fn(&AuthError) -> bool;

/// Every forged or misdirected token is refused, each for its own reason.
#[tokio::test]
async fn forged_tokens_are_denied() {
    let pool = Pool::create().await;
    let (id_token, access_token) = pool.sign_in().await;
    let verifier = pool.verifier();
    let (kid, key) = pool_private_key();
    let genuine = claims_of(&id_token);
    let with = |changes: Value| {
        let mut claims = genuine.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        claims
    };
    // The pool's own key signs a copy of the genuine claims: proof the table below fails only on its change.
    assert!(verifier.verify(&sign(&kid, &key, &genuine)).await.is_ok());

    let parts = segments(&id_token);
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &header,
            &genuine,
            &EncodingKey::from_secret(public_pem.as_bytes()),
        )
        .unwrap()
    };
    let other_key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let tampered = {
        let mut claims = genuine.clone();
        claims["name"] = json!("Mallory");
        format!("{}.{}.{}", parts[0], encode_json(&claims), parts[2])
    };
    let table: Vec<(&str, String, ExpectedRefusal)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                encode_json(&json!({ "alg": "none", "kid": kid })),
                parts[1]
            ),
            |e| matches!(e, AuthError::Algorithm(_) | AuthError::Malformed(_)),
        ),
        ("HS256 keyed with the public key", hs256, |e| {
            matches!(e, AuthError::Algorithm(_))
        }),
        (
            "unknown kid",
            sign("not-the-pools", &other_key, &genuine),
            |e| matches!(e, AuthError::UnknownKey),
        ),
        (
            "expired",
            sign(
                &kid,
                &key,
                &with(json!({ "iat": now() - 7200, "exp": now() - 3600 })),
            ),
            |e| matches!(e, AuthError::Rejected(m) if matches!(m.kind(), ErrorKind::ExpiredSignature)),
        ),
        (
            "wrong iss",
            sign(
                &kid,
                &key,
                &with(
                    json!({ "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other" }),
                ),
            ),
            |e| matches!(e, AuthError::Rejected(m) if matches!(m.kind(), ErrorKind::InvalidIssuer)),
        ),
        (
            "wrong aud",
            sign(&kid, &key, &with(json!({ "aud": "another-app-client" }))),
            |e| matches!(e, AuthError::Rejected(m) if matches!(m.kind(), ErrorKind::InvalidAudience)),
        ),
        ("moto's access token", access_token, |e| {
            matches!(e, AuthError::Rejected(_))
        }),
        (
            "an access token with an aud",
            sign(&kid, &key, &with(json!({ "token_use": "access" }))),
            |e| matches!(e, AuthError::NotAnIdToken(_)),
        ),
        (
            "tampered payload",
            tampered,
            |e| matches!(e, AuthError::Rejected(m) if matches!(m.kind(), ErrorKind::InvalidSignature)),
        ),
        ("no token", String::new(), |e| {
            matches!(e, AuthError::Missing)
        }),
    ];
    for (case, token, expected) in table {
        match verifier.verify(&token).await {
            Ok(user) => panic!("{case}: accepted as {user:?}"),
            Err(error) => assert!(
                expected(&error),
                "{case}: denied for the wrong reason: {error:?}"
            ),
        }
    }
}

fn authorizer_event(token: &str) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect",
        "queryStringParameters": { "token": token },
        "requestContext": { "routeKey": "$connect", "eventType": "CONNECT", "connectionId": "L0SM9cOFvHcCIhw=" },
    }))
    .unwrap()
}

/// The authorizer function answers a genuine token with an Allow policy carrying the user as context, and a
/// forged one with a Deny on the same resource.
#[tokio::test]
async fn the_authorizer_function_allows_or_denies() {
    let pool = Pool::create().await;
    let (id_token, _) = pool.sign_in().await;
    let verifier = pool.verifier();

    let allowed =
        serde_json::to_value(authorize(&verifier, authorizer_event(&id_token)).await).unwrap();
    let statement = &allowed["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
    assert_eq!(
        statement["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect"
    );
    assert_eq!(allowed["principalId"], claims_of(&id_token)["sub"]);
    assert_eq!(allowed["context"]["sub"], claims_of(&id_token)["sub"]);
    assert_eq!(allowed["context"]["name"], "Alice Liddell");
    assert!(
        allowed["context"].get("picture").is_none(),
        "no nulls in the context"
    );

    let parts = segments(&id_token);
    let mut claims = claims_of(&id_token);
    claims["sub"] = json!("someone-else");
    let forged = format!("{}.{}.{}", parts[0], encode_json(&claims), parts[2]);
    let denied =
        serde_json::to_value(authorize(&verifier, authorizer_event(&forged)).await).unwrap();
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(denied["context"], json!({}));
}
