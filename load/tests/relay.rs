//! The baseline relay, started in process, driven by the same generator: it must deliver everything too,
//! or the ratio the benchmark prints would compare Chatty with a relay that cuts corners.

use std::time::Duration;

use chatty_load::{
    generator::{self, LoadConfig},
    relay,
    tally::Plan,
    target::Target,
    tokens::TokenSource,
};
use tokio::net::TcpListener;

/// Six clients in two rooms through the relay: every message reaches every member of its room (the
/// sender included) exactly once, and no other room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_delivers_everything_once() {
    let relay = relay::start(TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
    let target = Target::parse(&relay.ws_url()).unwrap();
    let plan = Plan {
        members: 6,
        rooms: 2,
        messages: 120,
    };
    let config = LoadConfig {
        max_send: Duration::from_secs(5),
        drain: Duration::from_secs(5),
        ..LoadConfig::unlimited(plan)
    };
    let report = generator::run(&target, &TokenSource::None, &config)
        .await
        .unwrap();
    assert_eq!(report.delivered, 120 * 3, "{report}");
    assert!(report.is_clean(), "{report}");
    relay.stop();
}

/// The relay refuses to listen anywhere but loopback.
#[tokio::test]
async fn the_relay_listens_on_loopback_only() {
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    assert!(relay::start(listener).is_err());
}
