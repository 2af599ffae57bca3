//! In-process adapters: a registry in a mutex and queues over tokio channels. The local gateway's
//! default, and the reference behaviour every other registry adapter must match.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use protocol::{
    limits::{
        Rate, INVITE_LINK_TTL_SECS, MAX_CHANGES_BYTES, MAX_CONNECTIONS_PER_PERSON,
        MAX_INVITE_LINKS_PER_ROOM, MAX_MEMBERS_PER_ROOM, MAX_PEOPLE_PER_PRIVATE_ROOM,
        MAX_ROOMS_PER_CONNECTION, MAX_ROOMS_PER_PERSON, MAX_SERVER_FRAME_BYTES,
        PERSON_RETENTION_SECS, ROOM_HISTORY_CAP, ROOM_RETENTION_SECS,
    },
    ChatMessage, ClientId, ConnectionId, InviteCode, MessageId, RoomEntry, RoomName, User,
};
use tokio::sync::mpsc;

use crate::ports::{
    new_invite_code, unix_millis, Added, Admission, Appended, Change, Changed, ChangesPage,
    Connected, Created, HistoryPage, HistoryQuery, InviteCreated, Joined, Member, NewMessage,
    Queue, QueueError, RateCheck, Reactors, Redemption, Refused, Registry, RegistryError, RoomList,
    RoomMembers,
};

/// How long a connection's records live: API Gateway's two-hour maximum plus a margin.
pub const CONNECTION_TTL_MS: u64 = (2 * 60 + 10) * 60 * 1000;

const ROOM_RETENTION_MS: u64 = ROOM_RETENTION_SECS * 1000;

const PERSON_RETENTION_MS: u64 = PERSON_RETENTION_SECS * 1000;

const INVITE_LINK_TTL_MS: u64 = INVITE_LINK_TTL_SECS * 1000;

/// Every rate's bucket is full again this long after its last use (`NEW_ROOM_RATE`'s, the slowest, in an
/// hour).
const BUCKET_LIFETIME_MS: u64 = 60 * 60 * 1000;

/// How often the registry looks for expired records (rooms past retention, connections past their TTL,
/// full buckets): the in-memory stand-in for Redis's key expiry.
const SWEEP_EVERY_MS: u64 = 60 * 1000;

/// The whole registry in memory.
#[derive(Debug)]
pub struct MemoryRegistry {
    state: Mutex<State>,
    history_cap: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Every open connection: who holds it, the rooms it is in, when its records expire.
    connections: HashMap<ConnectionId, Connection>,
    /// Each person's live connections and when each expires.
    people: HashMap<String, BTreeMap<ConnectionId, u64>>,
    rooms: HashMap<RoomName, Room>,
    buckets: Buckets,
    /// People signed out by an operator, until when.
    signed_out: HashMap<String, u64>,
    /// Each person's rooms and direct conversations, by room name.
    lists: HashMap<String, List>,
    /// Each person as their last connection named them, and when that is forgotten.
    profiles: HashMap<String, (User, u64)>,
    /// Every invite link's code: its room, who redeemed it first, and when it expires.
    invites: HashMap<InviteCode, Invite>,
    last_sweep_ms: u64,
}

#[derive(Debug)]
struct Invite {
    room: RoomName,
    redeemed_by: Option<String>,
    expires_ms: u64,
}

/// A live link as its room keeps it: who asked for it, with which request, until when.
#[derive(Debug)]
struct Link {
    by: String,
    client_id: ClientId,
    expires_ms: u64,
}

#[derive(Debug)]
struct Connection {
    user_id: String,
    rooms: BTreeSet<RoomName>,
    expires_ms: u64,
}

#[derive(Debug, Default)]
struct List {
    entries: BTreeMap<RoomName, RoomEntry>,
    /// [`RoomList::rev`].
    rev: u64,
    expires_ms: u64,
}

impl List {
    /// The list changed at `now_ms`: its revision moves on (see [`RoomList::rev`]).
    fn changed(&mut self, now_ms: u64) {
        self.rev = (self.rev + 1).max(now_ms);
    }
}

