//! The production registry: Redis (ElastiCache Valkey/Redis in the VPC), behaving exactly like
//! [`super::memory::MemoryRegistry`].
//!
//! # Keys (all under one prefix, `{chatty}:` by default), and what bounds each
//! - `conn:<connection id>`: the user holding an open connection (JSON). Expires with the connection
//!   ([`CONNECTION_TTL_MS`]: API Gateway's two-hour maximum plus a margin).
//! - `conn:<connection id>:rooms`: SET of the rooms the connection is in, so a disconnect finds them; at
//!   most [`MAX_ROOMS_PER_CONNECTION`]; expires with the connection.
//! - `user:<user id>:conns`: ZSORTED SET connection id → expiry (ms), the person's live connections, at
//!   most [`MAX_CONNECTIONS_PER_PERSON`]; expired entries are dropped on every connect; expires with the
//!   newest connection.
//! - `rate:<user id>:<bucket>`: HASH `t` (tokens), `at` (ms): one token bucket; expires when it would be
//!   full again.
//! - `room:<room>:members`: HASH connection id → user JSON; membership and presence in one key; at most
//!   [`MAX_MEMBERS_PER_ROOM`]. A member whose disconnect was lost is forgotten when a post to it answers
//!   410 (the sender's `forget`).
//! - `room:<room>:history`: the room's history, a STREAM capped exactly at the history cap. Stream ids are
//!   [`MessageId`]s (`<ms>-<seq>`), so Redis assigns and orders them and paging is `XRANGE`/`XREVRANGE` with
//!   exclusive bounds. Each entry holds `k` (its idempotency key) and `m` (the message as JSON).
//! - `room:<room>:sent`: HASH idempotency key (`<client id> <author id>`; client ids hold no spaces) →
//!   `<fanned out 0|1> <message id>`, for the messages still in the history.
//!
//! A room's three keys expire [`ROOM_RETENTION_SECS`] after its last message or join.
//!
//! The default prefix is a hash tag, so every key lives in one cluster slot: the multi-key scripts below run
//! unchanged on a cluster-mode endpoint (ElastiCache Serverless) as on a single node.
//!
//! Every operation is one round trip: single commands, or a Lua script where several keys must change
//! together. A send costs two round trips however many members the room has: the append script (membership
//! check, idempotent append, trim, and the room's connection ids) and, once the delivery is queued, the
//! fan-out mark.

use async_trait::async_trait;
use protocol::{
    limits::{
        Rate, MAX_CONNECTIONS_PER_PERSON, MAX_MEMBERS_PER_ROOM, MAX_ROOMS_PER_CONNECTION,
        MAX_SERVER_FRAME_BYTES, ROOM_RETENTION_SECS,
    },
    ChatMessage, ClientId, ConnectionId, MessageId, RoomName, User,
};
use redis::{
    aio::{ConnectionManager, ConnectionManagerConfig},
    AsyncCommands, Script,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    adapters::memory::CONNECTION_TTL_MS,
    ports::{
        Admission, Appended, BoxError, Connected, HistoryPage, HistoryQuery, Joined, Member,
        NewMessage, Registry, RegistryError,
    },
};

const ROOM_RETENTION_MS: u64 = ROOM_RETENTION_SECS * 1000;

/// Records a connection unless its person holds the cap of live connections already; 1 if recorded.
const CONNECT: &str = r"
local conn, live = KEYS[1], KEYS[2]
local id, user, now, ttl, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
if not redis.call('ZSCORE', live, id) and redis.call('ZCARD', live) >= cap then
  return 0
end
redis.call('ZADD', live, now + ttl, id)
redis.call('PEXPIRE', live, ttl)
redis.call('SET', conn, user, 'PX', ttl)
return 1
";

/// Puts a connection in a room within the caps; answers `joined`, `would_create`, `too_many_rooms` or
/// `room_full`. Refreshes the room's and the connection's expiry.
const JOIN: &str = r"
local members, history, sent, rooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, user, room, new_room = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local retention, conn_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local max_rooms, max_members = tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('HEXISTS', members, id) == 0 then
  if redis.call('SCARD', rooms) >= max_rooms then return 'too_many_rooms' end
  local count = redis.call('HLEN', members)
  if count >= max_members then return 'room_full' end
  if count == 0 and redis.call('EXISTS', history) == 0 and new_room ~= '1' then
    return 'would_create'
  end
