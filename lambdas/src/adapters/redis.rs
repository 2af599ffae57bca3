//! The production registry: Redis (ElastiCache Serverless, which is cluster mode; or one `redis-server`),
//! behaving exactly like [`super::memory::MemoryRegistry`].
//!
//! # Keys, sharded by hash tag, and what bounds each
//! Every key starts with a configurable prefix (`chatty:` by default; it must hold no `{`), then one hash tag
//! naming what the key is about, so a cluster spreads rooms, connections and people over its slots:
//! - `{conn:<connection id>}`: the user holding an open connection (JSON), read by a disconnect to find the
//!   person. Expires with the connection ([`CONNECTION_TTL_MS`]: API Gateway's two-hour maximum plus a margin).
//! - `{conn:<connection id>}:rooms`: SET of the rooms the connection is in, so a disconnect finds them; at
//!   most [`MAX_ROOMS_PER_CONNECTION`]; expires with the connection.
//! - `{user:<user id>}:conns`: ZSORTED SET connection id → expiry (ms), the person's live connections, at
//!   most [`MAX_CONNECTIONS_PER_PERSON`]; expired entries are dropped on every connect; expires with the
//!   newest connection.
//! - `{user:<user id>}:full-at:<bucket>`: one token bucket of the person's, as the time (ms) it is full
//!   again (see [`ADMIT`]); expires then.
//! - `{user:<user id>}:signed-out`: until when (ms) an operator's kick keeps the person out; expires then.
//! - `{user:<user id>}:rooms`: HASH room → the list entry as JSON (`read` position, `with` for a direct
//!   conversation): the person's rooms across devices; at most [`MAX_ROOMS_PER_PERSON`]; and, under the
//!   empty field, the list's revision ([`RoomList::rev`]); expires [`PERSON_RETENTION_SECS`] after its last
//!   change.
//! - `{user:<user id>}:profile`: the person as their last connection's token named them (JSON), for the
//!   other side of a direct conversation; expires [`PERSON_RETENTION_SECS`] after their last connect.
//! - `{room:<room>}:members`: HASH connection id → user JSON; membership and presence in one key; at most
//!   [`MAX_MEMBERS_PER_ROOM`]. A member whose disconnect was lost is forgotten when a post to it answers
//!   410 (the sender's `forget`).
//! - `{room:<room>}:presence-rev`: the room's presence revision ([`RoomMembers::rev`]), moved on by each
//!   join and leave in their scripts, expiring with the members and deleted with the last of them.
//! - `{room:<room>}:history`: the room's history, a STREAM capped exactly at the history cap. Stream ids are
//!   [`MessageId`]s (`<ms>-<seq>`), so Redis assigns and orders them and paging is `XRANGE`/`XREVRANGE` with
//!   exclusive bounds. Each entry holds `k` (its idempotency key) and `m` (the message as JSON).
//! - `{room:<room>}:sent`: HASH idempotency key (`<client id> <author id>`; client ids hold no spaces) →
//!   message id, for the messages still in the history. (Entries written before 2026-12-02 carry a
//!   fanned-out flag before the id, `0 <id>` or `1 <id>`; the scripts read the id as the value's last
//!   word, so both forms serve until they are trimmed or expire.) Also each author's send bucket in this
//!   room, under ` send <user id>` (a leading space: no idempotency key has one), as the time (ms) it is
//!   full again, so the append script takes the token with the reads and writes it makes anyway (see
//!   [`APPEND`]). A field goes when one of its author's messages is trimmed after the bucket is full
//!   again (a full bucket needs no field), and all with the hash. And one field, ` table`, whose
//!   100-byte value keeps the hash a hash table: past `hash-max-listpack-value` (64 bytes by default, on
//!   Redis, Valkey and ElastiCache) Redis converts a hash for good, and a hash stored as a listpack
//!   (Redis's choice up to `hash-max-listpack-entries`, 512 by default, so for most of a room's
//!   history) is scanned from its start by every send's lookup of its new key, twice.
//! - `{room:<room>}:edits`: HASH message id → the message's latest version (JSON, as in the stream), for the
//!   messages edited or deleted: stream entries cannot change, so every read takes this version over the
//!   entry's. Entries of trimmed messages are dropped once it holds more than the history cap.
//! - `{room:<room>}:changes`: ZSET message id → the room's change number of its latest change: the
//!   highest score is the room's latest change number; a catch-up reads the ids scored after its own. Bounded
//!   with `edits`.
//! - `{room:<room>}:reactions`: HASH `<message id> <emoji>` → everyone who reacted to the message with the
//!   emoji, in the order they did, as JSON `[[user id, name], …]` (the message's version in `edits` carries
//!   the counts and the first names). At most [`MAX_REACTIONS_PER_MESSAGE`] per message; a message's
//!   fields go when it is deleted, and with its `edits` entry once trimmed. A person's own reactions are
//!   found by looking for `["<their id>",` in each field: a `"` inside a JSON string is always escaped, so
//!   that text only ever starts an entry.
//!
//! - `{room:<room>}:people`: SET of user ids, a private room's people (who may join it); at most
//!   [`MAX_PEOPLE_PER_PRIVATE_ROOM`]. The last one leaving deletes the room's keys.
//! - `{room:<room>}:links`: HASH invite code → `{by, client_id, expires}` (JSON): a private room's live
//!   invite links, at most [`MAX_INVITE_LINKS_PER_ROOM`] (expired ones are dropped when a link is made); a
//!   link leaves when it is used, and all go with the room.
//! - `{invite:<code>}`: the link's room, its expiry and, once used, who used it (JSON); expires with the link
//!   ([`INVITE_LINK_TTL_SECS`]). Its own hash tag, as a redemption knows only the code.
//!
//! A room's keys expire [`ROOM_RETENTION_SECS`] after its last message or join (and its people after the
//! last join or invite).
//!
//! Keys about one thing share its hash tag, hence one slot (even when an id holds a `}`: the tag ends at
//! the first one, the same in each key). Every Lua script declares every key it touches in `KEYS`, all
//! about one thing, so each script runs on one node. The same layout serves a standalone server unchanged
//! ([`Topology`]).
//!
//! # Operations that cross slots, and why a retry repairs a half-done one
//! Sending, reading history and rate limiting touch one room or one person: one script, atomic. Connecting,
//! joining, leaving and disconnecting touch a connection and a room or a person, so they run as several
//! single-slot steps. A step may fail (a node restarting, a Lambda stopped mid-invocation) and the command
//! is then retried whole (SQS redelivers it). The steps keep one invariant at every moment:
//!
//! **a connection's rooms set holds every room whose members hash holds the connection** (it may hold
//! more), and its record names its person whenever the person's live set holds it.
//!
//! - `connect`: the record first, then the person's live set (the cap decides there); a refused
//!   connection's record is deleted after. Half-done: a record without a live entry, which counts against
//!   no cap and expires; the retry finishes it.
//! - `join`: the connection's rooms set first (the rooms cap decides there), then the room (the members cap
//!   and "would create" decide there); a refusal takes the room back out of the set. Half-done: a room in
//!   the set the connection is not in — harmless to a disconnect (removing a member that is not there is a
//!   no-op) and finished by the retry.
//! - `leave`: the room first, then the set. Half-done: the same harmless extra room in the set.
//! - `join` then goes on the person's list last (the core's step; the rooms-per-person cap decides
//!   there, and a refusal leaves the room again), so a half-done join is one the retry finishes.
//! - `leave` by a person (the core): each of their connections leaves, then the room's people, then
//!   their list; `invite` and `dm`: the room's people first, then the lists. Half-done: someone among a
//!   room's people without it on their list (they may join it; the retry lists it), never the reverse.
//! - `invite_link`: the room's links first (membership, the cap, and the same link for a repeated
//!   request decide there), then the code's key, set only if absent. Half-done: a link whose code does not
//!   redeem yet; the retry answers the same code and sets it.
//! - `redeem`: the code's key first (the first redeemer makes it theirs), then the room (the link must
//!   be live, or the redeemer among the people already; the people cap decides there), then their list.
//!   Half-done: a code that is theirs, or people without the room on their list; the same person's retry
//!   passes every step again.
//! - `disconnect`: read the record and the rooms set, remove the connection from each room, then from its
//!   person's live set, and delete the record and the set last. Half-done: the set still names every room,
//!   so the retry finds them all again; it answers the rooms the first attempt saw.
//!
//! A join racing a disconnect of the same connection (queues reorder) can leave the connection in a room
//! after the disconnect: the room's first post to it answers 410 and the sender forgets it, as for any lost
//! disconnect.
//!
//! # Cost, and a node that restarts
//! A send costs the same round trip however many members the room has, on one server and on a cluster:
//! one, the append script (the sender's rate bucket for the room, the membership check, the idempotent
//! append, the trim, and the room's connection ids). A disconnect costs one round trip per room it
//! was in, run concurrently.
//!
//! The connection reconnects by itself when a server restarts or a cluster's slots move, and every request
//! is bounded by a response timeout ([`RESPONSE_TIMEOUT`]): during an outage calls fail within seconds
//! with [`RegistryError::Backend`] (the command is retried by its queue) and never hang.

