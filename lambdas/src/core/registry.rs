//! The registry function's core (inside the VPC, the only code that reaches the store): applies one
//! [`Command`] to the registry and queues the [`Delivery`]s it causes. [`apply`] only dispatches; each action
//! is one `on_*` function below, which names the route it serves and the rules it enforces.
//!
//! Every action is safe to apply twice for the same command, as SQS may deliver it twice: joins and leaves
//! are idempotent, and a repeated send is stored once (and fanned out again: clients keep one copy per
//! message id).
//!
//! Private rooms (names starting with `_`) and direct conversations are closed: a person joins one only
//! once they are among its people (its creator, the people its people invited, the two of a direct
//! conversation), and everyone else is answered `no_such_room`, byte for byte what a room that does not
//! exist answers, so nobody learns that one exists. History, presence, typing and sending need the
//! connection to be in the room, so they follow. Each person has a list of their rooms and direct
//! conversations with read positions, kept in the store for every device; each change is sent to all of
//! their connections as a `rooms` frame. Those frames are whole lists, computed by concurrent handlers and
//! delivered in no promised order, so each carries the list's revision ([`RoomList::rev`]), read with
//! it, and a client drops one older than the list it shows; `presence` frames likewise carry the room's
//! presence revision ([`RoomMembers::rev`]).
//!
//! Edits, deletes and reactions change a stored message ([`Registry::change`]): each that changes
//! something takes the room's next change number, and the room gets the message's new version, so history
//! pages and catch-ups carry them all alike. A message names only its first reactors, so a reactor's own
//! connections are told which reactions are theirs apart.
//!
//! Every action is bounded by the store, so the limits hold across every Lambda instance: a per-person
//! rate (token buckets, [`Registry::admit`]; `send`'s is the person's in the room; `rate_limited` with
//! `retry_after_ms`, nothing stored or fanned out; typing beyond its rate is dropped silently) and the caps
//! (rooms per connection, connections per person, connections per room, new rooms per person per hour),
//! each with its own error code. Reading needs membership like writing does.

use protocol::{
    limits::{
        Rate, EDIT_RATE, HISTORY_RATE, INVITE_RATE, JOIN_RATE, MAX_QUEUE_MESSAGE_BYTES,
        MAX_RECIPIENTS_PER_DELIVERY, MAX_ROOMS_PER_PERSON, MAX_SERVER_FRAME_BYTES, NEW_ROOM_RATE,
        REACT_RATE, READ_RATE, REDEEM_RATE, SEND_RATE, TYPING_RATE,
    },
    ChatMessage, ClientFrame, ClientId, Command, ConnectionId, Delivery, Emoji, ErrorCode,
    InviteCode, MessageId, RoomEntry, RoomName, ServerFrame, User,
};
use time::OffsetDateTime;

use crate::ports::{
    unix_millis, Added, Admission, Appended, Change, Changed, ChangesPage, Clock, Connected,
    Created, HistoryPage, HistoryQuery, InviteCreated, Joined, Member, NewMessage, Queue,
    QueueError, RateCheck, Redemption, Refused, Registry, RegistryError, RoomList, RoomMembers,
};

#[derive(Debug, thiserror::Error)]
pub enum RegistryHandlerError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

type Result<T, E = RegistryHandlerError> = std::result::Result<T, E>;

/// What an applied command did that operators count (see [`crate::metrics`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A new chat message was stored and fanned out to its room (a retry's fan-out is not counted again).
    MessageSent,
    /// Anything else.
    Done,
}

/// The ports every action works with, and which per-person rates apply.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub registry: &'a dyn Registry,
    pub deliveries: &'a dyn Queue<Delivery>,
    pub clock: &'a dyn Clock,
    pub rate_limits: RateLimits,
}

/// Which per-person rates the registry enforces. Everything but [`RateLimits::Enforced`] is for
/// benchmarks, where one load generator speaks for many people at a script's pace; the caps stay in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RateLimits {
    /// The rates of [`protocol::limits`]: always, on a chat people use.
    #[default]
    Enforced,
    /// Checked exactly as enforced ones, each rate this many times over, so a benchmark measures what the
    /// checks cost without being refused (`chatty-local --rate-limit-scale`).
    Scaled(u32),
    /// Not checked (`chatty-local --no-rate-limits`).
    Off,
}

impl RateLimits {
    /// From a command line's `--no-rate-limits` and `--rate-limit-scale FACTOR`.
    pub fn from_flags(off: bool, scale: Option<u32>) -> Self {
        match (off, scale) {
            (true, _) => Self::Off,
            (false, Some(factor)) => Self::Scaled(factor),
            (false, None) => Self::Enforced,
        }
    }
}

