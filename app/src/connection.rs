//! The connection's life as the person sees it ([`ConnectionStatus`]) and the timing rules that keep it
//! alive behind API Gateway's limits: a ping well inside the 10-minute idle timeout, and a planned
//! reconnect (with a fresh token) before the 2-hour cap or the token's expiry. Pure.

use crate::auth::REFRESH_MARGIN_MS;

/// A keep-alive every 5 minutes; API Gateway closes connections idle for 10.
pub const PING_EVERY_MS: u32 = 5 * 60 * 1000;
/// API Gateway closes every WebSocket after 2 hours.
pub const MAX_CONNECTION_MS: f64 = 2.0 * 60.0 * 60.0 * 1000.0;
/// A socket that has not opened after this long is given up and retried.
pub const OPEN_TIMEOUT_MS: u32 = 10_000;
/// How long before a hard limit the planned reconnect happens.
const ROTATE_EARLY_MS: f64 = 2.0 * 60.0 * 1000.0;

/// What the status bar says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConnectionStatus {
    /// The first connection is being opened.
    Connecting,
    Online,
    /// The connection dropped; the next try is at `retry_at_ms` (milliseconds since the epoch).
    Reconnecting {
        attempt: u32,
        retry_at_ms: f64,
    },
    /// No session: nothing to connect with.
    SignedOut,
}

impl ConnectionStatus {
    pub fn is_online(self) -> bool {
        self == Self::Online
    }

    /// A short sentence for the status bar at `now_ms`.
    pub fn label(self, now_ms: f64) -> String {
        match self {
            Self::Connecting => "Connecting…".into(),
            Self::Online => "Online".into(),
            Self::Reconnecting { retry_at_ms, .. } => {
                // Whole seconds as an integer: formatting a float with a precision would add Rust's
                // exact float printing to the app's download for this one sentence.
                let seconds = ((retry_at_ms - now_ms) / 1000.0).ceil() as u64;
                if seconds >= 1 {
                    format!("Connection lost. Reconnecting in {seconds}s…")
                } else {
                    "Connection lost. Reconnecting…".into()
                }
            }
            Self::SignedOut => "Signed out".into(),
        }
    }

    /// A CSS class name for the status dot.
    pub fn class(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Online => "online",
            Self::Reconnecting { .. } => "reconnecting",
            Self::SignedOut => "signed-out",
        }
    }
}

/// When to replace a connection opened at `opened_ms` with a token expiring at `token_expires_ms`: a
/// little before the 2-hour cap or before the token would need refreshing, whichever comes first, so the
/// server never cuts the connection and the new one is opened with a token that is still good.
pub fn rotate_at(opened_ms: f64, token_expires_ms: f64) -> f64 {
    let cap = opened_ms + MAX_CONNECTION_MS - ROTATE_EARLY_MS;
    let token = token_expires_ms - REFRESH_MARGIN_MS;
    // Never sooner than a minute from now: a token too close to expiry is refreshed before connecting.
    cap.min(token).max(opened_ms + 60_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 60.0 * 60.0 * 1000.0;

    #[test]
    fn a_long_lived_token_rotates_before_the_two_hour_cap() {
        let at = rotate_at(0.0, 24.0 * HOUR);
        assert!(
            at < MAX_CONNECTION_MS && at > MAX_CONNECTION_MS - 5.0 * 60_000.0,
            "{at}"
        );
    }

    #[test]
    fn a_token_expiring_first_rotates_before_it_needs_refreshing() {
        let at = rotate_at(0.0, HOUR);
        assert_eq!(at, HOUR - REFRESH_MARGIN_MS);
    }

    #[test]
    fn rotation_is_never_immediate() {
        assert_eq!(rotate_at(1_000.0, 0.0), 61_000.0);
    }

    #[test]
    fn the_status_bar_counts_down_to_the_next_try() {
        let status = ConnectionStatus::Reconnecting {
            attempt: 2,
            retry_at_ms: 5_000.0,
        };
        assert_eq!(
            status.label(2_100.0),
            "Connection lost. Reconnecting in 3s…"
        );
        assert_eq!(status.label(5_000.0), "Connection lost. Reconnecting…");
        assert!(!status.is_online() && ConnectionStatus::Online.is_online());
    }
}
