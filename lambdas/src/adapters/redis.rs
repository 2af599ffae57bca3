//! The production registry: Redis (ElastiCache Valkey/Redis in the VPC), behaving exactly like
//! [`super::memory::MemoryRegistry`].
//!
//! # Keys (all under one prefix, `{chatty}:` by default)
//! - `conn:<connection id>`: the user holding an open connection (JSON), for operators.
//! - `conn:<connection id>:rooms`: SET of the rooms the connection is in, so a disconnect finds them.
//! - `room:<room>:members`: HASH connection id → user JSON; membership and presence in one key.
//! - `room:<room>:history`: the room's history, a STREAM capped exactly at the history cap. Stream ids are
//!   [`MessageId`]s (`<ms>-<seq>`), so Redis assigns and orders them and paging is `XRANGE`/`XREVRANGE` with
//!   exclusive bounds. Each entry holds `k` (its idempotency key) and `m` (the message as JSON).
//! - `room:<room>:sent`: HASH idempotency key (`<client id> <author id>`; client ids hold no spaces) →
//!   `<fanned out 0|1> <message id>`, for the messages still in the history.
//!
//! The default prefix is a hash tag, so every key lives in one cluster slot: the multi-key scripts below run
//! unchanged on a cluster-mode endpoint (ElastiCache Serverless) as on a single node.
//!
//! Every operation is one round trip: single commands, or a Lua script where several keys must change
//! together. A send costs two round trips however many members the room has: the append script (membership
//! check, idempotent append, trim, and the room's connection ids) and, once the delivery is queued, the
//! fan-out mark.

use async_trait::async_trait;
use protocol::{ChatMessage, ClientId, ConnectionId, MessageId, RoomName, User};
use redis::{
    aio::{ConnectionManager, ConnectionManagerConfig},
    AsyncCommands, Script,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ports::{
    Appended, BoxError, HistoryPage, HistoryQuery, Member, NewMessage, Registry, RegistryError,
};

/// The key prefix when none is configured; the braces make it a cluster hash tag.
pub const DEFAULT_KEY_PREFIX: &str = "{chatty}:";

/// Stores a message from a member of the room once per idempotency key, trimming the history to its cap and
/// forgetting the keys of trimmed messages. Returns nil if the sender's connection is not in the room, else
/// `{id, message JSON, fanned out flag, recipients}` of the stored (or earlier) message, with the room's
/// connection ids as recipients unless the message was already fanned out.
const APPEND: &str = r"
local members, history, sent = KEYS[1], KEYS[2], KEYS[3]
local sender, key, millis, message, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if redis.call('HEXISTS', members, sender) == 0 then
  return false
end
local earlier = redis.call('HGET', sent, key)
if earlier then
  local flag, id = string.match(earlier, '^(%d) (.+)$')
  local found = redis.call('XRANGE', history, id, id)
  if #found == 1 then
    if flag == '1' then
      return {id, found[1][2][4], flag, {}}
    end
    return {id, found[1][2][4], flag, redis.call('HKEYS', members)}
  end
end
-- A clock that stepped back must not make XADD refuse the id: keep the newest entry's milliseconds.
local ms = millis
local top = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)
if #top == 1 then
  local top_ms = string.match(top[1][1], '^(%d+)-')
  if tonumber(top_ms) > tonumber(millis) then ms = top_ms end
end
local len = redis.call('XLEN', history)
if len >= cap then
  for _, old in ipairs(redis.call('XRANGE', history, '-', '+', 'COUNT', len - cap + 1)) do
    local old_key = old[2][2]
    local entry = redis.call('HGET', sent, old_key)
    if entry and string.sub(entry, 3) == old[1] then redis.call('HDEL', sent, old_key) end
  end
end
local id = redis.call('XADD', history, 'MAXLEN', '=', cap, ms .. '-*', 'k', key, 'm', message)
redis.call('HSET', sent, key, '0 ' .. id)
return {id, message, '0', redis.call('HKEYS', members)}
";

/// Marks a message fanned out, unless its idempotency key now names another message.
const MARK_FANNED_OUT: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) == '0 ' .. ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], '1 ' .. ARGV[2])
end
return 1
";

/// Forgets a connection everywhere at once; returns the rooms it was in.
/// ARGV[2] and ARGV[3] are the members key around the room name (see `Keys::members`).
const DISCONNECT: &str = r"
local rooms = redis.call('SMEMBERS', KEYS[1])
for _, room in ipairs(rooms) do
  redis.call('HDEL', ARGV[2] .. room .. ARGV[3], ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2])
return rooms
";

const MEMBERS_SUFFIX: &str = ":members";

