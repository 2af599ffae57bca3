//! Where load may be sent: loopback addresses only. A load generator is a traffic cannon, so the check
//! happens before any socket opens, and host names other than `localhost` are refused without being
//! resolved (resolving one would already be traffic).

use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context};
use tokio_tungstenite::tungstenite::http::Uri;

/// A WebSocket URL checked to point at this machine.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, without any query (`ws://127.0.0.1:8080/ws`).
    pub ws_url: String,
    /// `host:port`, for deriving the HTTP side (`/dev/token`).
    pub authority: String,
}

impl Target {
    /// Parses `url` (`ws://…`) and refuses anything that is not a loopback address.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().with_context(|| format!("not a URL: {url}"))?;
        if uri.scheme_str() != Some("ws") {
            bail!("only ws:// URLs are supported (got {url})");
        }
        let host = uri.host().context("the URL has no host")?;
        ensure_loopback_host(host)?;
        if uri.query().is_some() {
            bail!("give the URL without a query; the token is added per connection");
        }
        let authority = uri.authority().context("the URL has no host")?.to_string();
        Ok(Self {
            ws_url: url.trim_end_matches('/').to_owned(),
            authority,
        })
    }

    /// The HTTP base URL of the same server (`http://127.0.0.1:8080`).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

/// Refuses every host but `localhost` and loopback IP literals (`127.0.0.0/8`, `::1`).
pub fn ensure_loopback_host(host: &str) -> anyhow::Result<()> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(());
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        Ok(ip) => bail!("{ip} is not a loopback address; load goes to this machine only"),
        Err(_) => bail!("{host} is not localhost or a loopback IP; load goes to this machine only"),
    }
}

/// Refuses to listen anywhere but loopback, so a server started for a benchmark is never reachable
/// from elsewhere.
pub fn ensure_loopback_addr(addr: SocketAddr) -> anyhow::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        bail!("{addr} is not a loopback address")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback targets in every spelling are accepted; the HTTP side is derived from them.
    #[test]
    fn loopback_targets_are_accepted() {
        for url in [
            "ws://127.0.0.1:8080/ws",
            "ws://localhost:8080/ws",
            "ws://127.1.2.3:9/",
            "ws://[::1]:8080/ws",
        ] {
            Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        assert_eq!(
            Target::parse("ws://127.0.0.1:8080/ws").unwrap().http_url(),
            "http://127.0.0.1:8080"
        );
    }

    /// Private, public and named hosts are refused before anything is resolved or connected.
    #[test]
    fn everything_else_is_refused() {
        for url in [
            "ws://10.0.0.1:8080/ws",
            "ws://192.168.1.10/ws",
            "ws://8.8.8.8/ws",
            "ws://example.com/ws",
            "ws://127.0.0.1.example.com/ws",
            "wss://127.0.0.1/ws",
            "ws://127.0.0.1:8080/ws?token=x",
        ] {
            assert!(Target::parse(url).is_err(), "{url} was accepted");
        }
        assert!(ensure_loopback_addr("0.0.0.0:80".parse().unwrap()).is_err());
        assert!(ensure_loopback_addr("127.0.0.1:0".parse().unwrap()).is_ok());
    }
}
