//! End to end through the production adapters: WebSocket clients talk to the local gateway running the full
//! pipeline over a real `redis-server` (the registry), moto's SQS (both queues, polled like Lambda's event
//! source mapping) and the AWS SDK's management API client posting back to the gateway's `@connections`.
//! A message fans out to every member, a stale connection is forgotten, and nothing is lost or shown twice
//! when a command is delivered again.

mod common;

use common::servers;

use std::{collections::BTreeSet, time::Duration};

use chatty_local::{Running, Settings, SqsSettings};
use common::{connect, gateway_on, names, Client};
use lambdas::{
    adapters::{aws::sdk_config, sqs::SqsQueue},
    ports::Queue,
};
use protocol::{ClientFrame, ClientId, Command, ConnectionId, RoomName, ServerFrame, User};

struct Stack {
    gateway: Running,
    commands: SqsQueue<Command>,
    redis: redis::aio::MultiplexedConnection,
    _redis_server: servers::Server,
    _moto: servers::Server,
}

async fn stack() -> Stack {
    let redis_server = servers::redis_server();
    let moto = servers::moto_server();
    let sdk = sdk_config(Some(&moto.http_url())).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut urls = Vec::new();
    for name in ["e2e-commands", "e2e-deliveries"] {
        let created = sqs.create_queue().queue_name(name).send().await.unwrap();
        urls.push(created.queue_url.unwrap());
    }
    let gateway = gateway_on(Settings {
        redis_url: Some(redis_server.redis_url()),
        sqs: Some(SqsSettings {
            endpoint: moto.http_url(),
            command_queue_url: Some(urls[0].clone()),
            delivery_queue_url: Some(urls[1].clone()),
        }),
        ..Settings::default()
    })
    .await;
    let redis = redis::Client::open(redis_server.redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    Stack {
        gateway,
        commands: SqsQueue::new(sqs, urls[0].clone()),
        redis,
        _redis_server: redis_server,
        _moto: moto,
    }
}

/// Connects and returns the new connection's id (the one the gateway did not have before).
async fn connect_new(gw: &Running, name: &str) -> (Client, ConnectionId) {
    let before = gw.connections.open_ids();
    let client = connect(gw, name).await;
    for _ in 0..100 {
        if let Some(id) = gw
            .connections
            .open_ids()
            .into_iter()
            .find(|id| !before.contains(id))
        {
            return (client, id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name}'s connection never opened");
}

/// Every `message` frame until two seconds pass without one: their (id, client id) pairs.
async fn copies(client: &mut Client) -> Vec<(String, String)> {
    let mut got = Vec::new();
    while let Ok(m) = tokio::time::timeout(Duration::from_secs(2), client.next_message()).await {
        got.push((m.id.to_string(), m.client_id.to_string()));
    }
    got
}

/// The ids of the copies of the message with `client_id`.
fn ids_of<'a>(copies: &'a [(String, String)], client_id: &str) -> BTreeSet<&'a String> {
    copies
        .iter()
        .filter(|(_, c)| c == client_id)
        .map(|(id, _)| id)
        .collect()
}

/// Waits for `count` `message` frames and then for silence; returns their (id, client id) pairs.
async fn messages(client: &mut Client, count: usize) -> Vec<(String, String)> {
    let mut got = Vec::new();
    for _ in 0..count {
        let m = client.next_message().await;
        got.push((m.id.to_string(), m.client_id.to_string()));
    }
    // Longer than the in-memory tests' quiet wait: a duplicate would come back through two queue polls.
    let quiet = tokio::time::timeout(Duration::from_secs(2), client.next_message()).await;
    assert!(
        quiet.is_err(),
        "{}: unexpected extra message {quiet:?}",
        client.name
    );
    got
}

/// Two people in a room: a member that exists only in the registry (its socket long gone) is forgotten on
/// its first 410 and the room's presence no longer lists it; a message fans out to both through Redis, SQS
/// and the SDK's management client; a send command delivered twice by the queue, and a send retried by
/// its client, are each stored once, and every copy that reaches a client carries the stored id.
#[tokio::test]
async fn chat_through_redis_sqs_and_the_management_api() {
    let mut stack = stack().await;
    let gw = &stack.gateway;
    let (mut alice, _) = connect_new(gw, "alice").await;
    let (mut bob, bob_id) = connect_new(gw, "bob").await;
    alice.join("general").await;
    let members = bob.join("general").await;
    assert_eq!(names(&members), ["alice", "bob"]);

    // A ghost: in the registry, in the room, but no socket (its $disconnect was lost).
    let ghost = User {
        id: "sub-ghost".into(),
        name: "ghost".into(),
        picture: None,
    };
    let general = RoomName::new("general").unwrap();
    stack
        .commands
        .send_all(vec![Command::Frame {
            connection_id: ConnectionId("GhostConnId=".into()),
            user: ghost,
            frame: ClientFrame::Join {
                room: general.clone(),
            },
            received_at: time::OffsetDateTime::now_utc(),
        }])
        .await
        .unwrap();
    let with_ghost = alice
        .recv_until(|f| matches!(f, ServerFrame::Presence { members, .. } if members.len() == 3))
        .await;
    assert!(matches!(with_ghost, ServerFrame::Presence { .. }));

    // The presence post to the ghost answered 410: it is forgotten, and presence says so.
    let after = alice
        .recv_until(|f| matches!(f, ServerFrame::Presence { members, .. } if members.len() == 2))
        .await;
    let ServerFrame::Presence { members, .. } = after else {
        unreachable!()
    };
    assert_eq!(names(&members), ["alice", "bob"]);
    let stored: Vec<String> = redis::cmd("HKEYS")
        .arg("chatty:{room:general}:members")
        .query_async(&mut stack.redis)
        .await
        .unwrap();
    assert!(!stored.contains(&"GhostConnId=".to_owned()), "{stored:?}");
    let ghost_keys: Vec<String> = redis::cmd("KEYS")
        .arg("chatty:{conn:GhostConnId=}*")
        .query_async(&mut stack.redis)
        .await
        .unwrap();
    assert!(ghost_keys.is_empty(), "{ghost_keys:?}");

    alice.say("general", "m1", "hello everyone").await;
    let for_alice = messages(&mut alice, 1).await;
    let for_bob = messages(&mut bob, 1).await;
    assert_eq!(
        for_alice, for_bob,
        "both see the same message, with the same id"
    );

    // SQS redelivers bob's send command: the same body twice on the queue. Each copy fans the one stored
    // message out (the first fan-out may not have finished), so every copy carries the same id.
    let send = Command::Frame {
        connection_id: bob_id,
        user: User {
            id: "sub-bob".into(),
            name: "bob".into(),
            picture: None,
        },
        frame: ClientFrame::Send {
            room: general,
            client_id: ClientId::new("b1").unwrap(),
            body: "said once".into(),
        },
        received_at: time::OffsetDateTime::now_utc(),
    };
    stack
        .commands
        .send_all(vec![send.clone(), send])
        .await
        .unwrap();
    // Alice's client retries m1 (it never saw its echo, say): the stored copy comes back, with its id.
    alice.say("general", "m1", "hello everyone").await;
    for client in [&mut alice, &mut bob] {
        let copies = copies(client).await;
        let b1: BTreeSet<&String> = ids_of(&copies, "b1");
        let m1: BTreeSet<&String> = ids_of(&copies, "m1");
        assert_eq!(b1.len(), 1, "{}: one id for b1: {copies:?}", client.name);
        assert!(
            !m1.is_empty() && m1.iter().all(|id| **id == for_alice[0].0),
            "{}: m1 again, with its first id: {copies:?}",
            client.name
        );
        assert!(
            copies.iter().all(|(_, c)| c == "b1" || c == "m1"),
            "{copies:?}"
        );
    }

    let history: usize = redis::cmd("XLEN")
        .arg("chatty:{room:general}:history")
        .query_async(&mut stack.redis)
        .await
        .unwrap();
    assert_eq!(history, 2, "m1 and b1 are each stored once");
}

/// `--redis-cluster`: the gateway keeps its registry on a three-master Redis Cluster (as ElastiCache
/// Serverless is cluster mode): people join, see each other and chat in rooms whose keys live on different
/// masters, and a disconnect reaches every room.
#[tokio::test]
async fn chat_over_a_redis_cluster() {
    let cluster = servers::redis_cluster();
    let gw = gateway_on(Settings {
        redis_url: Some(cluster.seed_url()),
        redis_cluster: true,
        ..Settings::default()
    })
    .await;
    let mut alice = connect(&gw, "alice").await;
    let mut bob = connect(&gw, "bob").await;
    let rooms = ["general", "rust", "random", "music"];
    for room in rooms {
        alice.join(room).await;
        let members = bob.join(room).await;
        assert_eq!(names(&members), ["alice", "bob"], "{room}");
    }
    for room in rooms {
        bob.say(room, &format!("hi-{room}"), "hello").await;
        let seen = alice
            .recv_until(|f| matches!(f, ServerFrame::Message(m) if m.room.as_str() == room))
            .await;
        assert!(
            matches!(seen, ServerFrame::Message(m) if m.client_id.as_str() == format!("hi-{room}"))
        );
    }
    let holding: Vec<u16> = cluster
        .nodes
        .iter()
        .map(|node| node.port)
        .filter(|port| servers::redis_cli(*port, &["dbsize"]).trim() != "0")
        .collect();
    assert!(holding.len() > 1, "keys on {holding:?} only");

    bob.close().await;
    for _ in rooms {
        let left = alice
            .recv_until(
                |f| matches!(f, ServerFrame::Presence { members, .. } if members.len() == 1),
            )
            .await;
        assert!(
            matches!(left, ServerFrame::Presence { members, .. } if names(&members) == ["alice"])
        );
    }
}