impl Ports<'_> {
    fn now_ms(&self) -> u64 {
        unix_millis(self.clock.now())
    }

    /// The rate enforced for `rate` (none when rates are off).
    fn enforced(&self, rate: Rate) -> Option<Rate> {
        match self.rate_limits {
            RateLimits::Enforced => Some(rate),
            RateLimits::Scaled(factor) => Some(rate.scaled(factor)),
            RateLimits::Off => None,
        }
    }

    /// Takes one token of the member's `bucket` at `rate` (always, when rates are off); past the rate,
    /// the `rate_limited` refusal for the member's connection, echoing `client_id`.
    async fn over_rate(
        &self,
        member: &Member,
        bucket: &str,
        rate: Rate,
        client_id: Option<&ClientId>,
    ) -> Result<Option<Delivery>> {
        let Some(rate) = self.enforced(rate) else {
            return Ok(None);
        };
        let admitted = self
            .registry
            .admit(&member.user.id, bucket, rate, self.now_ms())
            .await?;
        Ok(match admitted {
            Admission::Admitted => None,
            Admission::Wait { retry_after_ms } => Some(rate_limited(
                &member.connection_id,
                client_id,
                retry_after_ms,
            )),
        })
    }
}

/// The `rate_limited` refusal for `connection`, echoing `client_id`.
fn rate_limited(
    connection: &ConnectionId,
    client_id: Option<&ClientId>,
    retry_after_ms: u64,
) -> Delivery {
    to_one(
        connection.clone(),
        ServerFrame::retry_later(
            ErrorCode::RateLimited,
            client_id.map(ToString::to_string),
            retry_after_ms,
        ),
    )
}

/// Applies `command` and queues what it causes: one `on_*` function per action.
pub async fn apply(ports: Ports<'_>, command: &Command) -> Result<Handled> {
    let (connection_id, user, frame, received_at) = match command {
        Command::Connect {
            connection_id,
            user,
        } => return on_connect(ports, connection_id, user).await,
        Command::Disconnect { connection_id } | Command::Forget { connection_id } => {
            return on_disconnect(ports, connection_id).await
        }
        Command::Kick { user_id, until } => return on_kick(ports, user_id, *until).await,
        Command::Frame {
            connection_id,
            user,
            frame,
            received_at,
        } => (connection_id, user, frame, *received_at),
    };
    let member = Member {
        connection_id: connection_id.clone(),
        user: user.clone(),
    };
    match frame {
        ClientFrame::Join { room } => on_join(ports, &member, room).await,
        ClientFrame::Leave { room } => on_leave(ports, &member, room).await,
        ClientFrame::Send {
            room,
            client_id,
            body,
        } => on_send(ports, member, room, client_id, body, received_at).await,
        ClientFrame::Typing { room } => on_typing(ports, member, room).await,
        ClientFrame::History {
            room,
            before,
            after,
            limit,
            changes_after,
        } => {
            let page = Paging {
                before: *before,
                after: *after,
                limit: *limit,
                changes_after: *changes_after,
            };
            on_history(ports, member, room, page).await
        }
        ClientFrame::Create { room } => on_create(ports, &member, room).await,
        ClientFrame::Invite { room, user } => on_invite(ports, &member, room, user).await,
        ClientFrame::Dm { user } => on_dm(ports, &member, user).await,
        ClientFrame::Rooms => on_rooms(ports, &member).await,
        ClientFrame::Read { room, id } => on_read(ports, &member, room, *id).await,
        ClientFrame::Edit { room, id, body } => {
            on_edit(ports, member, room, *id, body, received_at).await
        }
        ClientFrame::Delete { room, id } => on_delete(ports, member, room, *id).await,
        ClientFrame::React {
            room,
            id,
            emoji,
            on,
        } => on_react(ports, member, room, *id, *emoji, *on).await,
        ClientFrame::InviteLink { room, client_id } => {
            on_invite_link(ports, &member, room, client_id).await
        }
        ClientFrame::Redeem { code } => on_redeem(ports, &member, code).await,
        // Answered by the gateway; never queued. Harmless if it ever is.
        ClientFrame::Ping => Ok(Handled::Done),
    }
}

/// `$connect` (queued by the gateway after the authorizer allowed it): records the connection and its user.
/// Rule: a person holds at most [`protocol::limits::MAX_CONNECTIONS_PER_PERSON`] connections; past it the
/// new one is told `too_many_connections` and closed.
async fn on_connect(ports: Ports<'_>, connection: &ConnectionId, user: &User) -> Result<Handled> {
    let refusal = match ports
        .registry
        .connect(connection, user, ports.now_ms())
        .await?
    {
        Connected::Recorded => return Ok(Handled::Done),
        Connected::TooManyConnections => ErrorCode::TooManyConnections,
        Connected::SignedOut => ErrorCode::SignedOut,
    };
    let refusal = to_one(connection.clone(), ServerFrame::error(refusal, None)).and_close();
    answer(ports, refusal).await
}

/// `kick` (an operator, `cargo xtask kick`): every live connection of the person is told `signed_out` and
/// closed (their `$disconnect`s then update the rooms), and new connections are refused the same way
/// until `until`. Idempotent: a redelivered kick closes what is already closed.
async fn on_kick(ports: Ports<'_>, user_id: &str, until: OffsetDateTime) -> Result<Handled> {
    let live = ports
        .registry
        .kick(user_id, unix_millis(until), ports.now_ms())
        .await?;
    let notice = Delivery::new(live, ServerFrame::error(ErrorCode::SignedOut, None)).and_close();
    queue_deliveries(ports.deliveries, vec![notice]).await?;
    Ok(Handled::Done)
}

