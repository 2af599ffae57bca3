//! What the app knows about the chat: the rooms this person is in, each with its messages (ordered and
//! de-duplicated by the server's id) and this person's own reactions to them, members, who is typing,
//! unread counts and the "new messages" marker. [`ChatState::apply`] folds one [`ServerFrame`] in and returns the frames to send in answer
//! (the next catch-up page); the methods that start something (`join`, `on_open`, `load_older`) return
//! the frames to send. Pure: no browser calls, tested natively.

use std::collections::VecDeque;

use protocol::{
    ChatMessage, ClientFrame, Emoji, ErrorCode, InviteCode, MessageId, RoomEntry, RoomName,
    ServerFrame, User,
};
use time::OffsetDateTime;

use crate::{display::lowercase, sorted_map::SortedMap};

/// The room a person starts in on their first visit.
pub const DEFAULT_ROOM: &str = "general";

/// Messages asked for when a room is first shown, and per older page.
pub const PAGE: u16 = 50;
/// Messages asked for per page when catching up after a reconnect.
pub const CATCH_UP_PAGE: u16 = 100;
/// How long "X is typing…" stays up after the last `typing` frame.
pub const TYPING_SHOWN_MS: f64 = 6_000.0;

/// Which page a `history` request asked for. Answers come back in request order on one connection, so a
/// queue per room tells which request an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    /// The newest messages (a room shown for the first time).
    Latest,
    /// Older than what we have (the reader scrolled up).
    Before,
    /// Newer than what is known complete (catching up after a reconnect).
    After,
}

/// One joined room.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomState {
    messages: SortedMap<MessageId, ChatMessage>,
    requests: VecDeque<Page>,
    /// The newest id up to which this room is known complete: the newest of the history pages (which the
    /// server answers whole), never of live frames, which may arrive out of order (5 before 4, and the
    /// connection dropped before 4 came). A reconnect catches up from here, so no gap survives it.
    synced: Option<MessageId>,
    /// The first page has arrived.
    pub loaded: bool,
    /// Older messages exist on the server.
    pub has_older: bool,
    /// A page of older messages is on its way.
    pub loading_older: bool,
    /// Who is here, sorted by name.
    pub members: Vec<User>,
    typing: Vec<(User, f64)>,
    /// Messages from others that arrived while this person was not looking at the bottom of this room.
    pub unread: u32,
    /// The first of those: where the "new messages" line goes.
    pub marker: Option<MessageId>,
    /// The newest message this person has read here, on any device (the server keeps it).
    pub read: Option<MessageId>,
    /// The newest read position sent to (or heard from) the server: `read` beyond it is still to send.
    read_sent: Option<MessageId>,
    /// A direct conversation's other person.
    pub with: Option<User>,
    /// Joined on this device by this person (not learned from the list): its first page is not news.
    fresh: bool,
    /// Joined on this device and on no list from the server since: a list without it may have been read
    /// before the join (lists arrive in any order), so it does not take the room away. The app asks for
    /// the list right after the join, and the answer, read after it, has the room.
    unlisted: bool,
    /// Known before the connection opened: joined again once the server's list says it is still ours.
    rejoin: bool,
    /// The server confirmed the join (a `presence` arrived): a list without it means it was left.
    confirmed: bool,
    /// The revision of the last `presence` applied since the join: they may come out of order, and an
    /// older one is stale.
    presence_rev: u64,
    /// The room's change number (edits, deletes) up to which this room is known current; like `synced`,
    /// only pages raise it, and a reconnect asks for the changes after it.
    rev: Option<u64>,
    /// This person's own reactions to each message, and the change number they are true as of: messages
    /// name only their first reactors, so the server says it apart (`mine`), in frames to this person only.
    mine: SortedMap<MessageId, (Option<u64>, Vec<Emoji>)>,
}

impl RoomState {
    /// Messages, oldest first.
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &ChatMessage> + ExactSizeIterator {
        self.messages.values()
    }

    pub fn newest_id(&self) -> Option<MessageId> {
        self.messages.keys().next_back().copied()
    }

    pub fn oldest_id(&self) -> Option<MessageId> {
        self.messages.keys().next().copied()
    }

    fn history(&mut self, room: &RoomName, page: Page) -> ClientFrame {
        self.requests.push_back(page);
        let (before, after, limit) = match page {
            Page::Latest => (None, None, PAGE),
            Page::Before => (self.oldest_id(), None, PAGE),
            Page::After => (None, self.synced, CATCH_UP_PAGE),
        };
        let changes_after = if page == Page::After { self.rev } else { None };
        ClientFrame::History {
            room: room.clone(),
            before,
            after,
            limit: Some(limit),
            changes_after,
        }
    }

    /// Takes a message's newer version (edited, deleted, reacted to) in place of the one held; an older
    /// version, or a message not held, changes nothing, except what it says of this person's reactions
    /// if that is newer than what is known (see [`RoomState::learn_mine`]).
    fn replace(&mut self, changed: &ChatMessage) {
        if let Some(held) = self.messages.get_mut(&changed.id) {
            if held.rev <= changed.rev {
                *held = changed.clone();
            }
            self.learn_mine(changed);
        }
    }

    /// Holds a message from a page or a live frame (the version it brings); true if it was not held yet.
    fn hold(&mut self, message: &ChatMessage) -> bool {
        self.learn_mine(message);
        self.messages.insert(message.id, message.clone()).is_none()
    }

    /// Keeps what a version says of this person's own reactions, unless something newer is known: a
    /// version without reactions says "none", one with `mine` says which, one without `mine` (a frame to
    /// the whole room) says nothing. `mine` is exact as of its version's `rev`, and only this person's
    /// own reactions change it (each one's frame to them saying so), so the highest `rev` is the truth
    /// however frames were reordered.
    fn learn_mine(&mut self, message: &ChatMessage) {
        let told = if message.reactions.is_empty() {
            Vec::new()
        } else {
            match &message.mine {
                Some(mine) => mine.clone(),
                None => return,
            }
        };
        match self.mine.get(&message.id) {
            Some((rev, _)) if *rev > message.rev => {}
            // A message never changed has no reactions and nothing older to be overtaken by.
            None if message.rev.is_none() => {}
            _ => {
                self.mine.insert(message.id, (message.rev, told));
            }
        }
    }

    /// The emoji this person reacted to message `id` with.
    pub fn mine(&self, id: MessageId) -> &[Emoji] {
        self.mine.get(&id).map_or(&[], |(_, mine)| mine.as_slice())
    }

