//! The chat as AWS runs it: several registry and sender consumers at once (`--consumers 5`) and the faults
//! of `--chaos` (queue messages reordered, handed out twice, batches failing and coming back after the
//! visibility timeout, posts answering 429 or 500). Real WebSocket clients prove that a connection's
//! commands still apply in the order it sent them, and that nobody loses a message; and that the default
//! topology still delivers in order, once.
//!
//! Frames may arrive twice on the wire under chaos (a redelivered delivery, a re-applied send confirmed
//! again) and a room's messages may overtake one another; clients drop frames they have by id and sort by
//! id, so these tests check each person's view after that de-duplication.

mod common;

use common::servers;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use aws_sdk_sqs::types::QueueAttributeName;
use chatty_local::{Running, Settings, SqsSettings};
use common::{connect, gateway_on, Client};
use futures_util::future::join_all;
use lambdas::adapters::aws::sdk_config;
use protocol::{ChatMessage, ErrorCode, MessageId, ServerFrame};
use serde_json::json;

/// The fixed seed every chaos test runs with, so a failure can be replayed.
const SEED: u64 = 13;

fn chaos(settings: Settings) -> Settings {
    Settings {
        consumers: 5,
        chaos: Some(SEED),
        ..settings
    }
}

/// Each of `people` connects, sends `join` and then at once `sends` messages, without waiting for the
/// join's presence; then every one of them must see each of their own messages, and no error.
async fn join_then_send(gw: &Running, people: usize, sends: usize) {
    let mut clients = Vec::new();
    for p in 0..people {
        let mut client = connect(gw, &format!("person{p}")).await;
        client
            .send_json(json!({"action": "join", "room": "general"}))
            .await;
        for i in 0..sends {
            client
                .say("general", &format!("p{p}-{i}"), &format!("hello {i}"))
                .await;
        }
        clients.push(client);
    }
    for (p, client) in clients.iter_mut().enumerate() {
        let mine: Vec<String> = (0..sends).map(|i| format!("p{p}-{i}")).collect();
        read_messages(client, |seen| {
            mine.iter()
                .all(|id| seen.values().any(|m| m.client_id.as_str() == id))
        })
        .await;
    }
}

/// What one person saw of a room: its messages by id, and how the wire differed from that.
#[derive(Default)]
struct View {
    messages: BTreeMap<MessageId, ChatMessage>,
    /// Frames of a message already seen (allowed: clients drop them by id).
    duplicates: usize,
    /// Messages that arrived after one with a greater id (allowed: clients sort by id).
    overtaken: usize,
}

/// Reads frames until `done` holds for the messages seen (by id), failing on any error frame.
async fn read_messages(
    client: &mut Client,
    done: impl Fn(&BTreeMap<MessageId, ChatMessage>) -> bool,
) -> View {
    let mut view = View::default();
    while !done(&view.messages) {
        match client.recv().await {
            ServerFrame::Message(message) => {
                if view.messages.contains_key(&message.id) {
                    view.duplicates += 1;
                } else if view.messages.keys().next_back() > Some(&message.id) {
                    view.overtaken += 1;
                }
                view.messages.insert(message.id, message);
            }
            ServerFrame::Error { code, .. } => {
                assert_ne!(
                    code,
                    ErrorCode::NotAMember,
                    "{}: a send applied before its join",
                    client.name
                );
                panic!("{}: unexpected error {code:?}", client.name);
            }
            _ => {}
        }
    }
    view
}

/// With five consumers per queue and chaos, a connection that sends `join` and immediately several
/// `send`s never gets `not_a_member`: its commands apply in the order it sent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_then_send_is_never_refused_under_chaos() {
    let gw = gateway_on(chaos(Settings::default())).await;
    join_then_send(&gw, 8, 5).await;
}

/// The same over the production Redis registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_then_send_is_never_refused_under_chaos_on_redis() {
    let redis = servers::redis_server();
    let gw = gateway_on(chaos(Settings {
        redis_url: Some(redis.redis_url()),
        ..Settings::default()
    }))
    .await;
    join_then_send(&gw, 8, 5).await;
}

/// The same over SQS FIFO queues (moto) and Redis, the production adapters end to end: five pollers per
/// queue, and the FIFO queue's message groups (set by the SQS adapter) keep each connection's commands in
/// order. Batches failed by chaos stay on the queue and come back after its visibility timeout (1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_then_send_is_never_refused_over_sqs_fifo() {
    let redis = servers::redis_server();
    let moto = servers::moto_server();
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(Some(&moto.http_url())).await);
    let mut urls = Vec::new();
    for name in ["chaos-commands.fifo", "chaos-deliveries.fifo"] {
        let created = sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::VisibilityTimeout, "1")
            .send()
            .await
            .unwrap();
        urls.push(created.queue_url.unwrap());
    }
    let gw = gateway_on(chaos(Settings {
        redis_url: Some(redis.redis_url()),
        sqs: Some(SqsSettings {
            endpoint: moto.http_url(),
            command_queue_url: Some(urls[0].clone()),
            delivery_queue_url: Some(urls[1].clone()),
        }),
        ..Settings::default()
    }))
    .await;
    join_then_send(&gw, 4, 3).await;
}