/// `$disconnect`, and `forget` (the sender found the connection gone): the connection leaves every room,
/// and each of those rooms is told who is left.
async fn on_disconnect(ports: Ports<'_>, connection: &ConnectionId) -> Result<Handled> {
    let rooms = ports.registry.disconnect(connection).await?;
    let mut out = Vec::with_capacity(rooms.len());
    for room in rooms {
        out.push(presence(&room, &ports.registry.members(&room).await?));
    }
    queue_deliveries(ports.deliveries, out).await?;
    Ok(Handled::Done)
}

/// `join`: puts the connection in the room (idempotent) and on the person's list, and sends the room's
/// presence to every member, the joiner included, which is how the joiner learns it is in. Rules: the
/// join rate; the caps on rooms per connection, rooms per person and connections per room; a private
/// room only for its people (`no_such_room` otherwise, as for a room that does not exist); joining a
/// public room that does not exist yet brings it into being, which takes a token of the person's new-room
/// rate (a cap: it holds even with rates off). The room goes on the list after the connection is in it,
/// and comes out of the room again if the list is full, so a retry finishes a half-done join.
async fn on_join(ports: Ports<'_>, member: &Member, room: &RoomName) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "join", JOIN_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let to_joiner = |frame| to_one(member.connection_id.clone(), frame);
    let now_ms = ports.now_ms();
    let mut joined = ports.registry.join(room, member, false, now_ms).await?;
    if joined == Joined::WouldCreate && !room.is_private() {
        let admitted = ports
            .registry
            .admit(&member.user.id, "new-room", NEW_ROOM_RATE, now_ms)
            .await?;
        if let Admission::Wait { retry_after_ms } = admitted {
            let refusal =
                ServerFrame::retry_later(ErrorCode::TooManyNewRooms, None, retry_after_ms);
            return answer(ports, to_joiner(refusal)).await;
        }
        joined = ports.registry.join(room, member, true, now_ms).await?;
    }
    let refusal = match joined {
        Joined::Joined => {
            let user = &member.user.id;
            let listed = ports.registry.rooms(user).await?.rooms;
            let on_list = listed.iter().any(|entry| &entry.room == room);
            if !on_list && !ports.registry.list_add(user, room, None, now_ms).await? {
                ports.registry.leave(room, &member.connection_id).await?;
                let refusal = ServerFrame::error(ErrorCode::TooManyRooms, None);
                return answer(ports, to_joiner(refusal)).await;
            }
            let members = ports.registry.members(room).await?;
            let mut out = vec![presence(room, &members)];
            if !on_list {
                // The joiner knows; the person's other tabs and devices learn of the room.
                out.push(rooms_frame(ports, user, Some(&member.connection_id)).await?);
            }
            queue_deliveries(ports.deliveries, out).await?;
            return Ok(Handled::Done);
        }
        Joined::TooManyRooms => ErrorCode::TooManyRooms,
        Joined::RoomFull => ErrorCode::RoomFull,
        // A private room is never brought into being by a join: to the joiner it does not exist.
        Joined::NoSuchRoom | Joined::WouldCreate if room.is_private() => {
            return answer(ports, to_joiner(ServerFrame::no_such_room(room))).await
        }
        // Only if the room vanished between the two calls; the client may join again.
        Joined::NoSuchRoom | Joined::WouldCreate => ErrorCode::Internal,
    };
    answer(ports, to_joiner(ServerFrame::error(refusal, None))).await
}

/// `leave`: the person leaves the room, from every device: each of their connections leaves it, they
/// stop being one of a private room's people (the last one out deletes the room), and the room comes off
/// their list; the members left are told who is left, the person's connections their new list. Rule: the
/// join rate (joins and leaves share it). Idempotent; its steps run in that order, so a retry finishes a
/// half-done one.
async fn on_leave(ports: Ports<'_>, member: &Member, room: &RoomName) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "join", JOIN_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let user = &member.user.id;
    let mut connections = ports.registry.live(user, ports.now_ms()).await?;
    if !connections.contains(&member.connection_id) {
        connections.push(member.connection_id.clone());
    }
    let mut was_in = false;
    for connection in &connections {
        was_in |= ports.registry.leave(room, connection).await?;
    }
    ports.registry.remove_person(room, user).await?;
    ports
        .registry
        .list_remove(user, room, ports.now_ms())
        .await?;
    let mut out = vec![rooms_frame(ports, user, Some(&member.connection_id)).await?];
    if was_in {
        out.push(presence(room, &ports.registry.members(room).await?));
    }
    queue_deliveries(ports.deliveries, out).await?;
    Ok(Handled::Done)
}

