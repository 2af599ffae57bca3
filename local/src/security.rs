//! What keeps the local gateway from being an open door for whoever else can reach it: it mints a token
//! for any name (`POST /dev/token`), so it listens on loopback only unless told otherwise; it answers only
//! requests addressed to it by a name it serves (DNS rebinding protection); and it sends the response
//! headers CloudFront sends the app, so a page that breaks the Content-Security-Policy breaks here first.
//!
//! - [`reach`]: a non-loopback listening address needs `--insecure-listen` ([`Settings::insecure_listen`]).
//! - [`AllowedHosts`] and [`check_host`]: every request's `Host` must name this server: `localhost`, a
//!   loopback IP, and, when listening beyond loopback, the listening address, each with the right port.
//!   Anything else is refused with 421 before any handler runs. A rebinding attack reaches the server
//!   under the attacker's domain name, which is never on the list.
//! - [`security_headers`]: the headers of `template.yaml`'s `SecurityHeadersPolicy` on every response,
//!   with [`app_csp`] unless a route set its own policy (the SPA adds its inline loader's hash, the
//!   sign-in pages use [`sign_in_csp`]). Every policy the local gateway sends is written in this file.
//!
//! HSTS, which CloudFront also sends, is left out: browsers ignore it over plain http, and if the gateway
//! ever sat behind a local TLS proxy it would pin `localhost` (and every other port on it) to https for two
//! years.
//!
//! [`Settings::insecure_listen`]: crate::Settings::insecure_listen

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};

/// How far the listening address reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Loopback: only this machine.
    Loopback,
    /// Beyond this machine; allowed only with `--insecure-listen`.
    Network,
}

/// A listening address refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    #[error(
        "{0} is reachable from other machines, and anyone who reaches chatty-local can mint a token for \
         any name at POST /dev/token; listen on loopback (127.0.0.1, [::1]) or pass --insecure-listen"
    )]
    NotLoopback(SocketAddr),
}

/// Whether the gateway may listen on `addr`: loopback always, anything else only with `insecure_listen`.
pub fn reach(addr: SocketAddr, insecure_listen: bool) -> Result<Reach, ListenError> {
    if addr.ip().to_canonical().is_loopback() {
        Ok(Reach::Loopback)
    } else if insecure_listen {
        Ok(Reach::Network)
    } else {
        Err(ListenError::NotLoopback(addr))
    }
}

/// The `Host` values this server answers to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    port: u16,
    /// The listening IP, when it reaches beyond loopback (`--insecure-listen`).
    network: Option<IpAddr>,
}

impl AllowedHosts {
    /// The hosts for a server listening on `addr` that [`reach`] allowed.
    pub fn new(addr: SocketAddr, reach: Reach) -> Self {
        Self {
            port: addr.port(),
            network: (reach == Reach::Network).then(|| addr.ip().to_canonical()),
        }
    }

    /// Whether `host` (a `Host` header: `name[:port]`, `[v6][:port]`) names this server: `localhost`
    /// or a loopback IP, or the listening IP when it reaches beyond loopback (any IP when that is
    /// `0.0.0.0` or `::`: rebinding needs a domain name, so an IP literal is always a direct request), on
    /// this server's port (80 when none is given).
    pub fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        if port != self.port {
            return false;
        }
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let Ok(ip) = name.parse::<IpAddr>() else {
            return false;
        };
        let ip = ip.to_canonical();
        ip.is_loopback()
            || self
                .network
                .is_some_and(|network| network.is_unspecified() || network == ip)
    }
}

/// `name[:port]` or `[v6][:port]` → (name without brackets, port); `None` when it is neither.
fn split_host(host: &str) -> Option<(&str, u16)> {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => {
            let (name, rest) = bracketed.split_once(']')?;
            match rest {
                "" => (name, None),
                _ => (name, Some(rest.strip_prefix(':')?)),
            }
        }
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => 80,
    };
    Some((name, port))
}

/// The host a request is addressed to: its `Host` header, or the URI's authority (HTTP/2).
fn requested_host(request: &Request) -> Option<String> {
    match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok().map(str::to_owned),
        None => request.uri().authority().map(|a| a.as_str().to_owned()),
    }
}

/// Middleware: refuses, with 421 Misdirected Request, any request whose host is not in [`AllowedHosts`]
/// (400 when it names none). Runs before every route: the WebSocket upgrade, `@connections`, the sign-in,
/// `/dev/token` and the app.
pub async fn check_host(
    State(allowed): State<std::sync::Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    match requested_host(&request) {
        Some(host) if allowed.allows(&host) => next.run(request).await,
        Some(host) => {
            tracing::warn!(host, "request for another host refused");
            (
                StatusCode::MISDIRECTED_REQUEST,
                "This server answers only to localhost and loopback addresses.\n",
            )
                .into_response()
        }
        None => (StatusCode::BAD_REQUEST, "A request needs a Host header.\n").into_response(),
    }
}

/// Middleware: the response headers CloudFront's `SecurityHeadersPolicy` sends (HSTS aside, see the module
/// docs), and [`app_csp`] for responses that carry no policy of their own.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let host = requested_host(&request);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        set_csp(
            headers,
            &app_csp(host.as_deref().unwrap_or("localhost"), &[]),
        );
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    response
}