use async_trait::async_trait;
use protocol::{
    limits::{
        Rate, INVITE_LINK_TTL_SECS, MAX_CHANGES_BYTES, MAX_CONNECTIONS_PER_PERSON,
        MAX_INVITE_LINKS_PER_ROOM, MAX_MEMBERS_PER_ROOM, MAX_NAMED_REACTORS,
        MAX_PEOPLE_PER_PRIVATE_ROOM, MAX_REACTIONS_PER_MESSAGE, MAX_ROOMS_PER_CONNECTION,
        MAX_ROOMS_PER_PERSON, MAX_SERVER_FRAME_BYTES, PERSON_RETENTION_SECS, ROOM_RETENTION_SECS,
    },
    ChatMessage, ClientId, ConnectionId, Emoji, InviteCode, MessageId, Reaction, RoomEntry,
    RoomName, User,
};
use std::time::Duration;

use futures_util::future::try_join_all;
use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    AsyncCommands, Cmd, Pipeline, RedisFuture, Script, Value,
};
use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use crate::{
    adapters::memory::CONNECTION_TTL_MS,
    ports::{
        new_invite_code, unix_millis, Added, Admission, Appended, BoxError, Change, Changed,
        ChangesPage, Connected, Created, HistoryPage, HistoryQuery, InviteCreated, Joined, Member,
        NewMessage, RateCheck, Redemption, Refused, Registry, RegistryError, RoomList, RoomMembers,
    },
};

const ROOM_RETENTION_MS: u64 = ROOM_RETENTION_SECS * 1000;

const PERSON_RETENTION_MS: u64 = PERSON_RETENTION_SECS * 1000;

const INVITE_LINK_TTL_MS: u64 = INVITE_LINK_TTL_SECS * 1000;

/// Counts a connection among its person's live ones (`KEYS[1]`) unless the person holds the cap already;
/// 1 if counted (and the person's profile, `KEYS[3]`, recorded). Expired entries are dropped first.
const ADMIT_CONNECTION: &str = r"
local live, signed_out, profile = KEYS[1], KEYS[2], KEYS[3]
local id, now, ttl, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ends = tonumber(redis.call('GET', signed_out))
if ends and ends > now then
  return 2
end
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
if not redis.call('ZSCORE', live, id) and redis.call('ZCARD', live) >= cap then
  return 0
end
redis.call('ZADD', live, now + ttl, id)
redis.call('PEXPIRE', live, ttl)
redis.call('SET', profile, ARGV[5], 'PX', ARGV[6])
return 1
";

/// Signs a person out until `ARGV[1]` (ms): records when in `KEYS[2]` (which expires then) and answers
/// the live connections in `KEYS[1]`.
const KICK: &str = r"
local live, signed_out = KEYS[1], KEYS[2]
local ends, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if ends > now then
  redis.call('SET', signed_out, ends, 'PX', ends - now)
end
redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
return redis.call('ZRANGE', live, 0, -1)
";

/// A join's first step, on the connection's side: adds the room to the connection's rooms set
/// (`KEYS[1]`) unless it is there already or the set holds the cap; 1 if the room is in the set now.
/// Refreshes the set's expiry.
const JOIN_CONNECTION: &str = r"
local rooms = KEYS[1]
local room, max_rooms, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('SISMEMBER', rooms, room) == 0 and redis.call('SCARD', rooms) >= max_rooms then
  return 0
end
redis.call('SADD', rooms, room)
redis.call('PEXPIRE', rooms, ttl)
return 1
";

/// A join's second step, on the room's side: puts the connection in the room within the members cap,
/// a private room's (`ARGV[7]` is 1) only for one of its people (`KEYS[4]`); answers `joined`,
/// `no_such_room`, `would_create` or `room_full`. A join moves the room's presence revision (`KEYS[9]`,
/// [`RoomMembers::rev`]) on. Refreshes the room's expiry.
const JOIN_ROOM: &str = r"
local members, history, sent, people = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local edits, changes, reactions, links, presence_rev = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id, user, new_room = ARGV[1], ARGV[2], ARGV[3]
local retention, max_members = tonumber(ARGV[4]), tonumber(ARGV[5])
local user_id, private = ARGV[6], ARGV[7] == '1'
if redis.call('HEXISTS', members, id) == 0 then
  if private and redis.call('SISMEMBER', people, user_id) == 0 then return 'no_such_room' end
  local count = redis.call('HLEN', members)
  if count >= max_members then return 'room_full' end
  if not private and count == 0 and redis.call('EXISTS', history) == 0 and new_room ~= '1' then
    return 'would_create'
  end
end
redis.call('HSET', members, id, user)
redis.call('INCR', presence_rev)
for _, key in ipairs({members, history, sent, people, edits, changes, reactions, links, presence_rev}) do
  redis.call('PEXPIRE', key, retention)
end
return 'joined'
";

/// Takes connection `ARGV[1]` out of a room's members (`KEYS[1]`); 1 if it was in. Then the room's
/// presence revision (`KEYS[2]`) moves on, or goes with the last member ([`RoomMembers::rev`]).
const LEAVE_ROOM: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
return 1
";

/// A room's members (`KEYS[1]`, as `HGETALL` gives them) and its presence revision (`KEYS[2]`, 0 without
/// one), read together.
const MEMBERS: &str = r"
return {redis.call('HGETALL', KEYS[1]), tonumber(redis.call('GET', KEYS[2]) or '0')}
";

/// Brings a private room into being with one person (`ARGV[1]`) unless it exists: `created`,
/// `already_in` or `taken`.
const CREATE_ROOM: &str = r"
local people, members, history = KEYS[1], KEYS[2], KEYS[3]
if redis.call('SISMEMBER', people, ARGV[1]) == 1 then return 'already_in' end
if redis.call('EXISTS', people, members, history) > 0 then return 'taken' end
redis.call('SADD', people, ARGV[1])
redis.call('PEXPIRE', people, ARGV[2])
return 'created'
";

/// Adds `ARGV[4..]` to a private room's people if `ARGV[1]` (unless empty) is one of them and the cap
/// (`ARGV[2]`) holds: `added`, `no_such_room` or `room_full`.
const ADD_PEOPLE: &str = r"
local people = KEYS[1]
local by, cap, retention = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if by ~= '' and redis.call('SISMEMBER', people, by) == 0 then return 'no_such_room' end
local newcomers = 0
for i = 4, #ARGV do
  if redis.call('SISMEMBER', people, ARGV[i]) == 0 then newcomers = newcomers + 1 end
end
if redis.call('SCARD', people) + newcomers > cap then return 'room_full' end
for i = 4, #ARGV do redis.call('SADD', people, ARGV[i]) end
if redis.call('PTTL', people) < tonumber(retention) then redis.call('PEXPIRE', people, retention) end
return 'added'
";

/// Takes `ARGV[1]` out of a private room's people; the last one out deletes the room's keys. 1 if the
/// room is gone.
const REMOVE_PERSON: &str = r"
local people = KEYS[1]
if redis.call('EXISTS', people) == 0 then return 0 end
redis.call('SREM', people, ARGV[1])
if redis.call('SCARD', people) > 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9])
return 1
";

/// An invite link for the person `ARGV[1]` (one of the room's people, `KEYS[1]`) asking with request
/// `ARGV[2]`: the link that request made before, if it is live, else `ARGV[3]` as a new one in the room's
/// links (`KEYS[2]`) until now (`ARGV[4]`) plus the link's life (`ARGV[5]`), within the cap (`ARGV[6]`).
/// Answers `{'created', code, expires}`, `{'no_such_room'}` or `{'too_many'}`; expired links are dropped.
const CREATE_LINK: &str = r"
local people, links = KEYS[1], KEYS[2]
local by, client_id, code, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local ttl, cap, retention = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('SISMEMBER', people, by) == 0 then return {'no_such_room'} end
local live = 0
local all = redis.call('HGETALL', links)
for i = 1, #all, 2 do
  local link = cjson.decode(all[i + 1])
  if link.expires <= now then
    redis.call('HDEL', links, all[i])
  elseif link.by == by and link.client_id == client_id then
    return {'created', all[i], link.expires}
  else
    live = live + 1
  end