/// `create`: brings a private room into being with its creator as its one person and puts it on their
/// list (join it after). Rules: the name carries the creator's prefix (`not_your_room_name`), so a
/// refusal never tells anyone whether another person's room exists; the new-room rate (a cap, like a
/// public room's creation); the rooms-per-person cap (`too_many_rooms`). A retried `create` changes
/// nothing; a name the creator used before and left, while others stayed, is `no_such_room`.
async fn on_create(ports: Ports<'_>, member: &Member, room: &RoomName) -> Result<Handled> {
    let user = &member.user.id;
    let to_creator = |frame| to_one(member.connection_id.clone(), frame);
    if !room.is_private()
        || room.is_direct()
        || !room.as_str().starts_with(&RoomName::private_prefix(user))
    {
        let refusal = ServerFrame::error(ErrorCode::NotYourRoomName, None);
        return answer(ports, to_creator(refusal)).await;
    }
    let now_ms = ports.now_ms();
    let listed = ports.registry.rooms(user).await?.rooms;
    if !listed.iter().any(|entry| &entry.room == room) && listed.len() >= MAX_ROOMS_PER_PERSON {
        let refusal = ServerFrame::error(ErrorCode::TooManyRooms, None);
        return answer(ports, to_creator(refusal)).await;
    }
    let admitted = ports
        .registry
        .admit(user, "new-room", NEW_ROOM_RATE, now_ms)
        .await?;
    if let Admission::Wait { retry_after_ms } = admitted {
        let refusal = ServerFrame::retry_later(ErrorCode::TooManyNewRooms, None, retry_after_ms);
        return answer(ports, to_creator(refusal)).await;
    }
    match ports.registry.create_room(room, user, now_ms).await? {
        Created::Created | Created::AlreadyIn => {}
        Created::Taken => return answer(ports, to_creator(ServerFrame::no_such_room(room))).await,
    }
    if !ports.registry.list_add(user, room, None, now_ms).await? {
        let refusal = ServerFrame::error(ErrorCode::TooManyRooms, None);
        return answer(ports, to_creator(refusal)).await;
    }
    let listing = rooms_frame(ports, user, Some(&member.connection_id)).await?;
    queue_deliveries(ports.deliveries, vec![listing]).await?;
    Ok(Handled::Done)
}

/// `invite`: lets a person into a private room the inviter is one of the people of, and puts it on their
/// list (their connections get their new list). Rules: the invite rate (shared with `dm`); the invited
/// person shares a room with the inviter (`unknown_person`), so user ids cannot be probed; the inviter is
/// among the room's people (`no_such_room` otherwise: the same answer as for a room that does not exist);
/// a direct conversation takes no one else (`no_such_room`); the people cap (`room_full`) and the invited
/// person's rooms cap (`their_rooms_full`). Idempotent.
async fn on_invite(
    ports: Ports<'_>,
    member: &Member,
    room: &RoomName,
    invitee: &str,
) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "invite", INVITE_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let to_inviter = |frame| to_one(member.connection_id.clone(), frame);
    if !room.is_private() || room.is_direct() {
        return answer(ports, to_inviter(ServerFrame::no_such_room(room))).await;
    }
    let theirs = match shared_list(ports, &member.user.id, invitee, room).await? {
        Ok(theirs) => theirs,
        Err(code) => return answer(ports, to_inviter(ServerFrame::error(code, None))).await,
    };
    let now_ms = ports.now_ms();
    match ports
        .registry
        .add_people(room, Some(&member.user.id), &[invitee], now_ms)
        .await?
    {
        Added::Added => {}
        Added::NoSuchRoom => {
            return answer(ports, to_inviter(ServerFrame::no_such_room(room))).await;
        }
        Added::RoomFull => {
            let refusal = ServerFrame::error(ErrorCode::RoomFull, None);
            return answer(ports, to_inviter(refusal)).await;
        }
    }
    if !theirs.iter().any(|entry| &entry.room == room)
        && !ports.registry.list_add(invitee, room, None, now_ms).await?
    {
        let refusal = ServerFrame::error(ErrorCode::TheirRoomsFull, None);
        return answer(ports, to_inviter(refusal)).await;
    }
    let listing = rooms_frame(ports, invitee, None).await?;
    queue_deliveries(ports.deliveries, vec![listing]).await?;
    Ok(Handled::Done)
}

/// `invite_link`: a single-use invite link to a private room the asker is one of the people of, to the
/// asking connection (`invite_link` frame). Rules: the invite rate (shared with `invite` and `dm`); the
/// asker is among the room's people (`no_such_room` otherwise, as for a room that does not exist; a
/// public room or a direct conversation takes no link either); at most
/// [`protocol::limits::MAX_INVITE_LINKS_PER_ROOM`] live links (`too_many_invites`). A retried request (the
/// same `client_id`) answers the same link.
async fn on_invite_link(
    ports: Ports<'_>,
    member: &Member,
    room: &RoomName,
    client_id: &ClientId,
) -> Result<Handled> {
    if let Some(refusal) = ports
        .over_rate(member, "invite", INVITE_RATE, Some(client_id))
        .await?
    {
        return answer(ports, refusal).await;
    }
    let to_asker = |frame| to_one(member.connection_id.clone(), frame);
    if !room.is_private() || room.is_direct() {
        return answer(ports, to_asker(ServerFrame::no_such_room(room))).await;
    }
    let created = ports
        .registry
        .create_invite(room, &member.user.id, client_id, ports.now_ms())
        .await?;
    let frame = match created {
        InviteCreated::Created { code, expires_ms } => ServerFrame::InviteLink {
            room: room.clone(),
            code,
            expires_at: from_unix_millis(expires_ms),
            client_id: client_id.clone(),
        },
        InviteCreated::NoSuchRoom => ServerFrame::no_such_room(room),
        InviteCreated::TooMany => {
            ServerFrame::error(ErrorCode::TooManyInvites, Some(client_id.to_string()))
        }
    };
    answer(ports, to_asker(frame)).await
}

