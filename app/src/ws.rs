//! The only code that touches the WebSocket. [`run`] keeps one connection to the chat server alive for as
//! long as there is a session: it opens the socket with a fresh ID token, forwards outgoing frames,
//! parses incoming ones, pings to stay inside the idle timeout, replaces the connection before the
//! 2-hour cap or the token's expiry (and at once, with a refreshed token, if the server says the token
//! expired), and after a drop retries with backoff. Everything it learns goes
//! out as [`SocketEvent`]s; what to do about them is the chat client's business.

use std::task::Poll;

use futures::{
    channel::mpsc::UnboundedReceiver, future::LocalBoxFuture, FutureExt, SinkExt, StreamExt,
};
use gloo_net::websocket::{futures::WebSocket, Message, State, WebSocketError};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use protocol::{ClientFrame, ErrorCode, ServerFrame};

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

/// Opens a socket and waits until it is open; `None` as soon as it fails, or if it takes too long.
async fn open(url: &str) -> Option<WebSocket> {
    let mut socket = WebSocket::open(url).ok()?;
    // The sink is ready once the socket leaves CONNECTING, but gloo-net wakes a waiting sink only on
    // `open` and `error`. A socket closed while connecting without an `error` event first (what a
    // WebSocket shim or a test double may do) would then hang here until the timeout, turning every
    // failed try into a 10-second one. Its `close` event reaches the stream, so poll that as well: before
    // the socket opens the stream can only yield that it failed or closed.
    let settled = futures::future::poll_fn(|cx| {
        if socket.poll_ready_unpin(cx).is_ready() || socket.poll_next_unpin(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    });
    futures::select! {
        _ = settled.fuse() => {},
        _ = TimeoutFuture::new(OPEN_TIMEOUT_MS).fuse() => return None,
    }
    matches!(socket.state(), State::Open).then_some(socket)
}

/// Pumps one open connection until it ends.
async fn serve(
    socket: WebSocket,
    rotate_at_ms: f64,
    outgoing: &mut UnboundedReceiver<ClientFrame>,
    on_event: &mut impl FnMut(SocketEvent),
) -> End {
    let (mut sink, stream) = socket.split();
    let mut stream = stream.fuse();
    let mut pings = IntervalStream::new(PING_EVERY_MS).fuse();
    let rotate_in = (rotate_at_ms - js_sys::Date::now()).clamp(0.0, f64::from(u32::MAX)) as u32;
    let mut rotate = TimeoutFuture::new(rotate_in).fuse();
    let mut answered = false;
    loop {
        let frame = futures::select! {
            frame = outgoing.next() => match frame {
                Some(frame) => frame,
                None => return close(sink, stream.into_inner(), End::Stopped),
            },
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    answered = true;
                    // A frame this build does not know (a newer server) is skipped, not fatal.
                    match serde_json::from_str::<ServerFrame>(&text) {
                        Ok(ServerFrame::Error { code: ErrorCode::TokenExpired, .. }) => {
                            return close(sink, stream.into_inner(), End::Expired);
                        }
                        Ok(frame) => on_event(SocketEvent::Frame(Box::new(frame))),
                        Err(_) => {}
                    }
                    continue;
                }
                Some(Ok(Message::Bytes(_))) => continue,
                Some(Err(WebSocketError::MessageSendError(_))) => continue,
                Some(Err(_)) | None => return End::Dropped { answered },
            },
            _ = pings.next() => ClientFrame::Ping,
            _ = rotate => return close(sink, stream.into_inner(), End::Rotate),
        };
        if sink.send(Message::Text(frame.to_json())).await.is_err() {
            return End::Dropped { answered };
        }
    }
}

/// Closes the socket normally (code 1000) so the server runs its disconnect at once.
fn close(
    sink: futures::stream::SplitSink<WebSocket, Message>,
    stream: futures::stream::SplitStream<WebSocket>,
    end: End,
) -> End {
    if let Ok(socket) = sink.reunite(stream) {
        let _ = socket.close(Some(1000), None);
    }
    end
}
