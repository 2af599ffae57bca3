//! `cargo xtask smoke`: two test clients sign in to a running chat (a deployed stack's `wss://` URL, or a
//! local gateway's `ws://…/ws`) and check, one line per check, what only a real deployment can settle:
//!
//! 1. both connect (the `$connect` authorizer accepts their ID tokens);
//! 2. they join a fresh room (a new name every run) and each sees a `presence` with both people;
//! 3. a `send` from A comes back to A (its confirmation: the same `client_id`) and reaches B;
//! 4. `history` returns that message;
//! 5. `typing` from A reaches B;
//! 6. `ping` is answered with `pong`;
//! 7. a bad frame is answered with an `error` frame and the connection stays usable;
//! 8. A disconnects and B sees a `presence` without A.
//!
//! Empty text frames (API Gateway's two-way routes may send one as a route's reply) are noted as
//! [`Finding`]s, not failures. Every frame sent is a [`ClientFrame`] and every frame read a [`ServerFrame`],
//! except the one bad frame, which no protocol type can express. The traffic is a handful of frames, far
//! inside the server's rate limits; A brings one new room into being per run (twenty an hour per person).
//!
//! Tokens are [`IdToken`]s: given (two test users' Cognito ID tokens), or minted by the local gateway's
//! `POST /dev/token`. They go into the connection URL and nowhere else: never printed, never stored.

use std::{
    fmt,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use protocol::{ChatMessage, ClientFrame, ClientId, ErrorCode, RoomName, ServerFrame, User};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{self, Message},
    MaybeTlsStream, WebSocketStream,
};

/// How long one check waits for the frames it expects: room for every function's cold start on AWS
/// (authorizer, gateway, registry in its VPC, sender).
pub const CHECK_WAIT: Duration = Duration::from_secs(15);
/// The whole run stops waiting after this, so it ends in under two minutes whatever happens.
pub const RUN_BUDGET: Duration = Duration::from_secs(100);

/// An ID token. It is a credential, so it has no `Display` and its `Debug` hides it.
#[derive(Clone)]
pub struct IdToken(String);

impl IdToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdToken(…)")
    }
}

/// Where the two clients' tokens come from.
#[derive(Debug, Clone)]
pub enum Tokens {
    /// Two test users' ID tokens (on AWS: Cognito's, see docs/deploy.md).
    Given { a: IdToken, b: IdToken },
    /// The local gateway's `POST /dev/token`, on the WebSocket URL's host and port.
    DevToken,
}

/// What to smoke-test.
#[derive(Debug, Clone)]
pub struct Target {
    /// The WebSocket URL without a query: `wss://…/<stage>` or `ws://127.0.0.1:PORT/ws`.
    pub ws_url: String,
    pub tokens: Tokens,
}

impl Target {
    /// Refuses what cannot work before anything connects: a URL that is not `ws://` or `wss://`, a URL with a
    /// query (the token is the query), and `/dev/token` over `wss://` (only the local gateway has one).
    pub fn new(ws_url: &str, tokens: Tokens) -> Result<Self> {
        let ws_url = ws_url.trim_end_matches('/');
        let Some((scheme, rest)) = ws_url.split_once("://") else {
            bail!("{ws_url} is not a ws:// or wss:// URL");
        };
        if rest.contains('?') {
            bail!("give the URL without a query: the token is added per connection");
        }
        match (scheme, &tokens) {
            ("ws" | "wss", Tokens::Given { .. }) | ("ws", Tokens::DevToken) => {}
            ("wss", Tokens::DevToken) => bail!(
                "a wss:// URL needs two test users' ID tokens: --token-a/--token-b or \
                 CHATTY_SMOKE_TOKEN_A/B (docs/deploy.md, \"After deploying\", shows how to get them)"
            ),
            _ => bail!("{ws_url} is not a ws:// or wss:// URL"),
        }
        Ok(Self {
            ws_url: ws_url.to_owned(),
            tokens,
        })
    }

    /// The local gateway's token endpoint: `http://HOST:PORT/dev/token` for `ws://HOST:PORT/…`.
    fn dev_token_url(&self) -> String {
        let rest = self.ws_url.trim_start_matches("ws://");
        let authority = rest.split('/').next().unwrap_or(rest);
        format!("http://{authority}/dev/token")
    }