    /// Messages by others newer than the read position (all of them when nothing was read): the unread
    /// count and where the "new messages" line goes.
    fn unread_since_read(&mut self, me: &str) {
        let unread: Vec<MessageId> = self
            .messages
            .values()
            .filter(|m| m.author.id != me && self.read.is_none_or(|read| m.id > read))
            .map(|m| m.id)
            .collect();
        self.unread = u32::try_from(unread.len()).unwrap_or(u32::MAX);
        self.marker = unread.first().copied();
    }

    /// The reader has seen everything here up to `id`.
    fn read_up_to(&mut self, id: Option<MessageId>) {
        if id > self.read {
            self.read = id;
        }
    }
}

/// Everything the chat screen shows, for one signed-in person.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatState {
    /// The signed-in person's user id (`sub`): their own messages never count as unread.
    me: String,
    rooms: SortedMap<RoomName, RoomState>,
    active: Option<RoomName>,
    /// The reader sees the bottom of the active room (so new messages there are read as they come).
    watching: bool,
    /// The last error the server sent that no pending message claimed, for a person to read.
    pub notice: Option<String>,
    /// An invite link this person opened, to redeem once connected (until the server answers).
    redeeming: Option<InviteCode>,
    /// A room an invite link just let this person into, to show.
    arrived: Option<RoomName>,
    /// The newest invite link this person asked for, per room, and until when it works.
    links: SortedMap<RoomName, (InviteCode, OffsetDateTime)>,
    /// The revision of the person's list last applied: `rooms` frames are whole lists and may come out
    /// of order, so an older one is stale.
    rooms_rev: u64,
}

impl ChatState {
    /// A state for `me` that remembers the rooms joined in an earlier visit.
    pub fn new(me: impl Into<String>, rooms: impl IntoIterator<Item = RoomName>) -> Self {
        Self {
            me: me.into(),
            rooms: rooms
                .into_iter()
                .map(|r| (r, RoomState::default()))
                .collect(),
            active: None,
            watching: true,
            notice: None,
            redeeming: None,
            arrived: None,
            links: SortedMap::default(),
            rooms_rev: 0,
        }
    }

    /// Redeems invite link `code` once connected (now, if the connection is open: the frame to send).
    pub fn redeem(&mut self, code: InviteCode, online: bool) -> Vec<ClientFrame> {
        self.redeeming = Some(code.clone());
        if online {
            vec![ClientFrame::Redeem { code }]
        } else {
            Vec::new()
        }
    }

    /// The room an invite link let this person into, once, to show it.
    pub fn take_arrived(&mut self) -> Option<RoomName> {
        self.arrived.take()
    }

    /// The newest invite link asked for to `room`, and until when it works.
    pub fn invite_link(&self, room: &RoomName) -> Option<&(InviteCode, OffsetDateTime)> {
        self.links.get(room)
    }

    pub fn room(&self, room: &RoomName) -> Option<&RoomState> {
        self.rooms.get(room)
    }

    /// Whether a live message is news here: its room is joined and the message not held yet (not a
    /// repeated delivery, nor one a catch-up page brought first).
    pub fn is_news(&self, message: &ChatMessage) -> bool {
        self.rooms
            .get(&message.room)
            .is_some_and(|r| !r.messages.contains_key(&message.id))
    }

    /// The joined rooms, by name.
    pub fn rooms(&self) -> impl Iterator<Item = (&RoomName, &RoomState)> {
        self.rooms.iter()
    }

    /// Joins a room not yet joined: returns the `join`, the first history page and the list (which then
    /// has the room) to ask for.
    pub fn join(&mut self, room: &RoomName) -> Vec<ClientFrame> {
        if self.rooms.contains_key(room) {
            return Vec::new();
        }
        let state = self
            .rooms
            .get_or_insert_with(room.clone(), RoomState::default);
        state.fresh = true;
        state.unlisted = true;
        vec![
            ClientFrame::Join { room: room.clone() },
            state.history(room, Page::Latest),
            ClientFrame::Rooms,
        ]
    }

    /// Creates a private room named `title` and joins it: the frames to send, or why the name cannot be.
    pub fn create_private(&mut self, title: &str) -> Result<(RoomName, Vec<ClientFrame>), String> {
        let room = RoomName::private(&self.me, title).map_err(|e| e.to_string())?;
        let mut frames = vec![ClientFrame::Create { room: room.clone() }];
        frames.extend(self.join(&room));
        Ok((room, frames))
    }

    /// A room's name as people read it: `#general`, a private room's title, the other person of a
    /// direct conversation.
    pub fn label(&self, room: &RoomName) -> String {
        if room.is_direct() {
            return self
                .rooms
                .get(room)
                .and_then(|r| r.with.as_ref())
                .map_or_else(|| "Direct message".to_owned(), |u| u.name.clone());
        }
        if room.is_private() {
            return room.title().to_owned();
        }
        format!("#{room}")
    }

    /// The people this person may invite into `room` (once the server confirmed they are in it):
    /// everyone seen in their other rooms (not direct conversations) who is not here, by name.
    pub fn invitable(&self, room: &RoomName) -> Vec<User> {
        let Some(here) = self
            .rooms
            .get(room)
            .filter(|r| r.confirmed)
            .map(|r| r.members.as_slice())
        else {
            return Vec::new();
        };
        let mut people: Vec<User> = Vec::new();
        for (other, state) in self.rooms.iter() {
            if other == room || other.is_direct() {
                continue;
            }
            for user in &state.members {
                if user.id != self.me
                    && !here.iter().any(|h| h.id == user.id)
                    && !people.iter().any(|p| p.id == user.id)
                {
                    people.push(user.clone());
                }
            }
        }
        sort_by_name(&mut people);
        people
    }

    /// The read positions that moved since last sent, as `read` frames: the client sends them every few
    /// seconds, so reading costs one frame per room per few seconds, however many messages arrive.
    pub fn take_reads(&mut self) -> Vec<ClientFrame> {
        let mut frames = Vec::new();
        for (room, state) in self.rooms.iter_mut() {
            if let Some(read) = state.read.filter(|read| Some(*read) > state.read_sent) {
                state.read_sent = Some(read);
                frames.push(ClientFrame::Read {
                    room: room.clone(),
                    id: read,
                });
            }
        }
        frames
    }

    /// Leaves a room and forgets it.
    pub fn leave(&mut self, room: &RoomName) -> Option<ClientFrame> {
        self.rooms
            .remove(room)
            .map(|_| ClientFrame::Leave { room: room.clone() })
    }

    /// A new connection is open: ask for this person's list; its answer ([`ChatState::apply`]) joins
    /// every room on it again (asking for what was missed), joins the ones new to this device and drops
    /// the ones left elsewhere.
    pub fn on_open(&mut self) -> Vec<ClientFrame> {
        for state in self.rooms.values_mut() {
            state.requests.clear();
            state.loading_older = false;
            state.typing.clear();
            state.rejoin = true;
            state.confirmed = false;
            state.presence_rev = 0;
        }
        let mut frames = vec![ClientFrame::Rooms];
        frames.extend(
            self.redeeming
                .clone()
                .map(|code| ClientFrame::Redeem { code }),
        );
        frames
    }