/// `redeem`: uses an invite link. The first person to redeem it becomes one of its room's people, the
/// room goes on their list (each of their connections gets the new list), and the redeeming connection is
/// told which room (`redeemed`; the app joins it). Rules: the redeem rate; a code used by someone else,
/// expired, never issued, or whose room is gone is `invalid_invite`, one answer for all that names no
/// room; the people cap (`room_full`) and the person's rooms cap (`too_many_rooms`). The same person
/// redeeming again (a redelivery, a retry, another tab) is let in again, so every step repeats safely.
async fn on_redeem(ports: Ports<'_>, member: &Member, code: &InviteCode) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "redeem", REDEEM_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let to_redeemer = |frame| to_one(member.connection_id.clone(), frame);
    let user = &member.user.id;
    let now_ms = ports.now_ms();
    let room = match ports.registry.redeem_invite(code, user, now_ms).await? {
        Redemption::Redeemed(room) => room,
        Redemption::Invalid => {
            let refusal = ServerFrame::error(ErrorCode::InvalidInvite, None);
            return answer(ports, to_redeemer(refusal)).await;
        }
        Redemption::RoomFull => {
            let refusal = ServerFrame::error(ErrorCode::RoomFull, None);
            return answer(ports, to_redeemer(refusal)).await;
        }
    };
    if !ports.registry.list_add(user, &room, None, now_ms).await? {
        let refusal = ServerFrame::error(ErrorCode::TooManyRooms, None);
        return answer(ports, to_redeemer(refusal)).await;
    }
    let out = vec![
        to_redeemer(ServerFrame::Redeemed { room }),
        rooms_frame(ports, user, None).await?,
    ];
    queue_deliveries(ports.deliveries, out).await?;
    Ok(Handled::Done)
}

/// `dm`: opens the direct conversation of two people ([`RoomName::direct`]): both become its people, it
/// goes on both lists naming the other person, and both get their new list (the asker then joins it).
/// Rules: the invite rate (shared with `invite`); the other person shares a room with the asker
/// (`unknown_person`; yourself neither); both rooms caps (`too_many_rooms`, `their_rooms_full`).
/// Idempotent: the same room from either side, every time.
async fn on_dm(ports: Ports<'_>, member: &Member, other: &str) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "invite", INVITE_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let me = &member.user;
    let to_asker = |frame| to_one(member.connection_id.clone(), frame);
    let room = RoomName::direct(&me.id, other);
    let profile = ports.registry.profile(other).await?;
    let shared = match profile.filter(|_| other != me.id) {
        Some(profile) => shared_list(ports, &me.id, other, &room)
            .await?
            .map(|theirs| (profile, theirs)),
        None => Err(ErrorCode::UnknownPerson),
    };
    let (profile, theirs) = match shared {
        Ok(found) => found,
        Err(code) => return answer(ports, to_asker(ServerFrame::error(code, None))).await,
    };
    let mine = ports.registry.rooms(&me.id).await?.rooms;
    if !mine.iter().any(|entry| entry.room == room) && mine.len() >= MAX_ROOMS_PER_PERSON {
        let refusal = ServerFrame::error(ErrorCode::TooManyRooms, None);
        return answer(ports, to_asker(refusal)).await;
    }
    let now_ms = ports.now_ms();
    ports
        .registry
        .add_people(&room, None, &[&me.id, other], now_ms)
        .await?;
    let listed = ports
        .registry
        .list_add(&me.id, &room, Some(&profile), now_ms)
        .await?;
    if !listed {
        let refusal = ServerFrame::error(ErrorCode::TooManyRooms, None);
        return answer(ports, to_asker(refusal)).await;
    }
    if !theirs.iter().any(|entry| entry.room == room)
        && !ports
            .registry
            .list_add(other, &room, Some(me), now_ms)
            .await?
    {
        let refusal = ServerFrame::error(ErrorCode::TheirRoomsFull, None);
        return answer(ports, to_asker(refusal)).await;
    }
    let listings = vec![
        rooms_frame(ports, &me.id, None).await?,
        rooms_frame(ports, other, None).await?,
    ];
    queue_deliveries(ports.deliveries, listings).await?;
    Ok(Handled::Done)
}

/// `rooms`: the asker's list, to the asking connection. Rule: the read rate (shared with `read`).
async fn on_rooms(ports: Ports<'_>, member: &Member) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "read", READ_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let RoomList { rooms, rev } = ports.registry.rooms(&member.user.id).await?;
    let listing = to_one(
        member.connection_id.clone(),
        ServerFrame::Rooms { rooms, rev },
    );
    answer(ports, listing).await
}

