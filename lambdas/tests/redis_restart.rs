//! A Redis node restarted mid-run, as a crash and a restart would do it (SIGKILL, then the same command line
//! on the same port): the registry reconnects by itself, a call during the outage fails within a bounded
//! time instead of hanging, and new operations work again afterwards without opening a new registry. The
//! servers keep nothing on disk, so what the restarted node held is gone (docs/aws.md says what the product
//! promises about that).

mod common;

use std::time::{Duration, Instant};

use lambdas::{
    adapters::redis::{RedisRegistry, Topology},
    ports::{Appended, Member, NewMessage, Registry, RegistryError},
};
use protocol::{ClientId, ConnectionId, RoomName, User};
use time::OffsetDateTime;

/// How long a call may take while its node is down: a few quick retries, each bounded by the response
/// timeout, then an error.
const OUTAGE_BOUND: Duration = Duration::from_secs(15);

/// How long the registry may take to serve again once its node is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);

const NOW_MS: u64 = 1_732_550_400_000;

fn member(connection: &str) -> Member {
    Member {
        connection_id: ConnectionId(connection.into()),
        user: User {
            id: format!("user-{connection}"),
            name: format!("User {connection}"),
            picture: None,
        },
    }
}

fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

/// Joins `connection` to `room_name` (creating it) and stores one message from it there.
async fn join_and_send(
    store: &RedisRegistry,
    room_name: &str,
    connection: &str,
) -> Result<(), RegistryError> {
    let member = member(connection);
    store.join(&room(room_name), &member, true, NOW_MS).await?;
    let appended = store
        .append(
            &member.connection_id,
            NewMessage {
                room: room(room_name),
                client_id: ClientId::new(format!("{connection}-1")).unwrap(),
                author: member.user.clone(),
                body: "hello".into(),
                sent_at: OffsetDateTime::now_utc(),
            },
            None,
        )
        .await?;
    assert!(matches!(appended, Appended::FanOut { .. }), "{appended:?}");
    Ok(())
}

/// Calls `members` while the node is down: it must fail, and within [`OUTAGE_BOUND`].
async fn assert_fails_quickly(store: &RedisRegistry, room_name: &str) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(OUTAGE_BOUND * 2, store.members(&room(room_name)))
        .await
        .expect("a call during the outage must not hang");
    assert!(
        outcome.is_err(),
        "a call with its node down must fail: {outcome:?}"
    );
    assert!(
        started.elapsed() < OUTAGE_BOUND,
        "the failure took {:?}",
        started.elapsed()
    );
}

