//! The chat client, shared as context: it owns the reactive copies of the [`ChatState`], the
//! [`Outbox`], the [`Drafts`], the [`ConnectionStatus`] and the [`AlertSettings`], runs the connection
//! loop in [`crate::ws`], turns what the person does (join, send, retry, scroll up) into frames, and
//! raises a notification for each live message that asks for them ([`crate::alerts`]). Components read its
//! signals and change them only through its methods: those actions, and what the screen reports back
//! (the room on screen, whether its bottom is seen, a notice dismissed). The pure rules live in `state`
//! and `outbox`; this module only wires them to signals, storage and the socket.

use futures::channel::mpsc::{self, UnboundedSender};
use gloo_timers::future::TimeoutFuture;
use leptos::{prelude::*, task::spawn_local};
use protocol::{
    ChatMessage, ClientFrame, ClientId, Emoji, ErrorCode, InviteCode, MessageId, RoomName,
    ServerFrame, User,
};

use crate::{
    alerts::AlertSettings,
    auth_flow::Auth,
    connection::ConnectionStatus,
    mention::People,
    notify,
    outbox::{Drafts, Outbox, SEND_TIMEOUT_MS},
    state::ChatState,
    storage::{self, Area},
    ws::{self, SocketEvent},
};

/// Typing frames go out at most this often while the person types.
const TYPING_EVERY_MS: f64 = 3_000.0;

/// Read positions go out at most this often (each room's newest only), not once per message.
const READS_EVERY_MS: u32 = 2_000;

/// Where an opened invite link's code waits (in this tab's session storage) for the chat to start: it
/// survives the sign-in's round trip to the identity provider.
pub const JOIN_KEY: &str = "chatty.join";

#[derive(Clone, Copy)]
pub struct ChatClient {
    pub state: RwSignal<ChatState>,
    pub outbox: RwSignal<Outbox>,
    pub drafts: RwSignal<Drafts>,
    pub status: RwSignal<ConnectionStatus>,
    /// A room an invite link just let this person into: the screen shows it (see
    /// [`ChatClient::arrived`]).
    pub arrival: RwSignal<Option<RoomName>>,
    /// The person's choices about alerts (the tone, muted rooms), kept in this browser.
    pub alerts: RwSignal<AlertSettings>,
    /// The signed-in person's id, which also names their stored rooms, outbox and drafts.
    user: StoredValue<Option<String>>,
    sender: StoredValue<Option<UnboundedSender<ClientFrame>>>,
    retry: StoredValue<Option<UnboundedSender<()>>>,
    last_typing: StoredValue<f64>,
}

impl ChatClient {
    pub fn new() -> Self {
        Self {
            state: RwSignal::new(ChatState::new("", [])),
            outbox: RwSignal::new(Outbox::default()),
            drafts: RwSignal::new(Drafts::default()),
            status: RwSignal::new(ConnectionStatus::SignedOut),
            arrival: RwSignal::new(None),
            alerts: RwSignal::new(AlertSettings::default()),
            user: StoredValue::new(None),
            sender: StoredValue::new(None),
            retry: StoredValue::new(None),
            last_typing: StoredValue::new(0.0),
        }
    }

    /// The id of the person the client runs for, if it runs.
    pub fn user(&self) -> Option<String> {
        self.user.get_value()
    }

    /// Starts for a signed-in person: restores their rooms (as last seen here, until the server's list
    /// arrives), outbox, drafts and alert settings, connects, and sends read positions every few seconds.
    pub fn start(self, auth: Auth, user_id: String) {
        let rooms: Vec<RoomName> =
            storage::load(Area::Local, &key(&user_id, "rooms")).unwrap_or_default();
        let mut state = ChatState::new(user_id.clone(), rooms);
        if let Some(code) = storage::load::<InviteCode>(Area::Session, JOIN_KEY) {
            storage::remove(Area::Session, JOIN_KEY);
            state.redeem(code, false);
        }
        self.state.set(state);
        self.outbox.set(
            storage::load::<Outbox>(Area::Local, &key(&user_id, "outbox"))
                .unwrap_or_default()
                .restored(),
        );
        self.drafts
            .set(storage::load(Area::Local, &key(&user_id, "drafts")).unwrap_or_default());
        self.alerts.set(AlertSettings {
            sound: storage::load(Area::Local, &key(&user_id, "sound")).unwrap_or(false),
            muted: storage::load(Area::Local, &key(&user_id, "muted")).unwrap_or_default(),
        });
        self.user.set_value(Some(user_id));
        let (sender, receiver) = mpsc::unbounded();
        self.sender.set_value(Some(sender));
        let (retry, retry_now) = mpsc::unbounded();
        self.retry.set_value(Some(retry));
        let ws_url = auth.config.with_value(|c| c.ws_url.clone());
        spawn_local(ws::run(
            ws_url,
            move |force| auth.credentials_boxed(force),
            receiver,
            retry_now,
            move |event| self.on_event(event),
        ));
        spawn_local(async move {
            while self.user.try_get_value().flatten().is_some() {
                TimeoutFuture::new(READS_EVERY_MS).await;
                self.send_reads();
            }
        });
    }