/// Sets `policy` as the response's Content-Security-Policy.
pub fn set_csp(headers: &mut HeaderMap, policy: &str) {
    if let Ok(value) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The app's policy: CloudFront's (`template.yaml`), with the local endpoints in `connect-src` (the socket
/// at `ws://<host>`; the sign-in is on this origin) and `inline_scripts` (`'sha256-…'` sources) added to
/// `script-src`: trunk's inline loader in an `index.html` the deploy step has not rewritten.
pub fn app_csp(host: &str, inline_scripts: &[String]) -> String {
    let scripts: String = inline_scripts.iter().map(|h| format!(" {h}")).collect();
    format!(
        "default-src 'self'; \
         script-src 'self' 'wasm-unsafe-eval'{scripts}; \
         style-src 'self'; style-src-attr 'unsafe-inline'; \
         img-src 'self' data: https://*.googleusercontent.com; \
         connect-src 'self' ws://{host}; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The sign-in pages' policy: nothing but their own inline `<style>` (`inline_styles`, by hash), and a
/// form that may post here and be redirected to the app on any loopback port.
pub fn sign_in_csp(inline_styles: &[String]) -> String {
    let styles: String = inline_styles.iter().map(|h| format!(" {h}")).collect();
    format!(
        "default-src 'none'; style-src{styles}; \
         form-action 'self' http://localhost:* http://127.0.0.1:* http://[::1]:* \
         https://localhost:* https://127.0.0.1:* https://[::1]:*; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The `'sha256-…'` source of every inline `<tag>` element in `html` (elements with a `src` are not
/// inline), for a policy that allows exactly those.
pub fn inline_hashes(html: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let from_tag = &rest[start..];
        let Some(tag_end) = from_tag.find('>') else {
            break;
        };
        let Some(body_len) = from_tag[tag_end + 1..].find(&close) else {
            break;
        };
        let body = &from_tag[tag_end + 1..tag_end + 1 + body_len];
        if !from_tag[..tag_end].contains("src=") && !body.is_empty() {
            hashes.push(format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(body.as_bytes()))
            ));
        }
        rest = &from_tag[tag_end + 1 + body_len + close.len()..];
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// Loopback addresses need nothing; any other address needs `--insecure-listen`.
    #[test]
    fn only_loopback_listens_without_the_flag() {
        for loopback in [
            "127.0.0.1:8080",
            "127.0.0.2:80",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(
                reach(addr(loopback), false),
                Ok(Reach::Loopback),
                "{loopback}"
            );
        }
        for network in [
            "0.0.0.0:8080",
            "192.168.1.5:8080",
            "[::]:8080",
            "[2001:db8::1]:80",
        ] {
            assert_eq!(
                reach(addr(network), false),
                Err(ListenError::NotLoopback(addr(network))),
                "{network}"
            );
            assert_eq!(reach(addr(network), true), Ok(Reach::Network), "{network}");
        }
    }

    /// On loopback: localhost and loopback IPs with the right port, and nothing else.
    #[test]
    fn loopback_servers_answer_to_loopback_names() {
        let hosts = AllowedHosts::new(addr("127.0.0.1:8080"), Reach::Loopback);
        for good in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LocalHost:8080",
            "[::1]:8080",
            "127.0.0.2:8080",
        ] {
            assert!(hosts.allows(good), "{good}");
        }
        for bad in [
            "evil.example:8080",
            "localhost.evil.example:8080",
            "127.0.0.1.evil.example:8080",
            "localhost:8081",
            "localhost",
            "127.0.0.1:",
            "localhost:8080:8080",
            "192.168.1.5:8080",
            "[::1]",
            "[::1]x:8080",
            "",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::new(addr("127.0.0.1:80"), Reach::Loopback).allows("localhost"));
    }

    /// Listening beyond loopback adds the listening address (any IP literal when it is unspecified), never
    /// a domain name.
    #[test]
    fn network_servers_also_answer_to_their_address() {
        let lan = AllowedHosts::new(addr("192.168.1.5:8080"), Reach::Network);
        assert!(lan.allows("192.168.1.5:8080"));
        assert!(lan.allows("localhost:8080"));
        assert!(!lan.allows("192.168.1.6:8080"));
        assert!(!lan.allows("chat.evil.example:8080"));
        let any = AllowedHosts::new(addr("0.0.0.0:8080"), Reach::Network);
        assert!(any.allows("10.0.0.7:8080"));
        assert!(any.allows("0.0.0.0:8080"));
        assert!(!any.allows("chat.evil.example:8080"));
    }

    /// Inline elements are hashed as CSP needs (SHA-256 of the exact text, base64); elements with a `src`
    /// are not.
    #[test]
    fn inline_elements_are_hashed() {
        let html =
            r#"<script type="module" src="/a.js"></script><script type="module">go()</script>"#;
        let expected = format!("'sha256-{}'", STANDARD.encode(Sha256::digest(b"go()")));
        assert_eq!(inline_hashes(html, "script"), [expected]);
        assert!(inline_hashes("<p>no scripts</p>", "script").is_empty());
    }
}