#[derive(Debug, Default)]
struct Room {
    members: BTreeMap<ConnectionId, User>,
    /// [`RoomMembers::rev`].
    presence_rev: u64,
    /// A private room's people (user ids): who may join it.
    people: BTreeSet<String>,
    history: VecDeque<ChatMessage>,
    last_id: Option<MessageId>,
    /// (author id, client id) → message id, for the messages still in `history`.
    sent: HashMap<(String, ClientId), MessageId>,
    /// The room is forgotten after this (its last join or message plus the retention).
    expires_ms: u64,
    /// The room's latest change number (edits, deletes and reactions), 0 before the first.
    rev: u64,
    /// Everyone who reacted to each message still in `history` that has reactions.
    reactions: HashMap<MessageId, Reactors>,
    /// A private room's live (unused, unexpired) invite links.
    links: BTreeMap<InviteCode, Link>,
}

impl Room {
    /// Takes a connection out of the members; says whether it was in. The presence revision moves on, or
    /// starts afresh with the last member gone (see [`RoomMembers::rev`]).
    fn remove_member(&mut self, connection_id: &ConnectionId) -> bool {
        if self.members.remove(connection_id).is_none() {
            return false;
        }
        self.presence_rev = if self.members.is_empty() {
            0
        } else {
            self.presence_rev + 1
        };
        true
    }

    /// `message` as the person `reader` (a user id) is shown it: with their own reactions, if it has any.
    fn for_reader(&self, reader: &str, mut message: ChatMessage) -> ChatMessage {
        if !message.reactions.is_empty() {
            let reactors = self.reactions.get(&message.id);
            message.mine = Some(reactors.map_or_else(Vec::new, |r| r.of(reader)));
        }
        message
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

impl Bucket {
    /// The bucket at `now_ms`, refilled since it was last seen.
    fn refilled(self, rate: Rate, now_ms: u64) -> f64 {
        let elapsed = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst))
    }
}

/// Every person's token buckets: (user id, bucket) → the bucket's tokens at a time.
#[derive(Debug, Default)]
struct Buckets(HashMap<(String, String), Bucket>);

impl Buckets {
    /// Takes one token of the person's `bucket` at `rate` ([`Registry::admit`]).
    fn take(&mut self, user_id: &str, bucket: &str, rate: Rate, now_ms: u64) -> Admission {
        let key = (user_id.to_owned(), bucket.to_owned());
        let tokens = self
            .0
            .get(&key)
            .map_or(f64::from(rate.burst), |b| b.refilled(rate, now_ms));
        if tokens < 1.0 {
            let retry_after_ms = ((1.0 - tokens) / rate.per_second * 1000.0).ceil() as u64;
            return Admission::Wait {
                retry_after_ms: retry_after_ms.max(1),
            };
        }
        self.0.insert(
            key,
            Bucket {
                tokens: tokens - 1.0,
                at_ms: now_ms,
            },
        );
        Admission::Admitted
    }

    /// Forgets the buckets that are full again at `now_ms` (the same as no bucket); the slowest rate
    /// refills in an hour.
    fn sweep(&mut self, now_ms: u64) {
        self.0
            .retain(|_, bucket| bucket.at_ms + BUCKET_LIFETIME_MS > now_ms);
    }
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        Self::with_history_cap(ROOM_HISTORY_CAP)
    }
}

