//! The only code that touches the WebSocket. [`run`] keeps one connection to the chat server alive for as
//! long as there is a session: it opens the socket with a fresh ID token, forwards outgoing frames,
//! parses incoming ones, pings to stay inside the idle timeout, replaces the connection before the
//! 2-hour cap or the token's expiry (and at once, with a refreshed token, if the server says the token
//! expired), and after a drop retries with backoff. Everything it learns goes
//! out as [`SocketEvent`]s; what to do about them is the chat client's business.

use futures::{
    channel::mpsc::{self, UnboundedReceiver},
    future::LocalBoxFuture,
    FutureExt, StreamExt,
};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use protocol::{ClientFrame, ErrorCode, ServerFrame};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{MessageEvent, WebSocket};

use crate::{
    backoff::Backoff,
    connection::{rotate_at, ConnectionStatus, OPEN_TIMEOUT_MS, PING_EVERY_MS},
};

/// An ID token to connect with.
pub struct Credentials {
    pub id_token: String,
    pub expires_at_ms: f64,
}

/// What happened on the connection.
#[derive(Debug)]
pub enum SocketEvent {
    Status(ConnectionStatus),
    /// A connection opened; frames sent from now on reach the server. Frames queued before were dropped:
    /// the client re-sends what matters (joins, catch-up, pending messages).
    Opened,
    Frame(Box<ServerFrame>),
    /// The open connection ended (dropped, or replaced on purpose).
    Closed,
}

/// How an open connection ended.
enum End {
    /// Replaced on purpose before a limit: reconnect at once, without telling the person.
    Rotate,
    /// The server or the network closed it. `answered`: the server had sent something first, so the
    /// connection worked and the next try starts the backoff afresh; a socket that opens and closes
    /// without a word (a proxy in the way, a server refusing late) keeps backing off.
    Dropped { answered: bool },
    /// The server refused the token as expired: reconnect at once with a refreshed one.
    Expired,
    /// The client went away (signed out): stop.
    Stopped,
}

/// Runs until `credentials` returns `None` (signed out) or the sender side of `outgoing` is dropped.
/// `credentials(force_refresh)` yields a token valid for a while; `force_refresh` is set after repeated
/// failures to open, in case the server no longer accepts the token it has. A message on `retry_now`
/// cuts a backoff wait short (the person asked, or the network came back).
pub async fn run(
    ws_url: String,
    mut credentials: impl FnMut(bool) -> LocalBoxFuture<'static, Option<Credentials>>,
    mut outgoing: UnboundedReceiver<ClientFrame>,
    mut retry_now: UnboundedReceiver<()>,
    mut on_event: impl FnMut(SocketEvent),
) {
    let backoff = Backoff::default();
    let mut failures: u32 = 0;
    let mut expired = false;
    on_event(SocketEvent::Status(ConnectionStatus::Connecting));
    loop {
        let refresh = expired || (failures >= 2 && failures.is_multiple_of(2));
        expired = false;
        let Some(creds) = credentials(refresh).await else {
            on_event(SocketEvent::Status(ConnectionStatus::SignedOut));
            return;
        };
        let url = format!(
            "{ws_url}?token={}",
            js_sys::encode_uri_component(&creds.id_token)
        );
        if let Some(socket) = open(&url).await {
            // Frames queued while there was no connection may depend on state the server lost (a join).
            while outgoing.try_recv().is_ok() {}
            on_event(SocketEvent::Status(ConnectionStatus::Online));
            on_event(SocketEvent::Opened);
            let until = rotate_at(js_sys::Date::now(), creds.expires_at_ms);
            let end = serve(socket, until, &mut outgoing, &mut on_event).await;
            on_event(SocketEvent::Closed);
            match end {
                End::Rotate => continue,
                End::Expired => {
                    expired = true;
                    continue;
                }
                End::Stopped => return,
                End::Dropped { answered: true } => failures = 0,
                End::Dropped { answered: false } => {}
            }
        }
        let delay = backoff.delay_ms(failures, js_sys::Math::random());
        failures = failures.saturating_add(1);
        on_event(SocketEvent::Status(ConnectionStatus::Reconnecting {
            attempt: failures,
            retry_at_ms: js_sys::Date::now() + delay,
        }));
        futures::select! {
            _ = TimeoutFuture::new(delay as u32).fuse() => {},
            _ = retry_now.next() => {},
        }
        while retry_now.try_recv().is_ok() {}
    }
}