    /// Sends the read positions that moved, if online (otherwise they wait for the next tick).
    fn send_reads(&self) {
        if self
            .status
            .try_get_untracked()
            .is_some_and(|s| s.is_online())
        {
            let frames = self
                .state
                .try_update(ChatState::take_reads)
                .unwrap_or_default();
            self.send_all(frames);
        }
    }

    /// Reconnects now instead of waiting out the backoff.
    pub fn retry_now(&self) {
        self.retry.with_value(|retry| {
            if let Some(retry) = retry {
                let _ = retry.unbounded_send(());
            }
        });
    }

    /// The person signs out: stops, and forgets what they wrote but had not sent (drafts and outbox), here
    /// and in storage, so whoever uses this browser next finds none of it. Their room list stays.
    pub fn sign_out(self) {
        if let Some(user) = self.user() {
            storage::remove(Area::Local, &key(&user, "drafts"));
            storage::remove(Area::Local, &key(&user, "outbox"));
        }
        self.drafts.set(Default::default());
        self.outbox.set(Outbox::default());
        self.stop();
    }

    /// Stops (the session ended): closes the connection; what is stored stays for the next sign-in.
    pub fn stop(self) {
        self.sender.set_value(None);
        self.retry.set_value(None);
        self.user.set_value(None);
        self.status.set(ConnectionStatus::SignedOut);
        self.state.set(ChatState::new("", []));
    }