    /// Folds in the server's list: rooms new to this device are joined, rooms known before the connection
    /// opened are joined again (catching up after the newest message seen), rooms the server confirmed
    /// and no longer lists (left on another device, or deleted) are dropped, and read positions move.
    /// An empty list (a first visit, or a list never kept) keeps what this device knew, or `general`.
    fn apply_rooms(&mut self, entries: &[RoomEntry]) -> Vec<ClientFrame> {
        let mut frames = Vec::new();
        if entries.is_empty() && self.rooms.is_empty() {
            if let Ok(general) = RoomName::new(DEFAULT_ROOM) {
                frames.extend(self.join(&general));
            }
        }
        if !entries.is_empty() {
            // A room joined here and on no list yet (the page's own room) stays: the server answers
            // whether it may be joined, and the list its join made is on its way.
            self.rooms.retain(|room, state| {
                entries.iter().any(|e| &e.room == room)
                    || state.unlisted
                    || !(state.rejoin || state.confirmed)
            });
        }
        for entry in entries {
            let state = self
                .rooms
                .get_or_insert_with(entry.room.clone(), || RoomState {
                    rejoin: true,
                    ..RoomState::default()
                });
            state.unlisted = false;
            if entry.with.is_some() {
                state.with.clone_from(&entry.with);
            }
            state.read_sent = state.read_sent.max(entry.read);
            if entry.read > state.read {
                state.read = entry.read;
                if state.loaded {
                    state.unread_since_read(&self.me);
                }
            }
        }
        let mut ask_again = false;
        for (room, state) in self.rooms.iter_mut() {
            if !std::mem::take(&mut state.rejoin) {
                continue;
            }
            frames.push(ClientFrame::Join { room: room.clone() });
            let page = if state.synced.is_some() {
                Page::After
            } else {
                Page::Latest
            };
            frames.push(state.history(room, page));
            ask_again |= state.unlisted;
        }
        if ask_again {
            // A room joined here and on no list yet is joined now: the next list has it.
            frames.push(ClientFrame::Rooms);
        }
        frames
    }

