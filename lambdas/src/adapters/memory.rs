//! In-process adapters: a registry in a mutex and queues over tokio channels. The local gateway's
//! default, and the reference behaviour every other registry adapter must match.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use protocol::{
    limits::ROOM_HISTORY_CAP, ChatMessage, ClientId, ConnectionId, MessageId, RoomName, User,
};
use tokio::sync::mpsc;

use crate::ports::{
    Appended, HistoryPage, HistoryQuery, Member, NewMessage, Queue, QueueError, Registry,
    RegistryError,
};

/// The whole registry in memory.
#[derive(Debug)]
pub struct MemoryRegistry {
    state: Mutex<State>,
    history_cap: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Every open connection and the rooms it is in.
    connections: HashMap<ConnectionId, BTreeSet<RoomName>>,
    rooms: HashMap<RoomName, Room>,
}

#[derive(Debug, Default)]
struct Room {
    members: BTreeMap<ConnectionId, User>,
    history: VecDeque<ChatMessage>,
    last_id: Option<MessageId>,
    /// (author id, client id) → (message id, fanned out), for the messages still in `history`.
    sent: HashMap<(String, ClientId), (MessageId, bool)>,
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

/// The id after `last` for a message stamped `millis`: a Redis stream's rule, so ids only grow even if
/// the clock steps back.
pub fn next_message_id(last: Option<MessageId>, millis: u64) -> MessageId {
    match last {
        Some(last) if last.millis >= millis => MessageId::new(last.millis, last.seq + 1),
        _ => MessageId::new(millis, 0),
    }
}

#[async_trait]
impl Registry for MemoryRegistry {
    async fn connect(
        &self,
        connection_id: &ConnectionId,
        _user: &User,
    ) -> Result<(), RegistryError> {
        self.with_state(|s| {
            s.connections.entry(connection_id.clone()).or_default();
        });
        Ok(())
    }

    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError> {
        Ok(self.with_state(|s| {
            let Some(rooms) = s.connections.remove(connection_id) else {
                return Vec::new();
            };
            for room in &rooms {
                if let Some(room) = s.rooms.get_mut(room) {
                    room.members.remove(connection_id);
                }
            }
            rooms.into_iter().collect()
        }))
    }

    async fn join(&self, room: &RoomName, member: &Member) -> Result<(), RegistryError> {
        self.with_state(|s| {
            s.connections
                .entry(member.connection_id.clone())
                .or_default()
                .insert(room.clone());
            s.rooms
                .entry(room.clone())
                .or_default()
                .members
                .insert(member.connection_id.clone(), member.user.clone());
        });
        Ok(())
    }

    async fn leave(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
    ) -> Result<bool, RegistryError> {
        Ok(self.with_state(|s| {
            if let Some(rooms) = s.connections.get_mut(connection_id) {
                rooms.remove(room);
            }
            s.rooms
                .get_mut(room)
                .is_some_and(|r| r.members.remove(connection_id).is_some())
        }))
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<Member>, RegistryError> {
        Ok(self.with_state(|s| {
            s.rooms.get(room).map_or_else(Vec::new, |r| {
                r.members
                    .iter()
                    .map(|(connection_id, user)| Member {
                        connection_id: connection_id.clone(),
                        user: user.clone(),
                    })
                    .collect()
            })
        }))
    }

    async fn append(
        &self,
        sender: &ConnectionId,
        message: NewMessage,
    ) -> Result<Appended, RegistryError> {
        let cap = self.history_cap;
        Ok(self.with_state(|s| {
            let Some(room) = s
                .rooms
                .get_mut(&message.room)
                .filter(|room| room.members.contains_key(sender))
            else {
                return Appended::NotAMember;
            };
            let recipients = |room: &Room| room.members.keys().cloned().collect();
            let key = (message.author.id.clone(), message.client_id.clone());
            if let Some(&(id, fanned_out)) = room.sent.get(&key) {
                if let Some(stored) = room.history.iter().find(|m| m.id == id) {
                    let message = stored.clone();
                    return if fanned_out {
                        Appended::AlreadySent { message }
                    } else {
                        Appended::FanOut {
                            message,
                            recipients: recipients(room),
                        }
                    };
                }
            }
            let millis =
                u64::try_from(message.sent_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
            let id = next_message_id(room.last_id, millis);
            room.last_id = Some(id);
            let stored = ChatMessage {
                room: message.room,
                id,
                client_id: message.client_id,
                author: message.author,
                body: message.body,
                sent_at: message.sent_at,
            };
            room.history.push_back(stored.clone());
            room.sent.insert(key, (id, false));
            while room.history.len() > cap {
                if let Some(old) = room.history.pop_front() {
                    room.sent.remove(&(old.author.id, old.client_id));
                }
            }
            Appended::FanOut {
                message: stored,
                recipients: recipients(room),
            }
        }))
    }

    async fn mark_fanned_out(&self, message: &ChatMessage) -> Result<(), RegistryError> {
        self.with_state(|s| {
            if let Some(room) = s.rooms.get_mut(&message.room) {
                let key = (message.author.id.clone(), message.client_id.clone());
                if let Some(entry) = room.sent.get_mut(&key) {
                    entry.1 = true;
                }
            }
        });
        Ok(())
    }

    async fn history(
        &self,
        room: &RoomName,
        query: HistoryQuery,
    ) -> Result<HistoryPage, RegistryError> {
        Ok(self.with_state(|s| {
            let Some(room) = s.rooms.get(room) else {
                return HistoryPage {
                    messages: Vec::new(),
                    has_more: false,
                };
            };
            match query {
                HistoryQuery::Before { before, limit } => {
                    let older: Vec<&ChatMessage> = room
                        .history
                        .iter()
                        .filter(|m| before.is_none_or(|b| m.id < b))
                        .collect();
                    let start = older.len().saturating_sub(usize::from(limit));
                    HistoryPage {
                        messages: older[start..].iter().map(|m| (*m).clone()).collect(),
                        has_more: start > 0,
                    }
                }
                HistoryQuery::After { after, limit } => {
                    let mut newer = room.history.iter().filter(|m| m.id > after);
                    let messages: Vec<ChatMessage> =
                        newer.by_ref().take(usize::from(limit)).cloned().collect();
                    HistoryPage {
                        messages,
                        has_more: newer.next().is_some(),
                    }
                }
            }
        }))
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
