//! The Redis registry adapter against a real `redis-server` and a real three-master Redis Cluster: it
//! behaves exactly like the in-memory reference registry on both (membership, presence, history paging and
//! capping, idempotent sends, forgetting a connection), keeps no garbage, spreads its keys over the
//! cluster's nodes, a send costs the same number of Redis commands whatever the room size, and it speaks
//! TLS with AUTH as ElastiCache with encryption in transit requires.

mod common;

use lambdas::{
    adapters::memory::MemoryQueue,
    adapters::{
        memory::memory_queue,
        memory::MemoryRegistry,
        redis::{RedisRegistry, Topology},
    },
    core::registry,
    ports::{
        Appended, Change, Clock, HistoryQuery, Joined, Member, NewMessage, RateCheck, Refused,
        Registry, SystemClock,
    },
};
use protocol::limits::{
    Rate, MAX_CONNECTIONS_PER_PERSON, MAX_MEMBERS_PER_ROOM, MAX_ROOMS_PER_CONNECTION,
    MAX_ROOMS_PER_PERSON, PERSON_RETENTION_SECS,
};
use protocol::{
    ClientFrame, ClientId, Command, ConnectionId, Delivery, MessageId, RoomName, ServerFrame, User,
};
use time::{Duration, OffsetDateTime};

/// Applies one command with the registry core over Redis.
async fn apply(
    store: &RedisRegistry,
    deliveries: &MemoryQueue<Delivery>,
    command: Command,
) -> Result<registry::Handled, registry::RegistryHandlerError> {
    let ports = registry::Ports {
        registry: store,
        deliveries,
        clock: &SystemClock,
        rate_limits: lambdas::core::registry::RateLimits::Enforced,
    };
    registry::apply(ports, &command).await
}

fn user(id: &str) -> User {
    User {
        id: id.into(),
        name: format!("User {id}"),
        picture: None,
    }
}

fn member(connection: &str, user_id: &str) -> Member {
    Member {
        connection_id: ConnectionId(connection.into()),
        user: user(user_id),
    }
}

fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_732_550_400).unwrap()
}

/// [`t0`] in Unix milliseconds, the registry's "now" in the scenario.
const T0_MS: u64 = 1_732_550_400_000;

fn message(room_name: &str, author: &str, client_id: &str, at: OffsetDateTime) -> NewMessage {
    NewMessage {
        room: room(room_name),
        client_id: ClientId::new(client_id).unwrap(),
        author: user(author),
        body: format!("{client_id} from {author}"),
        sent_at: at,
    }
}

async fn redis(server: &common::Server, cap: usize) -> RedisRegistry {
    RedisRegistry::open(&server.redis_url())
        .await
        .expect("connecting to redis-server")
        .with_history_cap(cap)
}

async fn redis_cluster(cluster: &common::RedisCluster, cap: usize) -> RedisRegistry {
    RedisRegistry::open_with(&cluster.seed_url(), Topology::Cluster)
        .await
        .expect("connecting to the cluster")
        .with_history_cap(cap)
}