end
if live >= cap then return {'too_many'} end
local expires = now + ttl
redis.call('HSET', links, code, cjson.encode({by = by, client_id = client_id, expires = expires}))
if redis.call('PTTL', links) < retention then redis.call('PEXPIRE', links, retention) end
return {'created', code, expires}
";

/// A redemption's first step, on the code's key (`KEYS[1]`): the link's room, if the code is live at
/// `ARGV[2]` and unused or already the person `ARGV[1]`'s (the first to redeem it makes it theirs); nil
/// otherwise.
const CLAIM_INVITE: &str = r"
local json = redis.call('GET', KEYS[1])
if not json then return false end
local invite = cjson.decode(json)
if invite.expires <= tonumber(ARGV[2]) then return false end
if invite.user then
  if invite.user ~= ARGV[1] then return false end
else
  invite.user = ARGV[1]
  redis.call('SET', KEYS[1], cjson.encode(invite), 'KEEPTTL')
end
return invite.room
";

/// A redemption's second step, on the room's side: makes the person `ARGV[1]` one of the people
/// (`KEYS[1]`) if link `ARGV[2]` is live in `KEYS[2]` at `ARGV[3]`, within the cap `ARGV[4]`, and drops the
/// link; a person among the people already is `added` again. Answers `added`, `invalid` or `room_full`.
const ADMIT_INVITED: &str = r"
local people, links = KEYS[1], KEYS[2]
local user, code, now, cap, retention = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if redis.call('SISMEMBER', people, user) == 0 then
  local json = redis.call('HGET', links, code)
  if not json or cjson.decode(json).expires <= now then return 'invalid' end
  if redis.call('SCARD', people) >= cap then return 'room_full' end
  redis.call('SADD', people, user)
  if redis.call('PTTL', people) < tonumber(retention) then redis.call('PEXPIRE', people, retention) end
end
redis.call('HDEL', links, code)
return 'added'
";

/// A person's list is one hash: a field per room (its [`RoomEntry`] as JSON) and, under the empty field
/// (no room has an empty name), the list's revision ([`RoomList::rev`]), so one `HGETALL` reads both
/// together. This Lua function both list scripts end a change with: `changed(list, now)` moves the
/// revision on to the larger of one more and `now` (ms).
macro_rules! changed_lua {
    () => {
        r"
local function changed(list, now)
  local rev = math.max((tonumber(redis.call('HGET', list, '')) or 0) + 1, now)
  redis.call('HSET', list, '', string.format('%.0f', rev))
end
"
    };
}

/// Puts room `ARGV[1]` on a person's list (`ARGV[2]`, its entry, if new; `ARGV[3]`, the other person of
/// a direct conversation, replaces the entry's `with` unless empty) within the cap `ARGV[4]` (the
/// revision's field is not a room); 1 if it is on the list now. Refreshes the list's expiry (`ARGV[5]`
/// ms); a change moves the revision on (now: `ARGV[6]`).
const LIST_ADD: &str = concat!(
    changed_lua!(),
    r"
local list = KEYS[1]
local room, entry, with, cap = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local current = redis.call('HGET', list, room)
if current then
  if with ~= '' then
    local decoded = cjson.decode(current)
    decoded['with'] = cjson.decode(with)
    redis.call('HSET', list, room, cjson.encode(decoded))
    changed(list, tonumber(ARGV[6]))
  end
elseif redis.call('HLEN', list) - redis.call('HEXISTS', list, '') >= cap then
  return 0
else
  redis.call('HSET', list, room, entry)
  changed(list, tonumber(ARGV[6]))
end
redis.call('PEXPIRE', list, ARGV[5])
return 1
"
);

/// Takes room `ARGV[1]` off a person's list; if it was there, moves the revision on (now: `ARGV[2]`).
const LIST_REMOVE: &str = concat!(
    changed_lua!(),
    r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then changed(KEYS[1], tonumber(ARGV[2])) end
return 0
"
);

/// Moves a person's read position in room `ARGV[1]` to `ARGV[2]` (`<ms>-<seq>`) if that is newer; 1 if
/// it moved.
const MARK_READ: &str = r"
local list, room, id = KEYS[1], ARGV[1], ARGV[2]
local current = redis.call('HGET', list, room)
if not current then return 0 end
local entry = cjson.decode(current)
local new_ms, new_seq = string.match(id, '^(%d+)-(%d+)$')
if type(entry['read']) == 'string' then
  local ms, seq = string.match(entry['read'], '^(%d+)-(%d+)$')
  ms, seq, new_ms, new_seq = tonumber(ms), tonumber(seq), tonumber(new_ms), tonumber(new_seq)
  if ms > new_ms or (ms == new_ms and seq >= new_seq) then return 0 end
end
entry['read'] = id
redis.call('HSET', list, room, cjson.encode(entry))
return 1
";