end
redis.call('HSET', members, id, user)
redis.call('SADD', rooms, room)
redis.call('PEXPIRE', rooms, conn_ttl)
for _, key in ipairs({members, history, sent}) do redis.call('PEXPIRE', key, retention) end
return 'joined'
";

/// A page of history for a member: nil if `ARGV[1]` is not in the room, else `{more, id, m, id, m, …}`
/// read in batches of ten from the bound (exclusive) towards older (`before`) or newer (`after`)
/// entries, stopping at the page's limit or once the messages' bytes reach the budget (at least one).
const HISTORY: &str = r"
local members, history = KEYS[1], KEYS[2]
if redis.call('HEXISTS', members, ARGV[1]) == 0 then return false end
local older, bound, limit, budget = ARGV[2] == 'before', ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local out, count, bytes, more = {0}, 0, 0, 0
while more == 0 do
  local batch
  if older then
    batch = redis.call('XREVRANGE', history, bound, '-', 'COUNT', 10)
  else
    batch = redis.call('XRANGE', history, bound, '+', 'COUNT', 10)
  end
  for _, entry in ipairs(batch) do
    local message = entry[2][4]
    local size = #message + 128
    if count == limit or (count > 0 and bytes + size > budget) then
      more = 1
      break
    end
    count, bytes = count + 1, bytes + size
    out[#out + 1] = entry[1]
    out[#out + 1] = message
    bound = '(' .. entry[1]
  end
  if #batch < 10 then break end
end
out[1] = more
return out
";

/// Takes one token from a bucket refilled at `ARGV[2]` per second up to `ARGV[1]`; 0 if taken, else the
/// milliseconds until one fits. The bucket expires when it would be full again.
const ADMIT: &str = r"
local burst, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if not tokens then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
if tokens < 1 then
  return math.max(1, math.ceil((1 - tokens) / rate * 1000))
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return 0
";

/// The key prefix when none is configured; the braces make it a cluster hash tag.
pub const DEFAULT_KEY_PREFIX: &str = "{chatty}:";

/// Stores a message from a member of the room once per idempotency key, trimming the history to its cap and
/// forgetting the keys of trimmed messages. Returns nil if the sender's connection is not in the room, else
/// `{id, message JSON, fanned out flag, recipients}` of the stored (or earlier) message, with the room's
/// connection ids as recipients unless the message was already fanned out.
const APPEND: &str = r"
local members, history, sent = KEYS[1], KEYS[2], KEYS[3]
local sender, key, millis, message, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local retention = tonumber(ARGV[6])
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
for _, k in ipairs({members, history, sent}) do redis.call('PEXPIRE', k, retention) end
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
/// ARGV[2] and ARGV[3] are the members key around the room name (see `Keys::members`); KEYS[3] is its
/// person's live connections.
const DISCONNECT: &str = r"
local rooms = redis.call('SMEMBERS', KEYS[1])
for _, room in ipairs(rooms) do
  redis.call('HDEL', ARGV[2] .. room .. ARGV[3], ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
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
    fn live_connections(&self, user_id: &str) -> String {
        format!("{}user:{user_id}:conns", self.prefix)
    }
    fn bucket(&self, user_id: &str, bucket: &str) -> String {
        format!("{}rate:{user_id}:{bucket}", self.prefix)
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
    connect: Script,
    join: Script,
    history: Script,
    admit: Script,
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
            connect: Script::new(CONNECT),
            join: Script::new(JOIN),
            history: Script::new(HISTORY),
            admit: Script::new(ADMIT),
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

#[async_trait]
impl Registry for RedisRegistry {
    async fn connect(
        &self,
        connection_id: &ConnectionId,
        user: &User,
        now_ms: u64,
    ) -> Result<Connected, RegistryError> {
        let json = serde_json::to_string(user).map_err(|e| corrupt("user", e))?;
        let recorded: u8 = self
            .connect
            .key(self.keys.connection(connection_id))
            .key(self.keys.live_connections(&user.id))
            .arg(connection_id.as_str())
            .arg(json)
            .arg(now_ms)
            .arg(CONNECTION_TTL_MS)
            .arg(MAX_CONNECTIONS_PER_PERSON)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("connect"))?;
        Ok(if recorded == 1 {
            Connected::Recorded
        } else {
            Connected::TooManyConnections
        })
    }

    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError> {
        let holder: Option<String> = self
            .connection()
            .get(self.keys.connection(connection_id))
            .await
            .map_err(failed("disconnect"))?;
        let holder: Option<User> = holder
            .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("user", e)))
            .transpose()?;
        let user_id = holder.map_or_else(String::new, |user| user.id);
        let rooms: Vec<String> = self
            .disconnect
            .key(self.keys.connection_rooms(connection_id))
            .key(self.keys.connection(connection_id))
            .key(self.keys.live_connections(&user_id))
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

    async fn join(
        &self,
        room: &RoomName,
        member: &Member,
        new_room: bool,
        _now_ms: u64,
    ) -> Result<Joined, RegistryError> {
        let user = serde_json::to_string(&member.user).map_err(|e| corrupt("user", e))?;
        let outcome: String = self
            .join
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .key(self.keys.sent(room))
            .key(self.keys.connection_rooms(&member.connection_id))
            .arg(member.connection_id.as_str())
            .arg(user)
            .arg(room.as_str())
            .arg(u8::from(new_room))
            .arg(ROOM_RETENTION_MS)
            .arg(CONNECTION_TTL_MS)
            .arg(MAX_ROOMS_PER_CONNECTION)
            .arg(MAX_MEMBERS_PER_ROOM)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("join"))?;
        match outcome.as_str() {
            "joined" => Ok(Joined::Joined),
            "would_create" => Ok(Joined::WouldCreate),
            "too_many_rooms" => Ok(Joined::TooManyRooms),
            "room_full" => Ok(Joined::RoomFull),
            other => Err(corrupt("join outcome", other.to_owned())),
        }
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
            .arg(ROOM_RETENTION_MS)
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
        reader: &ConnectionId,
        room: &RoomName,
        query: HistoryQuery,
    ) -> Result<Option<HistoryPage>, RegistryError> {
        let (direction, bound, limit) = match query {
            HistoryQuery::Before { before, limit } => (
                "before",
                before.map_or_else(|| "+".to_owned(), |id| format!("({id}")),
                limit,
            ),
            HistoryQuery::After { after, limit } => ("after", format!("({after}"), limit),
        };
        let reply: Option<Vec<redis::Value>> = self
            .history
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .arg(reader.as_str())
            .arg(direction)
            .arg(bound)
            .arg(limit)
            .arg(MAX_SERVER_FRAME_BYTES)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("history"))?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        let (more, entries) = reply
            .split_first()
            .ok_or_else(|| corrupt("history page", "an empty reply"))?;
        let has_more: u8 =
            redis::from_redis_value(more.clone()).map_err(|e| corrupt("history page", e))?;
        let entries: Vec<String> = entries
            .iter()
            .map(|v| redis::from_redis_value(v.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt("history page", e))?;
        let mut messages = entries
            .chunks(2)
            .map(|pair| match pair {
                [id, json] => message_from(room, id, json),
                _ => Err(corrupt("history page", "an entry without its message")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if direction == "before" {
            messages.reverse();
        }
        Ok(Some(HistoryPage {
            messages,
            has_more: has_more == 1,
        }))
    }

    async fn admit(
        &self,
        user_id: &str,
        bucket: &str,
        rate: Rate,
        now_ms: u64,
    ) -> Result<Admission, RegistryError> {
        let wait_ms: u64 = self
            .admit
            .key(self.keys.bucket(user_id, bucket))
            .arg(rate.burst)
            .arg(rate.per_second)
            .arg(now_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("admit"))?;
        Ok(match wait_ms {
            0 => Admission::Admitted,
            retry_after_ms => Admission::Wait { retry_after_ms },
        })
    }
}