    /// Where the tokens come from, for the person watching (never the tokens themselves).
    pub fn token_source(&self) -> String {
        match &self.tokens {
            Tokens::Given { .. } => "the two given ID tokens".to_owned(),
            Tokens::DevToken => format!("POST {}", self.dev_token_url()),
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// With what was seen (a message id, an error code), for the log.
    Passed(String),
    Failed(String),
    /// Not run: an earlier check it needs failed.
    Skipped(String),
}

/// Something worth knowing that is not a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `A` or `B`.
    pub client: &'static str,
    /// The check during which it was seen.
    pub during: &'static str,
    pub empty_frames: usize,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.empty_frames == 1 { "" } else { "s" };
        write!(
            f,
            "{} received {} empty text frame{plural} during \"{}\" (API Gateway's two-way route reply?)",
            self.client, self.empty_frames, self.during
        )
    }
}

/// Every check, in order, and the findings.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn all_passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Passed(_)))
    }
}

/// The checks' names, in the order they run.
pub const CHECKS: [&str; 8] = [
    "both connect",
    "join a fresh room: each sees both in presence",
    "send from A reaches A (same client_id) and B",
    "history returns the message",
    "typing from A reaches B",
    "ping gets pong",
    "a bad frame gets an error frame, the socket stays usable",
    "A disconnects: B sees presence without A",
];

/// Runs every check against `target`, calling `on_check` as each one ends (so progress shows as it goes),
/// and returns them all.
pub async fn run(target: &Target, mut on_check: impl FnMut(&Check)) -> Report {
    let deadline = Instant::now() + RUN_BUDGET;
    let mut checks = Vec::new();
    let mut record = |check: Check| {
        on_check(&check);
        checks.push(check);
    };

    let started = Instant::now();
    let (mut a, mut b) = match connect_both(target, deadline).await {
        Ok(pair) => {
            record(passed(CHECKS[0], started, "A and B"));
            pair
        }
        Err(err) => {
            record(failed(CHECKS[0], started, &err));
            for name in &CHECKS[1..] {
                record(skipped(name, CHECKS[0]));
            }
            return Report {
                checks,
                findings: Vec::new(),
            };
        }
    };

    let mut steps = Steps {
        room: fresh_room(),
        a_user: None,
        message: None,
    };
    let mut failures: Vec<&'static str> = Vec::new();
    for (index, name) in CHECKS.iter().enumerate().skip(1) {
        // Nothing after the join means anything without both in the room; history needs the message.
        let needs = [Some(CHECKS[1]), (index == 3).then_some(CHECKS[2])];
        if let Some(earlier) = needs.into_iter().flatten().find(|n| failures.contains(n)) {
            record(skipped(name, earlier));
            continue;
        }
        a.during = name;
        b.during = name;
        let started = Instant::now();
        let until = (Instant::now() + CHECK_WAIT).min(deadline);
        match steps.run(index, &mut a, &mut b, until).await {
            Ok(detail) => record(passed(name, started, &detail)),
            Err(err) => {
                record(failed(name, started, &err));
                failures.push(name);
            }
        }
    }
    b.close().await;
    Report {
        checks,
        findings: a.findings.into_iter().chain(b.findings).collect(),
    }
}

fn passed(name: &'static str, started: Instant, detail: &str) -> Check {
    Check {
        name,
        outcome: Outcome::Passed(detail.to_owned()),
        elapsed: started.elapsed(),
    }
}

fn failed(name: &'static str, started: Instant, err: &anyhow::Error) -> Check {
    Check {
        name,
        outcome: Outcome::Failed(format!("{err:#}")),
        elapsed: started.elapsed(),
    }
}

fn skipped(name: &'static str, because: &str) -> Check {
    Check {
        name,
        outcome: Outcome::Skipped(format!("needs \"{because}\"")),
        elapsed: Duration::ZERO,
    }
}

/// A room nobody else is in: `smoke-<unix ms>-<pid>`.
fn fresh_room() -> RoomName {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    RoomName::new(format!("smoke-{millis}-{}", std::process::id()))
        .expect("digits and dashes make a valid room name")
}

/// What the checks learn from each other: who A is (from the fresh room's first presence) and the message
/// A sent.
struct Steps {
    room: RoomName,
    a_user: Option<User>,
    message: Option<ChatMessage>,
}

impl Steps {
    async fn run(
        &mut self,
        index: usize,
        a: &mut Client,
        b: &mut Client,
        until: Instant,
    ) -> Result<String> {
        match index {
            1 => self.join(a, b, until).await,
            2 => self.send(a, b, until).await,
            3 => self.history(b, until).await,
            4 => self.typing(a, b, until).await,
            5 => ping(a, until).await,
            6 => bad_frame(a, until).await,
            7 => self.disconnect(a, b, until).await,
            _ => unreachable!("CHECKS has 8 entries"),
        }
    }