/// Key names, in one place.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn connection(&self, id: &ConnectionId) -> String {
        format!("{}conn:{id}", self.prefix)
    }
    fn connection_rooms(&self, id: &ConnectionId) -> String {
        format!("{}conn:{id}:rooms", self.prefix)
    }
    fn room_prefix(&self) -> String {
        format!("{}room:", self.prefix)
    }
    fn members(&self, room: &RoomName) -> String {
        format!("{}{room}{MEMBERS_SUFFIX}", self.room_prefix())
    }
    fn history(&self, room: &RoomName) -> String {
        format!("{}{room}:history", self.room_prefix())
    }
    fn sent(&self, room: &RoomName) -> String {
        format!("{}{room}:sent", self.room_prefix())
    }
}

/// What a history entry's `m` field holds: the message without the room and id, which its key and entry id
/// already say.
#[derive(Debug, Serialize, Deserialize)]
struct StoredMessage {
    client_id: ClientId,
    author: User,
    body: String,
    #[serde(with = "time::serde::rfc3339")]
    sent_at: OffsetDateTime,
}

/// The registry in Redis, over one multiplexed connection that reconnects by itself. Build it once per
/// process (a Lambda's cold start) and share it: every invocation reuses the connection.
#[derive(Clone)]
pub struct RedisRegistry {
    connection: ConnectionManager,
    keys: Keys,
    history_cap: usize,
    append: Script,
    mark_fanned_out: Script,
    disconnect: Script,
}

fn failed(operation: &'static str) -> impl FnOnce(redis::RedisError) -> RegistryError {
    move |error| RegistryError::Backend {
        operation,
        source: Box::new(error),
    }
}

fn corrupt(what: &'static str, error: impl Into<BoxError>) -> RegistryError {
    RegistryError::Corrupt {
        what,
        source: error.into(),
    }
}

impl RedisRegistry {
    /// Connects to `url`: `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS (ElastiCache
    /// with encryption in transit). Fails if the server cannot be reached now.
    pub async fn open(url: &str) -> Result<Self, RegistryError> {
        let client = redis::Client::open(url).map_err(failed("url"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(std::time::Duration::from_secs(5)))
            .set_number_of_retries(3);
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(failed("connect"))?;
        Ok(Self {
            connection,
            keys: Keys {
                prefix: DEFAULT_KEY_PREFIX.to_owned(),
            },
            history_cap: protocol::limits::ROOM_HISTORY_CAP,
            append: Script::new(APPEND),
            mark_fanned_out: Script::new(MARK_FANNED_OUT),
            disconnect: Script::new(DISCONNECT),
        })
    }

    /// Puts every key under `prefix` instead of [`DEFAULT_KEY_PREFIX`] (several deployments, or tests, on
    /// one server).
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys.prefix = prefix.into();
        self
    }