/// Every key on every node of `ports`, sorted.
fn keys_on(ports: &[u16]) -> Vec<String> {
    let mut keys: Vec<String> = ports
        .iter()
        .flat_map(|port| {
            common::redis_cli(*port, &["--raw", "keys", "*"])
                .lines()
                .filter(|key| !key.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    keys.sort();
    keys
}

/// The idempotency keys in `room`'s index on the node `port`, sorted: its fields but those that start with a
/// space (the send buckets and ` table`).
fn idempotency_keys(port: u16, room: &str) -> Vec<String> {
    let mut keys = ask(port, &["hkeys", &format!("chatty:{{room:{room}}}:sent")]);
    keys.retain(|field| !field.starts_with(' '));
    keys.sort();
    keys
}

/// One command's answer lines, through `redis-cli -c` (which follows a cluster's redirections).
fn ask(port: u16, args: &[&str]) -> Vec<String> {
    let args: Vec<&str> = ["-c", "--raw"].iter().chain(args).copied().collect();
    common::redis_cli(port, &args)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs the same sequence of operations on a registry and returns everything observable, so the Redis
/// adapter can be compared with the reference one.
async fn scenario(store: &dyn Registry) -> Vec<String> {
    let mut seen = Vec::new();
    let general = room("general");
    let rust = room("rust");
    let join = |room: RoomName, connection: &'static str, who: &'static str| async move {
        store
            .join(&room, &member(connection, who), true, T0_MS)
            .await
            .unwrap()
    };
    seen.push(format!(
        "{:?}",
        store
            .connect(&ConnectionId("c1".into()), &user("alice"), T0_MS)
            .await
    ));
    // A room nobody is in and nobody wrote in is brought into being only when allowed.
    seen.push(format!(
        "{:?}",
        store
            .join(&general, &member("c1", "alice"), false, T0_MS)
            .await
    ));
    seen.push(format!("{:?}", join(general.clone(), "c1", "alice").await));
    seen.push(format!("{:?}", join(general.clone(), "c2", "alice").await));
    seen.push(format!("{:?}", join(general.clone(), "c3", "bob").await));
    seen.push(format!("{:?}", join(general.clone(), "c3", "bob").await)); // idempotent
    seen.push(format!("{:?}", join(rust.clone(), "c1", "alice").await));
    seen.push(format!("{:?}", store.members(&general).await.unwrap()));
    seen.push(format!(
        "{:?}",
        store.leave(&rust, &ConnectionId("c3".into())).await
    ));
    seen.push(format!(
        "{:?}",
        store.leave(&general, &ConnectionId("c2".into())).await
    ));
    seen.push(format!("{:?}", store.members(&general).await.unwrap()));

    // Ten messages, three in the same millisecond, one stamped before the previous (a clock step back).
    let stamps = [0, 5, 5, 5, 9, 3, 20, 21, 22, 23];
    for (i, ms) in stamps.iter().enumerate() {
        let (connection, author) = if i % 2 == 0 {
            ("c1", "alice")
        } else {
            ("c3", "bob")
        };
        let appended = store
            .append(
                &ConnectionId(connection.into()),
                message(
                    "general",
                    author,
                    &format!("m{i}"),
                    t0() + Duration::milliseconds(*ms),
                ),
                None,
            )
            .await
            .unwrap();
        seen.push(format!("{appended:?}"));
    }
    // Retries: two of bob's (the stored message, fanned out again to the whole room), and one by another
    // author with the same client id (a different message).
    join(general.clone(), "c4", "carol").await;
    for (connection, author, client_id) in [
        ("c3", "bob", "m7"),
        ("c3", "bob", "m9"),
        ("c4", "carol", "m7"),
    ] {
        let appended = store
            .append(
                &ConnectionId(connection.into()),
                message("general", author, client_id, t0() + Duration::seconds(60)),
                None,
            )
            .await
            .unwrap();
        seen.push(format!("retry {author} {client_id}: {appended:?}"));
    }
    // Connections outside the room store nothing: one that left it, one that never joined.
    for (room_name, connection) in [("rust", "c3"), ("general", "c9")] {
        let refused = store
            .append(
                &ConnectionId(connection.into()),
                message(room_name, "bob", "m10", t0() + Duration::seconds(60)),
                None,
            )
            .await
            .unwrap();
        assert_eq!(refused, Appended::NotAMember, "{connection} in {room_name}");
    }
    // The cap is 8 in both registries: 13 stored, the oldest 5 trimmed; a trimmed message sent again is new.
    let resent = store
        .append(
            &ConnectionId("c1".into()),
            message("general", "alice", "m0", t0() + Duration::seconds(61)),
            None,
        )
        .await
        .unwrap();
    seen.push(format!("resent trimmed: {resent:?}"));

    let mut before = None;
    loop {
        let page = store
            .history(
                &ConnectionId("c1".into()),
                &general,
                HistoryQuery::Before { before, limit: 3 },
            )
            .await
            .unwrap()
            .unwrap();
        seen.push(format!("{:?}", page));
        match page.messages.first() {
            Some(first) if page.has_more => before = Some(first.id),
            _ => break,
        }
    }
    let oldest = store
        .history(
            &ConnectionId("c1".into()),
            &general,
            HistoryQuery::Before {
                before: None,
                limit: 100,
            },
        )
        .await
        .unwrap()
        .unwrap()
        .messages[0]
        .id;
    let after = store
        .history(
            &ConnectionId("c3".into()),
            &general,
            HistoryQuery::After {
                after: oldest,
                limit: 4,
            },
        )
        .await
        .unwrap();
    seen.push(format!("{after:?}"));
    // Reading needs membership: not in the room (c2 left it), or no such room.
    let outsider = store
        .history(
            &ConnectionId("c2".into()),
            &general,
            HistoryQuery::Before {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    seen.push(format!("outsider: {outsider:?}"));
    let empty = store
        .history(
            &ConnectionId("c1".into()),
            &room("nobody-here"),
            HistoryQuery::Before {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    seen.push(format!("{empty:?}"));

    seen.push(format!(
        "{:?}",
        store.disconnect(&ConnectionId("c1".into())).await.unwrap()
    ));
    seen.push(format!(
        "{:?}",
        store.disconnect(&ConnectionId("c1".into())).await.unwrap()
    ));
    seen.push(format!("{:?}", store.members(&general).await.unwrap()));
    seen.push(format!("{:?}", store.members(&rust).await.unwrap()));
    seen.extend(limits_scenario(store).await);
    seen.extend(changes_scenario(store).await);
    seen.extend(reactions_scenario(store).await);
    seen.extend(invites_scenario(store).await);
    seen
}

/// Edits and deletes on the same registry: the rules (author only, members only, messages the room holds,
/// none to a deleted one), redelivery changing nothing more, the room's change numbers, history carrying
/// the latest versions, the catch-up of changes, and trimmed messages leaving the changes. Every answer
/// observable; the reference answers are asserted too.
async fn changes_scenario(store: &dyn Registry) -> Vec<String> {
    let mut seen = Vec::new();
    let edits = room("edits");
    for (connection, who) in [("ea", "alice"), ("eb", "bob")] {
        store
            .join(&edits, &member(connection, who), true, T0_MS)
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for (i, author) in ["alice", "alice", "bob"].into_iter().enumerate() {
        let at = t0() + Duration::seconds(i as i64);
        let sender = if author == "alice" { "ea" } else { "eb" };
        ids.push(
            append_new(
                store,
                sender,
                message("edits", author, &format!("e{i}"), at),
            )
            .await,
        );
    }
    let alice = member("ea", "alice");
    let edit = |body: &str, seconds: i64| Change::Edit {
        body: body.to_owned(),
        at: t0() + Duration::seconds(seconds),
    };
    let change = |by: Member, id: MessageId, change: Change| {
        let edits = edits.clone();
        async move { store.change(&by, &edits, id, change).await.unwrap() }
    };
    let first = change(alice.clone(), ids[0], edit("fixed", 10))
        .await
        .unwrap();
    assert_eq!(
        (first.message.body.as_str(), first.message.rev),
        ("fixed", Some(1))
    );
    assert!(first.message.edited_at.is_some());
    seen.push(format!("edit: {first:?}"));
    let again = change(alice.clone(), ids[0], edit("fixed", 11))
        .await
        .unwrap();
    assert_eq!(
        again.message, first.message,
        "a redelivered edit changes nothing"
    );
    let refusals = [
        change(member("eb", "bob"), ids[0], edit("mine now", 12)).await,
        change(member("zz", "alice"), ids[0], edit("outside", 12)).await,
        change(alice.clone(), MessageId::new(1, 0), edit("nothing", 12)).await,
    ];
    assert_eq!(
        refusals.clone().map(|r| r.unwrap_err()),
        [
            Refused::NotYourMessage,
            Refused::NotAMember,
            Refused::UnknownMessage
        ]
    );
    seen.push(format!("refusals: {refusals:?}"));
    let deleted = change(alice.clone(), ids[1], Change::Delete).await.unwrap();
    assert!(deleted.message.deleted && deleted.message.body.is_empty());
    assert_eq!(deleted.message.rev, Some(2));
    let deleted_again = change(alice.clone(), ids[1], Change::Delete).await.unwrap();
    assert_eq!(deleted_again.message, deleted.message);
    let edit_deleted = change(alice.clone(), ids[1], edit("back", 13)).await;
    assert_eq!(edit_deleted, Err(Refused::UnknownMessage));
    let second = change(alice.clone(), ids[0], edit("fixed twice", 14))
        .await
        .unwrap();
    assert_eq!(second.message.rev, Some(3));
    seen.push(format!("{deleted:?} {edit_deleted:?} {second:?}"));

    let reader = ConnectionId("eb".into());
    let page = store
        .history(
            &reader,
            &edits,
            HistoryQuery::Before {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap()
        .unwrap();
    let bodies: Vec<_> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["fixed twice", "", "e2 from bob"]);
    seen.push(format!("history: {page:?}"));
    for (after, limit) in [(0, 0), (0, 10), (0, 1), (2, 10), (3, 10)] {
        let changes = store.changes(&reader, &edits, after, limit).await.unwrap();
        seen.push(format!("changes after {after} limit {limit}: {changes:?}"));
    }
    let all = store
        .changes(&reader, &edits, 0, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((all.messages.len(), all.rev, all.has_more), (2, 3, false));
    let cut = store.changes(&reader, &edits, 0, 1).await.unwrap().unwrap();
    assert_eq!(
        (cut.messages[0].id, cut.rev, cut.has_more),
        (ids[1], 2, true)
    );
    let outsider = store
        .changes(&ConnectionId("zz".into()), &edits, 0, 10)
        .await
        .unwrap();
    assert_eq!(outsider, None);

    // Enough new messages to trim the changed ones away: their changes go with them.
    for i in 0..8 {
        let at = t0() + Duration::seconds(100 + i);
        append_new(store, "eb", message("edits", "bob", &format!("f{i}"), at)).await;
    }
    let trimmed = store
        .changes(&reader, &edits, 0, 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((trimmed.messages.len(), trimmed.rev), (0, 3));
    let edit_trimmed = change(alice, ids[0], edit("too late", 200)).await;
    assert_eq!(edit_trimmed, Err(Refused::UnknownMessage));
    seen.push(format!("after trimming: {trimmed:?} {edit_trimmed:?}"));
    seen
}

/// Reactions on the same registry: counts and names in reaction order, each person's own reactions
/// (`mine`) after their change and in every page they read, sets that change nothing when repeated,
/// anyone in the room but no one outside, none to a deleted message (whose reactions go), the cap per
/// message, user ids that JSON must escape or that begin another's, and trimmed messages taking their
/// reactions with them. Every answer observable; the reference answers are asserted too.
async fn reactions_scenario(store: &dyn Registry) -> Vec<String> {
    use protocol::limits::{MAX_NAMED_REACTORS, MAX_REACTIONS_PER_MESSAGE};
    use protocol::Emoji;
    let mut seen = Vec::new();
    let reacts = room("reacts");
    let people = [
        ("ra", "ada"),
        ("rb", "bob"),
        ("rq", "bo\"b/\\"),
        ("rp", "bo"),
    ];
    for (connection, who) in people {
        store
            .join(&reacts, &member(connection, who), true, T0_MS)
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for i in 0..3 {
        let at = t0() + Duration::seconds(i);
        ids.push(append_new(store, "ra", message("reacts", "ada", &format!("r{i}"), at)).await);
    }
    let react = |connection: &'static str, who: &'static str, id: MessageId, emoji, on| {
        let reacts = reacts.clone();
        async move {
            store
                .change(
                    &member(connection, who),
                    &reacts,
                    id,
                    Change::React { emoji, on },
                )
                .await
                .unwrap()
        }
    };
    let counts = |changed: &lambdas::ports::Changed| -> Vec<(Emoji, u32, Vec<String>)> {
        changed
            .message
            .reactions
            .iter()
            .map(|r| {
                (
                    r.emoji,
                    r.count,
                    r.users.iter().map(|u| u.id.clone()).collect(),
                )
            })
            .collect()
    };
    let first = react("rb", "bob", ids[0], Emoji::Heart, true)
        .await
        .unwrap();
    assert_eq!(first.message.rev, Some(1));
    assert_eq!(first.message.mine, Some(vec![Emoji::Heart]));
    assert_eq!(counts(&first), [(Emoji::Heart, 1, vec!["bob".to_owned()])]);
    seen.push(format!("bob hearts: {first:?}"));
    let again = react("rb", "bob", ids[0], Emoji::Heart, true)
        .await
        .unwrap();
    assert_eq!(again, first, "a redelivered reaction changes nothing");
    for (connection, who, emoji) in [
        ("rq", "bo\"b/\\", Emoji::Heart),
        ("rp", "bo", Emoji::Heart),
        ("ra", "ada", Emoji::ThumbsUp),
        ("rq", "bo\"b/\\", Emoji::Sad),
    ] {
        let changed = react(connection, who, ids[0], emoji, true).await.unwrap();
        seen.push(format!("{who} reacts {emoji}: {changed:?}"));
    }
    let bob_back = react("rb", "bob", ids[0], Emoji::Heart, false)
        .await
        .unwrap();
    assert_eq!(bob_back.message.mine, Some(vec![]));
    assert_eq!(bob_back.message.rev, Some(6));
    assert_eq!(
        counts(&bob_back),
        [
            (Emoji::ThumbsUp, 1, vec!["ada".to_owned()]),
            (
                Emoji::Heart,
                2,
                vec!["bo\"b/\\".to_owned(), "bo".to_owned()]
            ),
            (Emoji::Sad, 1, vec!["bo\"b/\\".to_owned()]),
        ]
    );
    seen.push(format!("bob takes his heart back: {bob_back:?}"));
    let nothing = react("rb", "bob", ids[0], Emoji::Heart, false)
        .await
        .unwrap();
    assert_eq!(
        nothing.message.rev,
        Some(6),
        "taking back nothing changes nothing"
    );
    let refusals = [
        react("zz", "zed", ids[0], Emoji::Heart, true).await,
        react("rb", "bob", MessageId::new(1, 0), Emoji::Heart, true).await,
    ];
    assert_eq!(
        refusals.clone().map(|r| r.unwrap_err()),
        [Refused::NotAMember, Refused::UnknownMessage]
    );
    react("rb", "bob", ids[1], Emoji::Party, true)
        .await
        .unwrap();
    let deleted = store
        .change(&member("ra", "ada"), &reacts, ids[1], Change::Delete)
        .await
        .unwrap()
        .unwrap();
    assert!(deleted.message.reactions.is_empty() && deleted.message.mine.is_none());
    let on_deleted = react("rb", "bob", ids[1], Emoji::Party, false).await;
    assert_eq!(on_deleted, Err(Refused::UnknownMessage));
    seen.push(format!("refusals: {refusals:?} {deleted:?} {on_deleted:?}"));

    for (reader, who) in people {
        let page = store
            .history(
                &ConnectionId(reader.into()),
                &reacts,
                HistoryQuery::Before {
                    before: None,
                    limit: 10,
                },
            )
            .await
            .unwrap()
            .unwrap();
        let mine: Vec<_> = page.messages.iter().map(|m| m.mine.clone()).collect();
        seen.push(format!("{who} reads: {page:?}"));
        let changes = store
            .changes(&ConnectionId(reader.into()), &reacts, 0, 10)
            .await
            .unwrap()
            .unwrap();
        seen.push(format!("{who} catches up: {changes:?}"));
        let expected = match who {
            "ada" => vec![Emoji::ThumbsUp],
            "bob" => vec![],
            "bo" => vec![Emoji::Heart],
            _ => vec![Emoji::Heart, Emoji::Sad],
        };
        assert_eq!(mine, [Some(expected.clone()), None, None], "{who}");
        assert_eq!(changes.messages[0].mine, Some(expected), "{who}");
        assert_eq!(
            changes.messages[1].mine, None,
            "the deleted one's reactions went"
        );
    }

    // A crowd fills one message up to the cap; one reaction taken back makes room for another.
    let crowd: Vec<(String, String)> = (0..MAX_REACTIONS_PER_MESSAGE.div_ceil(Emoji::ALL.len()))
        .map(|i| (format!("k{i}"), format!("crowd{i:03}")))
        .collect();
    for (connection, who) in &crowd {
        store
            .join(&reacts, &member(connection, who), false, T0_MS)
            .await
            .unwrap();
    }
    let mut refused = 0;
    for (connection, who) in &crowd {
        for emoji in Emoji::ALL {
            let outcome = store
                .change(
                    &member(connection, who),
                    &reacts,
                    ids[2],
                    Change::React { emoji, on: true },
                )
                .await
                .unwrap();
            match outcome {
                Ok(_) => {}
                Err(Refused::TooManyReactions) => refused += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(
        refused,
        crowd.len() * Emoji::ALL.len() - MAX_REACTIONS_PER_MESSAGE
    );
    let (k0, crowd0) = (crowd[0].0.clone(), crowd[0].1.clone());
    let back = store
        .change(
            &member(&k0, &crowd0),
            &reacts,
            ids[2],
            Change::React {
                emoji: Emoji::Sad,
                on: false,
            },
        )
        .await
        .unwrap()
        .unwrap();
    let fits = react("rb", "bob", ids[2], Emoji::Sad, true).await.unwrap();
    assert_eq!(fits.message.mine, Some(vec![Emoji::Sad]));
    let total: u32 = fits.message.reactions.iter().map(|r| r.count).sum();
    assert_eq!(total as usize, MAX_REACTIONS_PER_MESSAGE);
    assert!(fits
        .message
        .reactions
        .iter()
        .all(|r| r.users.len() == MAX_NAMED_REACTORS));
    seen.push(format!("the crowd: {back:?} {fits:?}"));

    // Enough new messages to trim the reacted ones away: their reactions go with them.
    for i in 0..8 {
        let at = t0() + Duration::seconds(100 + i);
        append_new(store, "rb", message("reacts", "bob", &format!("s{i}"), at)).await;
    }
    let trimmed = react("ra", "ada", ids[0], Emoji::Heart, true).await;
    assert_eq!(trimmed, Err(Refused::UnknownMessage));
    seen.push(format!("after trimming: {trimmed:?}"));
    seen
}

/// Invite links on the same registry: only the room's people make them, the same request answers the
/// same link, the first redeemer is let in (and again, on a repeat) and everyone after refused, expiry,
/// the cap on live links (a used one freeing its place), the people cap, and links going with their room
/// (not coming back with a room made again under its name). Codes are random, so what is compared is
/// each answer's kind and the link's life.
async fn invites_scenario(store: &dyn Registry) -> Vec<String> {
    use lambdas::ports::{InviteCreated, Redemption};
    use protocol::limits::{
        INVITE_LINK_TTL_SECS, MAX_INVITE_LINKS_PER_ROOM, MAX_PEOPLE_PER_PRIVATE_ROOM,
    };
    use protocol::InviteCode;
    let mut seen = Vec::new();
    let ttl_ms = INVITE_LINK_TTL_SECS * 1000;
    let plans = RoomName::private("ada", "linked").unwrap();
    store.create_room(&plans, "ada", T0_MS).await.unwrap();
    let request = |id: &str| ClientId::new(id).unwrap();
    let link = |by: &'static str, id: &'static str, now_ms: u64| {
        let plans = plans.clone();
        async move {
            store
                .create_invite(&plans, by, &request(id), now_ms)
                .await
                .unwrap()
        }
    };
    let code_of = |created: &InviteCreated| match created {
        InviteCreated::Created { code, expires_ms } => (code.clone(), *expires_ms),
        other => panic!("expected a link, got {other:?}"),
    };
    let (code, expires_ms) = code_of(&link("ada", "l-1", T0_MS).await);
    assert_eq!(expires_ms, T0_MS + ttl_ms);
    assert_eq!(code.as_str().len(), 32);
    let (again, _) = code_of(&link("ada", "l-1", T0_MS + 5).await);
    assert_eq!(again, code, "the same request, the same link");
    let (other, _) = code_of(&link("ada", "l-2", T0_MS + 5).await);
    assert_ne!(other, code);
    let (unused, _) = code_of(&link("ada", "l-3", T0_MS + 5).await);
    let outsider = link("eve", "l-1", T0_MS + 5).await;
    assert_eq!(outsider, InviteCreated::NoSuchRoom);
    seen.push(format!(
        "links: expires after {}, {outsider:?}",
        expires_ms - T0_MS
    ));

    // Time only moves forward here, as it does for a store.
    let redeem = |code: InviteCode, who: &'static str, now_ms: u64| async move {
        store.redeem_invite(&code, who, now_ms).await.unwrap()
    };
    let made_up = InviteCode::new("0123456789abcdef0123456789abcdef").unwrap();
    let answers = [
        redeem(code.clone(), "grace", T0_MS + 10).await,
        redeem(code.clone(), "grace", T0_MS + 11).await,
        redeem(code.clone(), "eve", T0_MS + 12).await,
        redeem(made_up, "eve", T0_MS + 13).await,
        redeem(other.clone(), "eve", T0_MS + 5 + ttl_ms - 1).await,
        redeem(unused.clone(), "ivan", T0_MS + 5 + ttl_ms).await,
    ];
    assert_eq!(
        answers,
        [
            Redemption::Redeemed(plans.clone()),
            Redemption::Redeemed(plans.clone()),
            Redemption::Invalid,
            Redemption::Invalid,
            Redemption::Redeemed(plans.clone()),
            Redemption::Invalid,
        ],
        "a link is live until its last millisecond, then refused"
    );
    seen.push(format!("redemptions: {answers:?}"));
    let t1 = T0_MS + 5 + ttl_ms;
    let joined = store
        .join(&plans, &member("lg", "grace"), false, t1)
        .await
        .unwrap();
    assert_eq!(joined, Joined::Joined, "a redeemer may join");

    // The cap on live links: full, then a used one makes room, and expired ones do not count.
    let mut codes = Vec::new();
    for i in 0..MAX_INVITE_LINKS_PER_ROOM {
        let id = format!("c-{i}");
        let created = store
            .create_invite(&plans, "grace", &request(&id), t1 + 100)
            .await
            .unwrap();
        codes.push(code_of(&created).0);
    }
    let full = link("ada", "full", t1 + 100).await;
    assert_eq!(full, InviteCreated::TooMany);
    assert_eq!(
        redeem(codes[0].clone(), "ivan", t1 + 101).await,
        Redemption::Redeemed(plans.clone())
    );
    let freed = link("ada", "full", t1 + 102).await;
    assert!(matches!(freed, InviteCreated::Created { .. }));
    assert_eq!(link("ada", "more", t1 + 103).await, InviteCreated::TooMany);
    seen.push(format!("cap: {full:?}"));

    // The people cap: a full room refuses a live link, which stays its first redeemer's.
    let crowd: Vec<String> = (0..MAX_PEOPLE_PER_PRIVATE_ROOM - 4)
        .map(|i| format!("p{i}"))
        .collect();
    let crowd: Vec<&str> = crowd.iter().map(String::as_str).collect();
    store.add_people(&plans, None, &crowd, t1).await.unwrap();
    let no_room = redeem(codes[1].clone(), "zed", t1 + 200).await;
    assert_eq!(no_room, Redemption::RoomFull);
    assert_eq!(
        redeem(codes[1].clone(), "yan", t1 + 200).await,
        Redemption::Invalid
    );
    seen.push(format!("people cap: {no_room:?}"));
    let later = link("ada", "later", t1 + 103 + ttl_ms).await;
    assert!(
        matches!(later, InviteCreated::Created { .. }),
        "expired links make room: {later:?}"
    );

    // Everyone leaves: the links go with the room, and a room made again does not take them back.
    let t2 = t1 + 200 + ttl_ms;
    let (last, _) = code_of(&later);
    let mut people = vec!["ada", "grace", "eve", "ivan"];
    people.extend(&crowd);
    for person in people {
        store.remove_person(&plans, person).await.unwrap();
    }
    store.create_room(&plans, "ada", t2).await.unwrap();
    let gone = redeem(last, "zed", t2).await;
    assert_eq!(gone, Redemption::Invalid);
    seen.push(format!("after the room: {gone:?}"));
    store.remove_person(&plans, "ada").await.unwrap();
    seen
}

/// The caps and the rate buckets, on the same registry: every answer observable.
async fn limits_scenario(store: &dyn Registry) -> Vec<String> {
    let mut seen = Vec::new();
    // Connections per person: the cap, then one more refused; a disconnect makes room again.
    for i in 0..=MAX_CONNECTIONS_PER_PERSON {
        let connected = store
            .connect(&ConnectionId(format!("d{i}")), &user("dave"), T0_MS)
            .await
            .unwrap();
        seen.push(format!("dave d{i}: {connected:?}"));
    }
    store.disconnect(&ConnectionId("d0".into())).await.unwrap();
    let again = store
        .connect(&ConnectionId("d-again".into()), &user("dave"), T0_MS)
        .await
        .unwrap();
    seen.push(format!("dave after a disconnect: {again:?}"));
    // Connections expire on their own: two hours and more later, the cap counts none of them.
    let later = store
        .connect(
            &ConnectionId("d-later".into()),
            &user("dave"),
            T0_MS + 3 * 3_600_000,
        )
        .await
        .unwrap();
    seen.push(format!("dave three hours later: {later:?}"));

    // Rooms per connection.
    for i in 0..=MAX_ROOMS_PER_CONNECTION {
        let joined = store
            .join(&room(&format!("r{i}")), &member("e1", "erin"), true, T0_MS)
            .await
            .unwrap();
        if i + 1 >= MAX_ROOMS_PER_CONNECTION {
            seen.push(format!("erin room {i}: {joined:?}"));
        }
    }
    // Connections per room.
    for i in 0..=MAX_MEMBERS_PER_ROOM {
        let joined = store
            .join(
                &room("crowd"),
                &member(&format!("f{i}"), "frank"),
                true,
                T0_MS,
            )
            .await
            .unwrap();
        if i + 1 >= MAX_MEMBERS_PER_ROOM {
            seen.push(format!("crowd member {i}: {joined:?}"));
        }
    }

    // A bucket of 3 refilled at 2 per second: three at once, the fourth waits 500 ms; after 500 ms one
    // fits again; buckets are per person and per name.
    let rate = Rate {
        burst: 3,
        per_second: 2.0,
    };
    for at in [0, 0, 0, 0, 250, 500, 500] {
        let admitted = store.admit("gina", "send", rate, T0_MS + at).await.unwrap();
        seen.push(format!("gina send at +{at} ms: {admitted:?}"));
    }
    let other = store.admit("gina", "join", rate, T0_MS).await.unwrap();
    seen.push(format!("gina join: {other:?}"));
    let someone_else = store.admit("hal", "send", rate, T0_MS).await.unwrap();
    seen.push(format!("hal send: {someone_else:?}"));
    // A rate checked with the append takes a token of the person's bucket in that room first: past it
    // nothing is stored (the next send is a new message, not a retry). The bucket is the room's alone:
    // another room, and `admit`'s bucket of the same name, still have their tokens.
    store
        .join(&room("paced"), &member("j1", "jo"), true, T0_MS)
        .await
        .unwrap();
    let check = RateCheck {
        bucket: "send",
        rate,
    };
    // Jo's send of `client_id` in `room_name`, with the rate, and what became of it.
    let jo_sends = |room_name: &'static str, client_id: &'static str| async move {
        let at = t0() + Duration::milliseconds(1);
        let appended = store
            .append(
                &ConnectionId("j1".into()),
                message(room_name, "jo", client_id, at),
                Some(check),
            )
            .await
            .unwrap();
        match appended {
            Appended::FanOut {
                message,
                retry: false,
                ..
            } => format!("stored {}", message.client_id),
            other => format!("{other:?}"),
        }
    };
    for client_id in ["p1", "p2", "p3", "p4"] {
        let outcome = jo_sends("paced", client_id).await;
        seen.push(format!("jo sends {client_id} with the rate: {outcome}"));
    }
    // A send to a room the person is not in is refused before the rate is checked: it takes no token.
    for client_id in ["n1", "n2", "n3", "n4"] {
        let outcome = jo_sends("calm", client_id).await;
        seen.push(format!(
            "jo sends {client_id} to calm, not in it: {outcome}"
        ));
    }
    store
        .join(&room("calm"), &member("j1", "jo"), true, T0_MS)
        .await
        .unwrap();
    for client_id in ["c1", "c2", "c3"] {
        let outcome = jo_sends("calm", client_id).await;
        seen.push(format!(
            "jo sends {client_id} in calm, once in it: {outcome}"
        ));
    }
    let after = store.admit("jo", "send", rate, T0_MS).await.unwrap();
    seen.push(format!("jo admit after: {after:?}"));
    let stored = store
        .history(
            &ConnectionId("j1".into()),
            &room("paced"),
            HistoryQuery::Before {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap()
        .map(|page| page.messages.len());
    seen.push(format!("paced holds {stored:?} messages"));
    assert_eq!(
        seen[seen.len() - 13..],
        [
            "jo sends p1 with the rate: stored p1",
            "jo sends p2 with the rate: stored p2",
            "jo sends p3 with the rate: stored p3",
            "jo sends p4 with the rate: RateLimited { retry_after_ms: 500 }",
            "jo sends n1 to calm, not in it: NotAMember",
            "jo sends n2 to calm, not in it: NotAMember",
            "jo sends n3 to calm, not in it: NotAMember",
            "jo sends n4 to calm, not in it: NotAMember",
            "jo sends c1 in calm, once in it: stored c1",
            "jo sends c2 in calm, once in it: stored c2",
            "jo sends c3 in calm, once in it: stored c3",
            "jo admit after: Admitted",
            "paced holds Some(3) messages",
        ]
    );

    // An operator's kick: answers the person's live connections and keeps them out until it ends.
    store
        .connect(&ConnectionId("i1".into()), &user("ivan"), T0_MS)
        .await
        .unwrap();
    let live = store.kick("ivan", T0_MS + 1_000, T0_MS).await.unwrap();
    seen.push(format!("kick ivan: {live:?}"));
    for at in [T0_MS + 500, T0_MS + 1_500] {
        let connected = store
            .connect(&ConnectionId(format!("i-{at}")), &user("ivan"), at)
            .await
            .unwrap();
        seen.push(format!("ivan connects at {at}: {connected:?}"));
    }
    seen
}

/// The clock of [`private_scenario`]: [`t0`], always.
struct AtT0;

impl Clock for AtT0 {
    fn now(&self) -> OffsetDateTime {
        t0()
    }
}

fn frame_command(connection: &str, who: &str, frame: ClientFrame) -> Command {
    Command::Frame {
        connection_id: ConnectionId(connection.into()),
        user: user(who),
        frame,
        received_at: t0(),
    }
}

/// Private rooms, invitations, direct conversations, read positions and leaving, through the registry
/// core (rates on) over `store`: every delivery each command causes, as `recipients → frame`. Commands
/// marked as redelivered are applied twice, as SQS may, and must answer the same both times.
async fn private_scenario(store: &dyn Registry) -> Vec<String> {
    let (deliveries, mut out) = memory_queue::<Delivery>();
    let mut seen = Vec::new();
    let ada_plans = RoomName::private("ada", "plans").unwrap();
    let ada_missing = RoomName::private("ada", "nothing-here").unwrap();
    let dm = RoomName::direct("ada", "grace");
    let run = |command: Command| {
        let deliveries = &deliveries;
        async move {
            let ports = registry::Ports {
                registry: store,
                deliveries,
                clock: &AtT0,
                rate_limits: lambdas::core::registry::RateLimits::Enforced,
            };
            registry::apply(ports, &command).await.unwrap();
        }
    };
    let mut drain = |label: &str, seen: &mut Vec<String>| {
        let mut lines = Vec::new();
        while let Ok(delivery) = out.try_recv() {
            let to: Vec<&str> = delivery.recipients.iter().map(|c| c.as_str()).collect();
            lines.push(format!("{to:?} → {}", delivery.frame.to_json()));
        }
        seen.push(format!("{label}: {lines:?}"));
        lines
    };
    for (connection, who) in [
        ("a1", "ada"),
        ("g1", "grace"),
        ("g2", "grace"),
        ("e1", "eve"),
    ] {
        run(Command::Connect {
            connection_id: ConnectionId(connection.into()),
            user: user(who),
        })
        .await;
        run(join_command(connection, who, "general")).await;
    }
    drain("everyone in general", &mut seen);
    let create = |connection: &str, who: &str, room: &RoomName| {
        frame_command(connection, who, ClientFrame::Create { room: room.clone() })
    };
    let join = |connection: &str, who: &str, room: &RoomName| {
        frame_command(connection, who, ClientFrame::Join { room: room.clone() })
    };
    let history = |connection: &str, who: &str, room: &RoomName| {
        frame_command(
            connection,
            who,
            ClientFrame::History {
                room: room.clone(),
                before: None,
                after: None,
                limit: None,
                changes_after: None,
            },
        )
    };
    let invite = |room: &RoomName, whom: &str| {
        frame_command(
            "a1",
            "ada",
            ClientFrame::Invite {
                room: room.clone(),
                user: whom.into(),
            },
        )
    };
    // Ada creates a private room (a redelivered create changes nothing) and joins it; Eve cannot create
    // under Ada's prefix.
    for _ in 0..2 {
        run(create("a1", "ada", &ada_plans)).await;
        drain("ada creates plans", &mut seen);
    }
    run(create("e1", "eve", &ada_plans)).await;
    drain("eve creates under ada's prefix", &mut seen);
    run(join("a1", "ada", &ada_plans)).await;
    drain("ada joins plans", &mut seen);

    // Eve, not invited: joining the private room and a missing one answer the same bytes, and so does
    // reading either; she gets no presence.
    run(join("e1", "eve", &ada_plans)).await;
    let private = drain("eve joins plans", &mut seen);
    let refused_join = private.clone();
    run(join("e1", "eve", &ada_missing)).await;
    let missing = drain("eve joins a missing room", &mut seen);
    assert_eq!(
        private.len(),
        1,
        "one refusal, no presence for anyone: {private:?}"
    );
    assert_eq!(
        private[0].replace(ada_plans.as_str(), "ROOM"),
        missing[0].replace(ada_missing.as_str(), "ROOM")
    );
    run(history("e1", "eve", &ada_plans)).await;
    let private = drain("eve reads plans", &mut seen);
    run(history("e1", "eve", &ada_missing)).await;
    assert_eq!(private, drain("eve reads a missing room", &mut seen));

    // Ada invites Grace (twice: a redelivery); Grace's two devices get their list; she joins from one.
    for _ in 0..2 {
        run(invite(&ada_plans, "grace")).await;
        drain("ada invites grace", &mut seen);
    }
    run(invite(&ada_plans, "stranger")).await;
    drain("ada invites a stranger", &mut seen);
    run(frame_command(
        "e1",
        "eve",
        ClientFrame::Invite {
            room: ada_plans.clone(),
            user: "grace".into(),
        },
    ))
    .await;
    let refused = drain("eve, not in plans, invites grace", &mut seen);
    assert_eq!(refused, refused_join, "the same as eve's join of plans");
    run(join("g2", "grace", &ada_plans)).await;
    drain("grace joins plans", &mut seen);
    run(send_command("a1", "ada", ada_plans.as_str(), "p1")).await;
    let sent = drain("ada writes in plans", &mut seen);
    assert!(sent[0].contains("[\"a1\", \"g2\"]"), "{sent:?}");

    // Read positions: forward only, every device told.
    let read = |id: MessageId| {
        frame_command(
            "g1",
            "grace",
            ClientFrame::Read {
                room: ada_plans.clone(),
                id,
            },
        )
    };
    let newest = MessageId::new(T0_MS, 0);
    run(read(newest)).await;
    drain("grace read plans", &mut seen);
    run(read(MessageId::new(T0_MS - 1, 5))).await;
    drain("grace read an older one", &mut seen);
    run(frame_command("g2", "grace", ClientFrame::Rooms)).await;
    drain("grace's list on her other device", &mut seen);

    // A direct conversation, from either side the same; not with a stranger, nor with oneself.
    for (connection, who, other) in [("a1", "ada", "grace"), ("g1", "grace", "ada")] {
        run(frame_command(
            connection,
            who,
            ClientFrame::Dm { user: other.into() },
        ))
        .await;
        drain(&format!("{who} opens a dm with {other}"), &mut seen);
    }
    for other in ["stranger", "eve", "ada"] {
        run(frame_command(
            "a1",
            "ada",
            ClientFrame::Dm { user: other.into() },
        ))
        .await;
        drain(&format!("ada opens a dm with {other}"), &mut seen);
    }
    run(join("e1", "eve", &dm)).await;
    drain("eve joins their dm", &mut seen);
    run(join("g2", "grace", &dm)).await;
    drain("grace joins their dm", &mut seen);

    // Leaving: Grace (from every device), then Ada, the last: the room is gone.
    run(frame_command(
        "g1",
        "grace",
        ClientFrame::Leave {
            room: ada_plans.clone(),
        },
    ))
    .await;
    drain("grace leaves plans", &mut seen);
    for _ in 0..2 {
        run(frame_command(
            "a1",
            "ada",
            ClientFrame::Leave {
                room: ada_plans.clone(),
            },
        ))
        .await;
        drain("ada leaves plans", &mut seen);
    }
    run(history("a1", "ada", &ada_plans)).await;
    drain("ada reads plans after leaving", &mut seen);
    assert_eq!(store.members(&ada_plans).await.unwrap().members, []);
    run(join("g2", "grace", &ada_plans)).await;
    drain("grace joins the deleted room", &mut seen);
    // The name is free again: Ada creates it anew, empty.
    run(create("a1", "ada", &ada_plans)).await;
    drain("ada creates plans again", &mut seen);
    run(join("a1", "ada", &ada_plans)).await;
    run(history("a1", "ada", &ada_plans)).await;
    drain("the new plans is empty", &mut seen);
    seen
}

fn assert_same_answers(expected: &[String], actual: &[String]) {
    for (i, (want, got)) in expected.iter().zip(actual).enumerate() {
        assert_eq!(want, got, "step {i} differs");
    }
    assert_eq!(expected.len(), actual.len());
}

/// Every observable answer of the Redis registry — membership, history pages, ids, retries, trimming,
/// disconnects — equals the in-memory reference registry's for the same operations.
#[tokio::test]
async fn behaves_exactly_like_the_memory_registry() {
    let server = common::redis_server();
    let expected = scenario(&MemoryRegistry::with_history_cap(8)).await;
    let actual = scenario(&redis(&server, 8).await).await;
    assert_same_answers(&expected, &actual);
}

/// Private rooms, invitations, direct conversations, read positions and leaving, through the registry
/// core: Redis answers exactly what the memory registry answers, on one server and on a cluster (so every
/// new script's keys share a slot).
#[tokio::test]
async fn private_rooms_behave_exactly_like_the_memory_registry() {
    let expected = private_scenario(&MemoryRegistry::with_history_cap(8)).await;
    let server = common::redis_server();
    assert_same_answers(&expected, &private_scenario(&redis(&server, 8).await).await);
    let cluster = common::redis_cluster();
    assert_same_answers(
        &expected,
        &private_scenario(&redis_cluster(&cluster, 8).await).await,
    );
}

/// On a three-master Redis Cluster the same scenario gives the same answers (so every script's keys share a
/// slot: Redis refuses a cross-slot script), and its many rooms, connections and people spread their keys
/// over more than one node.
#[tokio::test]
async fn behaves_exactly_like_the_memory_registry_on_a_cluster() {
    let cluster = common::redis_cluster();
    let expected = scenario(&MemoryRegistry::with_history_cap(8)).await;
    let actual = scenario(&redis_cluster(&cluster, 8).await).await;
    assert_same_answers(&expected, &actual);
    let nodes_with_keys: Vec<u16> = cluster
        .nodes
        .iter()
        .map(|node| node.port)
        .filter(|port| !keys_on(&[*port]).is_empty())
        .collect();
    assert!(
        nodes_with_keys.len() > 1,
        "keys must spread over the cluster, but only {nodes_with_keys:?} hold any"
    );
}

/// A person's list and its revision, through the port, at given times: every change of which rooms are on
/// it moves the revision to the larger of one more and the change's time, whatever the clock says after;
/// a read position, a repeated add and a remove of a room not there leave it; the revision is no room and
/// takes no place under the cap. The revisions read as `room,room@rev`.
async fn revision_scenario(store: &dyn Registry) -> Vec<String> {
    let mut out = Vec::new();
    let read = async |out: &mut Vec<String>| {
        let list = store.rooms("ann").await.unwrap();
        let names: Vec<&str> = list.rooms.iter().map(|e| e.room.as_str()).collect();
        out.push(format!("{}@{}", names.join(","), list.rev));
    };
    read(&mut out).await;
    assert!(store
        .list_add("ann", &room("a"), None, 1_000)
        .await
        .unwrap());
    read(&mut out).await;
    assert!(store
        .list_add("ann", &room("b"), None, 1_000)
        .await
        .unwrap());
    read(&mut out).await;
    assert!(store
        .list_add("ann", &room("b"), None, 2_000)
        .await
        .unwrap());
    store
        .mark_read("ann", &room("b"), MessageId::new(1_500, 0))
        .await
        .unwrap();
    store.list_remove("ann", &room("zzz"), 3_000).await.unwrap();
    read(&mut out).await;
    store.list_remove("ann", &room("a"), 5_000).await.unwrap();
    read(&mut out).await;
    // A clock behind the last change (another Lambda's): the revision still grows.
    assert!(store.list_add("ann", &room("c"), None, 10).await.unwrap());
    read(&mut out).await;
    for i in 2..MAX_ROOMS_PER_PERSON {
        assert!(store
            .list_add("ann", &room(&format!("r{i:03}")), None, 6_000)
            .await
            .unwrap());
    }
    out.push(format!(
        "full: {}",
        store.rooms("ann").await.unwrap().rooms.len()
    ));
    out.push(format!(
        "one more: {}",
        store
            .list_add("ann", &room("one-more"), None, 6_000)
            .await
            .unwrap()
    ));
    out
}

/// The list's revision (what orders `rooms` frames that arrive out of order) behaves alike on Redis, one
/// server and a cluster, and in memory.
#[tokio::test]
async fn the_lists_revision_moves_on_with_every_change_of_its_rooms() {
    let expected = revision_scenario(&MemoryRegistry::with_history_cap(8)).await;
    assert_eq!(
        expected[..6],
        ["@0", "a@1000", "a,b@1001", "a,b@1001", "b@5000", "b,c@5001"]
    );
    assert_eq!(
        expected[6..],
        [
            format!("full: {MAX_ROOMS_PER_PERSON}"),
            "one more: false".into()
        ]
    );
    let server = common::redis_server();
    assert_same_answers(
        &expected,
        &revision_scenario(&redis(&server, 8).await).await,
    );
    let cluster = common::redis_cluster();
    assert_same_answers(
        &expected,
        &revision_scenario(&redis_cluster(&cluster, 8).await).await,
    );
}

/// Joining and leaving through the registry handler produces presence frames that name each person once,
/// however many connections they hold; a connection's memberships survive only in Redis, not in the
/// process (a second adapter instance sees them).
#[tokio::test]
async fn presence_comes_from_redis() {
    let server = common::redis_server();
    let store = redis(&server, 100).await;
    let (deliveries, mut out) = memory_queue::<Delivery>();
    for (connection, who) in [("c1", "alice"), ("c2", "alice"), ("c3", "bob")] {
        apply(
            &store,
            &deliveries,
            join_command(connection, who, "general"),
        )
        .await
        .unwrap();
    }
    let mut last = None;
    while let Ok(delivery) = out.try_recv() {
        last = Some(delivery);
    }
    let last = last.expect("presence deliveries");
    assert_eq!(last.recipients.len(), 3);
    let ServerFrame::Presence { members, .. } = last.frame else {
        panic!("not presence: {:?}", last.frame)
    };
    assert_eq!(
        members.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );

    let other_process = redis(&server, 100).await;
    assert_eq!(
        other_process
            .members(&room("general"))
            .await
            .unwrap()
            .members
            .len(),
        3
    );
}

/// Amy joins room `a` on connection `c1`.
async fn amy_joins_a(store: &RedisRegistry) {
    store
        .join(&room("a"), &member("c1", "amy"), true, T0_MS)
        .await
        .unwrap();
}

/// Amy's message `x{i}` in room `a`, from `connection`, stamped `i` milliseconds after [`t0`].
async fn amy_writes_in_a(store: &RedisRegistry, connection: &str, i: i64) -> Appended {
    store
        .append(
            &ConnectionId(connection.into()),
            message(
                "a",
                "amy",
                &format!("x{i}"),
                t0() + Duration::milliseconds(i),
            ),
            None,
        )
        .await
        .unwrap()
}

/// Forgets a connection in three rooms on `store` (over the Redis nodes `ports`) and checks what is left.
async fn forget_a_connection(store: &RedisRegistry, ports: &[u16]) {
    let gone = ConnectionId("gone".into());
    store.connect(&gone, &user("zed"), T0_MS).await.unwrap();
    for name in ["a", "b", "c"] {
        store
            .join(&room(name), &member("gone", "zed"), true, T0_MS)
            .await
            .unwrap();
        store
            .join(&room(name), &member("stays", "amy"), true, T0_MS)
            .await
            .unwrap();
    }
    for i in 0..10 {
        amy_writes_in_a(store, "stays", i).await;
    }
    assert_eq!(
        store.disconnect(&gone).await.unwrap(),
        [room("a"), room("b"), room("c")]
    );

    assert_eq!(
        keys_on(ports),
        [
            "chatty:{conn:stays}:rooms",
            "chatty:{room:a}:history",
            "chatty:{room:a}:members",
            "chatty:{room:a}:presence-rev",
            "chatty:{room:a}:sent",
            "chatty:{room:b}:members",
            "chatty:{room:b}:presence-rev",
            "chatty:{room:c}:members",
            "chatty:{room:c}:presence-rev",
            // The person's profile outlives their connections (a direct conversation names them), and
            // expires on its own.
            "chatty:{user:zed}:profile",
        ]
    );
    let ttl: u64 = ask(ports[0], &["pttl", "chatty:{user:zed}:profile"])[0]
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= PERSON_RETENTION_SECS * 1000, "{ttl}");
    for name in ["a", "b", "c"] {
        let members = ask(
            ports[0],
            &["hkeys", &format!("chatty:{{room:{name}}}:members")],
        );
        assert_eq!(members, ["stays"]);
    }
    let history = ask(ports[0], &["xlen", "chatty:{room:a}:history"]);
    let sent = idempotency_keys(ports[0], "a");
    assert_eq!((history, sent.len()), (vec!["3".into()], 3));

    // With the last member, a room's presence revision goes too.
    store
        .disconnect(&ConnectionId("stays".into()))
        .await
        .unwrap();
    let left = keys_on(ports);
    assert!(
        left.iter()
            .all(|key| !key.contains(":members") && !key.contains(":presence-rev")),
        "{left:?}"
    );
}

/// Forgetting a connection (410 Gone or `$disconnect`) removes it from every room and deletes every key
/// that was about it, and the idempotency index never outgrows the capped history.
#[tokio::test]
async fn forgetting_a_connection_leaves_no_keys_behind() {
    let server = common::redis_server();
    forget_a_connection(&redis(&server, 3).await, &[server.port]).await;
}

/// The same on a cluster, where the connection's keys, its person's and each room's live on different
/// slots: the disconnect's single-slot steps together leave nothing behind either.
#[tokio::test]
async fn forgetting_a_connection_leaves_no_keys_behind_on_a_cluster() {
    let cluster = common::redis_cluster();
    let ports: Vec<u16> = cluster.nodes.iter().map(|node| node.port).collect();
    forget_a_connection(&redis_cluster(&cluster, 3).await, &ports).await;
}

/// The crash points of the cross-slot operations, made by hand on a cluster: a join that stopped after the
/// connection's side, and a disconnect that stopped after leaving one room. Each retry repairs what the
/// first attempt left: the disconnect still finds every room (the connection's rooms set goes last), and the
/// join completes.
#[tokio::test]
async fn a_retry_repairs_a_half_done_cross_slot_operation() {
    let cluster = common::redis_cluster();
    let store = redis_cluster(&cluster, 10).await;
    let port = cluster.nodes[0].port;
    let c1 = ConnectionId("c1".into());
    store.connect(&c1, &user("amy"), T0_MS).await.unwrap();
    for name in ["a", "b", "c"] {
        store
            .join(&room(name), &member("c1", "amy"), true, T0_MS)
            .await
            .unwrap();
    }
    // A join of room d that stopped after its first step: d is in the connection's set, not in the room.
    ask(port, &["sadd", "chatty:{conn:c1}:rooms", "d"]);
    assert_eq!(store.members(&room("d")).await.unwrap().members, []);
    let joined = store
        .join(&room("d"), &member("c1", "amy"), true, T0_MS)
        .await
        .unwrap();
    assert_eq!(joined, Joined::Joined);
    assert_eq!(
        store.members(&room("d")).await.unwrap().members,
        [member("c1", "amy")]
    );

    // A disconnect that stopped after leaving room a: the retry leaves the others and deletes everything.
    ask(port, &["hdel", "chatty:{room:a}:members", "c1"]);
    assert_eq!(
        store.disconnect(&c1).await.unwrap(),
        [room("a"), room("b"), room("c"), room("d")]
    );
    for name in ["a", "b", "c", "d"] {
        assert_eq!(
            store.members(&room(name)).await.unwrap().members,
            [],
            "{name}"
        );
    }
    let ports: Vec<u16> = cluster.nodes.iter().map(|node| node.port).collect();
    assert!(
        keys_on(&ports).iter().all(|key| !key.contains("conn:c1")
            && (!key.contains("user:amy") || key.ends_with(":profile"))),
        "{:?}",
        keys_on(&ports)
    );
}

fn join_command(connection: &str, who: &str, room_name: &str) -> Command {
    Command::Frame {
        connection_id: ConnectionId(connection.into()),
        user: user(who),
        frame: ClientFrame::Join {
            room: room(room_name),
        },
        received_at: t0(),
    }
}

fn send_command(connection: &str, who: &str, room_name: &str, client_id: &str) -> Command {
    Command::Frame {
        connection_id: ConnectionId(connection.into()),
        user: user(who),
        frame: ClientFrame::Send {
            room: room(room_name),
            client_id: ClientId::new(client_id).unwrap(),
            body: "hello".into(),
        },
        received_at: t0(),
    }
}

/// Total commands Redis has executed (scripts' inner commands included), from `INFO commandstats`, minus
/// the `INFO`, `MONITOR` and `ECHO` calls that measure.
async fn commands_executed(raw: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter(|stat| {
            !["info:", "monitor:", "echo:"]
                .iter()
                .any(|m| stat.starts_with(m))
        })
        .filter_map(|line| {
            let calls = line.split("calls=").nth(1)?.split(',').next()?;
            calls.parse::<u64>().ok()
        })
        .sum()
}

/// Watches the commands clients send, through `MONITOR` on its own connection: each is one round trip
/// (nothing here pipelines), and commands a script runs are told apart (`[0 lua]`).
struct Monitor {
    lines: std::io::BufReader<std::net::TcpStream>,
}

const MONITOR_END: &str = "end-of-measurement";

impl Monitor {
    fn start(server: &common::Server) -> Self {
        use std::io::{BufRead, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.write_all(b"MONITOR\r\n").unwrap();
        let mut lines = std::io::BufReader::new(stream);
        let mut ok = String::new();
        lines.read_line(&mut ok).unwrap();
        assert_eq!(ok, "+OK\r\n");
        Self { lines }
    }

    /// Sends the end marker through `raw` and returns the client commands seen before it.
    async fn client_commands(mut self, raw: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
        use std::io::BufRead;
        let _: String = redis::cmd("ECHO")
            .arg(MONITOR_END)
            .query_async(raw)
            .await
            .unwrap();
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            self.lines.read_line(&mut line).unwrap();
            if line.contains(MONITOR_END) {
                return seen;
            }
            if !line.contains(" lua] ") {
                seen.push(line.trim_end().to_owned());
            }
        }
    }
}

/// A send through the registry handler costs the same Redis work in a room of 2 members as in a room of 200
/// (recipients come from one `HKEYS`, never one command per member), in one round trip, the rate check
/// included.
#[tokio::test]
async fn a_send_costs_the_same_commands_whatever_the_room_size() {
    let server = common::redis_server();
    let store = redis(&server, 100).await;
    let (deliveries, mut out) = memory_queue::<Delivery>();
    let mut raw = redis::Client::open(server.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut cost = Vec::new();
    for size in [2, 200] {
        let name = format!("room-{size}");
        for i in 0..size {
            store
                .join(
                    &room(&name),
                    &member(&format!("{name}-c{i}"), &format!("u{i}")),
                    true,
                    T0_MS,
                )
                .await
                .unwrap();
        }
        // Warm up: the first call of each script loads it.
        apply(
            &store,
            &deliveries,
            send_command(&format!("{name}-c0"), "u0", &name, "warm"),
        )
        .await
        .unwrap();
        let before = commands_executed(&mut raw).await;
        let monitor = Monitor::start(&server);
        apply(
            &store,
            &deliveries,
            send_command(&format!("{name}-c0"), "u0", &name, "measured"),
        )
        .await
        .unwrap();
        let round_trips = monitor.client_commands(&mut raw).await;
        let commands = commands_executed(&mut raw).await - before;
        cost.push((commands, round_trips.len()));
        // The append script alone (the sender's rate bucket, membership, append, recipients): on one
        // server the rate check costs no round trip of its own, and nothing follows the queueing.
        assert_eq!(
            round_trips.len(),
            1,
            "round trips per send: {round_trips:#?}"
        );
        let mut fanned_out = 0;
        while let Ok(delivery) = out.try_recv() {
            if matches!(&delivery.frame, ServerFrame::Message(m) if m.client_id.as_str() == "measured")
            {
                fanned_out += delivery.recipients.len();
            }
        }
        assert_eq!(fanned_out, size, "every member of {name} is a recipient");
    }
    println!(
        "redis (commands, round trips) per send: room of 2 → {:?}, room of 200 → {:?}",
        cost[0], cost[1]
    );
    assert_eq!(
        cost[0], cost[1],
        "a send's cost must not grow with the room"
    );
}

/// Appends a message that must be new, returning its id.
async fn append_new(store: &dyn Registry, sender: &str, message: NewMessage) -> MessageId {
    match store
        .append(&ConnectionId(sender.into()), message, None)
        .await
        .unwrap()
    {
        Appended::FanOut { message, .. } => message.id,
        other => panic!("a new message must be fanned out, got {other:?}"),
    }
}

/// Message ids are the Redis stream ids: ordered by value, unique, and parseable as `MessageId`.
#[tokio::test]
async fn message_ids_are_stream_ids() {
    let server = common::redis_server();
    let store = redis(&server, 100).await;
    store
        .join(&room("general"), &member("c1", "amy"), true, T0_MS)
        .await
        .unwrap();
    let a = append_new(&store, "c1", message("general", "amy", "1", t0())).await;
    let b = append_new(&store, "c1", message("general", "amy", "2", t0())).await;
    assert_eq!(a, MessageId::new(1_732_550_400_000, 0));
    assert_eq!(b, MessageId::new(1_732_550_400_000, 1));
    let mut raw = redis::Client::open(server.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ids: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("chatty:{room:general}:history")
        .arg("-")
        .arg("+")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        ids.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["1732550400000-0", "1732550400000-1"]
    );
}

/// The reactions of a deleted message, and of messages trimmed from the history, leave Redis: the
/// reactions hash holds only the fields of messages still held (trimmed ones go once the edits outgrow
/// the cap, with their edits), so it stays bounded by the history.
#[tokio::test]
async fn reactions_of_deleted_and_trimmed_messages_are_forgotten() {
    use protocol::Emoji;
    let server = common::redis_server();
    let store = redis(&server, 2).await;
    let general = room("general");
    store
        .join(&general, &member("c1", "amy"), true, T0_MS)
        .await
        .unwrap();
    let react = |id: MessageId, emoji: Emoji| {
        let (store, general) = (&store, &general);
        async move {
            store
                .change(
                    &member("c1", "amy"),
                    general,
                    id,
                    Change::React { emoji, on: true },
                )
                .await
                .unwrap()
                .unwrap()
        }
    };
    let fields = || {
        let mut fields = ask(server.port, &["hkeys", "chatty:{room:general}:reactions"]);
        fields.retain(|f| !f.is_empty());
        fields.sort();
        fields
    };
    let a = append_new(&store, "c1", message("general", "amy", "a", t0())).await;
    let b = append_new(&store, "c1", message("general", "amy", "b", t0())).await;
    react(a, Emoji::ThumbsUp).await;
    react(a, Emoji::Party).await;
    react(b, Emoji::Heart).await;
    assert_eq!(
        fields(),
        [format!("{a} 🎉"), format!("{a} 👍"), format!("{b} ❤️")]
    );
    store
        .change(&member("c1", "amy"), &general, b, Change::Delete)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fields(), [format!("{a} 🎉"), format!("{a} 👍")]);
    let later = t0() + Duration::seconds(1);
    let c = append_new(&store, "c1", message("general", "amy", "c", later)).await;
    let d = append_new(&store, "c1", message("general", "amy", "d", later)).await;
    react(c, Emoji::Sad).await;
    react(d, Emoji::Sad).await;
    assert_eq!(fields(), [format!("{c} 😢"), format!("{d} 😢")]);
}

/// Runs `openssl` with `args` in `dir`, failing the test with its output if it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let output = std::process::Command::new(common::tool("openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `rediss://` with a password, as ElastiCache with encryption in transit and AUTH requires: the adapter
/// checks the server's certificate against the system trust store (here a test CA, through
/// `SSL_CERT_FILE`; before that the same server is refused), authenticates and works; a wrong password is
/// refused at connect time.
#[tokio::test]
async fn tls_and_auth() {
    let dir = std::env::temp_dir().join(format!("chatty-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Chatty test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let port = common::free_port();
    let _server = common::redis_server_with(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &file("server.pem"),
            "--tls-key-file",
            &file("server.key"),
            "--tls-ca-cert-file",
            &file("ca.pem"),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "correct-horse",
        ],
    );
    let url = format!("rediss://:correct-horse@127.0.0.1:{port}");
    assert!(
        RedisRegistry::open(&url).await.is_err(),
        "a certificate from an unknown CA must be refused"
    );
    std::env::set_var("SSL_CERT_FILE", file("ca.pem"));

    let store = RedisRegistry::open(&url)
        .await
        .expect("TLS + AUTH connection");
    store
        .join(&room("general"), &member("c1", "alice"), true, T0_MS)
        .await
        .unwrap();
    assert_eq!(
        store.members(&room("general")).await.unwrap().members,
        [member("c1", "alice")]
    );

    let refused = RedisRegistry::open(&format!("rediss://:wrong@127.0.0.1:{port}")).await;
    assert!(refused.is_err(), "a wrong password must be refused");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An idempotency entry written before the fan-out mark went (`<0|1> <id>`) still names its message: a
/// retry of it is that message again, and trimming the message takes the entry with it.
#[tokio::test]
async fn idempotency_entries_with_the_old_fan_out_flag_are_read_alike() {
    let server = common::redis_server();
    let store = redis(&server, 2).await;
    amy_joins_a(&store).await;
    let Appended::FanOut { message: first, .. } = amy_writes_in_a(&store, "c1", 0).await else {
        panic!("x0 is new");
    };
    let sent = "chatty:{room:a}:sent";
    let keys = || idempotency_keys(server.port, "a");
    let field = keys().remove(0);
    ask(
        server.port,
        &["hset", sent, &field, &format!("1 {}", first.id)],
    );
    let Appended::FanOut { message, retry, .. } = amy_writes_in_a(&store, "c1", 0).await else {
        panic!("x0 again is fanned out");
    };
    assert!(retry, "x0 again is a retry");
    assert_eq!(message.id, first.id);
    // A history of two: x1 and x2 trim x0, and its entry.
    amy_writes_in_a(&store, "c1", 1).await;
    amy_writes_in_a(&store, "c1", 2).await;
    assert_eq!(keys(), ["x1 amy", "x2 amy"]);
}

/// Every key a room's sends write expires, however the send found it: a history of one message trims the
/// previous one on every send, which (for an index without its ` table` field, as one written before
/// 2026-12-03 is) empties the idempotency index and makes it again (a new key, without an expiry), and the
/// refresh of the room's expiries, skipped while they are fresh, still gives it one, and the field.
#[tokio::test]
async fn every_key_a_send_writes_expires() {
    let server = common::redis_server();
    let store = redis(&server, 1).await;
    amy_joins_a(&store).await;
    for i in 0..3 {
        let appended = amy_writes_in_a(&store, "c1", i).await;
        assert!(
            matches!(appended, Appended::FanOut { retry: false, .. }),
            "x{i} not fanned out: {appended:?}"
        );
        for key in keys_on(&[server.port]) {
            let ttl: i64 = ask(server.port, &["pttl", &key])[0].parse().unwrap();
            assert!(ttl > 0, "after x{i}, {key} has no expiry ({ttl})");
        }
        let sent = "chatty:{room:a}:sent";
        assert_eq!(ask(server.port, &["hexists", sent, " table"]), ["1"]);
        ask(server.port, &["hdel", sent, " table"]);
    }
}

/// A room's idempotency index is a hash table from its first entry: stored as a listpack (Redis's choice for
/// a hash of up to 512 short entries), every send's lookup of its new key would scan it from the start.
#[tokio::test]
async fn the_idempotency_index_is_a_hash_table_from_the_first_send() {
    let server = common::redis_server();
    let store = redis(&server, 1_000).await;
    amy_joins_a(&store).await;
    amy_writes_in_a(&store, "c1", 0).await;
    let sent = "chatty:{room:a}:sent";
    assert_eq!(
        ask(server.port, &["object", "encoding", sent]),
        ["hashtable"]
    );
    // A small hash of short entries is a listpack on this server: the index is one by its own doing.
    ask(server.port, &["hset", "small", "x0 amy", "1-0"]);
    assert_eq!(
        ask(server.port, &["object", "encoding", "small"]),
        ["listpack"]
    );
}

/// A person's send bucket in a room is a field of the room's idempotency index, which the append reads
/// and writes anyway: it never takes the place of a message's key (it starts with a space), and it goes
/// once a message of its author is trimmed after the bucket is full again, so the index stays bounded by
/// the history and its recent authors.
#[tokio::test]
async fn send_buckets_in_the_index_go_once_full() {
    let server = common::redis_server();
    let store = redis(&server, 2).await;
    // Taken at each message's time.
    let check = RateCheck {
        bucket: "send",
        rate: Rate {
            burst: 3,
            per_second: 2.0,
        },
    };
    let index = || {
        let mut fields = ask(server.port, &["hkeys", "chatty:{room:a}:sent"]);
        fields.sort();
        fields
    };
    for (who, connection) in [("amy", "c1"), ("bob", "c2")] {
        store
            .join(&room("a"), &member(connection, who), true, T0_MS)
            .await
            .unwrap();
    }
    let send =
        |who: &'static str, connection: &'static str, client_id: &'static str, at_ms: i64| {
            let store = &store;
            async move {
                let appended = store
                    .append(
                        &ConnectionId(connection.into()),
                        message("a", who, client_id, t0() + Duration::milliseconds(at_ms)),
                        Some(check),
                    )
                    .await
                    .unwrap();
                assert!(
                    matches!(appended, Appended::FanOut { retry: false, .. }),
                    "{who}'s {client_id}: {appended:?}"
                );
            }
        };
    send("amy", "c1", "x0", 0).await;
    send("amy", "c1", "x1", 1).await;
    assert_eq!(index(), [" send amy", " table", "x0 amy", "x1 amy"]);
    // Trimmed while Amy's bucket is still refilling: her field stays, or she would have her burst back.
    send("bob", "c2", "y0", 2).await;
    assert_eq!(
        index(),
        [" send amy", " send bob", " table", "x1 amy", "y0 bob"]
    );
    // Trimmed once her bucket is full again (1.5 s refills 3 tokens): the field goes with the key.
    send("bob", "c2", "y1", 2_000).await;
    assert_eq!(index(), [" send bob", " table", "y0 bob", "y1 bob"]);
    // Bob's own trimmed message keeps his field: this send wrote it again.
    send("bob", "c2", "y2", 4_000).await;
    assert_eq!(index(), [" send bob", " table", "y1 bob", "y2 bob"]);
}