    /// A joins first, so the room's first presence names A alone; then B joins and both must see both.
    async fn join(&mut self, a: &mut Client, b: &mut Client, until: Instant) -> Result<String> {
        let room = self.room.clone();
        a.send(&ClientFrame::Join { room: room.clone() }).await?;
        let alone = a.presence(&room, until).await?;
        let [a_user] = alone.as_slice() else {
            bail!(
                "A's first presence in a fresh room lists {} people, not A alone",
                alone.len()
            );
        };
        let a_user = a_user.clone();
        b.send(&ClientFrame::Join { room: room.clone() }).await?;
        let both =
            |members: &[User]| members.len() == 2 && members.iter().any(|m| m.id == a_user.id);
        let seen_by_b = b.presence(&room, until).await?;
        if !both(&seen_by_b) {
            bail!(
                "B's presence lists {} (are both tokens the same user?)",
                names(&seen_by_b)
            );
        }
        let seen_by_a = a.presence_where(&room, until, both).await?;
        self.a_user = Some(a_user);
        Ok(format!("room {room}: {}", names(&seen_by_a)))
    }

    async fn send(&mut self, a: &mut Client, b: &mut Client, until: Instant) -> Result<String> {
        let client_id =
            ClientId::new(format!("{}-1", self.room)).expect("a room name is a valid client id");
        let body = format!("smoke test in {}", self.room);
        a.send(&ClientFrame::Send {
            room: self.room.clone(),
            client_id: client_id.clone(),
            body: body.clone(),
        })
        .await?;
        let mine = |m: &ChatMessage| m.client_id == client_id && m.room == self.room;
        let confirmed = a.message(until, mine).await.context("A's confirmation")?;
        let a_user = self.a_user.as_ref().expect("join ran");
        if confirmed.author.id != a_user.id || confirmed.body != body {
            bail!(
                "A's confirmation is from {} with body {:?}",
                confirmed.author.name,
                confirmed.body
            );
        }
        let delivered = b.message(until, mine).await.context("B's copy")?;
        if delivered.id != confirmed.id {
            bail!(
                "B got id {} where A's confirmation has {}",
                delivered.id,
                confirmed.id
            );
        }
        let id = confirmed.id.to_string();
        self.message = Some(confirmed);
        Ok(format!("message {id}"))
    }

    /// B asks, so the page comes from the store, not from what A sent.
    async fn history(&mut self, b: &mut Client, until: Instant) -> Result<String> {
        let sent = self.message.as_ref().expect("send ran");
        b.send(&ClientFrame::History {
            room: self.room.clone(),
            before: None,
            after: None,
            limit: Some(10),
            changes_after: None,
        })
        .await?;
        let room = &self.room;
        let messages = b
            .expect(until, "a history page", |frame| match frame {
                ServerFrame::History {
                    room: r, messages, ..
                } if &r == room => Some(messages),
                _ => None,
            })
            .await?;
        if !messages.iter().any(|m| m.id == sent.id) {
            bail!("the page has {} messages, not {}", messages.len(), sent.id);
        }
        Ok(format!(
            "{} message(s), {} among them",
            messages.len(),
            sent.id
        ))
    }

    async fn typing(&mut self, a: &mut Client, b: &mut Client, until: Instant) -> Result<String> {
        a.send(&ClientFrame::Typing {
            room: self.room.clone(),
        })
        .await?;
        let room = &self.room;
        let user = b
            .expect(until, "a typing frame", |frame| match frame {
                ServerFrame::Typing { room: r, user } if &r == room => Some(user),
                _ => None,
            })
            .await?;
        let a_user = self.a_user.as_ref().expect("join ran");
        if user.id != a_user.id {
            bail!("B saw {} typing, not A", user.name);
        }
        Ok(format!("{} is typing", user.name))
    }

    async fn disconnect(
        &mut self,
        a: &mut Client,
        b: &mut Client,
        until: Instant,
    ) -> Result<String> {
        a.close().await;
        let a_id = &self.a_user.as_ref().expect("join ran").id;
        let members = b
            .presence_where(&self.room, until, |members| {
                !members.iter().any(|m| &m.id == a_id)
            })
            .await?;
        Ok(format!("left: {}", names(&members)))
    }
}