/// `read`: moves the person's read position in a room on their list forward (never back: a maximum, so
/// tabs and redeliveries in any order agree), and tells their connections when it moved. Rule: the read
/// rate (the app sends one per room every few seconds at most); a room not on the list changes nothing.
async fn on_read(
    ports: Ports<'_>,
    member: &Member,
    room: &RoomName,
    id: MessageId,
) -> Result<Handled> {
    if let Some(refusal) = ports.over_rate(member, "read", READ_RATE, None).await? {
        return answer(ports, refusal).await;
    }
    let user = &member.user.id;
    if ports.registry.mark_read(user, room, id).await? {
        let listing = rooms_frame(ports, user, Some(&member.connection_id)).await?;
        queue_deliveries(ports.deliveries, vec![listing]).await?;
    }
    Ok(Handled::Done)
}

/// The invited person's list, if they share a room (public or private, not a direct conversation) with
/// `me` and may take one more than `room`; else the refusal's code.
async fn shared_list(
    ports: Ports<'_>,
    me: &str,
    other: &str,
    room: &RoomName,
) -> Result<Result<Vec<RoomEntry>, ErrorCode>> {
    let mine = ports.registry.rooms(me).await?.rooms;
    let theirs = ports.registry.rooms(other).await?.rooms;
    let shared = theirs
        .iter()
        .any(|t| !t.room.is_direct() && mine.iter().any(|m| m.room == t.room));
    Ok(if other == me || !shared {
        Err(ErrorCode::UnknownPerson)
    } else if !theirs.iter().any(|t| &t.room == room) && theirs.len() >= MAX_ROOMS_PER_PERSON {
        Err(ErrorCode::TheirRoomsFull)
    } else {
        Ok(theirs)
    })
}

/// The person's list, for every one of their live connections but `except` (the one that caused the
/// change, when it knows already).
async fn rooms_frame(
    ports: Ports<'_>,
    user_id: &str,
    except: Option<&ConnectionId>,
) -> Result<Delivery> {
    let RoomList { rooms, rev } = ports.registry.rooms(user_id).await?;
    let mut live = ports.registry.live(user_id, ports.now_ms()).await?;
    live.retain(|connection| Some(connection) != except);
    Ok(Delivery::new(live, ServerFrame::Rooms { rooms, rev }))
}

/// `send`: stores the message once per (room, author, client id) and fans it out to every connection in
/// the room, the sender's included (that is its confirmation). Rules: the person's send rate in the room
/// (`rate_limited`, echoing the `client_id`, nothing stored); only a member of the room may send
/// (`not_a_member`, echoing the `client_id`). A retry (same client id) is not stored again: the stored
/// message, in its latest version, is fanned out again, as the first fan-out may not have finished (the
/// command's earlier delivery may have failed after the append); clients keep one copy per message id.
async fn on_send(
    ports: Ports<'_>,
    member: Member,
    room: &RoomName,
    client_id: &ClientId,
    body: &str,
    received_at: OffsetDateTime,
) -> Result<Handled> {
    let sender = member.connection_id;
    let message = NewMessage {
        room: room.clone(),
        client_id: client_id.clone(),
        author: member.user,
        body: body.to_owned(),
        sent_at: received_at,
    };
    // The person's send rate in this room, checked in the append's own store operation.
    let rate = ports.enforced(SEND_RATE).map(|rate| RateCheck {
        bucket: "send",
        rate,
    });
    match ports.registry.append(&sender, message, rate).await? {
        Appended::RateLimited { retry_after_ms } => {
            answer(
                ports,
                rate_limited(&sender, Some(client_id), retry_after_ms),
            )
            .await
        }
        Appended::NotAMember => {
            let refusal = ServerFrame::error(ErrorCode::NotAMember, Some(client_id.to_string()));
            answer(ports, to_one(sender, refusal)).await
        }
        Appended::FanOut {
            message,
            recipients,
            retry,
        } => {
            let delivery = Delivery::new(recipients, ServerFrame::Message(message));
            queue_deliveries(ports.deliveries, vec![delivery]).await?;
            Ok(if retry {
                Handled::Done
            } else {
                Handled::MessageSent
            })
        }
    }
}

/// `typing`: tells the room's other people (not the typist's own other tabs) that this person is typing.
/// Rules: only a member of the room may (`not_a_member` otherwise); at most one fan-out per person and
/// room per [`TYPING_RATE`], extra ones dropped silently (a typing indicator needs no more).
async fn on_typing(ports: Ports<'_>, member: Member, room: &RoomName) -> Result<Handled> {
    let bucket = format!("typing:{room}");
    if ports
        .over_rate(&member, &bucket, TYPING_RATE, None)
        .await?
        .is_some()
    {
        return Ok(Handled::Done);
    }
    let members = ports.registry.members(room).await?.members;
    let delivery = if members
        .iter()
        .any(|m| m.connection_id == member.connection_id)
    {
        let others = members
            .into_iter()
            .filter(|m| m.user.id != member.user.id)
            .map(|m| m.connection_id)
            .collect();
        let frame = ServerFrame::Typing {
            room: room.clone(),
            user: member.user,
        };
        Delivery::new(others, frame)
    } else {
        to_one(
            member.connection_id,
            ServerFrame::error(ErrorCode::NotAMember, None),
        )
    };
    queue_deliveries(ports.deliveries, vec![delivery]).await?;
    Ok(Handled::Done)
}