    /// Keeps at most `cap` messages per room (at least one).
    pub fn with_history_cap(mut self, cap: usize) -> Self {
        self.history_cap = cap.max(1);
        self
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

fn idempotency_key(client_id: &ClientId, author: &User) -> String {
    format!("{client_id} {}", author.id)
}

fn message_from(room: &RoomName, id: &str, json: &str) -> Result<ChatMessage, RegistryError> {
    let id: MessageId = id.parse().map_err(|e| corrupt("message id", e))?;
    let stored: StoredMessage = serde_json::from_str(json).map_err(|e| corrupt("message", e))?;
    Ok(ChatMessage {
        room: room.clone(),
        id,
        client_id: stored.client_id,
        author: stored.author,
        body: stored.body,
        sent_at: stored.sent_at,
    })
}

/// A stream entry as `XRANGE` returns it: the id and the flat field/value list (`k`, key, `m`, message).
type Entry = (String, Vec<String>);

fn messages_from(room: &RoomName, entries: Vec<Entry>) -> Result<Vec<ChatMessage>, RegistryError> {
    entries
        .into_iter()
        .map(|(id, fields)| {
            let json = fields
                .chunks(2)
                .find(|pair| pair[0] == "m")
                .and_then(|pair| pair.get(1))
                .ok_or_else(|| corrupt("history entry", format!("entry {id} has no message")))?;
            message_from(room, &id, json)
        })
        .collect()
}

#[async_trait]
impl Registry for RedisRegistry {
    async fn connect(
        &self,
        connection_id: &ConnectionId,
        user: &User,
    ) -> Result<(), RegistryError> {
        let user = serde_json::to_string(user).map_err(|e| corrupt("user", e))?;
        self.connection()
            .set::<_, _, ()>(self.keys.connection(connection_id), user)
            .await
            .map_err(failed("connect"))
    }

    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError> {
        let rooms: Vec<String> = self
            .disconnect
            .key(self.keys.connection_rooms(connection_id))
            .key(self.keys.connection(connection_id))
            .arg(connection_id.as_str())
            .arg(self.keys.room_prefix())
            .arg(MEMBERS_SUFFIX)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("disconnect"))?;
        let mut rooms: Vec<RoomName> = rooms
            .into_iter()
            .map(|room| RoomName::new(room).map_err(|e| corrupt("room", e)))
            .collect::<Result<_, _>>()?;
        rooms.sort();
        Ok(rooms)
    }

    async fn join(&self, room: &RoomName, member: &Member) -> Result<(), RegistryError> {
        let user = serde_json::to_string(&member.user).map_err(|e| corrupt("user", e))?;
        redis::pipe()
            .atomic()
            .hset(self.keys.members(room), member.connection_id.as_str(), user)
            .ignore()
            .sadd(
                self.keys.connection_rooms(&member.connection_id),
                room.as_str(),
            )
            .ignore()
            .query_async::<()>(&mut self.connection())
            .await
            .map_err(failed("join"))
    }

    async fn leave(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
    ) -> Result<bool, RegistryError> {
        let (removed, _): (u32, u32) = redis::pipe()
            .atomic()
            .hdel(self.keys.members(room), connection_id.as_str())
            .srem(self.keys.connection_rooms(connection_id), room.as_str())
            .query_async(&mut self.connection())
            .await
            .map_err(failed("leave"))?;
        Ok(removed == 1)
    }

    async fn members(&self, room: &RoomName) -> Result<Vec<Member>, RegistryError> {
        let entries: Vec<(String, String)> = self
            .connection()
            .hgetall(self.keys.members(room))
            .await
            .map_err(failed("members"))?;
        let mut members = entries
            .into_iter()
            .map(|(connection_id, user)| {
                Ok(Member {
                    connection_id: ConnectionId(connection_id),
                    user: serde_json::from_str(&user).map_err(|e| corrupt("member", e))?,
                })
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        members.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(members)
    }

    async fn append(
        &self,
        sender: &ConnectionId,
        message: NewMessage,
    ) -> Result<Appended, RegistryError> {
        let key = idempotency_key(&message.client_id, &message.author);
        let millis = u64::try_from(message.sent_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let stored = serde_json::to_string(&StoredMessage {
            client_id: message.client_id,
            author: message.author,
            body: message.body,
            sent_at: message.sent_at,
        })
        .map_err(|e| corrupt("message", e))?;
        let reply: Option<(String, String, String, Vec<String>)> = self
            .append
            .key(self.keys.members(&message.room))
            .key(self.keys.history(&message.room))
            .key(self.keys.sent(&message.room))
            .arg(sender.as_str())
            .arg(key)
            .arg(millis)
            .arg(stored)
            .arg(self.history_cap)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("append"))?;
        let Some((id, json, flag, recipients)) = reply else {
            return Ok(Appended::NotAMember);
        };
        let message = message_from(&message.room, &id, &json)?;
        Ok(if flag == "1" {
            Appended::AlreadySent { message }
        } else {
            let mut recipients: Vec<ConnectionId> =
                recipients.into_iter().map(ConnectionId).collect();
            recipients.sort();
            Appended::FanOut {
                message,
                recipients,
            }
        })
    }

    async fn mark_fanned_out(&self, message: &ChatMessage) -> Result<(), RegistryError> {
        self.mark_fanned_out
            .key(self.keys.sent(&message.room))
            .arg(idempotency_key(&message.client_id, &message.author))
            .arg(message.id.to_string())
            .invoke_async::<()>(&mut self.connection())
            .await
            .map_err(failed("mark_fanned_out"))
    }

    async fn history(
        &self,
        room: &RoomName,
        query: HistoryQuery,
    ) -> Result<HistoryPage, RegistryError> {
        let key = self.keys.history(room);
        let mut connection = self.connection();
        // One entry more than asked says whether there are more.
        let (entries, limit, newest_first): (Vec<Entry>, u16, bool) = match query {
            HistoryQuery::Before { before, limit } => {
                let end = before.map_or_else(|| "+".to_owned(), |id| format!("({id}"));
                let entries = connection
                    .xrevrange_count(&key, end, "-", usize::from(limit) + 1)
                    .await
                    .map_err(failed("history"))?;
                (entries, limit, true)
            }
            HistoryQuery::After { after, limit } => {
                let entries = connection
                    .xrange_count(&key, format!("({after}"), "+", usize::from(limit) + 1)
                    .await
                    .map_err(failed("history"))?;
                (entries, limit, false)
            }
        };
        let mut messages = messages_from(room, entries)?;
        let has_more = messages.len() > usize::from(limit);
        messages.truncate(usize::from(limit));
        if newest_first {
            messages.reverse();
        }
        Ok(HistoryPage { messages, has_more })
    }
}