async fn ping(a: &mut Client, until: Instant) -> Result<String> {
    a.send(&ClientFrame::Ping).await?;
    a.expect(until, "pong", |frame| {
        matches!(frame, ServerFrame::Pong).then_some(())
    })
    .await?;
    Ok("pong".to_owned())
}

/// An action no route knows: API Gateway sends it to `$default`, whose reply must be an `error` frame. Then a
/// ping must still be answered.
async fn bad_frame(a: &mut Client, until: Instant) -> Result<String> {
    // Deliberately outside the protocol, so no ClientFrame can carry it.
    a.send_text(r#"{"action":"smoke_not_an_action"}"#).await?;
    let code = a
        .expect(until, "an error frame", |frame| match frame {
            ServerFrame::Error { code, .. } => Some(code),
            _ => None,
        })
        .await?;
    ping(a, until).await.context("after the error")?;
    Ok(format!("{}, then pong", wire_name(code)))
}

/// An error code as the wire spells it (`unknown_action`).
fn wire_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

fn names(members: &[User]) -> String {
    if members.is_empty() {
        return "nobody".to_owned();
    }
    members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Both clients' tokens, then both sockets.
async fn connect_both(target: &Target, deadline: Instant) -> Result<(Client, Client)> {
    let until = (Instant::now() + CHECK_WAIT).min(deadline);
    let (token_a, token_b) = match &target.tokens {
        Tokens::Given { a, b } => (a.clone(), b.clone()),
        Tokens::DevToken => {
            let url = target.dev_token_url();
            let wait = until.saturating_duration_since(Instant::now());
            let run = std::process::id();
            (
                dev_token(&url, &format!("smoke-a-{run}"), wait).await?,
                dev_token(&url, &format!("smoke-b-{run}"), wait).await?,
            )
        }
    };
    let a = Client::connect("A", &target.ws_url, &token_a, until).await?;
    let b = Client::connect("B", &target.ws_url, &token_b, until).await?;
    Ok((a, b))
}

/// `POST /dev/token {"name": …}` → the token in `id_token`.
async fn dev_token(url: &str, name: &str, wait: Duration) -> Result<IdToken> {
    #[derive(serde::Deserialize)]
    struct Answer {
        id_token: String,
    }
    let answer: Answer = reqwest::Client::new()
        .post(url)
        .timeout(wait)
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("POST {url}"))?
        .json()
        .await
        .with_context(|| format!("reading the answer of POST {url}"))?;
    Ok(IdToken(answer.id_token))
}

/// One test client: its socket, and the empty frames it has seen so far.
struct Client {
    label: &'static str,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    during: &'static str,
    findings: Vec<Finding>,
}

impl Client {
    async fn connect(
        label: &'static str,
        ws_url: &str,
        token: &IdToken,
        until: Instant,
    ) -> Result<Self> {
        if ws_url.starts_with("wss://") {
            // rustls needs one crypto provider for the process; ring is the only one built in. A second call
            // finds it installed, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        // The URL with the token goes to the socket and nowhere else: errors name the URL without it.
        let connecting = connect_async(format!("{ws_url}?token={}", token.0));
        let (socket, _) = tokio::time::timeout_at(until.into(), connecting)
            .await
            .with_context(|| format!("{label}: no connection to {ws_url} in time"))?
            .map_err(|err| connect_error(label, ws_url, err))?;
        Ok(Self {
            label,
            socket,
            during: CHECKS[0],
            findings: Vec::new(),
        })
    }

    async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        self.send_text(&frame.to_json()).await
    }

    async fn send_text(&mut self, text: &str) -> Result<()> {
        self.socket
            .send(Message::text(text))
            .await
            .with_context(|| format!("{}: sending", self.label))
    }

    /// Reads frames until `wanted` picks one, or fails: on the deadline, a closed socket, a frame that is not
    /// a server frame, or an `error` frame `wanted` does not pick (a refusal would otherwise look like a
    /// timeout). Empty text frames are counted as findings and skipped.
    async fn expect<T>(
        &mut self,
        until: Instant,
        what: &str,
        mut wanted: impl FnMut(ServerFrame) -> Option<T>,
    ) -> Result<T> {
        loop {
            let next = tokio::time::timeout_at(until.into(), self.socket.next())
                .await
                .map_err(|_| anyhow::anyhow!("{}: no {what} in time", self.label))?;
            let text = match next {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(close))) => {
                    bail!("{}: the server closed the socket ({close:?})", self.label)
                }
                Some(Ok(Message::Binary(bytes))) => {
                    bail!("{}: a binary frame ({} bytes)", self.label, bytes.len())
                }
                Some(Err(err)) => bail!("{}: the socket failed: {err}", self.label),
                None => bail!("{}: the socket ended", self.label),
            };
            if text.is_empty() {
                self.note_empty_frame();
                continue;
            }
            let frame: ServerFrame = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a server frame: {}", self.label, clip(&text)))?;
            let refusal = match &frame {
                ServerFrame::Error { code, message, .. } => {
                    Some(format!("{}: {message}", wire_name(*code)))
                }
                _ => None,
            };
            if let Some(found) = wanted(frame) {
                return Ok(found);
            }
            if let Some(refusal) = refusal {
                bail!(
                    "{}: refused while waiting for {what}: {refusal}",
                    self.label
                );
            }
        }
    }

    /// The next presence of `room`.
    async fn presence(&mut self, room: &RoomName, until: Instant) -> Result<Vec<User>> {
        self.presence_where(room, until, |_| true).await
    }

    /// The first presence of `room` whose members pass `test`.
    async fn presence_where(
        &mut self,
        room: &RoomName,
        until: Instant,
        test: impl Fn(&[User]) -> bool,
    ) -> Result<Vec<User>> {
        self.expect(until, "presence", |frame| match frame {
            ServerFrame::Presence {
                room: r, members, ..
            } if &r == room && test(&members) => Some(members),
            _ => None,
        })
        .await
    }

    /// The first `message` frame that `mine` picks.
    async fn message(
        &mut self,
        until: Instant,
        mine: impl Fn(&ChatMessage) -> bool,
    ) -> Result<ChatMessage> {
        self.expect(until, "message", |frame| match frame {
            ServerFrame::Message(m) if mine(&m) => Some(m),
            _ => None,
        })
        .await
    }

    fn note_empty_frame(&mut self) {
        match self.findings.last_mut() {
            Some(last) if last.during == self.during => last.empty_frames += 1,
            _ => self.findings.push(Finding {
                client: self.label,
                during: self.during,
                empty_frames: 1,
            }),
        }
    }

    /// A close handshake, bounded: a server that does not answer does not hold the run up.
    async fn close(&mut self) {
        let closing = self.socket.close(None);
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }
}

