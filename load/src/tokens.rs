//! Where each connection's `?token=` comes from: the local gateway's `POST /dev/token {"name":…}` (a real
//! RS256 ID token its authorizer verifies), or nothing at all for the relay, which ignores it.

use anyhow::Context;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Deserialize;

use crate::target::Target;

/// Token requests in flight at once: signing is CPU work on the server, so a few suffice.
const CONCURRENT_TOKEN_REQUESTS: usize = 8;

#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `POST {http_url}/dev/token`.
    DevToken { http_url: String },
    /// The server needs no token; connections send `?token=none`.
    None,
}

#[derive(Deserialize)]
struct DevTokenResponse {
    id_token: String,
}

impl TokenSource {
    /// The gateway's own `/dev/token` on the same host and port as `target`.
    pub fn dev_token(target: &Target) -> Self {
        Self::DevToken {
            http_url: target.http_url(),
        }
    }

    /// One token per name, in order.
    pub async fn tokens(&self, names: Vec<String>) -> anyhow::Result<Vec<String>> {
        let Self::DevToken { http_url } = self else {
            return Ok(names.iter().map(|_| "none".to_owned()).collect());
        };
        let client = reqwest::Client::new();
        let url = format!("{http_url}/dev/token");
        let url = url.as_str();
        stream::iter(names)
            .map(|name| {
                let request = client.post(url).json(&serde_json::json!({ "name": name }));
                async move {
                    let response: DevTokenResponse = request
                        .send()
                        .await
                        .and_then(reqwest::Response::error_for_status)
                        .with_context(|| format!("POST {url}"))?
                        .json()
                        .await
                        .context("reading the /dev/token answer")?;
                    anyhow::Ok(response.id_token)
                }
            })
            .buffered(CONCURRENT_TOKEN_REQUESTS)
            .try_collect()
            .await
    }
}