impl MemoryRegistry {
    /// A registry keeping at most `history_cap` messages per room.
    pub fn with_history_cap(history_cap: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            history_cap,
        }
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

impl State {
    /// Forgets what has expired, at most once a [`SWEEP_EVERY_MS`].
    fn sweep(&mut self, now_ms: u64) {
        if now_ms < self.last_sweep_ms + SWEEP_EVERY_MS {
            return;
        }
        self.last_sweep_ms = now_ms;
        let expired: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, c)| c.expires_ms <= now_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.forget(&id);
        }
        self.people.retain(|_, connections| {
            connections.retain(|_, expires| *expires > now_ms);
            !connections.is_empty()
        });
        self.rooms.retain(|_, room| room.expires_ms > now_ms);
        self.lists.retain(|_, list| list.expires_ms > now_ms);
        self.profiles.retain(|_, (_, expires)| *expires > now_ms);
        self.invites.retain(|_, invite| invite.expires_ms > now_ms);
        self.signed_out.retain(|_, until| *until > now_ms);
        self.buckets.sweep(now_ms);
    }

    /// The person's connections that have not expired.
    fn live(&self, user_id: &str, now_ms: u64) -> Vec<ConnectionId> {
        self.people.get(user_id).map_or_else(Vec::new, |live| {
            live.iter()
                .filter(|(_, expires)| **expires > now_ms)
                .map(|(id, _)| id.clone())
                .collect()
        })
    }

    /// Forgets a connection everywhere; returns the rooms it was in.
    fn forget(&mut self, connection_id: &ConnectionId) -> Vec<RoomName> {
        let Some(connection) = self.connections.remove(connection_id) else {
            return Vec::new();
        };
        if let Some(live) = self.people.get_mut(&connection.user_id) {
            live.remove(connection_id);
            if live.is_empty() {
                self.people.remove(&connection.user_id);
            }
        }
        for room in &connection.rooms {
            if let Some(room) = self.rooms.get_mut(room) {
                room.remove_member(connection_id);
            }
        }
        connection.rooms.into_iter().collect()
    }
}

/// The id after `last` for a message stamped `millis`: a Redis stream's rule, so ids only grow even if
/// the clock steps back.
pub fn next_message_id(last: Option<MessageId>, millis: u64) -> MessageId {
    match last {
        Some(last) if last.millis >= millis => MessageId::new(last.millis, last.seq + 1),
        _ => MessageId::new(millis, 0),
    }
}

/// Takes messages from `candidates` (nearest the reader first) until `limit` or `budget` bytes, always at
/// least one; says whether any were left.
fn take_page<'a>(
    candidates: impl Iterator<Item = &'a ChatMessage>,
    limit: u16,
    budget: usize,
) -> (Vec<ChatMessage>, bool) {
    let mut messages = Vec::new();
    let mut bytes = 0;
    let mut candidates = candidates.peekable();
    while let Some(message) = candidates.peek() {
        let size = protocol::json_len(*message) + 1;
        if messages.len() == usize::from(limit) || (!messages.is_empty() && bytes + size > budget) {
            break;
        }
        bytes += size;
        messages.push((*message).clone());
        candidates.next();
    }
    (messages, candidates.peek().is_some())
}