/// A refused handshake says why without the URL that carried the token.
fn connect_error(label: &str, ws_url: &str, err: tungstenite::Error) -> anyhow::Error {
    match err {
        tungstenite::Error::Http(response) if response.status().as_u16() == 401 => anyhow::anyhow!(
            "{label}: {ws_url} refused the token (HTTP 401): missing, forged or expired (ID tokens \
             last an hour)"
        ),
        tungstenite::Error::Http(response) => {
            anyhow::anyhow!("{label}: {ws_url} answered HTTP {}", response.status())
        }
        other => anyhow::anyhow!("{label}: connecting to {ws_url}: {other}"),
    }
}

/// At most 200 characters of a frame, for an error message.
fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(200).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token never shows in a debug print of the target that carries it.
    #[test]
    fn tokens_do_not_print() {
        let target = Target::new(
            "wss://abc.execute-api.eu-west-1.amazonaws.com/prod",
            Tokens::Given {
                a: IdToken::new("eyJsecret-a"),
                b: IdToken::new("eyJsecret-b"),
            },
        )
        .unwrap();
        let printed = format!("{target:?} {}", target.token_source());
        assert!(!printed.contains("secret"), "{printed}");
    }

    /// Only the local gateway mints tokens, over plain ws://; a query would collide with the token.
    #[test]
    fn targets_that_cannot_work_are_refused() {
        let err = Target::new("wss://abc.example/prod", Tokens::DevToken).unwrap_err();
        assert!(err.to_string().contains("--token-a"), "{err}");
        assert!(Target::new("ws://127.0.0.1:8080/ws?token=x", Tokens::DevToken).is_err());
        assert!(Target::new("http://127.0.0.1:8080/ws", Tokens::DevToken).is_err());
        let local = Target::new("ws://127.0.0.1:8080/ws/", Tokens::DevToken).unwrap();
        assert_eq!(local.ws_url, "ws://127.0.0.1:8080/ws");
        assert_eq!(local.dev_token_url(), "http://127.0.0.1:8080/dev/token");
    }

    /// Every run gets a room of its own, valid by the protocol's rules.
    #[test]
    fn the_fresh_room_is_a_valid_room_name() {
        let room = fresh_room();
        assert!(room.as_str().starts_with("smoke-"), "{room}");
    }
}