/// Retries a join and a send (as the command queue would redeliver them) until they succeed; returns how
/// long that took, failing past [`RECOVERY_BOUND`].
async fn recovers(store: &RedisRegistry, room_name: &str, connection: &str) -> Duration {
    let started = Instant::now();
    loop {
        match join_and_send(store, room_name, connection).await {
            Ok(()) => return started.elapsed(),
            Err(error) => assert!(
                started.elapsed() < RECOVERY_BOUND,
                "still failing after {:?}: {error}",
                started.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A standalone `redis-server` killed and started again on its port: a call during the outage fails within
/// [`OUTAGE_BOUND`], the same registry serves again by itself, and the restarted server (no persistence)
/// has forgotten the rooms.
#[tokio::test]
async fn a_restarted_server_is_reconnected() {
    let mut server = common::redis_server();
    let store = RedisRegistry::open(&server.redis_url()).await.unwrap();
    join_and_send(&store, "general", "c1").await.unwrap();

    server.kill();
    assert_fails_quickly(&store, "general").await;
    server.start_again();

    let took = recovers(&store, "other", "c2").await;
    println!("standalone: serving again {took:?} after the restart");
    assert_eq!(
        store.members(&room("other")).await.unwrap().members,
        [member("c2")]
    );
    assert_eq!(
        store.members(&room("general")).await.unwrap().members,
        [],
        "a server without persistence comes back empty"
    );
}

/// A standalone `redis-server` that hangs (frozen: connections open, no answers): a call fails within
/// [`OUTAGE_BOUND`] through the response timeout rather than waiting forever, and once the server answers
/// again the same registry serves, with everything it held.
#[tokio::test]
async fn a_hung_server_times_out() {
    let server = common::redis_server();
    let store = RedisRegistry::open(&server.redis_url()).await.unwrap();
    join_and_send(&store, "general", "c1").await.unwrap();

    server.freeze(true);
    assert_fails_quickly(&store, "general").await;
    server.freeze(false);

    recovers(&store, "general", "c2").await;
    assert_eq!(
        store.members(&room("general")).await.unwrap().members,
        [member("c1"), member("c2")]
    );
}

/// A cluster master that hangs: a call for a room on it fails within [`OUTAGE_BOUND`] rather than waiting
/// forever, and the same registry serves it again once the master answers.
#[tokio::test]
async fn a_hung_cluster_master_times_out() {
    let cluster = common::redis_cluster();
    let store = RedisRegistry::open_with(&cluster.seed_url(), Topology::Cluster)
        .await
        .unwrap();
    join_and_send(&store, "general", "c1").await.unwrap();
    let node = node_holding(&cluster, "chatty:{room:general}:members");

    cluster.nodes[node].freeze(true);
    assert_fails_quickly(&store, "general").await;
    cluster.nodes[node].freeze(false);
    cluster.wait_until_ok();

    recovers(&store, "general", "c2").await;
    assert_eq!(
        store.members(&room("general")).await.unwrap().members,
        [member("c1"), member("c2")]
    );
}

/// The node of a three-master cluster that holds a room's slot: the one that answers for its key itself
/// rather than redirecting.
fn node_holding(cluster: &common::RedisCluster, key: &str) -> usize {
    cluster
        .nodes
        .iter()
        .position(|node| common::redis_cli(node.port, &["exists", key]).trim() == "1")
        .unwrap_or_else(|| panic!("no node holds {key}"))
}

/// One master of a cluster killed and started again with its `nodes.conf`: a call for a room on it fails
/// within [`OUTAGE_BOUND`]; once the cluster is whole again the same registry serves that room again by
/// itself (its slots came back empty), and a room on another master kept its members.
#[tokio::test]
async fn a_restarted_cluster_master_is_reconnected() {
    let mut cluster = common::redis_cluster();
    let store = RedisRegistry::open_with(&cluster.seed_url(), Topology::Cluster)
        .await
        .unwrap();
    // Rooms until two of them live on different masters.
    let mut rooms: Vec<(String, usize)> = Vec::new();
    for i in 0.. {
        let name = format!("room-{i}");
        join_and_send(&store, &name, &format!("c{i}"))
            .await
            .unwrap();
        let node = node_holding(&cluster, &format!("chatty:{{room:{name}}}:members"));
        rooms.push((name, node));
        if rooms.iter().any(|(_, other)| *other != rooms[0].1) {
            break;
        }
    }
    let (victim_room, victim) = rooms[0].clone();
    let (survivor_room, _) = rooms
        .iter()
        .find(|(_, node)| *node != victim)
        .cloned()
        .unwrap();

    cluster.nodes[victim].kill();
    assert_fails_quickly(&store, &victim_room).await;
    cluster.nodes[victim].start_again();
    cluster.wait_until_ok();

    let took = recovers(&store, &victim_room, "back").await;
    println!("cluster: serving the restarted master's room again {took:?} after its restart");
    assert_eq!(
        store.members(&room(&victim_room)).await.unwrap().members,
        [member("back")],
        "the restarted master came back empty for its slots"
    );
    assert_eq!(
        store
            .members(&room(&survivor_room))
            .await
            .unwrap()
            .members
            .len(),
        1,
        "a room on another master keeps its members"
    );
}
