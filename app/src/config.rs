//! Fetching the runtime configuration (`/config.json`): where the WebSocket and the sign-in endpoints
//! are, so one build serves the local gateway and every AWS deployment.

use protocol::AppConfig;

use crate::http;

/// Fetches `/config.json`; the error is a sentence for the person looking at the page.
pub async fn load() -> Result<AppConfig, String> {
    let response = http::get("/config.json")
        .await
        .map_err(|e| format!("Could not reach the server ({e})."))?;
    if !response.ok() {
        return Err(format!(
            "The server answered {} for /config.json.",
            response.status
        ));
    }
    serde_json::from_str(&response.text)
        .map_err(|e| format!("The server's /config.json is not what this app expects ({e})."))
}