/// What a `history` frame asks for.
#[derive(Debug, Clone, Copy)]
struct Paging {
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: Option<u16>,
    changes_after: Option<u64>,
}

/// `history`: one page of the room's messages, older than `before` (the newest page without it) or newer
/// than `after` (catch-up after a reconnect), cut to fit one server frame, with the room's change number
/// (`rev`); with `changes_after`, also the messages edited or deleted since (their own page: when it is cut
/// short, `has_more` is set and `rev` says where it stopped). Rules: the history rate; only a member of the
/// room may read it (`not_a_member`), so nobody reads a room without showing in its presence.
async fn on_history(
    ports: Ports<'_>,
    member: Member,
    room: &RoomName,
    paging: Paging,
) -> Result<Handled> {
    let Paging {
        before,
        after,
        limit,
        changes_after,
    } = paging;
    if let Some(refusal) = ports
        .over_rate(&member, "history", HISTORY_RATE, None)
        .await?
    {
        return answer(ports, refusal).await;
    }
    let reader = member.connection_id;
    let limit = ClientFrame::history_limit(limit);
    let query = match after {
        Some(after) => HistoryQuery::After { after, limit },
        None => HistoryQuery::Before { before, limit },
    };
    // The changes first: a message changed between the two reads then shows its newer version, and the
    // `rev` answered is never past what the page holds.
    let (changes_after, changes_limit) = match changes_after {
        Some(changes_after) => (changes_after, limit),
        None => (0, 0),
    };
    let changes = ports
        .registry
        .changes(&reader, room, changes_after, changes_limit)
        .await?;
    let page = match changes {
        Some(changes) => ports
            .registry
            .history(&reader, room, query)
            .await?
            .map(|page| (page, changes)),
        None => None,
    };
    let frame = match page {
        Some((page, changes)) => history_frame(room.clone(), page, query, changes),
        None => ServerFrame::error(ErrorCode::NotAMember, None),
    };
    answer(ports, to_one(reader, frame)).await
}

/// `edit`: replaces the body of one of the sender's own messages and sends its new version (marked
/// edited) to every connection in the room. Rules: the edit rate (shared with `delete`); the body's rules
/// were checked on receipt like a `send`'s; see [`on_change`] for the rest.
async fn on_edit(
    ports: Ports<'_>,
    member: Member,
    room: &RoomName,
    id: MessageId,
    body: &str,
    received_at: OffsetDateTime,
) -> Result<Handled> {
    let change = Change::Edit {
        body: body.to_owned(),
        at: received_at,
    };
    on_change(ports, member, room, id, change).await
}

/// `delete`: empties one of the sender's own messages and sends it, marked deleted, to every connection
/// in the room, which then shows a placeholder. Rules: the edit rate (shared with `edit`); see
/// [`on_change`] for the rest.
async fn on_delete(
    ports: Ports<'_>,
    member: Member,
    room: &RoomName,
    id: MessageId,
) -> Result<Handled> {
    on_change(ports, member, room, id, Change::Delete).await
}

/// `react`: sets (`on`) or takes back one person's reaction with `emoji` to a message, and sends the
/// message's new version, with its reactions, to every connection in the room; the reactor's own
/// connections get it with their reactions (`mine`), as a message names only the first few reactors.
/// Rules: the react rate (its own bucket: reacting down a conversation must not hold up an edit); anyone
/// in the room may react (`not_a_member` otherwise), to a message the room holds and that is not deleted
/// (`unknown_message`), within [`protocol::limits::MAX_REACTIONS_PER_MESSAGE`] (`too_many_reactions`); a
/// set, not a toggle, so a redelivered or retried reaction changes nothing and sends the same version.
async fn on_react(
    ports: Ports<'_>,
    member: Member,
    room: &RoomName,
    id: MessageId,
    emoji: Emoji,
    on: bool,
) -> Result<Handled> {
    on_change(ports, member, room, id, Change::React { emoji, on }).await
}

/// What `edit`, `delete` and `react` share. Rules: the edit rate (the react rate for a reaction); only a
/// member of the room (`not_a_member`), only the author for an edit or delete (`not_your_message`), only a
/// message the room holds and that is not deleted (`unknown_message`); a redelivered change stores
/// nothing more and sends the same version again.
async fn on_change(
    ports: Ports<'_>,
    member: Member,
    room: &RoomName,
    id: MessageId,
    change: Change,
) -> Result<Handled> {
    let (bucket, rate) = match change {
        Change::React { .. } => ("react", REACT_RATE),
        Change::Edit { .. } | Change::Delete => ("edit", EDIT_RATE),
    };
    if let Some(refusal) = ports.over_rate(&member, bucket, rate, None).await? {
        return answer(ports, refusal).await;
    }
    let refusal = match ports.registry.change(&member, room, id, change).await? {
        Ok(changed) => {
            let out = changed_frames(ports, &member, changed).await?;
            queue_deliveries(ports.deliveries, out).await?;
            return Ok(Handled::Done);
        }
        Err(Refused::NotAMember) => ErrorCode::NotAMember,
        Err(Refused::UnknownMessage) => ErrorCode::UnknownMessage,
        Err(Refused::NotYourMessage) => ErrorCode::NotYourMessage,
        Err(Refused::TooManyReactions) => ErrorCode::TooManyReactions,
    };
    answer(
        ports,
        to_one(member.connection_id, ServerFrame::error(refusal, None)),
    )
    .await
}