    /// Whether this person reacted to message `id` in `room` with `emoji` (what a chip's click undoes).
    pub fn reacted(&self, room: &RoomName, id: MessageId, emoji: Emoji) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|state| state.mine(id).contains(&emoji))
    }

    /// Asks for the page before the oldest message shown, unless one is on its way or none is left.
    pub fn load_older(&mut self, room: &RoomName) -> Option<ClientFrame> {
        let state = self.rooms.get_mut(room)?;
        if !state.loaded || !state.has_older || state.loading_older {
            return None;
        }
        state.loading_older = true;
        Some(state.history(room, Page::Before))
    }

    /// The room on screen (or none). Leaving a room clears its "new messages" line: it has been seen.
    pub fn set_active(&mut self, room: Option<RoomName>) {
        if self.active == room {
            return;
        }
        if let Some(previous) = self.active.as_ref().and_then(|r| self.rooms.get_mut(r)) {
            previous.marker = None;
        }
        self.active = room;
        self.watching = true;
        self.mark_read();
    }

    /// Whether the reader sees the bottom of the active room's messages.
    pub fn set_watching(&mut self, watching: bool) {
        self.watching = watching;
        if watching {
            self.mark_read();
        }
    }

    /// This person wrote in the room: they have read it, the "new messages" line goes.
    pub fn acknowledge(&mut self, room: &RoomName) {
        if let Some(state) = self.rooms.get_mut(room) {
            state.marker = None;
            state.unread = 0;
        }
    }

    fn mark_read(&mut self) {
        if let Some(state) = self.active.as_ref().and_then(|r| self.rooms.get_mut(r)) {
            state.unread = 0;
            let newest = state.newest_id();
            state.read_up_to(newest);
        }
    }

    /// Names of the people typing in a room at `now_ms`.
    pub fn typing_names(&self, room: &RoomName, now_ms: f64) -> Vec<String> {
        self.rooms.get(room).map_or_else(Vec::new, |state| {
            state
                .typing
                .iter()
                .filter(|(_, until)| *until > now_ms)
                .map(|(user, _)| user.name.clone())
                .collect()
        })
    }

    /// Folds one server frame in; returns the frames to send in answer (the next catch-up page).
    pub fn apply(&mut self, frame: &ServerFrame, now_ms: f64) -> Vec<ClientFrame> {
        match frame {
            ServerFrame::Message(message) => {
                self.add_messages(std::slice::from_ref(message));
                if let Some(state) = self.rooms.get_mut(&message.room) {
                    state
                        .typing
                        .retain(|(user, _)| user.id != message.author.id);
                }
                Vec::new()
            }
            ServerFrame::History {
                room,
                messages,
                has_more,
                changes,
                rev,
            } => self.apply_history(room, messages, *has_more, (changes, *rev)),
            ServerFrame::Presence { room, members, rev } => {
                if let Some(state) = self.rooms.get_mut(room).filter(|s| *rev >= s.presence_rev) {
                    state.presence_rev = *rev;
                    let mut members = members.clone();
                    sort_by_name(&mut members);
                    state.members = members;
                    state.confirmed = true;
                }
                Vec::new()
            }
            ServerFrame::Rooms { rooms, rev } => {
                if *rev < self.rooms_rev {
                    return Vec::new();
                }
                self.rooms_rev = *rev;
                self.apply_rooms(rooms)
            }
            ServerFrame::Typing { room, user } => {
                if let Some(state) = self.rooms.get_mut(room).filter(|_| user.id != self.me) {
                    state.typing.retain(|(u, _)| u.id != user.id);
                    state.typing.push((user.clone(), now_ms + TYPING_SHOWN_MS));
                }
                Vec::new()
            }
            ServerFrame::Error {
                code: ErrorCode::NoSuchRoom,
                message,
                room: Some(room),
                ..
            } => {
                self.rooms.remove(room);
                self.notice = Some(message.clone());
                Vec::new()
            }
            ServerFrame::Error {
                code: ErrorCode::InvalidInvite,
                message,
                ..
            } => {
                // The link being redeemed is no way in: say so, and do not try it again.
                self.redeeming = None;
                self.notice = Some(message.clone());
                Vec::new()
            }
            ServerFrame::Error {
                code,
                message,
                client_id,
                ..
            } => {
                // Errors about one message are the outbox's to show, except a rate limit: the message
                // waits and goes again by itself, and the person is told to slow down.
                // A `not_a_member` after a refused join (the page's first history request) adds
                // nothing to the refusal's notice.
                let follows_refusal = *code == ErrorCode::NotAMember && self.notice.is_some();
                if (client_id.is_none() || *code == ErrorCode::RateLimited) && !follows_refusal {
                    self.notice = Some(message.clone());
                }
                Vec::new()
            }
            ServerFrame::Pong => Vec::new(),
            ServerFrame::Changed(message) => {
                if let Some(state) = self.rooms.get_mut(&message.room) {
                    state.replace(message);
                }
                Vec::new()
            }
            ServerFrame::InviteLink {
                room,
                code,
                expires_at,
                ..
            } => {
                self.links.insert(room.clone(), (code.clone(), *expires_at));
                Vec::new()
            }
            ServerFrame::Redeemed { room } => {
                self.redeeming = None;
                self.arrived = Some(room.clone());
                self.join(room)
            }
        }
    }

    /// Folds in a history page and the changed messages and change number it carries.
    fn apply_history(
        &mut self,
        room: &RoomName,
        messages: &[ChatMessage],
        has_more: bool,
        (changes, rev): (&[ChatMessage], Option<u64>),
    ) -> Vec<ClientFrame> {
        let Some(state) = self.rooms.get_mut(room) else {
            return Vec::new();
        };
        let page = state.requests.pop_front().unwrap_or(Page::Latest);
        for changed in changes {
            state.replace(changed);
        }
        if page != Page::Before {
            // A newest or catch-up page is the whole room up to its last message, and current to its
            // change number; an older page, asked while catching up, must not skip changes still to come.
            let newest = messages.iter().map(|m| m.id).max();
            state.synced = state.synced.max(newest);
            state.rev = state.rev.max(rev);
        }
        match page {
            Page::Latest => {
                state.loaded = true;
                state.has_older = has_more;
                for message in messages {
                    state.hold(message);
                }
                // A room this person just joined here shows its newest page, not news; a room from their
                // list has news since their read position, wherever they read.
                let seen_now = self.watching && self.active.as_ref() == Some(room);
                if std::mem::take(&mut state.fresh) || seen_now {
                    let newest = state.newest_id();
                    state.read_up_to(newest);
                }
                state.unread_since_read(&self.me);
                if seen_now {
                    state.unread = 0;
                }
                Vec::new()
            }
            Page::Before => {
                state.loading_older = false;
                state.has_older = has_more;
                for message in messages {
                    state.hold(message);
                }
                Vec::new()
            }
            Page::After => {
                self.add_messages(messages);
                let state = self.rooms.get_mut(room).expect("room checked above");
                if has_more && !(messages.is_empty() && changes.is_empty()) {
                    vec![state.history(room, Page::After)]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Adds messages that are news (live, or missed while away), counting the unseen ones.
    fn add_messages(&mut self, messages: &[ChatMessage]) {
        for message in messages {
            let seen_now = self.watching && self.active.as_ref() == Some(&message.room);
            let Some(state) = self.rooms.get_mut(&message.room) else {
                continue;
            };
            if !state.hold(message) {
                continue;
            }
            if message.author.id == self.me || seen_now {
                state.read_up_to(Some(message.id));
            }
            if message.author.id == self.me {
                state.marker = None;
                state.unread = 0;
            } else if !seen_now {
                state.unread += 1;
                state.marker.get_or_insert(message.id);
            }
        }
    }
}

/// Sorts `people` by name, case-insensitively, equal names keeping their order: each person is inserted
/// after the last one whose name sorts before or with theirs, found by binary search. A room's list is a
/// few hundred people at most, and this is the app's only sort: the standard library's costs the app
/// more than a kilobyte.
fn sort_by_name(people: &mut Vec<User>) {
    let mut sorted: Vec<(String, User)> = Vec::with_capacity(people.len());
    for user in people.drain(..) {
        let key = lowercase(&user.name);
        let at = sorted.partition_point(|(other, _)| *other <= key);
        sorted.insert(at, (key, user));
    }
    people.extend(sorted.into_iter().map(|(_, user)| user));
}

#[cfg(test)]
mod tests {
    use protocol::{ClientId, ErrorCode, Reaction};
    use time::OffsetDateTime;

    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).unwrap()
    }

    fn user(id: &str) -> User {
        User {
            id: id.into(),
            name: id.to_uppercase(),
            picture: None,
        }
    }

    fn message(room_name: &str, millis: u64, author: &str) -> ChatMessage {
        ChatMessage {
            room: room(room_name),
            id: MessageId::new(millis, 0),
            client_id: ClientId::new(format!("c-{millis}")).unwrap(),
            author: user(author),
            body: format!("message {millis}"),
            sent_at: OffsetDateTime::UNIX_EPOCH,
            edited_at: None,
            deleted: false,
            rev: None,
            reactions: Vec::new(),
            mine: None,
        }
    }

    fn history(room_name: &str, ids: &[u64], has_more: bool) -> ServerFrame {
        ServerFrame::History {
            room: room(room_name),
            messages: ids
                .iter()
                .map(|id| message(room_name, *id, "bob"))
                .collect(),
            has_more,
            changes: Vec::new(),
            rev: Some(0),
        }
    }

    /// Message `millis`, edited to `body` as the room's change `rev`.
    fn edited(room_name: &str, millis: u64, body: &str, rev: u64) -> ChatMessage {
        ChatMessage {
            body: body.into(),
            edited_at: Some(OffsetDateTime::UNIX_EPOCH),
            rev: Some(rev),
            ..message(room_name, millis, "bob")
        }
    }

    fn body(state: &ChatState, room_name: &str, millis: u64) -> String {
        state
            .room(&room(room_name))
            .unwrap()
            .messages()
            .find(|m| m.id.millis == millis)
            .unwrap()
            .body
            .clone()
    }

    /// A live edit replaces the message held; an older version arriving late does not undo a newer one.
    #[test]
    fn changes_replace_messages_newest_version_wins() {
        let mut state = joined("general");
        state.apply(&history("general", &[10, 20], false), 0.0);
        state.apply(
            &ServerFrame::Changed(edited("general", 10, "second", 2)),
            0.0,
        );
        state.apply(
            &ServerFrame::Changed(edited("general", 10, "first", 1)),
            0.0,
        );
        assert_eq!(body(&state, "general", 10), "second");
        state.apply(&ServerFrame::Changed(edited("elsewhere", 10, "x", 3)), 0.0);
        assert_eq!(
            ids(&state, "general"),
            vec![10, 20],
            "a change adds nothing"
        );
    }

    /// Whether this person reacted comes from what the server tells them alone (`mine`, in their pages
    /// and their own reactions' frames), exact as of its version: frames to the whole room say nothing
    /// of it, and a late, older word on it does not overrule a newer one.
    #[test]
    fn own_reactions_follow_the_newest_word_on_them() {
        let mut state = joined("general");
        state.apply(&history("general", &[10], false), 0.0);
        let thumbs = |rev: u64, count: u32, mine: Option<Vec<Emoji>>| {
            ServerFrame::Changed(ChatMessage {
                rev: Some(rev),
                reactions: vec![Reaction {
                    emoji: Emoji::ThumbsUp,
                    count,
                    users: vec![user("bob")],
                }],
                mine,
                ..message("general", 10, "bob")
            })
        };
        let general = room("general");
        let id = MessageId::new(10, 0);
        let count = |state: &ChatState| {
            let room = state.room(&general).unwrap();
            room.messages()
                .next()
                .unwrap()
                .reactions
                .first()
                .map(|r| r.count)
        };
        // Someone else's reaction (3) overtakes this person's own (2) on the way.
        state.apply(&thumbs(3, 2, None), 0.0);
        assert!(!state.reacted(&general, id, Emoji::ThumbsUp));
        state.apply(&thumbs(2, 1, Some(vec![Emoji::ThumbsUp])), 0.0);
        assert_eq!(count(&state), Some(2), "the newer version stays");
        assert!(
            state.reacted(&general, id, Emoji::ThumbsUp),
            "and the own reaction is known"
        );
        state.apply(&thumbs(4, 3, None), 0.0);
        assert!(
            state.reacted(&general, id, Emoji::ThumbsUp),
            "a frame to everyone says nothing"
        );
        // A page (their own, at 5) says they took it back elsewhere; a late word at 4 does not undo it.
        state.apply(
            &ServerFrame::History {
                room: general.clone(),
                messages: Vec::new(),
                has_more: false,
                changes: vec![match thumbs(5, 2, Some(vec![])) {
                    ServerFrame::Changed(message) => message,
                    _ => unreachable!(),
                }],
                rev: Some(5),
            },
            0.0,
        );
        state.apply(&thumbs(4, 3, Some(vec![Emoji::ThumbsUp])), 0.0);
        assert!(!state.reacted(&general, id, Emoji::ThumbsUp));
        state.apply(&thumbs(6, 1, Some(vec![Emoji::ThumbsUp])), 0.0);
        assert!(state.reacted(&general, id, Emoji::ThumbsUp));
        // A version without reactions means none of them is this person's.
        state.apply(
            &ServerFrame::Changed(edited("general", 10, "edited", 7)),
            0.0,
        );
        assert!(!state.reacted(&general, id, Emoji::ThumbsUp));
        assert!(!state.reacted(&room("elsewhere"), id, Emoji::ThumbsUp));
    }

    /// A reconnect asks for the changes after the change number of the last page, and a catch-up page's
    /// changes replace messages older than its `after`; a cut-short one asks again from its number.
    #[test]
    fn reconnect_catches_up_on_changes() {
        let mut state = joined("general");
        let mut page = history("general", &[10, 20], false);
        if let ServerFrame::History { rev, .. } = &mut page {
            *rev = Some(4);
        }
        state.apply(&page, 0.0);
        state.on_open();
        let frames = state.apply(&listing(&[("general", None)]), 0.0);
        assert!(frames.iter().any(|frame| matches!(
            frame,
            ClientFrame::History { after: Some(after), changes_after: Some(4), .. } if after.millis == 20
        )));
        let catch_up = ServerFrame::History {
            room: room("general"),
            messages: Vec::new(),
            has_more: true,
            changes: vec![edited("general", 10, "fixed while away", 5)],
            rev: Some(5),
        };
        let next = state.apply(&catch_up, 0.0);
        assert_eq!(body(&state, "general", 10), "fixed while away");
        assert!(matches!(
            next[..],
            [ClientFrame::History {
                changes_after: Some(5),
                ..
            }]
        ));
    }

    fn ids(state: &ChatState, room_name: &str) -> Vec<u64> {
        state
            .room(&room(room_name))
            .unwrap()
            .messages()
            .map(|m| m.id.millis)
            .collect()
    }

    fn listing(rooms: &[(&str, Option<u64>)]) -> ServerFrame {
        ServerFrame::Rooms {
            rooms: rooms
                .iter()
                .map(|(name, read)| RoomEntry {
                    room: room(name),
                    read: read.map(|millis| MessageId::new(millis, 0)),
                    with: None,
                })
                .collect(),
            rev: 0,
        }
    }

    fn joins(frames: &[ClientFrame]) -> Vec<&str> {
        frames
            .iter()
            .filter_map(|f| match f {
                ClientFrame::Join { room } => Some(room.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The server's list decides the rooms after a reconnect: new ones are joined, ones left on another
    /// device dropped, the page's own room (joined here, on no list yet) joined anyway and the list asked
    /// for again; an empty list keeps what this device knew, and a first visit starts in `general`.
    #[test]
    fn the_servers_list_decides_the_rooms() {
        let mut state = ChatState::new("me", [room("general"), room("left-elsewhere")]);
        state.join(&room("from-the-url"));
        state.on_open();
        let frames = state.apply(&listing(&[("general", None), ("invited", None)]), 0.0);
        assert_eq!(joins(&frames), ["from-the-url", "general", "invited"]);
        assert_eq!(
            frames.last(),
            Some(&ClientFrame::Rooms),
            "the next list has the page's room"
        );
        let names: Vec<_> = state.rooms().map(|(r, _)| r.as_str()).collect();
        assert_eq!(names, ["from-the-url", "general", "invited"]);
        // A later list without a confirmed room: left on another device.
        state.apply(
            &ServerFrame::Presence {
                room: room("invited"),
                members: vec![user("me")],
                rev: 0,
            },
            0.0,
        );
        let frames = state.apply(&listing(&[("general", None)]), 0.0);
        assert!(joins(&frames).is_empty(), "{frames:?}");
        assert!(state.room(&room("invited")).is_none());

        let mut kept = ChatState::new("me", [room("random")]);
        kept.on_open();
        assert_eq!(joins(&kept.apply(&listing(&[]), 0.0)), ["random"]);
        let mut first = ChatState::new("me", []);
        first.on_open();
        assert_eq!(joins(&first.apply(&listing(&[]), 0.0)), [DEFAULT_ROOM]);
    }

    /// Lists are whole and may arrive out of order (concurrent handlers compute them), as the production
    /// shape's browser tests saw: the answer to `rooms`, then the page's room joined and confirmed, then a
    /// list read before that join. A room joined here stays until a list has it (the app asks for one
    /// after the join); after that, a list older than the one applied is dropped, so no late list takes
    /// the room away; the same revision again (a reconnect's answer) and newer ones apply.
    #[test]
    fn a_list_older_than_the_one_applied_is_dropped() {
        let mut state = ChatState::new("me", [room("general")]);
        let at = |rev, rooms: &[(&str, Option<u64>)]| match listing(rooms) {
            ServerFrame::Rooms { rooms, .. } => ServerFrame::Rooms { rooms, rev },
            _ => unreachable!(),
        };
        let in_page = ServerFrame::Presence {
            room: room("page"),
            members: vec![user("me")],
            rev: 1,
        };
        let page = |state: &ChatState| state.room(&room("page")).is_some();
        state.on_open();
        state.apply(&at(5, &[("general", None)]), 0.0);
        let frames = state.join(&room("page"));
        assert_eq!(
            frames.last(),
            Some(&ClientFrame::Rooms),
            "asks for the list its join made"
        );
        state.apply(&in_page, 0.0);
        state.apply(&at(5, &[("general", None)]), 0.0);
        assert!(page(&state), "a list read before the join");
        state.apply(&at(6, &[("general", None), ("page", None)]), 0.0);
        assert!(state.apply(&at(5, &[("general", None)]), 0.0).is_empty());
        assert!(page(&state), "the stale list was dropped");
        state.on_open();
        let frames = state.apply(&at(6, &[("general", None), ("page", None)]), 0.0);
        assert_eq!(
            joins(&frames),
            ["general", "page"],
            "the same revision again applies"
        );
        state.apply(&in_page, 0.0);
        state.apply(&at(7, &[("general", None)]), 0.0);
        assert!(!page(&state), "left on another device");
    }

    /// Presence lists are whole and may arrive out of order: one older than the list applied since the
    /// join is dropped (a join computed before a leave cannot bring the leaver back); after a reconnect the
    /// room's count starts afresh, as the server's may have.
    #[test]
    fn a_presence_older_than_the_one_applied_is_dropped() {
        let mut state = ChatState::new("me", [room("general")]);
        let at = |rev, names: &[&str]| ServerFrame::Presence {
            room: room("general"),
            members: names.iter().map(|n| user(n)).collect(),
            rev,
        };
        let names = |state: &ChatState| -> Vec<String> {
            let members = &state.room(&room("general")).unwrap().members;
            members.iter().map(|u| u.name.clone()).collect()
        };
        state.apply(&at(3, &["me"]), 0.0);
        state.apply(&at(2, &["me", "ann"]), 0.0);
        assert_eq!(names(&state), ["ME"], "the older list was dropped");
        state.apply(&at(3, &["me"]), 0.0);
        state.apply(&at(4, &["me", "bo"]), 0.0);
        assert_eq!(names(&state), ["BO", "ME"]);
        state.on_open();
        state.apply(&at(1, &["me"]), 0.0);
        assert_eq!(names(&state), ["ME"], "a new connection counts afresh");
    }

    /// A room from the list counts as unread what others wrote after the read position (everything when
    /// nothing was read), with the "new messages" line at the first; a position read on another device
    /// clears what it covers. A room joined here starts read.
    #[test]
    fn unread_counts_come_from_the_read_position() {
        let mut state = ChatState::new("me", []);
        state.on_open();
        state.apply(&listing(&[("general", Some(20)), ("dm", None)]), 0.0);
        state.apply(&history("general", &[10, 20, 30, 40], false), 0.0);
        state.apply(&history("dm", &[5, 6], false), 0.0);
        let general = state.room(&room("general")).unwrap();
        assert_eq!(
            (general.unread, general.marker),
            (2, Some(MessageId::new(30, 0)))
        );
        assert_eq!(state.room(&room("dm")).unwrap().unread, 2);
        state.apply(&listing(&[("general", Some(40)), ("dm", None)]), 0.0);
        let general = state.room(&room("general")).unwrap();
        assert_eq!((general.unread, general.marker), (0, None));

        state.join(&room("fresh"));
        state.apply(&history("fresh", &[1, 2], false), 0.0);
        assert_eq!(state.room(&room("fresh")).unwrap().unread, 0);
    }

    /// Reading sends one `read` per room per batch, with the newest seen id, and nothing while nothing
    /// new was read; a position the server already has is not sent again.
    #[test]
    fn read_positions_are_sent_in_batches() {
        let mut state = ChatState::new("me", []);
        state.on_open();
        state.apply(&listing(&[("general", Some(10))]), 0.0);
        state.apply(&history("general", &[10, 20], false), 0.0);
        assert!(state.take_reads().is_empty(), "not looked at yet");
        state.set_active(Some(room("general")));
        for id in [30, 31, 32] {
            state.apply(&ServerFrame::Message(message("general", id, "bob")), 0.0);
        }
        assert_eq!(
            state.take_reads(),
            [ClientFrame::Read {
                room: room("general"),
                id: MessageId::new(32, 0)
            }]
        );
        assert!(state.take_reads().is_empty());
        state.apply(&listing(&[("general", Some(50))]), 0.0);
        assert!(
            state.take_reads().is_empty(),
            "the server knows a newer one"
        );
    }

    /// An invite link opened before the connection is redeemed once it opens (after asking for the
    /// list), and after every reconnect until the server answers; `redeemed` joins its room and says to
    /// show it, once; a refusal stops the trying and tells the person why.
    #[test]
    fn an_opened_invite_link_is_redeemed_once_connected() {
        let mut state = ChatState::new("me", [room("general")]);
        let code = InviteCode::new("9f1c2e7a4b0d4c6e8a2f1b3c5d7e9f01").unwrap();
        let redeem = ClientFrame::Redeem { code: code.clone() };
        assert!(state.redeem(code.clone(), false).is_empty());
        assert_eq!(state.on_open(), [ClientFrame::Rooms, redeem.clone()]);
        assert_eq!(
            state.on_open(),
            [ClientFrame::Rooms, redeem.clone()],
            "again after a reconnect"
        );
        let plans = room("_abc123-plans");
        let frames = state.apply(
            &ServerFrame::Redeemed {
                room: plans.clone(),
            },
            0.0,
        );
        assert_eq!(joins(&frames), [plans.as_str()]);
        assert_eq!(state.take_arrived(), Some(plans.clone()));
        assert_eq!(state.take_arrived(), None);
        assert_eq!(state.on_open(), [ClientFrame::Rooms], "redeemed: not again");
        // The server's list, read before the redemption, does not drop the room just joined.
        state.apply(&listing(&[("general", None)]), 0.0);
        assert!(state.room(&plans).is_some());

        assert_eq!(state.redeem(code, true), [redeem]);
        state.apply(&ServerFrame::error(ErrorCode::InvalidInvite, None), 0.0);
        assert_eq!(
            state.notice.as_deref(),
            Some(ErrorCode::InvalidInvite.describe().as_str())
        );
        assert_eq!(state.on_open(), [ClientFrame::Rooms]);
        assert_eq!(state.take_arrived(), None);
    }

    /// The newest invite link asked for is kept per room, to show and copy.
    #[test]
    fn the_newest_invite_link_is_kept_per_room() {
        let mut state = joined("general");
        let plans = room("_abc123-plans");
        let link = |code: &str| ServerFrame::InviteLink {
            room: plans.clone(),
            code: InviteCode::new(code).unwrap(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
            client_id: ClientId::new("l-1").unwrap(),
        };
        assert!(state.invite_link(&plans).is_none());
        state.apply(&link("first"), 0.0);
        state.apply(&link("second"), 0.0);
        assert_eq!(state.invite_link(&plans).unwrap().0.as_str(), "second");
        assert!(state.invite_link(&room("general")).is_none());
    }

    /// Nobody is offered for inviting into a room the server did not confirm this person is in.
    #[test]
    fn invitations_only_from_inside() {
        let mut state = ChatState::new("eve", [room("team")]);
        state.join(&room("_abc123-plans"));
        state.on_open();
        state.apply(&listing(&[("team", None)]), 0.0);
        state.apply(
            &ServerFrame::Presence {
                room: room("team"),
                members: vec![user("eve"), user("ada")],
                rev: 0,
            },
            0.0,
        );
        assert!(state.invitable(&room("_abc123-plans")).is_empty());
        state.apply(&ServerFrame::no_such_room(&room("_abc123-plans")), 0.0);
        assert!(state.invitable(&room("_abc123-plans")).is_empty());
    }

    /// A join the server answers `no_such_room` (a private room not ours, or none) drops the room and says
    /// why.
    #[test]
    fn a_room_that_does_not_exist_is_dropped() {
        let mut state = joined("general");
        state.join(&room("_abc123-secret"));
        state.apply(&ServerFrame::no_such_room(&room("_abc123-secret")), 0.0);
        state.apply(&ServerFrame::error(ErrorCode::NotAMember, None), 0.0);
        assert!(state.room(&room("_abc123-secret")).is_none());
        assert_eq!(
            state.notice.as_deref(),
            Some(ErrorCode::NoSuchRoom.describe().as_str())
        );
    }

    fn joined(room_name: &str) -> ChatState {
        let mut state = ChatState::new("me", []);
        state.join(&room(room_name));
        state.set_active(Some(room(room_name)));
        state
    }

    #[test]
    fn joining_asks_for_the_newest_page_once() {
        let mut state = ChatState::new("me", []);
        let frames = state.join(&room("general"));
        assert_eq!(
            frames[0],
            ClientFrame::Join {
                room: room("general")
            }
        );
        assert_eq!(
            frames[1],
            ClientFrame::History {
                room: room("general"),
                before: None,
                after: None,
                limit: Some(PAGE),
                changes_after: None,
            }
        );
        assert!(
            state.join(&room("general")).is_empty(),
            "joining twice sends nothing"
        );
    }

    #[test]
    fn messages_are_ordered_by_id_and_shown_once() {
        let mut state = joined("general");
        state.apply(&history("general", &[10, 20], false), 0.0);
        for id in [30, 15, 20, 30] {
            state.apply(&ServerFrame::Message(message("general", id, "bob")), 0.0);
        }
        assert_eq!(ids(&state, "general"), vec![10, 15, 20, 30]);
    }

    /// Only a message not held yet, in a joined room, is news (what may raise a notification).
    #[test]
    fn a_message_is_news_once_and_only_in_a_joined_room() {
        let mut state = joined("general");
        state.apply(&history("general", &[10], false), 0.0);
        let live = message("general", 20, "bob");
        assert!(state.is_news(&live));
        state.apply(&ServerFrame::Message(live.clone()), 0.0);
        assert!(!state.is_news(&live), "a repeated delivery");
        assert!(
            !state.is_news(&message("general", 10, "bob")),
            "brought by a page"
        );
        assert!(!state.is_news(&message("elsewhere", 30, "bob")));
    }

    #[test]
    fn frames_for_rooms_not_joined_are_ignored() {
        let mut state = joined("general");
        state.apply(&ServerFrame::Message(message("elsewhere", 1, "bob")), 0.0);
        assert!(state.room(&room("elsewhere")).is_none());
    }

    #[test]
    fn scrolling_up_pages_back_until_the_server_has_no_more() {
        let mut state = joined("general");
        assert_eq!(
            state.load_older(&room("general")),
            None,
            "nothing before the first page"
        );
        state.apply(&history("general", &[50, 60], true), 0.0);
        let frame = state.load_older(&room("general")).unwrap();
        assert!(
            matches!(frame, ClientFrame::History { before: Some(id), after: None, .. } if id.millis == 50)
        );
        assert_eq!(
            state.load_older(&room("general")),
            None,
            "one page at a time"
        );
        state.apply(&history("general", &[30, 40], false), 0.0);
        assert_eq!(ids(&state, "general"), vec![30, 40, 50, 60]);
        assert_eq!(
            state.load_older(&room("general")),
            None,
            "the beginning was reached"
        );
    }

    #[test]
    fn a_reconnect_rejoins_every_room_and_catches_up_after_the_last_id_seen() {
        let mut state = joined("general");
        state.join(&room("random"));
        state.apply(&history("general", &[10, 20], false), 0.0);
        state.apply(&history("random", &[], false), 0.0);
        assert_eq!(state.on_open(), vec![ClientFrame::Rooms], "the list first");
        let frames = state.apply(&listing(&[("general", None), ("random", None)]), 0.0);
        assert_eq!(frames.len(), 4);
        assert!(frames.contains(&ClientFrame::Join {
            room: room("general")
        }));
        assert!(frames.contains(&ClientFrame::History {
            room: room("general"),
            before: None,
            after: Some(MessageId::new(20, 0)),
            limit: Some(CATCH_UP_PAGE),
            changes_after: Some(0),
        }));
        assert!(frames.contains(&ClientFrame::History {
            room: room("random"),
            before: None,
            after: None,
            limit: Some(PAGE),
            changes_after: None,
        }));
        // The catch-up arrives in two pages: the first says more exist, so the next is asked for.
        let next = state.apply(&history("general", &[21, 22], true), 0.0);
        assert!(
            matches!(&next[..], [ClientFrame::History { after: Some(id), .. }] if id.millis == 22)
        );
        assert!(state
            .apply(&history("general", &[23], false), 0.0)
            .is_empty());
        assert_eq!(ids(&state, "general"), vec![10, 20, 21, 22, 23]);
    }

    #[test]
    fn a_reconnect_catches_up_from_the_last_complete_page_not_the_newest_live_frame() {
        let mut state = joined("general");
        state.apply(&history("general", &[10, 20], false), 0.0);
        state.set_watching(false);
        // Two senders: 40 arrives live, 30 was on its way when the connection dropped.
        state.apply(&ServerFrame::Message(message("general", 40, "bob")), 0.0);
        state.on_open();
        let frames = state.apply(&listing(&[("general", None)]), 0.0);
        assert!(frames.contains(&ClientFrame::History {
            room: room("general"),
            before: None,
            after: Some(MessageId::new(20, 0)),
            limit: Some(CATCH_UP_PAGE),
            changes_after: Some(0),
        }));
        state.apply(&history("general", &[30, 40], false), 0.0);
        assert_eq!(ids(&state, "general"), vec![10, 20, 30, 40]);
        assert_eq!(
            state.room(&room("general")).unwrap().unread,
            2,
            "40 counted once"
        );
        // Caught up: the next reconnect starts after 40.
        state.on_open();
        assert!(state
            .apply(&listing(&[("general", None)]), 0.0)
            .contains(&ClientFrame::History {
                room: room("general"),
                before: None,
                after: Some(MessageId::new(40, 0)),
                limit: Some(CATCH_UP_PAGE),
                changes_after: Some(0),
            }));
    }

    #[test]
    fn a_reconnect_forgets_requests_the_old_connection_never_answered() {
        let mut state = joined("general");
        state.apply(&history("general", &[50], true), 0.0);
        state.load_older(&room("general")).unwrap();
        state.on_open();
        state.apply(&listing(&[("general", None)]), 0.0);
        // The answer to the catch-up must not be taken for the lost "older" page.
        state.apply(&history("general", &[51], false), 0.0);
        let general = state.room(&room("general")).unwrap();
        assert!(general.has_older && !general.loading_older);
        assert!(state.load_older(&room("general")).is_some());
    }

    #[test]
    fn unread_counts_and_the_marker_follow_what_the_reader_sees() {
        let mut state = joined("general");
        state.join(&room("random"));
        state.apply(&history("general", &[1], false), 0.0);
        state.apply(&history("random", &[1], false), 0.0);
        assert_eq!(
            state.room(&room("random")).unwrap().unread,
            0,
            "the first page is not news"
        );

        state.apply(&ServerFrame::Message(message("random", 5, "bob")), 0.0);
        state.apply(&ServerFrame::Message(message("random", 6, "bob")), 0.0);
        state.apply(&ServerFrame::Message(message("general", 5, "bob")), 0.0);
        let random = state.room(&room("random")).unwrap();
        assert_eq!(
            (random.unread, random.marker),
            (2, Some(MessageId::new(5, 0)))
        );
        assert_eq!(
            state.room(&room("general")).unwrap().unread,
            0,
            "seen as it arrived"
        );

        state.set_watching(false);
        state.apply(&ServerFrame::Message(message("general", 7, "bob")), 0.0);
        assert_eq!(
            state.room(&room("general")).unwrap().unread,
            1,
            "scrolled up: it waits below"
        );

        state.set_active(Some(room("random")));
        let random = state.room(&room("random")).unwrap();
        assert_eq!(
            (random.unread, random.marker),
            (0, Some(MessageId::new(5, 0))),
            "the line stays while reading"
        );
        assert_eq!(
            state.room(&room("general")).unwrap().marker,
            None,
            "left rooms count as read"
        );

        state.apply(&ServerFrame::Message(message("random", 8, "me")), 0.0);
        assert_eq!(
            state.room(&room("random")).unwrap().marker,
            None,
            "writing clears the line"
        );
    }

    #[test]
    fn typing_shows_for_a_few_seconds_and_ends_with_the_message() {
        let mut state = joined("general");
        let typing = |id: &str| ServerFrame::Typing {
            room: room("general"),
            user: user(id),
        };
        state.apply(&typing("bob"), 1_000.0);
        state.apply(&typing("me"), 1_000.0);
        state.apply(&typing("bob"), 2_000.0);
        assert_eq!(state.typing_names(&room("general"), 2_500.0), vec!["BOB"]);
        assert!(state
            .typing_names(&room("general"), 2_000.0 + TYPING_SHOWN_MS)
            .is_empty());
        state.apply(&typing("bob"), 10_000.0);
        state.apply(
            &ServerFrame::Message(message("general", 1, "bob")),
            10_500.0,
        );
        assert!(state.typing_names(&room("general"), 10_600.0).is_empty());
    }

    #[test]
    fn presence_is_sorted_and_errors_without_a_client_id_become_a_notice() {
        let mut state = joined("general");
        state.apply(
            &ServerFrame::Presence {
                room: room("general"),
                members: vec![user("zed"), user("amy")],
                rev: 0,
            },
            0.0,
        );
        let names: Vec<_> = state
            .room(&room("general"))
            .unwrap()
            .members
            .iter()
            .map(|u| u.name.clone())
            .collect();
        assert_eq!(names, vec!["AMY", "ZED"]);
        state.apply(
            &ServerFrame::error(ErrorCode::InvalidRoom, Some("c-1".into())),
            0.0,
        );
        assert_eq!(state.notice, None, "the outbox owns errors about a message");
        state.apply(&ServerFrame::error(ErrorCode::Internal, None), 0.0);
        assert_eq!(
            state.notice.as_deref(),
            Some(ErrorCode::Internal.describe().as_str())
        );
        let slow_down = ServerFrame::retry_later(ErrorCode::RateLimited, Some("c-2".into()), 200);
        state.apply(&slow_down, 0.0);
        assert_eq!(
            state.notice.as_deref(),
            Some(ErrorCode::RateLimited.describe().as_str()),
            "a rate limit tells the person to slow down, though the outbox keeps the message"
        );
    }

    #[test]
    fn people_sort_by_name_ignoring_case_and_equal_names_keep_their_order() {
        let named = |id: &str, name: &str| User {
            name: name.into(),
            ..user(id)
        };
        let mut people = vec![
            named("1", "bea"),
            named("2", "Al"),
            named("3", "Bea"),
            named("4", "al"),
            named("5", "Cy"),
            named("6", "BEA"),
        ];
        sort_by_name(&mut people);
        let ids: Vec<_> = people.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["2", "4", "1", "3", "6", "5"]);
        sort_by_name(&mut Vec::new());
    }

    #[test]
    fn leaving_forgets_the_room() {
        let mut state = joined("general");
        assert_eq!(
            state.leave(&room("general")),
            Some(ClientFrame::Leave {
                room: room("general")
            })
        );
        assert_eq!(state.leave(&room("general")), None);
        assert_eq!(state.rooms().count(), 0);
    }
}