/// What the browser's socket reported.
enum Event {
    Opened,
    Text(String),
    /// An `error` or a `close`: either way the connection is over.
    Ended,
}

/// A browser WebSocket whose events arrive in order on `events`; dropping it closes the socket.
struct Socket {
    socket: WebSocket,
    events: UnboundedReceiver<Event>,
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

impl Socket {
    fn open(url: &str) -> Option<Self> {
        let socket = WebSocket::new(url).ok()?;
        let (sender, events) = mpsc::unbounded();
        let handler = |event: fn(JsValue) -> Option<Event>| {
            let sender = sender.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |js: JsValue| {
                if let Some(event) = event(js) {
                    let _ = sender.unbounded_send(event);
                }
            })
        };
        let opened = handler(|_| Some(Event::Opened));
        // Binary messages are not part of the protocol: skipped.
        let message = handler(|js| {
            js.unchecked_into::<MessageEvent>()
                .data()
                .as_string()
                .map(Event::Text)
        });
        let ended = handler(|_| Some(Event::Ended));
        socket.set_onopen(Some(opened.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(message.as_ref().unchecked_ref()));
        socket.set_onerror(Some(ended.as_ref().unchecked_ref()));
        socket.set_onclose(Some(ended.as_ref().unchecked_ref()));
        Some(Self {
            socket,
            events,
            _handlers: [opened, message, ended],
        })
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.socket.close();
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onerror(None);
        self.socket.set_onclose(None);
    }
}

/// Opens a socket and waits until it is open; `None` as soon as it fails or closes, or if it takes too
/// long.
async fn open(url: &str) -> Option<Socket> {
    let mut socket = Socket::open(url)?;
    futures::select! {
        _ = socket.events.next() => {},
        _ = TimeoutFuture::new(OPEN_TIMEOUT_MS).fuse() => return None,
    }
    (socket.socket.ready_state() == WebSocket::OPEN).then_some(socket)
}

/// Pumps one open connection until it ends.
async fn serve(
    mut socket: Socket,
    rotate_at_ms: f64,
    outgoing: &mut UnboundedReceiver<ClientFrame>,
    on_event: &mut impl FnMut(SocketEvent),
) -> End {
    let mut pings = IntervalStream::new(PING_EVERY_MS).fuse();
    let rotate_in = (rotate_at_ms - js_sys::Date::now()).clamp(0.0, f64::from(u32::MAX)) as u32;
    let mut rotate = TimeoutFuture::new(rotate_in).fuse();
    let mut answered = false;
    loop {
        let frame = futures::select! {
            frame = outgoing.next() => match frame {
                Some(frame) => frame,
                None => return close(socket, End::Stopped),
            },
            event = socket.events.next() => match event {
                Some(Event::Text(text)) => {
                    answered = true;
                    // A frame this build does not know (a newer server) is skipped, not fatal.
                    match serde_json::from_str::<ServerFrame>(&text) {
                        Ok(ServerFrame::Error { code: ErrorCode::TokenExpired, .. }) => {
                            return close(socket, End::Expired);
                        }
                        Ok(frame) => on_event(SocketEvent::Frame(Box::new(frame))),
                        Err(_) => {}
                    }
                    continue;
                }
                Some(Event::Opened) => continue,
                Some(Event::Ended) | None => return End::Dropped { answered },
            },
            _ = pings.next() => ClientFrame::Ping,
            _ = rotate => return close(socket, End::Rotate),
        };
        if socket.socket.send_with_str(&frame.to_json()).is_err() {
            return End::Dropped { answered };
        }
    }
}

/// Closes the socket normally (code 1000) so the server runs its disconnect at once.
fn close(socket: Socket, end: End) -> End {
    let _ = socket.socket.close_with_code(1000);
    end
}