    fn on_event(self, event: SocketEvent) {
        match event {
            SocketEvent::Status(status) => self.status.set(status),
            SocketEvent::Opened => {
                let frames = self
                    .state
                    .try_update(ChatState::on_open)
                    .unwrap_or_default();
                self.send_all(frames);
            }
            SocketEvent::Frame(frame) => {
                if let ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    client_id: Some(_),
                    retry_after_ms: Some(wait_ms),
                    ..
                } = *frame
                {
                    // The message is queued again (see `Outbox::on_frame`); send it once it fits.
                    let wait_ms = u32::try_from(wait_ms).unwrap_or(u32::MAX);
                    spawn_local(async move {
                        TimeoutFuture::new(wait_ms).await;
                        self.flush_outbox();
                    });
                }
                if let ServerFrame::Message(message) = &*frame {
                    self.alert(message);
                }
                let now = js_sys::Date::now();
                let follow_ups = self
                    .state
                    .try_update(|s| s.apply(&frame, now))
                    .unwrap_or_default();
                self.send_all(follow_ups);
                if let Some(room) = self.state.try_update(ChatState::take_arrived).flatten() {
                    self.save_rooms();
                    self.arrival.set(Some(room));
                }
                if matches!(*frame, ServerFrame::Rooms { .. }) {
                    // The rooms are joined again now: messages written meanwhile can go.
                    self.save_rooms();
                    self.flush_outbox();
                }
                if self
                    .outbox
                    .try_update(|o| o.on_frame(&frame))
                    .unwrap_or(false)
                {
                    self.save_outbox();
                }
            }
            SocketEvent::Closed => self.outbox.update(Outbox::requeue),
        }
    }

    /// Raises a notification (and the tone) for a live message that asks for this person while the page
    /// is hidden: a mention of them or a direct message, news here, not theirs, not in a muted room.
    fn alert(self, message: &ChatMessage) {
        let Some(me) = self.user() else { return };
        let alert = self.state.with_untracked(|s| {
            let room = s.room(&message.room).filter(|_| s.is_news(message))?;
            let people = People::in_room(&me, room);
            let label = s.label(&message.room);
            self.alerts
                .with_untracked(|a| a.alert(message, &me, &people, &label, notify::page_hidden()))
        });
        if let Some(alert) = alert {
            let sound = self.alerts.with_untracked(|a| a.sound);
            notify::raise(&alert, sound);
        }
    }

    fn send_all(&self, frames: Vec<ClientFrame>) {
        self.sender.with_value(|sender| {
            if let Some(sender) = sender {
                for frame in frames {
                    let _ = sender.unbounded_send(frame);
                }
            }
        });
    }

    /// Sends every queued message, if online (otherwise the next `Opened` does), and checks for an
    /// answer to each once [`SEND_TIMEOUT_MS`] have passed.
    fn flush_outbox(self) {
        if self.status.get_untracked().is_online() {
            let now = js_sys::Date::now() as u64;
            let frames = self
                .outbox
                .try_update(|o| o.take_queued(now))
                .unwrap_or_default();
            if !frames.is_empty() {
                self.send_all(frames);
                spawn_local(async move {
                    // A timer never fires early, but `Date.now()` may read a millisecond behind it.
                    TimeoutFuture::new(SEND_TIMEOUT_MS as u32 + 20).await;
                    let now = js_sys::Date::now() as u64;
                    if self.outbox.try_update(|o| o.time_out(now)) == Some(true) {
                        self.save_outbox();
                    }
                });
            }
        }
        self.save_outbox();
    }

    /// Joins a room (if not joined yet) and remembers it for the next visit.
    pub fn join(&self, room: &RoomName) {
        let frames = self.state.try_update(|s| s.join(room)).unwrap_or_default();
        if !frames.is_empty() {
            self.save_rooms();
            self.send_all(frames);
        }
    }

    /// Creates a private room named `title` and joins it; the room, or why the name cannot be one.
    pub fn create_private(&self, title: &str) -> Result<RoomName, String> {
        let (room, frames) = self
            .state
            .try_update(|s| s.create_private(title))
            .unwrap_or_else(|| Err("The chat is not running.".to_owned()))?;
        self.save_rooms();
        self.send_all(frames);
        Ok(room)
    }

    /// Lets `user` (someone who shares a room with this person) into private room `room`.
    pub fn invite(&self, room: &RoomName, user: &User) {
        self.send_all(vec![ClientFrame::Invite {
            room: room.clone(),
            user: user.id.clone(),
        }]);
    }

    /// Opens the direct conversation with `user` and joins it; the room, to show.
    pub fn open_dm(&self, user: &User) -> Option<RoomName> {
        let me = self.user()?;
        let room = RoomName::direct(&me, &user.id);
        self.send_all(vec![ClientFrame::Dm {
            user: user.id.clone(),
        }]);
        self.join(&room);
        Some(room)
    }

    /// Asks for a single-use invite link to private room `room` (it arrives in the state).
    pub fn invite_link(&self, room: &RoomName) {
        self.send_all(vec![ClientFrame::InviteLink {
            room: room.clone(),
            client_id: new_client_id(),
        }]);
    }

    /// The room an invite link let this person into, once: the screen goes there.
    pub fn arrived(&self) -> Option<RoomName> {
        let room = self.arrival.get();
        if room.is_some() {
            self.arrival.set(None);
        }
        room
    }

    /// Leaves a room, dropping its unsent messages and draft.
    pub fn leave(&self, room: &RoomName) {
        if let Some(frame) = self.state.try_update(|s| s.leave(room)).flatten() {
            self.send_all(vec![frame]);
        }
        self.outbox.update(|o| o.discard_room(room));
        self.set_draft(room, "");
        self.save_rooms();
        self.save_outbox();
    }

    /// Queues a message and sends it when online. The error is a sentence for the person.
    pub fn post(&self, room: &RoomName, body: String) -> Result<(), String> {
        let client_id = new_client_id();
        self.outbox
            .try_update(|o| o.push(room.clone(), client_id, body))
            .unwrap_or(Ok(()))
            .map_err(|e| e.code.describe())?;
        self.state.update(|s| s.acknowledge(room));
        // The message ends "typing" for the others, so the next keystroke announces it afresh.
        self.last_typing.set_value(0.0);
        self.flush_outbox();
        Ok(())
    }

    pub fn retry(&self, client_id: &ClientId) {
        self.outbox.update(|o| o.retry(client_id));
        self.flush_outbox();
    }

    pub fn discard(&self, client_id: &ClientId) {
        self.outbox.update(|o| o.discard(client_id));
        self.save_outbox();
    }

    /// Replaces the body of one of this person's messages (sent now if online; the server refuses
    /// someone else's). The error is a sentence for the person.
    pub fn edit(&self, room: &RoomName, id: MessageId, body: String) -> Result<(), String> {
        let frame = ClientFrame::Edit {
            room: room.clone(),
            id,
            body,
        };
        frame.validate().map_err(|e| e.code.describe())?;
        self.send_all(vec![frame]);
        Ok(())
    }

    /// Deletes one of this person's messages: everyone then sees a placeholder.
    pub fn delete(&self, room: &RoomName, id: MessageId) {
        self.send_all(vec![ClientFrame::Delete {
            room: room.clone(),
            id,
        }]);
    }

    /// Reacts to a message with `emoji`, or takes this person's reaction back if they had reacted with it
    /// (a chip's click).
    pub fn toggle_reaction(&self, room: &RoomName, id: MessageId, emoji: Emoji) {
        let reacted = self.state.with_untracked(|s| s.reacted(room, id, emoji));
        self.react(room, id, emoji, !reacted);
    }

    /// Reacts to a message with `emoji` (`on`), or takes the reaction back: said as a setting, so sending
    /// it twice is harmless.
    pub fn react(&self, room: &RoomName, id: MessageId, emoji: Emoji, on: bool) {
        self.send_all(vec![ClientFrame::React {
            room: room.clone(),
            id,
            emoji,
            on,
        }]);
    }

    /// Tells the room this person is typing, at most every few seconds.
    pub fn typing(&self, room: &RoomName) {
        let now = js_sys::Date::now();
        if self.status.get_untracked().is_online()
            && now - self.last_typing.get_value() > TYPING_EVERY_MS
        {
            self.last_typing.set_value(now);
            self.send_all(vec![ClientFrame::Typing { room: room.clone() }]);
        }
    }

    /// Asks for the page of messages before the oldest shown.
    pub fn load_older(&self, room: &RoomName) {
        if let Some(frame) = self.state.try_update(|s| s.load_older(room)).flatten() {
            self.send_all(vec![frame]);
        }
    }

    /// The room on screen, or none once the room page is gone. The page's cleanup may run after the
    /// state itself was disposed (the whole app torn down): then this does nothing.
    pub fn set_active(&self, room: Option<RoomName>) {
        self.state.try_update(|s| s.set_active(room));
    }

    /// Whether the reader sees the bottom of the room on screen (scrolled down, tab visible).
    pub fn set_watching(&self, watching: bool) {
        self.state.update(|s| s.set_watching(watching));
    }

    /// The people a message in `room` may mention, as this person reads it now (none for a room not
    /// joined).
    pub fn people(&self, room: &RoomName) -> People {
        let me = self.user().unwrap_or_default();
        self.state.with_untracked(|s| {
            s.room(room)
                .map(|r| People::in_room(&me, r))
                .unwrap_or_default()
        })
    }

    /// Turns the tone that comes with alerts on or off, for this person in this browser.
    pub fn set_sound(&self, sound: bool) {
        self.alerts.update(|a| a.sound = sound);
        if let Some(user) = self.user() {
            storage::save(Area::Local, &key(&user, "sound"), &sound);
        }
    }

    /// Mutes or unmutes a room, for this person in this browser.
    pub fn set_muted(&self, room: &RoomName, muted: bool) {
        self.alerts.update(|a| a.set_muted(room, muted));
        if let Some(user) = self.user() {
            self.alerts
                .with_untracked(|a| storage::save(Area::Local, &key(&user, "muted"), &a.muted));
        }
    }

    /// The person has read the server's notice: it goes.
    pub fn dismiss_notice(&self) {
        self.state.update(|s| s.notice = None);
    }

    pub fn set_draft(&self, room: &RoomName, text: &str) {
        self.drafts.update(|d| d.set(room, text));
        if let Some(user) = self.user() {
            self.drafts
                .with_untracked(|d| storage::save(Area::Local, &key(&user, "drafts"), d));
        }
    }

    fn save_rooms(&self) {
        if let Some(user) = self.user() {
            let rooms: Vec<RoomName> = self
                .state
                .with_untracked(|s| s.rooms().map(|(r, _)| r.clone()).collect());
            storage::save(Area::Local, &key(&user, "rooms"), &rooms);
        }
    }

    fn save_outbox(&self) {
        if let Some(user) = self.user() {
            self.outbox
                .with_untracked(|o| storage::save(Area::Local, &key(&user, "outbox"), o));
        }
    }
}

impl Default for ChatClient {
    fn default() -> Self {
        Self::new()
    }
}

/// A storage key per person, so two people sharing a browser never see each other's drafts.
fn key(user: &str, what: &str) -> String {
    format!("chatty.{user}.{what}")
}

/// A fresh, unique message id: time plus randomness, well inside the 64-character limit.
fn new_client_id() -> ClientId {
    let time = js_sys::Date::now() as u64;
    let random = (js_sys::Math::random() * 1e12) as u64;
    ClientId::new(format!("m{time:x}-{random:x}")).expect("hex digits are a valid client id")
}