/// A page of history for a member: nil if `ARGV[1]` is not in the room, else
/// `{more, id, m, mine, id, m, mine, …}` read in batches of ten from the bound (exclusive) towards older
/// (`before`) or newer (`after`) entries, stopping at the page's limit or once the messages' bytes reach
/// the budget (at least one). A changed message (edited, deleted, reacted to) is read in its latest
/// version, with the reader's own reactions (`mine`, [`REACTIONS_LUA`]).
const HISTORY: &str = r"
local members, history, edits, reactions = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local holder = redis.call('HGET', members, ARGV[1])
if not holder then return false end
local reader = cjson.decode(holder).id
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
    local edited = redis.call('HGET', edits, entry[1])
    local message = edited or entry[2][4]
    local size = #message + 128
    if count == limit or (count > 0 and bytes + size > budget) then
      more = 1
      break
    end
    count, bytes = count + 1, bytes + size
    out[#out + 1] = entry[1]
    out[#out + 1] = message
    out[#out + 1] = edited and mine(reactions, entry[1], reader) or ''
    bound = '(' .. entry[1]
  end
  if #batch < 10 then break end
end
out[1] = more
return out
";

/// The token bucket, as a Lua function both [`ADMIT`] and [`APPEND`] start with: `take(full_at, now,
/// per_token, tolerance)` takes one token at `now` (ms) from a bucket stored as `full_at` (nil or false
/// for a full one), refilled one token per `per_token` ms and holding `tolerance` ms of tokens beyond one
/// (see [`Gcra`]), and answers `0, the value to store`, or the milliseconds until one fits. The bucket is
/// kept as one number, the time it will be full again (the generic cell rate algorithm: `burst` minus the
/// tokens it holds is that time's distance from now, in tokens), so a check is one read and one write,
/// wherever the number is kept. The caller passes numbers, so a check parses only what it read.
macro_rules! take_lua {
    () => {
        r"
local function take(full_at, now, per_token, tolerance)
  full_at = tonumber(full_at)
  if not full_at or full_at < now then full_at = now end
  local over = full_at - now - tolerance
  if over > 0 then return math.ceil(over) end
  return 0, full_at + per_token
end
"
    };
}

/// Takes one token from the bucket `KEYS[1]` (now `ARGV[1]`, then the rate as [`Gcra`]'s two arguments):
/// 0 if taken, else the milliseconds until one fits. The key expires when the bucket is full.
const ADMIT: &str = concat!(
    take_lua!(),
    r"
local now = tonumber(ARGV[1])
local wait, full_at = take(redis.call('GET', KEYS[1]), now, tonumber(ARGV[2]), tonumber(ARGV[3]))
if wait > 0 then return wait end
redis.call('SET', KEYS[1], full_at, 'PX', math.ceil(full_at - now) + 1000)
return 0
"
);

/// A [`Rate`] as the scripts' `take` uses it: the milliseconds one token takes to refill, and the
/// milliseconds of tokens a full bucket holds beyond the one taken (`burst - 1` tokens), computed once
/// here instead of in every script call.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    per_token_ms: f64,
    tolerance_ms: f64,
}

impl From<Rate> for Gcra {
    fn from(rate: Rate) -> Self {
        let per_token_ms = 1000.0 / rate.per_second;
        Self {
            per_token_ms,
            tolerance_ms: f64::from(rate.burst.saturating_sub(1)) * per_token_ms,
        }
    }
}

/// The key prefix when none is configured. It stays outside the hash tags, so it does not decide the slot.
pub const DEFAULT_KEY_PREFIX: &str = "chatty:";

/// How long one request may wait for its answer, and a connection for its handshake, before failing.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Stores a message from a member of the room once per idempotency key, trimming the history to its cap and
/// forgetting the keys of trimmed messages. Returns nil if the sender's connection is not in the room, else
/// `{id, earlier, retry, recipients}` of the stored message, with the room's connection ids as recipients
/// (one string, separated by spaces): for a new message (`retry` 0) `earlier` is nil, as the caller holds the
/// message it sent; for a retry (`retry` 1: the key names a message the room has) the earlier message's JSON,
/// in its latest version if it was edited since. With `ARGV[7..9]` (the author's bucket field and the rate as
/// [`Gcra`]'s two arguments) a member's send takes a token of that bucket in this room first, at the
/// message's time (`ARGV[3]`), and past the rate the answer is the milliseconds until one fits. The bucket
/// is a field of `sent` (` <name> <author id>`: an idempotency key never starts with a space), read with the
/// key and written with the new entry, so the check costs no command of its own; a trimmed message's
/// author's field goes once the bucket is full (a full bucket is no field), and every field with the hash.
const APPEND: &str = concat!(
    take_lua!(),
    r"
local members, history, sent, edits, changes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local reactions = KEYS[6]
local sender, key, millis, message, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local retention, field, now = tonumber(ARGV[6]), ARGV[7], tonumber(millis)
if redis.call('HEXISTS', members, sender) == 0 then
  return false
end
-- The room's connection ids, space-separated (an id holds none): one value for the caller to parse, not one
-- per member.
local function recipients()
  return table.concat(redis.call('HKEYS', members), ' ')
end
local earlier, full_at
if field then
  local read = redis.call('HMGET', sent, key, field)
  local wait
  wait, full_at = take(read[2], now, tonumber(ARGV[8]), tonumber(ARGV[9]))
  if wait > 0 then return wait end
  earlier = read[1]
else
  earlier = redis.call('HGET', sent, key)
end
if earlier then
  local id = string.match(earlier, '(%S+)$')
  local found = redis.call('XRANGE', history, id, id)
  if #found == 1 then
    if field then redis.call('HSET', sent, field, full_at) end
    return {id, redis.call('HGET', edits, id) or found[1][2][4], 1, recipients()}
  end
end
local len = redis.call('XLEN', history)
if len >= cap then
  -- The bucket fields' common start (' <name>'); an idempotency key ends with ' <author id>'.
  local bucket = field and string.match(field, '^ %S+')
  for _, old in ipairs(redis.call('XRANGE', history, '-', '+', 'COUNT', len - cap + 1)) do
    local old_key = old[2][2]
    local theirs = bucket and bucket .. string.match(old_key, ' .*$')
    if theirs == field then theirs = nil end
    local read = redis.call('HMGET', sent, old_key, theirs or old_key)
    local gone = {}
    if read[1] and string.match(read[1], '(%S+)$') == old[1] then gone[#gone + 1] = old_key end
    if theirs and read[2] and tonumber(read[2]) <= now then gone[#gone + 1] = theirs end
    if #gone > 0 then redis.call('HDEL', sent, unpack(gone)) end
  end
end
local id = redis.pcall('XADD', history, 'MAXLEN', '=', cap, millis .. '-*', 'k', key, 'm', message)
if type(id) == 'table' and id.err then
  -- A clock that stepped back must not make XADD refuse the id: keep the newest entry's milliseconds.
  local top = redis.call('XREVRANGE', history, '+', '-', 'COUNT', 1)
  local top_ms = string.match(top[1][1], '^(%d+)-')
  id = redis.call('XADD', history, 'MAXLEN', '=', cap, top_ms .. '-*', 'k', key, 'm', message)
end
if field then
  redis.call('HSET', sent, key, id, field, full_at)
else
  redis.call('HSET', sent, key, id)
end
-- The room's keys live `retention` after its last message, refreshed at most once a minute: a busy room's
-- sends skip the seven commands. `sent` tells for all: it gets its expiry with the history's and goes with
-- it, and a new one has none (the room's first send's, or one the trimming emptied: only an index without
-- its ` table` field, written before 2026-12-03, ever empties).
if redis.call('PTTL', sent) < retention - 60000 then
  -- One value longer than `hash-max-listpack-value` makes `sent` a hash table for good (see the key map).
  redis.call('HSET', sent, ' table', string.rep('-', 100))
  for _, k in ipairs({members, history, sent, edits, changes, reactions}) do
    redis.call('PEXPIRE', k, retention)
  end
end
return {id, false, 0, recipients()}
"
);

/// Changes the message `ARGV[2]` for the person `ARGV[3]` on the connection `ARGV[1]`, by the rules of
/// `Change::apply_to`: `ARGV[4]` is `edit` (`ARGV[5]` the body, `ARGV[6]` the time), `delete`, or
/// `react` / `unreact` (`ARGV[5]` the emoji, `ARGV[6]` the person's name; a new reaction within `ARGV[9]`
/// in all, the message naming the first `ARGV[10]` per emoji). Answers `{refusal}`, or `{'changed', latest
/// version JSON, the room's connection ids}` and, after a reaction, the person's own reactions. A change
/// that changes something takes the room's next change number; once `edits` holds more than the cap
/// (`ARGV[7]`), the changes and reactions of trimmed messages are forgotten.
const CHANGE: &str = r"
local members, history, edits, changes, reactions = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local connection, id, by, op, body, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cap, retention = tonumber(ARGV[7]), tonumber(ARGV[8])
local max_reactions, max_named = tonumber(ARGV[9]), tonumber(ARGV[10])
local reacting = op == 'react' or op == 'unreact'
if redis.call('HEXISTS', members, connection) == 0 then return {'not_a_member'} end
local found = redis.call('XRANGE', history, id, id)
if #found == 0 then return {'unknown_message'} end
local json = redis.call('HGET', edits, id) or found[1][2][4]
local message = cjson.decode(json)
local same
if reacting then
  if message.deleted == true then return {'unknown_message'} end
  local emoji, field = body, id .. ' ' .. body
  local people = cjson.decode(redis.call('HGET', reactions, field) or '[]')
  local index
  for i, person in ipairs(people) do
    if person[1] == by then index = i break end
  end
  same = (op == 'react') == (index ~= nil)
  if not same then
    if op == 'react' then
      local total = 0
      for _, reaction in ipairs(message.reactions or {}) do total = total + reaction.count end
      if total >= max_reactions then return {'too_many_reactions'} end
      people[#people + 1] = {by, at}
    else
      table.remove(people, index)
    end
    if #people == 0 then
      redis.call('HDEL', reactions, field)
    else
      redis.call('HSET', reactions, field, cjson.encode(people))
    end
    local summary = {}
    for _, each in ipairs(EMOJI) do
      if each == emoji and #people > 0 then
        local users = {}
        for i = 1, math.min(#people, max_named) do
          users[i] = {id = people[i][1], name = people[i][2]}
        end
        summary[#summary + 1] = {emoji = emoji, count = #people, users = users}
      elseif each ~= emoji then
        for _, reaction in ipairs(message.reactions or {}) do
          if reaction.emoji == each then summary[#summary + 1] = reaction end
        end
      end
    end
    message.reactions = #summary > 0 and summary or nil
  end
elseif message.author.id ~= by then
  return {'not_your_message'}
elseif op == 'delete' then
  same = message.deleted == true
elseif message.deleted == true then
  return {'unknown_message'}
else
  same = message.body == body
end
if not same then
  local top = redis.call('ZREVRANGE', changes, 0, 0, 'WITHSCORES')
  local rev = 1
  if #top == 2 then rev = tonumber(top[2]) + 1 end
  if op == 'delete' then
    message.body, message.deleted, message.reactions = '', true, nil
    for _, emoji in ipairs(EMOJI) do redis.call('HDEL', reactions, id .. ' ' .. emoji) end
  elseif op == 'edit' then
    message.body, message.edited_at = body, at
  end
  message.rev = rev
  json = cjson.encode(message)
  redis.call('HSET', edits, id, json)
  redis.call('ZADD', changes, rev, id)
  if redis.call('HLEN', edits) > cap then
    local function parts(stream_id)
      local ms, seq = string.match(stream_id, '^(%d+)-(%d+)$')
      return tonumber(ms), tonumber(seq)
    end
    local oldest_ms, oldest_seq = parts(redis.call('XRANGE', history, '-', '+', 'COUNT', 1)[1][1])
    for _, old in ipairs(redis.call('HKEYS', edits)) do
      local ms, seq = parts(old)
      if ms < oldest_ms or (ms == oldest_ms and seq < oldest_seq) then
        redis.call('HDEL', edits, old)
        redis.call('ZREM', changes, old)
        for _, emoji in ipairs(EMOJI) do redis.call('HDEL', reactions, old .. ' ' .. emoji) end
      end
    end
  end
  for _, k in ipairs({edits, changes, reactions}) do redis.call('PEXPIRE', k, retention) end
end
local out = {'changed', json, redis.call('HKEYS', members)}
if reacting then out[4] = mine(reactions, id, by) end
return out
";

/// For a member (`ARGV[1]`; nil otherwise): `{more, rev, id, m, mine, id, m, mine, …}`, the messages
/// still in the history changed after change number `ARGV[2]`, in change order, at most `ARGV[3]` and
/// (past the first) `ARGV[4]` bytes, each with the reader's own reactions; `rev` is the room's latest
/// change number, or the last one included if cut short.
const CHANGES: &str = r"
local members, history, edits, changes, reactions = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local holder = redis.call('HGET', members, ARGV[1])
if not holder then return false end
local reader = cjson.decode(holder).id
local after, limit, budget = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local top = redis.call('ZREVRANGE', changes, 0, 0, 'WITHSCORES')
local out = {0, 0}
if #top == 2 then out[2] = tonumber(top[2]) end
if limit == 0 then return out end
local changed = redis.call('ZRANGEBYSCORE', changes, '(' .. after, '+inf', 'WITHSCORES')
local count, bytes, last = 0, 0, 0
for i = 1, #changed, 2 do
  local id = changed[i]
  local json = redis.call('HGET', edits, id)
  if json and #redis.call('XRANGE', history, id, id) == 1 then
    local size = #json + 128
    if count == limit or (count > 0 and bytes + size > budget) then
      out[1], out[2] = 1, last
      break
    end
    count, bytes, last = count + 1, bytes + size, tonumber(changed[i + 1])
    out[#out + 1] = id
    out[#out + 1] = json
    out[#out + 1] = mine(reactions, id, reader)
  end
end
return out
";

/// What the scripts that read or change reactions begin with (after `EMOJI`, the set in order, which
/// [`with_reactions`] puts first): `mine(reactions, id, user)`, the emoji `user` reacted to message `id`
/// with, space-separated, found by looking for `["<user>",` (as `cjson` writes the id) in each emoji's
/// list of the `reactions` hash.
const REACTIONS_LUA: &str = r"
local function mine(reactions, id, user)
  local needle = '[' .. cjson.encode(user) .. ','
  local out = {}
  for _, emoji in ipairs(EMOJI) do
    local people = redis.call('HGET', reactions, id .. ' ' .. emoji)
    if people and string.find(people, needle, 1, true) then out[#out + 1] = emoji end
  end
  return table.concat(out, ' ')
end
";

/// `script` after the emoji set (from [`Emoji::ALL`], so Lua never holds its own copy) and
/// [`REACTIONS_LUA`].
fn with_reactions(script: &str) -> Script {
    let set: Vec<String> = Emoji::ALL.iter().map(|e| format!("'{e}'")).collect();
    Script::new(&format!(
        "local EMOJI = {{{}}}\n{REACTIONS_LUA}{script}",
        set.join(", ")
    ))
}

/// Key names, in one place: the prefix, then the hash tag of what the key is about.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn connection(&self, id: &ConnectionId) -> String {
        format!("{}{{conn:{id}}}", self.prefix)
    }
    fn connection_rooms(&self, id: &ConnectionId) -> String {
        format!("{}{{conn:{id}}}:rooms", self.prefix)
    }
    fn live_connections(&self, user_id: &str) -> String {
        format!("{}{{user:{user_id}}}:conns", self.prefix)
    }
    fn signed_out(&self, user_id: &str) -> String {
        format!("{}{{user:{user_id}}}:signed-out", self.prefix)
    }
    fn bucket(&self, user_id: &str, bucket: &str) -> String {
        format!("{}{{user:{user_id}}}:full-at:{bucket}", self.prefix)
    }
    fn person_rooms(&self, user_id: &str) -> String {
        format!("{}{{user:{user_id}}}:rooms", self.prefix)
    }
    fn profile(&self, user_id: &str) -> String {
        format!("{}{{user:{user_id}}}:profile", self.prefix)
    }
    fn people(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:people", self.prefix)
    }
    fn members(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:members", self.prefix)
    }
    fn presence_rev(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:presence-rev", self.prefix)
    }
    fn history(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:history", self.prefix)
    }
    fn sent(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:sent", self.prefix)
    }
    fn edits(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:edits", self.prefix)
    }
    fn changes(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:changes", self.prefix)
    }
    fn reactions(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:reactions", self.prefix)
    }
    fn links(&self, room: &RoomName) -> String {
        format!("{}{{room:{room}}}:links", self.prefix)
    }
    fn invite(&self, code: &InviteCode) -> String {
        format!("{}{{invite:{code}}}", self.prefix)
    }
}

/// What the URL given to [`RedisRegistry::open_with`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Topology {
    /// One server (or a primary with replicas behind one endpoint): `redis-server`, a non-cluster
    /// ElastiCache.
    #[default]
    Standalone,
    /// A seed node of a Redis Cluster (ElastiCache Serverless): the client learns the slots from it and
    /// follows them as they move.
    Cluster,
}

/// One multiplexed connection, to a server or to a cluster; both reconnect by themselves.
#[derive(Clone)]
enum Connection {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    edited_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rev: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reactions: Vec<Reaction>,
}

impl StoredMessage {
    /// The message of `room` stored under the stream id `id`.
    fn into_message(self, room: &RoomName, id: &str) -> Result<ChatMessage, RegistryError> {
        Ok(ChatMessage {
            room: room.clone(),
            id: id.parse().map_err(|e| corrupt("message id", e))?,
            client_id: self.client_id,
            author: self.author,
            body: self.body,
            sent_at: self.sent_at,
            edited_at: self.edited_at,
            deleted: self.deleted,
            rev: self.rev,
            reactions: self.reactions,
            mine: None,
        })
    }
}

/// The registry in Redis, over one multiplexed connection that reconnects by itself. Build it once per
/// process (a Lambda's cold start) and share it: every invocation reuses the connection.
#[derive(Clone)]
pub struct RedisRegistry {
    connection: Connection,
    keys: Keys,
    history_cap: usize,
    append: Script,
    admit_connection: Script,
    kick: Script,
    join_connection: Script,
    join_room: Script,
    leave_room: Script,
    members: Script,
    history: Script,
    admit: Script,
    create_room: Script,
    add_people: Script,
    remove_person: Script,
    list_add: Script,
    list_remove: Script,
    mark_read: Script,
    change: Script,
    changes: Script,
    create_link: Script,
    claim_invite: Script,
    admit_invited: Script,
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
    /// Connects to one server at `url`: `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS
    /// (ElastiCache with encryption in transit). Fails if the server cannot be reached now.
    pub async fn open(url: &str) -> Result<Self, RegistryError> {
        Self::open_with(url, Topology::Standalone).await
    }

    /// Connects to `url` as `topology` says: one server, or a seed node of a cluster (same URL forms).
    /// Fails if the server cannot be reached now. Later outages are retried a few times with a short
    /// backoff, then answered with an error; each request waits at most [`RESPONSE_TIMEOUT`] per try.
    pub async fn open_with(url: &str, topology: Topology) -> Result<Self, RegistryError> {
        let connection = match topology {
            Topology::Standalone => {
                let client = redis::Client::open(url).map_err(failed("url"))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(RESPONSE_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(3)
                    .set_max_delay(Duration::from_secs(1));
                let manager = client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(failed("connect"))?;
                Connection::Standalone(manager)
            }
            Topology::Cluster => {
                let client = ClusterClient::builder([url])
                    .connection_timeout(RESPONSE_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .overall_response_timeout(Some(RESPONSE_TIMEOUT * 2))
                    .retries(3)
                    .min_retry_wait(100)
                    .max_retry_wait(1000)
                    .build()
                    .map_err(failed("url"))?;
                let cluster = client
                    .get_async_connection()
                    .await
                    .map_err(failed("connect"))?;
                Connection::Cluster(cluster)
            }
        };
        Ok(Self {
            connection,
            keys: Keys {
                prefix: DEFAULT_KEY_PREFIX.to_owned(),
            },
            history_cap: protocol::limits::ROOM_HISTORY_CAP,
            append: Script::new(APPEND),
            admit_connection: Script::new(ADMIT_CONNECTION),
            kick: Script::new(KICK),
            join_connection: Script::new(JOIN_CONNECTION),
            join_room: Script::new(JOIN_ROOM),
            leave_room: Script::new(LEAVE_ROOM),
            members: Script::new(MEMBERS),
            history: with_reactions(HISTORY),
            admit: Script::new(ADMIT),
            create_room: Script::new(CREATE_ROOM),
            add_people: Script::new(ADD_PEOPLE),
            remove_person: Script::new(REMOVE_PERSON),
            list_add: Script::new(LIST_ADD),
            list_remove: Script::new(LIST_REMOVE),
            mark_read: Script::new(MARK_READ),
            change: with_reactions(CHANGE),
            changes: with_reactions(CHANGES),
            create_link: Script::new(CREATE_LINK),
            claim_invite: Script::new(CLAIM_INVITE),
            admit_invited: Script::new(ADMIT_INVITED),
        })
    }

    /// Puts every key under `prefix` instead of [`DEFAULT_KEY_PREFIX`] (several deployments, or tests, on
    /// one server). The prefix must hold no `{`, or it would become every key's hash tag.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.keys.prefix = prefix.into();
        self
    }

    /// Keeps at most `cap` messages per room (at least one).
    pub fn with_history_cap(mut self, cap: usize) -> Self {
        self.history_cap = cap.max(1);
        self
    }

    fn connection(&self) -> Connection {
        self.connection.clone()
    }

    /// Takes a connection out of a room's members ([`LEAVE_ROOM`]) for `action`; says whether it was in.
    async fn leave_members(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
        action: &'static str,
    ) -> Result<bool, RegistryError> {
        let removed: u8 = self
            .leave_room
            .key(self.keys.members(room))
            .key(self.keys.presence_rev(room))
            .arg(connection_id.as_str())
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed(action))?;
        Ok(removed == 1)
    }
}

/// A message's field in its room's `sent`: `<client id> <author id>` (client ids hold no spaces).
fn idempotency_key(client_id: &ClientId, author: &User) -> String {
    format!("{client_id} {}", author.id)
}

/// The author's `bucket` field in their room's `sent`: ` <bucket> <author id>`, never an idempotency key
/// (it starts with a space). [`APPEND`] finds a trimmed message's author's field the same way, from the
/// key's ` <author id>`.
fn bucket_field(bucket: &str, author: &User) -> String {
    format!(" {bucket} {}", author.id)
}

/// One value of a script's reply, as `T`; `what` names the reply if it is not one.
fn decode<T: redis::FromRedisValue>(value: &Value, what: &'static str) -> Result<T, RegistryError> {
    redis::from_redis_value(value.clone()).map_err(|e| corrupt(what, e))
}

fn message_from(room: &RoomName, id: &str, json: &str) -> Result<ChatMessage, RegistryError> {
    let stored: StoredMessage = serde_json::from_str(json).map_err(|e| corrupt("message", e))?;
    stored.into_message(room, id)
}

/// A message as one person is shown it: `mine`, the emoji a script found they reacted with
/// (space-separated), if the message has reactions.
fn message_for_reader(
    room: &RoomName,
    id: &str,
    json: &str,
    mine: &str,
) -> Result<ChatMessage, RegistryError> {
    let mut message = message_from(room, id, json)?;
    if !message.reactions.is_empty() {
        message.mine = Some(emoji_list(mine)?);
    }
    Ok(message)
}

/// The emoji a script answered, space-separated.
fn emoji_list(text: &str) -> Result<Vec<Emoji>, RegistryError> {
    text.split_whitespace()
        .map(|emoji| Emoji::from_text(emoji).ok_or_else(|| corrupt("reaction", emoji.to_owned())))
        .collect()
}

#[async_trait]
impl Registry for RedisRegistry {
    /// The record, then the live set where the cap decides; a refused connection's record is deleted.
    async fn connect(
        &self,
        connection_id: &ConnectionId,
        user: &User,
        now_ms: u64,
    ) -> Result<Connected, RegistryError> {
        let json = serde_json::to_string(user).map_err(|e| corrupt("user", e))?;
        let record = self.keys.connection(connection_id);
        self.connection()
            .pset_ex::<_, _, ()>(&record, &json, CONNECTION_TTL_MS)
            .await
            .map_err(failed("connect"))?;
        let counted: u8 = self
            .admit_connection
            .key(self.keys.live_connections(&user.id))
            .key(self.keys.signed_out(&user.id))
            .key(self.keys.profile(&user.id))
            .arg(connection_id.as_str())
            .arg(now_ms)
            .arg(CONNECTION_TTL_MS)
            .arg(MAX_CONNECTIONS_PER_PERSON)
            .arg(&json)
            .arg(PERSON_RETENTION_MS)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("connect"))?;
        if counted == 1 {
            return Ok(Connected::Recorded);
        }
        self.connection()
            .del::<_, ()>(&record)
            .await
            .map_err(failed("connect"))?;
        Ok(if counted == 2 {
            Connected::SignedOut
        } else {
            Connected::TooManyConnections
        })
    }

    async fn kick(
        &self,
        user_id: &str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<ConnectionId>, RegistryError> {
        let live: Vec<String> = self
            .kick
            .key(self.keys.live_connections(user_id))
            .key(self.keys.signed_out(user_id))
            .arg(until_ms)
            .arg(now_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("kick"))?;
        Ok(live.into_iter().map(ConnectionId).collect())
    }

    /// Reads the record and the rooms set, leaves each room, drops the connection from its person's live
    /// set, and deletes the record and the rooms set last, so a retry after a failure finds every room.
    async fn disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<Vec<RoomName>, RegistryError> {
        let record = self.keys.connection(connection_id);
        let rooms_key = self.keys.connection_rooms(connection_id);
        let (holder, rooms): (Option<String>, Vec<String>) = redis::pipe()
            .get(&record)
            .smembers(&rooms_key)
            .query_async(&mut self.connection())
            .await
            .map_err(failed("disconnect"))?;
        let mut rooms: Vec<RoomName> = rooms
            .into_iter()
            .map(|room| RoomName::new(room).map_err(|e| corrupt("room", e)))
            .collect::<Result<_, _>>()?;
        rooms.sort();
        try_join_all(
            rooms
                .iter()
                .map(|room| self.leave_members(room, connection_id, "disconnect")),
        )
        .await?;
        if let Some(json) = holder {
            let holder: User = serde_json::from_str(&json).map_err(|e| corrupt("user", e))?;
            self.connection()
                .zrem::<_, _, ()>(
                    self.keys.live_connections(&holder.id),
                    connection_id.as_str(),
                )
                .await
                .map_err(failed("disconnect"))?;
        }
        self.connection()
            .del::<_, ()>(&[record, rooms_key])
            .await
            .map_err(failed("disconnect"))?;
        Ok(rooms)
    }

    /// The connection's rooms set (where the rooms cap decides), then the room (where the members cap and
    /// "would create" decide); a refusal by the room takes it back out of the set.
    async fn join(
        &self,
        room: &RoomName,
        member: &Member,
        new_room: bool,
        _now_ms: u64,
    ) -> Result<Joined, RegistryError> {
        let user = serde_json::to_string(&member.user).map_err(|e| corrupt("user", e))?;
        let rooms_key = self.keys.connection_rooms(&member.connection_id);
        let in_set: u8 = self
            .join_connection
            .key(&rooms_key)
            .arg(room.as_str())
            .arg(MAX_ROOMS_PER_CONNECTION)
            .arg(CONNECTION_TTL_MS)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("join"))?;
        if in_set == 0 {
            return Ok(Joined::TooManyRooms);
        }
        let outcome: String = self
            .join_room
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .key(self.keys.sent(room))
            .key(self.keys.people(room))
            .key(self.keys.edits(room))
            .key(self.keys.changes(room))
            .key(self.keys.reactions(room))
            .key(self.keys.links(room))
            .key(self.keys.presence_rev(room))
            .arg(member.connection_id.as_str())
            .arg(user)
            .arg(u8::from(new_room))
            .arg(ROOM_RETENTION_MS)
            .arg(MAX_MEMBERS_PER_ROOM)
            .arg(&member.user.id)
            .arg(u8::from(room.is_private()))
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("join"))?;
        let refused = match outcome.as_str() {
            "joined" => return Ok(Joined::Joined),
            "would_create" => Joined::WouldCreate,
            "no_such_room" => Joined::NoSuchRoom,
            "room_full" => Joined::RoomFull,
            other => return Err(corrupt("join outcome", other.to_owned())),
        };
        self.connection()
            .srem::<_, _, ()>(&rooms_key, room.as_str())
            .await
            .map_err(failed("join"))?;
        Ok(refused)
    }

    /// The room first, then the connection's rooms set.
    async fn leave(
        &self,
        room: &RoomName,
        connection_id: &ConnectionId,
    ) -> Result<bool, RegistryError> {
        let removed = self.leave_members(room, connection_id, "leave").await?;
        self.connection()
            .srem::<_, _, ()>(self.keys.connection_rooms(connection_id), room.as_str())
            .await
            .map_err(failed("leave"))?;
        Ok(removed)
    }

    async fn members(&self, room: &RoomName) -> Result<RoomMembers, RegistryError> {
        let (entries, rev): (Vec<(String, String)>, u64) = self
            .members
            .key(self.keys.members(room))
            .key(self.keys.presence_rev(room))
            .invoke_async(&mut self.connection())
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
        Ok(RoomMembers { members, rev })
    }

    async fn append(
        &self,
        sender: &ConnectionId,
        message: NewMessage,
        rate: Option<RateCheck<'_>>,
    ) -> Result<Appended, RegistryError> {
        let key = idempotency_key(&message.client_id, &message.author);
        let millis = unix_millis(message.sent_at);
        let stored = StoredMessage {
            client_id: message.client_id,
            author: message.author,
            body: message.body,
            sent_at: message.sent_at,
            edited_at: None,
            deleted: false,
            rev: None,
            reactions: Vec::new(),
        };
        let json = serde_json::to_string(&stored).map_err(|e| corrupt("message", e))?;
        let mut append = self.append.key(self.keys.members(&message.room));
        append
            .key(self.keys.history(&message.room))
            .key(self.keys.sent(&message.room))
            .key(self.keys.edits(&message.room))
            .key(self.keys.changes(&message.room))
            .key(self.keys.reactions(&message.room))
            .arg(sender.as_str())
            .arg(key)
            .arg(millis)
            .arg(json)
            .arg(self.history_cap)
            .arg(ROOM_RETENTION_MS);
        // The author's bucket for this room is a field of its `sent`, so the script takes the token.
        if let Some(check) = rate {
            let gcra = Gcra::from(check.rate);
            append
                .arg(bucket_field(check.bucket, &stored.author))
                .arg(gcra.per_token_ms)
                .arg(gcra.tolerance_ms);
        }
        let reply: Value = append
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("append"))?;
        let (id, earlier, retry, recipients): (String, Option<String>, u8, String) = match reply {
            Value::Nil => return Ok(Appended::NotAMember),
            Value::Int(wait_ms) => {
                return Ok(Appended::RateLimited {
                    retry_after_ms: u64::try_from(wait_ms).unwrap_or(1),
                })
            }
            answer => decode(&answer, "append")?,
        };
        // A new message is the one sent; a retry's is the one stored then, as it is now.
        let message = match earlier {
            Some(json) => message_from(&message.room, &id, &json)?,
            None => stored.into_message(&message.room, &id)?,
        };
        let mut recipients: Vec<ConnectionId> = recipients
            .split_ascii_whitespace()
            .map(|id| ConnectionId(id.to_owned()))
            .collect();
        recipients.sort();
        Ok(Appended::FanOut {
            message,
            recipients,
            retry: retry == 1,
        })
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
            .key(self.keys.edits(room))
            .key(self.keys.reactions(room))
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
            .chunks(3)
            .map(|entry| match entry {
                [id, json, mine] => message_for_reader(room, id, json, mine),
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

    async fn create_room(
        &self,
        room: &RoomName,
        user_id: &str,
        _now_ms: u64,
    ) -> Result<Created, RegistryError> {
        let outcome: String = self
            .create_room
            .key(self.keys.people(room))
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .arg(user_id)
            .arg(ROOM_RETENTION_MS)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("create_room"))?;
        match outcome.as_str() {
            "created" => Ok(Created::Created),
            "already_in" => Ok(Created::AlreadyIn),
            "taken" => Ok(Created::Taken),
            other => Err(corrupt("create outcome", other.to_owned())),
        }
    }

    async fn add_people(
        &self,
        room: &RoomName,
        by: Option<&str>,
        people: &[&str],
        _now_ms: u64,
    ) -> Result<Added, RegistryError> {
        let outcome: String = self
            .add_people
            .key(self.keys.people(room))
            .arg(by.unwrap_or(""))
            .arg(MAX_PEOPLE_PER_PRIVATE_ROOM)
            .arg(ROOM_RETENTION_MS)
            .arg(people)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("add_people"))?;
        match outcome.as_str() {
            "added" => Ok(Added::Added),
            "no_such_room" => Ok(Added::NoSuchRoom),
            "room_full" => Ok(Added::RoomFull),
            other => Err(corrupt("add_people outcome", other.to_owned())),
        }
    }

    /// The room's links (where membership, the cap and a repeated request decide), then the code's key,
    /// set only if absent so a retry never undoes a redemption.
    async fn create_invite(
        &self,
        room: &RoomName,
        by: &str,
        client_id: &ClientId,
        now_ms: u64,
    ) -> Result<InviteCreated, RegistryError> {
        let reply: Vec<redis::Value> = self
            .create_link
            .key(self.keys.people(room))
            .key(self.keys.links(room))
            .arg(by)
            .arg(client_id.as_str())
            .arg(new_invite_code().as_str())
            .arg(now_ms)
            .arg(INVITE_LINK_TTL_MS)
            .arg(MAX_INVITE_LINKS_PER_ROOM)
            .arg(ROOM_RETENTION_MS)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("create_invite"))?;
        let (code, expires_ms): (String, u64) = match reply.as_slice() {
            [outcome] => {
                return match decode::<String>(outcome, "create_invite")?.as_str() {
                    "no_such_room" => Ok(InviteCreated::NoSuchRoom),
                    "too_many" => Ok(InviteCreated::TooMany),
                    other => Err(corrupt("create_invite outcome", other.to_owned())),
                }
            }
            [_, code, expires] => (
                decode(code, "create_invite")?,
                decode(expires, "create_invite")?,
            ),
            _ => return Err(corrupt("create_invite", "a reply of the wrong length")),
        };
        let code = InviteCode::new(code).map_err(|e| corrupt("invite code", e))?;
        let invite = serde_json::json!({ "room": room, "expires": expires_ms });
        let _: Option<String> = redis::cmd("SET")
            .arg(self.keys.invite(&code))
            .arg(invite.to_string())
            .arg("PX")
            .arg(expires_ms.saturating_sub(now_ms).max(1))
            .arg("NX")
            .query_async(&mut self.connection())
            .await
            .map_err(failed("create_invite"))?;
        Ok(InviteCreated::Created { code, expires_ms })
    }

    /// The code's key (the first redeemer makes it theirs), then the room's side.
    async fn redeem_invite(
        &self,
        code: &InviteCode,
        user_id: &str,
        now_ms: u64,
    ) -> Result<Redemption, RegistryError> {
        let room: Option<String> = self
            .claim_invite
            .key(self.keys.invite(code))
            .arg(user_id)
            .arg(now_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("redeem_invite"))?;
        let Some(room) = room else {
            return Ok(Redemption::Invalid);
        };
        let room = RoomName::new(room).map_err(|e| corrupt("invite room", e))?;
        let outcome: String = self
            .admit_invited
            .key(self.keys.people(&room))
            .key(self.keys.links(&room))
            .arg(user_id)
            .arg(code.as_str())
            .arg(now_ms)
            .arg(MAX_PEOPLE_PER_PRIVATE_ROOM)
            .arg(ROOM_RETENTION_MS)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("redeem_invite"))?;
        match outcome.as_str() {
            "added" => Ok(Redemption::Redeemed(room)),
            "invalid" => Ok(Redemption::Invalid),
            "room_full" => Ok(Redemption::RoomFull),
            other => Err(corrupt("redeem outcome", other.to_owned())),
        }
    }

    async fn remove_person(&self, room: &RoomName, user_id: &str) -> Result<bool, RegistryError> {
        if !room.is_private() {
            return Ok(false);
        }
        let gone: u8 = self
            .remove_person
            .key(self.keys.people(room))
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .key(self.keys.sent(room))
            .key(self.keys.edits(room))
            .key(self.keys.changes(room))
            .key(self.keys.reactions(room))
            .key(self.keys.links(room))
            .key(self.keys.presence_rev(room))
            .arg(user_id)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("remove_person"))?;
        Ok(gone == 1)
    }

    async fn list_add(
        &self,
        user_id: &str,
        room: &RoomName,
        with: Option<&User>,
        now_ms: u64,
    ) -> Result<bool, RegistryError> {
        let entry = RoomEntry {
            room: room.clone(),
            read: None,
            with: with.cloned(),
        };
        let entry = serde_json::to_string(&entry).map_err(|e| corrupt("list entry", e))?;
        let with = match with {
            Some(user) => serde_json::to_string(user).map_err(|e| corrupt("user", e))?,
            None => String::new(),
        };
        let listed: u8 = self
            .list_add
            .key(self.keys.person_rooms(user_id))
            .arg(room.as_str())
            .arg(entry)
            .arg(with)
            .arg(MAX_ROOMS_PER_PERSON)
            .arg(PERSON_RETENTION_MS)
            .arg(now_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("list_add"))?;
        Ok(listed == 1)
    }

    async fn list_remove(
        &self,
        user_id: &str,
        room: &RoomName,
        now_ms: u64,
    ) -> Result<(), RegistryError> {
        self.list_remove
            .key(self.keys.person_rooms(user_id))
            .arg(room.as_str())
            .arg(now_ms)
            .invoke_async::<()>(&mut self.connection())
            .await
            .map_err(failed("list_remove"))
    }

    async fn rooms(&self, user_id: &str) -> Result<RoomList, RegistryError> {
        let fields: Vec<(String, String)> = self
            .connection()
            .hgetall(self.keys.person_rooms(user_id))
            .await
            .map_err(failed("rooms"))?;
        let mut list = RoomList::default();
        for (field, value) in fields {
            if field.is_empty() {
                list.rev = value.parse().map_err(|e| corrupt("list revision", e))?;
            } else {
                let entry = serde_json::from_str(&value).map_err(|e| corrupt("list entry", e))?;
                list.rooms.push(entry);
            }
        }
        list.rooms.sort_by(|a, b| a.room.cmp(&b.room));
        Ok(list)
    }

    async fn mark_read(
        &self,
        user_id: &str,
        room: &RoomName,
        id: MessageId,
    ) -> Result<bool, RegistryError> {
        let moved: u8 = self
            .mark_read
            .key(self.keys.person_rooms(user_id))
            .arg(room.as_str())
            .arg(id.to_string())
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("mark_read"))?;
        Ok(moved == 1)
    }

    async fn profile(&self, user_id: &str) -> Result<Option<User>, RegistryError> {
        let json: Option<String> = self
            .connection()
            .get(self.keys.profile(user_id))
            .await
            .map_err(failed("profile"))?;
        json.map(|json| serde_json::from_str(&json).map_err(|e| corrupt("profile", e)))
            .transpose()
    }

    async fn live(&self, user_id: &str, now_ms: u64) -> Result<Vec<ConnectionId>, RegistryError> {
        let mut live: Vec<String> = self
            .connection()
            .zrangebyscore(
                self.keys.live_connections(user_id),
                format!("({now_ms}"),
                "+inf",
            )
            .await
            .map_err(failed("live"))?;
        live.sort();
        Ok(live.into_iter().map(ConnectionId).collect())
    }

    async fn change(
        &self,
        by: &Member,
        room: &RoomName,
        id: MessageId,
        change: Change,
    ) -> Result<Result<Changed, Refused>, RegistryError> {
        let (op, body, at) = match &change {
            Change::Edit { body, at } => (
                "edit",
                body.clone(),
                at.format(&Rfc3339).map_err(|e| corrupt("edit time", e))?,
            ),
            Change::Delete => ("delete", String::new(), String::new()),
            Change::React { emoji, on } => (
                if *on { "react" } else { "unreact" },
                emoji.as_str().to_owned(),
                by.user.name.clone(),
            ),
        };
        let reply: Vec<redis::Value> = self
            .change
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .key(self.keys.edits(room))
            .key(self.keys.changes(room))
            .key(self.keys.reactions(room))
            .arg(by.connection_id.as_str())
            .arg(id.to_string())
            .arg(&by.user.id)
            .arg(op)
            .arg(body)
            .arg(at)
            .arg(self.history_cap)
            .arg(ROOM_RETENTION_MS)
            .arg(MAX_REACTIONS_PER_MESSAGE)
            .arg(MAX_NAMED_REACTORS)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("change"))?;
        let (outcome, changed): (String, _) = match reply.as_slice() {
            [outcome] => (decode(outcome, "change")?, None),
            [outcome, json, recipients] => {
                (decode(outcome, "change")?, Some((json, recipients, None)))
            }
            [outcome, json, recipients, mine] => (
                decode(outcome, "change")?,
                Some((json, recipients, Some(mine))),
            ),
            _ => return Err(corrupt("change", "a reply of the wrong length")),
        };
        Ok(match (outcome.as_str(), changed) {
            ("changed", Some((json, recipients, mine))) => {
                let json: String = decode(json, "change")?;
                let recipients: Vec<String> = decode(recipients, "change")?;
                let mut recipients: Vec<ConnectionId> =
                    recipients.into_iter().map(ConnectionId).collect();
                recipients.sort();
                let mut message = message_from(room, &id.to_string(), &json)?;
                if let Some(mine) = mine {
                    let mine: String = decode(mine, "change")?;
                    message.mine = Some(emoji_list(&mine)?);
                }
                Ok(Changed {
                    message,
                    recipients,
                })
            }
            ("not_a_member", None) => Err(Refused::NotAMember),
            ("unknown_message", None) => Err(Refused::UnknownMessage),
            ("not_your_message", None) => Err(Refused::NotYourMessage),
            ("too_many_reactions", None) => Err(Refused::TooManyReactions),
            (other, _) => return Err(corrupt("change outcome", other.to_owned())),
        })
    }

    async fn changes(
        &self,
        reader: &ConnectionId,
        room: &RoomName,
        after: u64,
        limit: u16,
    ) -> Result<Option<ChangesPage>, RegistryError> {
        let reply: Option<Vec<redis::Value>> = self
            .changes
            .key(self.keys.members(room))
            .key(self.keys.history(room))
            .key(self.keys.edits(room))
            .key(self.keys.changes(room))
            .key(self.keys.reactions(room))
            .arg(reader.as_str())
            .arg(after)
            .arg(limit)
            .arg(MAX_CHANGES_BYTES)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("changes"))?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        let (more, rev, entries): (u8, u64, Vec<String>) = match reply.as_slice() {
            [more, rev, entries @ ..] => (
                decode(more, "changes")?,
                decode(rev, "changes")?,
                entries
                    .iter()
                    .map(|v| decode(v, "changes"))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(corrupt("changes", "a short reply")),
        };
        let messages = entries
            .chunks(3)
            .map(|entry| match entry {
                [id, json, mine] => message_for_reader(room, id, json, mine),
                _ => Err(corrupt("changes", "an entry without its message")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(ChangesPage {
            messages,
            rev,
            has_more: more == 1,
        }))
    }

    async fn admit(
        &self,
        user_id: &str,
        bucket: &str,
        rate: Rate,
        now_ms: u64,
    ) -> Result<Admission, RegistryError> {
        let gcra = Gcra::from(rate);
        let wait_ms: u64 = self
            .admit
            .key(self.keys.bucket(user_id, bucket))
            .arg(now_ms)
            .arg(gcra.per_token_ms)
            .arg(gcra.tolerance_ms)
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed("admit"))?;
        Ok(match wait_ms {
            0 => Admission::Admitted,
            retry_after_ms => Admission::Wait { retry_after_ms },
        })
    }
}