#[async_trait]
impl Registry for MemoryRegistry {
    async fn connect(
        &self,
        connection_id: &ConnectionId,
        user: &User,
        now_ms: u64,
    ) -> Result<Connected, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            if s.signed_out
                .get(&user.id)
                .is_some_and(|until| *until > now_ms)
            {
                return Connected::SignedOut;
            }
            let live = s.people.entry(user.id.clone()).or_default();
            live.retain(|_, expires| *expires > now_ms);
            if !live.contains_key(connection_id) && live.len() >= MAX_CONNECTIONS_PER_PERSON {
                return Connected::TooManyConnections;
            }
            let expires_ms = now_ms + CONNECTION_TTL_MS;
            live.insert(connection_id.clone(), expires_ms);
            s.profiles.insert(
                user.id.clone(),
                (user.clone(), now_ms + PERSON_RETENTION_MS),
            );
            s.connections
                .entry(connection_id.clone())
                .or_insert_with(|| Connection {
                    user_id: user.id.clone(),
                    rooms: BTreeSet::new(),
                    expires_ms,
                });
            Connected::Recorded
        }))
    }

    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError> {
        Ok(self.with_state(|s| s.forget(connection_id)))
    }

    async fn join(
        &self,
        room: &RoomName,
        member: &Member,
        new_room: bool,
        now_ms: u64,
    ) -> Result<Joined, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            let connection = s
                .connections
                .entry(member.connection_id.clone())
                .or_insert_with(|| Connection {
                    user_id: member.user.id.clone(),
                    rooms: BTreeSet::new(),
                    expires_ms: now_ms + CONNECTION_TTL_MS,
                });
            let existing = s.rooms.get(room);
            let already_in =
                existing.is_some_and(|r| r.members.contains_key(&member.connection_id));
            if !already_in {
                if connection.rooms.len() >= MAX_ROOMS_PER_CONNECTION {
                    return Joined::TooManyRooms;
                }
                if room.is_private()
                    && !existing.is_some_and(|r| r.people.contains(&member.user.id))
                {
                    return Joined::NoSuchRoom;
                }
                match existing {
                    Some(r) if r.members.len() >= MAX_MEMBERS_PER_ROOM => return Joined::RoomFull,
                    Some(r) if !r.members.is_empty() || !r.history.is_empty() => {}
                    Some(_) if room.is_private() => {}
                    _ if !new_room => return Joined::WouldCreate,
                    _ => {}
                }
            }
            connection.rooms.insert(room.clone());
            let room = s.rooms.entry(room.clone()).or_default();
            room.members
                .insert(member.connection_id.clone(), member.user.clone());
            room.presence_rev += 1;
            room.expires_ms = now_ms + ROOM_RETENTION_MS;
            Joined::Joined
        }))
    }

    async fn leave(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
    ) -> Result<bool, RegistryError> {
        Ok(self.with_state(|s| {
            if let Some(connection) = s.connections.get_mut(connection_id) {
                connection.rooms.remove(room);
            }
            s.rooms
                .get_mut(room)
                .is_some_and(|r| r.remove_member(connection_id))
        }))
    }

    async fn members(&self, room: &RoomName) -> Result<RoomMembers, RegistryError> {
        Ok(self.with_state(|s| {
            s.rooms
                .get(room)
                .map_or_else(RoomMembers::default, |r| RoomMembers {
                    members: r
                        .members
                        .iter()
                        .map(|(connection_id, user)| Member {
                            connection_id: connection_id.clone(),
                            user: user.clone(),
                        })
                        .collect(),
                    rev: r.presence_rev,
                })
        }))
    }

    async fn append(
        &self,
        sender: &ConnectionId,
        message: NewMessage,
        rate: Option<RateCheck<'_>>,
    ) -> Result<Appended, RegistryError> {
        let cap = self.history_cap;
        let millis = unix_millis(message.sent_at);
        Ok(self.with_state(|s| {
            let Some(room) = s
                .rooms
                .get_mut(&message.room)
                .filter(|room| room.members.contains_key(sender))
            else {
                return Appended::NotAMember;
            };
            if let Some(check) = rate {
                let bucket = format!("{}:{}", check.bucket, message.room);
                let admission = s
                    .buckets
                    .take(&message.author.id, &bucket, check.rate, millis);
                if let Admission::Wait { retry_after_ms } = admission {
                    return Appended::RateLimited { retry_after_ms };
                }
            }
            let recipients = |room: &Room| room.members.keys().cloned().collect();
            let key = (message.author.id.clone(), message.client_id.clone());
            if let Some(&id) = room.sent.get(&key) {
                if let Some(stored) = room.history.iter().find(|m| m.id == id) {
                    return Appended::FanOut {
                        message: stored.clone(),
                        recipients: recipients(room),
                        retry: true,
                    };
                }
            }
            let id = next_message_id(room.last_id, millis);
            room.last_id = Some(id);
            room.expires_ms = room.expires_ms.max(millis + ROOM_RETENTION_MS);
            let stored = ChatMessage {
                room: message.room,
                id,
                client_id: message.client_id,
                author: message.author,
                body: message.body,
                sent_at: message.sent_at,
                edited_at: None,
                deleted: false,
                rev: None,
                reactions: Vec::new(),
                mine: None,
            };
            room.history.push_back(stored.clone());
            room.sent.insert(key, id);
            while room.history.len() > cap {
                if let Some(old) = room.history.pop_front() {
                    room.reactions.remove(&old.id);
                    room.sent.remove(&(old.author.id, old.client_id));
                }
            }
            Appended::FanOut {
                message: stored,
                recipients: recipients(room),
                retry: false,
            }
        }))
    }

    async fn history(
        &self,
        reader: &ConnectionId,
        room: &RoomName,
        query: HistoryQuery,
    ) -> Result<Option<HistoryPage>, RegistryError> {
        Ok(self.with_state(|s| {
            let room = s.rooms.get(room)?;
            let reader = &room.members.get(reader)?.id;
            let (messages, has_more) = match query {
                HistoryQuery::Before { before, limit } => {
                    let older = room
                        .history
                        .iter()
                        .rev()
                        .filter(|m| before.is_none_or(|b| m.id < b));
                    let (mut messages, has_more) = take_page(older, limit, MAX_SERVER_FRAME_BYTES);
                    messages.reverse();
                    (messages, has_more)
                }
                HistoryQuery::After { after, limit } => {
                    let newer = room.history.iter().filter(|m| m.id > after);
                    take_page(newer, limit, MAX_SERVER_FRAME_BYTES)
                }
            };
            let messages = messages
                .into_iter()
                .map(|m| room.for_reader(reader, m))
                .collect();
            Some(HistoryPage { messages, has_more })
        }))
    }

    async fn change(
        &self,
        by: &Member,
        room: &RoomName,
        id: MessageId,
        change: Change,
    ) -> Result<Result<Changed, Refused>, RegistryError> {
        Ok(self.with_state(|s| {
            let room = s
                .rooms
                .get_mut(room)
                .filter(|r| r.members.contains_key(&by.connection_id))
                .ok_or(Refused::NotAMember)?;
            let next_rev = room.rev + 1;
            let message = room
                .history
                .iter_mut()
                .find(|m| m.id == id)
                .ok_or(Refused::UnknownMessage)?;
            let reactors = room.reactions.entry(id).or_default();
            let changed = change.apply_to(message, reactors, &by.user);
            let mine = reactors.of(&by.user.id);
            if reactors.total() == 0 {
                room.reactions.remove(&id);
            }
            if changed? {
                message.rev = Some(next_rev);
                room.rev = next_rev;
            }
            let mut message = message.clone();
            if matches!(change, Change::React { .. }) {
                message.mine = Some(mine);
            }
            Ok(Changed {
                message,
                recipients: room.members.keys().cloned().collect(),
            })
        }))
    }

    async fn changes(
        &self,
        reader: &ConnectionId,
        room: &RoomName,
        after: u64,
        limit: u16,
    ) -> Result<Option<ChangesPage>, RegistryError> {
        Ok(self.with_state(|s| {
            let room = s.rooms.get(room)?;
            let reader = &room.members.get(reader)?.id;
            let mut changed: Vec<&ChatMessage> = room
                .history
                .iter()
                .filter(|m| m.rev.is_some_and(|rev| rev > after))
                .collect();
            changed.sort_by_key(|m| m.rev);
            let (messages, has_more) = if limit == 0 {
                (Vec::new(), false)
            } else {
                take_page(changed.into_iter(), limit, MAX_CHANGES_BYTES)
            };
            let rev = match messages.last() {
                Some(last) if has_more => last.rev.unwrap_or(after),
                _ => room.rev,
            };
            let messages = messages
                .into_iter()
                .map(|m| room.for_reader(reader, m))
                .collect();
            Some(ChangesPage {
                messages,
                rev,
                has_more,
            })
        }))
    }

    async fn kick(
        &self,
        user_id: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<ConnectionId>, RegistryError> {
        Ok(self.with_state(|s| {
            s.signed_out.insert(user_id.to_owned(), until_ms);
            s.live(user_id, now_ms)
        }))
    }

    async fn create_room(
        &self,
        room: &RoomName,
        user_id: &str,
        now_ms: u64,
    ) -> Result<Created, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            if let Some(existing) = s.rooms.get(room) {
                if existing.people.contains(user_id) {
                    return Created::AlreadyIn;
                }
                if !existing.people.is_empty()
                    || !existing.members.is_empty()
                    || !existing.history.is_empty()
                {
                    return Created::Taken;
                }
            }
            let created = s.rooms.entry(room.clone()).or_default();
            created.people.insert(user_id.to_owned());
            created.expires_ms = now_ms + ROOM_RETENTION_MS;
            Created::Created
        }))
    }

    async fn add_people(
        &self,
        room: &RoomName,
        by: Option<&str>,
        people: &[&str],
        now_ms: u64,
    ) -> Result<Added, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            if let Some(by) = by {
                if !s.rooms.get(room).is_some_and(|r| r.people.contains(by)) {
                    return Added::NoSuchRoom;
                }
            }
            let target = s.rooms.entry(room.clone()).or_default();
            let newcomers = people
                .iter()
                .filter(|p| !target.people.contains(**p))
                .count();
            if target.people.len() + newcomers > MAX_PEOPLE_PER_PRIVATE_ROOM {
                return Added::RoomFull;
            }
            target.people.extend(people.iter().map(|p| (*p).to_owned()));
            target.expires_ms = target.expires_ms.max(now_ms + ROOM_RETENTION_MS);
            Added::Added
        }))
    }

    async fn create_invite(
        &self,
        room: &RoomName,
        by: &str,
        client_id: &ClientId,
        now_ms: u64,
    ) -> Result<InviteCreated, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            let Some(target) = s.rooms.get_mut(room).filter(|r| r.people.contains(by)) else {
                return InviteCreated::NoSuchRoom;
            };
            target.links.retain(|_, link| link.expires_ms > now_ms);
            let asked = target
                .links
                .iter()
                .find(|(_, link)| link.by == by && link.client_id == *client_id);
            if let Some((code, link)) = asked {
                return InviteCreated::Created {
                    code: code.clone(),
                    expires_ms: link.expires_ms,
                };
            }
            if target.links.len() >= MAX_INVITE_LINKS_PER_ROOM {
                return InviteCreated::TooMany;
            }
            let code = new_invite_code();
            let expires_ms = now_ms + INVITE_LINK_TTL_MS;
            let link = Link {
                by: by.to_owned(),
                client_id: client_id.clone(),
                expires_ms,
            };
            target.links.insert(code.clone(), link);
            let invite = Invite {
                room: room.clone(),
                redeemed_by: None,
                expires_ms,
            };
            s.invites.insert(code.clone(), invite);
            InviteCreated::Created { code, expires_ms }
        }))
    }

    async fn redeem_invite(
        &self,
        code: &InviteCode,
        user_id: &str,
        now_ms: u64,
    ) -> Result<Redemption, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            let Some(invite) = s.invites.get_mut(code).filter(|i| i.expires_ms > now_ms) else {
                return Redemption::Invalid;
            };
            if invite
                .redeemed_by
                .as_deref()
                .is_some_and(|by| by != user_id)
            {
                return Redemption::Invalid;
            }
            invite.redeemed_by = Some(user_id.to_owned());
            let Some(target) = s.rooms.get_mut(&invite.room) else {
                return Redemption::Invalid;
            };
            if !target.people.contains(user_id) {
                if target
                    .links
                    .get(code)
                    .is_none_or(|link| link.expires_ms <= now_ms)
                {
                    return Redemption::Invalid;
                }
                if target.people.len() >= MAX_PEOPLE_PER_PRIVATE_ROOM {
                    return Redemption::RoomFull;
                }
                target.people.insert(user_id.to_owned());
                target.expires_ms = target.expires_ms.max(now_ms + ROOM_RETENTION_MS);
            }
            target.links.remove(code);
            Redemption::Redeemed(invite.room.clone())
        }))
    }

    async fn remove_person(&self, room: &RoomName, user_id: &str) -> Result<bool, RegistryError> {
        Ok(self.with_state(|s| {
            let Some(existing) = s.rooms.get_mut(room).filter(|_| room.is_private()) else {
                return false;
            };
            existing.people.remove(user_id);
            if !existing.people.is_empty() {
                return false;
            }
            s.rooms.remove(room);
            true
        }))
    }

    async fn list_add(
        &self,
        user_id: &str,
        room: &RoomName,
        with: Option<&User>,
        now_ms: u64,
    ) -> Result<bool, RegistryError> {
        Ok(self.with_state(|s| {
            s.sweep(now_ms);
            let list = s.lists.entry(user_id.to_owned()).or_default();
            if !list.entries.contains_key(room) && list.entries.len() >= MAX_ROOMS_PER_PERSON {
                return false;
            }
            let mut changed = false;
            let entry = list.entries.entry(room.clone()).or_insert_with(|| {
                changed = true;
                RoomEntry {
                    room: room.clone(),
                    read: None,
                    with: None,
                }
            });
            if with.is_some() {
                entry.with = with.cloned();
                changed = true;
            }
            if changed {
                list.changed(now_ms);
            }
            list.expires_ms = now_ms + PERSON_RETENTION_MS;
            true
        }))
    }

    async fn list_remove(
        &self,
        user_id: &str,
        room: &RoomName,
        now_ms: u64,
    ) -> Result<(), RegistryError> {
        self.with_state(|s| {
            if let Some(list) = s.lists.get_mut(user_id) {
                if list.entries.remove(room).is_some() {
                    list.changed(now_ms);
                }
            }
        });
        Ok(())
    }

    async fn rooms(&self, user_id: &str) -> Result<RoomList, RegistryError> {
        Ok(self.with_state(|s| {
            s.lists
                .get(user_id)
                .map_or_else(RoomList::default, |list| RoomList {
                    rooms: list.entries.values().cloned().collect(),
                    rev: list.rev,
                })
        }))
    }

    async fn mark_read(
        &self,
        user_id: &str,
        room: &RoomName,
        id: MessageId,
    ) -> Result<bool, RegistryError> {
        Ok(self.with_state(|s| {
            let Some(entry) = s
                .lists
                .get_mut(user_id)
                .and_then(|list| list.entries.get_mut(room))
            else {
                return false;
            };
            if entry.read.is_some_and(|read| read >= id) {
                return false;
            }
            entry.read = Some(id);
            true
        }))
    }

    async fn profile(&self, user_id: &str) -> Result<Option<User>, RegistryError> {
        Ok(self.with_state(|s| s.profiles.get(user_id).map(|(user, _)| user.clone())))
    }

    async fn live(&self, user_id: &str, now_ms: u64) -> Result<Vec<ConnectionId>, RegistryError> {
        Ok(self.with_state(|s| s.live(user_id, now_ms)))
    }

    async fn admit(
        &self,
        user_id: &str,
        bucket: &str,
        rate: Rate,
        now_ms: u64,
    ) -> Result<Admission, RegistryError> {
        Ok(self.with_state(|s| s.buckets.take(user_id, bucket, rate, now_ms)))
    }
}

/// The sending half of an in-process queue; the receiver goes to a consumer task.
#[derive(Debug)]
pub struct MemoryQueue<T> {
    sender: mpsc::UnboundedSender<T>,
}

impl<T> Clone for MemoryQueue<T> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

/// A new in-process queue and the receiver its consumer reads.
pub fn memory_queue<T>() -> (MemoryQueue<T>, mpsc::UnboundedReceiver<T>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (MemoryQueue { sender }, receiver)
}

#[async_trait]
impl<T: Send + 'static> Queue<T> for MemoryQueue<T> {
    async fn send_all(&self, items: Vec<T>) -> Result<(), QueueError> {
        for item in items {
            self.sender.send(item).map_err(|_| QueueError::Closed)?;
        }
        Ok(())
    }
}