/// Several people sending in one room under chaos: nobody loses a message; each person's view, after
/// dropping wire duplicates by id, holds every message exactly once, and with a `history` catch-up it is
/// the room's history itself: sorted by id, no gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_message_reaches_everyone_once_under_chaos() {
    const PEOPLE: usize = 5;
    const SENDS: usize = 20;
    let gw = gateway_on(chaos(Settings {
        rate_limits: chatty_local::RateLimits::Off,
        ..Settings::default()
    }))
    .await;
    let mut clients = Vec::new();
    for p in 0..PEOPLE {
        let mut client = connect(&gw, &format!("person{p}")).await;
        client.join("general").await;
        clients.push(client);
    }
    for i in 0..SENDS {
        for (p, client) in clients.iter_mut().enumerate() {
            client
                .say("general", &format!("p{p}-{i}"), &format!("message {i}"))
                .await;
        }
    }
    let (mut duplicates, mut overtaken) = (0, 0);
    for client in &mut clients {
        // Live frames alone bring every message: none is lost.
        let seen = read_messages(client, |seen| seen.len() == PEOPLE * SENDS).await;
        duplicates += seen.duplicates;
        overtaken += seen.overtaken;
        client
            .send_json(json!({"action": "history", "room": "general", "limit": 100}))
            .await;
        let ServerFrame::History {
            messages, has_more, ..
        } = client
            .recv_until(|f| matches!(f, ServerFrame::History { .. }))
            .await
        else {
            unreachable!()
        };
        assert!(!has_more);
        assert_eq!(messages.len(), PEOPLE * SENDS);
        assert!(messages.windows(2).all(|w| w[0].id < w[1].id));
        let view: Vec<&ChatMessage> = seen.messages.values().collect();
        let history: Vec<&ChatMessage> = messages.iter().collect();
        assert_eq!(
            view, history,
            "{}: the view is not the room's history",
            client.name
        );
    }
    eprintln!("on the wire: {duplicates} duplicate frames, {overtaken} messages overtaken");
}

/// One person on two connections joins rooms from both at once, under chaos on `gw`. Every `rooms` frame
/// either connection gets is a whole list, and they arrive in no promised order; what the app relies on is
/// that their revisions order them: a list with a higher revision holds every room of one with a lower
/// one (only joins happen here), the same revision means the same list, and the answer to a `rooms` asked
/// for at the end holds every room with the highest revision. Returns how many lists arrived after one
/// with a higher revision: what the app drops.
async fn lists_are_ordered_by_revision(gw: &Running) -> usize {
    const ROOMS_EACH: usize = 8;
    let mut a = connect(gw, "ann").await;
    let mut b = connect(gw, "ann").await;
    let mut all = BTreeSet::new();
    for i in 0..ROOMS_EACH {
        for (client, side) in [(&mut a, "a"), (&mut b, "b")] {
            let room = format!("{side}{i}");
            client
                .send_json(json!({"action": "join", "room": room}))
                .await;
            all.insert(room);
        }
    }
    let mut stale = 0;
    for client in [&mut a, &mut b] {
        let mut lists: Vec<(u64, BTreeSet<String>)> = Vec::new();
        let mut joined = BTreeSet::new();
        while joined.len() < ROOMS_EACH {
            match client.recv().await {
                ServerFrame::Rooms { rooms, rev } => {
                    lists.push((rev, rooms.iter().map(|e| e.room.to_string()).collect()));
                }
                ServerFrame::Presence { room, .. } => {
                    joined.insert(room);
                }
                ServerFrame::Error { code, .. } => panic!("{}: refused {code:?}", client.name),
                _ => {}
            }
        }
        client.send_json(json!({"action": "rooms"})).await;
        loop {
            // Lists caused by the other connection's joins may still come before the answer.
            let ServerFrame::Rooms { rooms, rev } = client
                .recv_until(|f| matches!(f, ServerFrame::Rooms { .. }))
                .await
            else {
                unreachable!()
            };
            let rooms: BTreeSet<String> = rooms.iter().map(|e| e.room.to_string()).collect();
            let done = rooms == all;
            lists.push((rev, rooms));
            if done {
                break;
            }
        }
        let newest = lists.iter().map(|(rev, _)| *rev).max().unwrap();
        assert_eq!(
            lists.last().unwrap().0,
            newest,
            "{}: the full list is the newest",
            client.name
        );
        stale += stale_arrivals(&client.name, &lists);
        for (rev, rooms) in &lists {
            for (other_rev, other) in lists.iter().filter(|(other_rev, _)| rev < other_rev) {
                assert!(
                    rooms.is_subset(other),
                    "{}: {rev} {rooms:?} is not in {other_rev} {other:?}",
                    client.name
                );
            }
        }
    }
    stale
}