/// The `changed` frames of a change by `member`: one version for the whole room, except that after a
/// reaction the person's own connections in the room get theirs with `mine`, and everyone else the same
/// version without it.
async fn changed_frames(
    ports: Ports<'_>,
    member: &Member,
    changed: Changed,
) -> Result<Vec<Delivery>> {
    let Changed {
        message,
        recipients,
    } = changed;
    if message.mine.is_none() {
        return Ok(vec![Delivery::new(
            recipients,
            ServerFrame::Changed(message),
        )]);
    }
    let live = ports.registry.live(&member.user.id, ports.now_ms()).await?;
    let (own, others): (Vec<ConnectionId>, Vec<ConnectionId>) = recipients
        .into_iter()
        .partition(|c| *c == member.connection_id || live.contains(c));
    let shared = ChatMessage {
        mine: None,
        ..message.clone()
    };
    Ok(vec![
        Delivery::new(own, ServerFrame::Changed(message)),
        Delivery::new(others, ServerFrame::Changed(shared)),
    ])
}

/// Answers one connection alone (a refusal, a page of history, a retry's confirmation); nothing else
/// happens.
async fn answer(ports: Ports<'_>, delivery: Delivery) -> Result<Handled> {
    queue_deliveries(ports.deliveries, vec![delivery]).await?;
    Ok(Handled::Done)
}

/// The presence frame for a room: each person once, however many connections they hold, sorted by name,
/// with the room's presence revision.
pub fn presence(room: &RoomName, RoomMembers { members, rev }: &RoomMembers) -> Delivery {
    let mut people: Vec<User> = Vec::new();
    for member in members {
        if !people.iter().any(|p| p.id == member.user.id) {
            people.push(member.user.clone());
        }
    }
    people.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    Delivery::new(
        members.iter().map(|m| m.connection_id.clone()).collect(),
        ServerFrame::Presence {
            room: room.clone(),
            members: people,
            rev: *rev,
        },
    )
}

/// The history frame for a page and the room's changes, cut so it stays under API Gateway's 128 KB
/// message limit. Cutting drops the messages farthest from where the reader is (the oldest of a `before`
/// page, the newest of an `after` page) and sets `has_more`, so paging on fetches them; a cut-short
/// changes page (at most half the limit, [`Registry::changes`]) sets it too, so the client asks again
/// from the `rev` answered.
pub fn history_frame(
    room: RoomName,
    page: HistoryPage,
    query: HistoryQuery,
    changes: ChangesPage,
) -> ServerFrame {
    let HistoryPage {
        mut messages,
        mut has_more,
    } = page;
    has_more |= changes.has_more;
    // Each message's share of the frame: its JSON plus a separating comma.
    let sizes: Vec<usize> = messages.iter().map(|m| protocol::json_len(m) + 1).collect();
    let mut frame = ServerFrame::History {
        room,
        messages: Vec::new(),
        has_more: true,
        changes: changes.messages,
        rev: Some(changes.rev),
    };
    let mut total = protocol::json_len(&frame) + sizes.iter().sum::<usize>();
    let (mut first, mut last) = (0, messages.len());
    while last - first > 1 && total > MAX_SERVER_FRAME_BYTES {
        match query {
            HistoryQuery::Before { .. } => {
                total -= sizes[first];
                first += 1;
            }
            HistoryQuery::After { .. } => {
                last -= 1;
                total -= sizes[last];
            }
        }
        has_more = true;
    }
    messages.truncate(last);
    messages.drain(..first);
    if let ServerFrame::History {
        messages: page,
        has_more: more,
        ..
    } = &mut frame
    {
        *page = messages;
        *more = has_more;
    }
    frame
}

/// Unix milliseconds as a time (the epoch if out of range).
fn from_unix_millis(ms: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_one(connection_id: ConnectionId, frame: ServerFrame) -> Delivery {
    Delivery::new(vec![connection_id], frame)
}

/// Queues the deliveries that have anyone to reach, each split to fit one queue message.
async fn queue_deliveries(
    deliveries: &dyn Queue<Delivery>,
    out: Vec<Delivery>,
) -> Result<(), QueueError> {
    let out: Vec<Delivery> = out
        .into_iter()
        .filter(|d| !d.recipients.is_empty())
        .flat_map(|d| d.split_to_fit(MAX_QUEUE_MESSAGE_BYTES, MAX_RECIPIENTS_PER_DELIVERY))
        .collect();
    if out.is_empty() {
        return Ok(());
    }
    deliveries.send_all(out).await
}