/// Five people join and leave one room over and over at once, under chaos on `gw`, while an observer stays
/// in it. Every `presence` frame the observer gets is a whole list, in no promised order; what the app
/// relies on is that their revisions order them: the same revision means the same list, and once all is
/// done the list with the highest revision is the room as it is (the observer alone). Returns how many
/// lists arrived after one with a higher revision: what the app drops.
async fn presence_is_ordered_by_revision(gw: &Running) -> usize {
    const PEOPLE: usize = 5;
    const ROUNDS: usize = 3;
    let mut observer = connect(gw, "olga").await;
    observer.join("busy").await;
    let mut people = Vec::new();
    for p in 0..PEOPLE {
        people.push(connect(gw, &format!("person{p}")).await);
    }
    join_all(people.iter_mut().map(|person| async move {
        for _ in 0..ROUNDS {
            person.join("busy").await;
            person
                .send_json(json!({"action": "leave", "room": "busy"}))
                .await;
        }
    }))
    .await;
    let mut lists: Vec<(u64, Vec<String>)> = Vec::new();
    // Until nothing more comes for longer than a failed batch takes to come back.
    while let Some(frame) = observer.try_recv(Duration::from_secs(2)).await {
        if let ServerFrame::Presence { members, rev, .. } = frame {
            lists.push((rev, members.iter().map(|u| u.name.clone()).collect()));
        }
    }
    let newest = lists.iter().max_by_key(|(rev, _)| *rev).unwrap();
    assert_eq!(newest.1, ["olga"], "the newest list is the room as it is");
    stale_arrivals(&observer.name, &lists)
}

/// Whole lists as `who` got them, in order, with their revisions: asserts one revision is one list, and
/// counts the lists that arrived after one with a higher revision (what the app drops).
fn stale_arrivals<T: PartialEq + std::fmt::Debug>(who: &str, lists: &[(u64, T)]) -> usize {
    let mut stale = 0;
    for (i, (rev, list)) in lists.iter().enumerate() {
        stale += usize::from(lists[..i].iter().any(|(earlier, _)| earlier > rev));
        for (other_rev, other) in lists.iter().filter(|(other_rev, _)| other_rev == rev) {
            assert_eq!(list, other, "{who}: one revision {other_rev}, two lists");
        }
    }
    stale
}

/// Runs `check` on a gateway under chaos in memory, then on one over a three-master Redis cluster; what
/// the two runs counted, together.
async fn in_memory_and_on_a_cluster(check: impl AsyncFn(&Running) -> usize) -> usize {
    let in_memory = check(&gateway_on(chaos(Settings::default())).await).await;
    let cluster = servers::redis_cluster();
    let on_cluster = gateway_on(chaos(Settings {
        redis_url: Some(cluster.seed_url()),
        redis_cluster: true,
        ..Settings::default()
    }))
    .await;
    in_memory + check(&on_cluster).await
}

/// A person's lists under chaos, in memory and on a three-master Redis cluster: their revisions order
/// them however they arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_persons_lists_are_ordered_by_revision_under_chaos() {
    let stale = in_memory_and_on_a_cluster(lists_are_ordered_by_revision).await;
    eprintln!("{stale} lists arrived after a newer one (the app drops them)");
}

/// A room's presence under chaos, in memory and on a three-master Redis cluster: its revisions order the
/// lists however they arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rooms_presence_is_ordered_by_revision_under_chaos() {
    let stale = in_memory_and_on_a_cluster(presence_is_ordered_by_revision).await;
    eprintln!("{stale} presence lists arrived after a newer one (the app drops them)");
}

/// The default topology (one in-order consumer per queue, no chaos) is unchanged: messages sent back to
/// back arrive once each, in the order they were sent, with growing ids.
#[tokio::test]
async fn the_default_topology_delivers_in_order_once() {
    let gw = gateway_on(Settings {
        rate_limits: chatty_local::RateLimits::Off,
        ..Settings::default()
    })
    .await;
    let mut alice = connect(&gw, "alice").await;
    alice.join("general").await;
    for i in 0..30 {
        alice.say("general", &format!("a-{i}"), "hi").await;
    }
    let mut ids = Vec::new();
    for i in 0..30 {
        let message = alice.next_message().await;
        assert_eq!(message.client_id.as_str(), format!("a-{i}"));
        ids.push(message.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    alice.expect_silence().await;
}
