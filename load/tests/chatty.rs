//! The load generator against Chatty's local gateway, started in process: a few clients for a moment,
//! through the whole handler pipeline, and nothing may go missing or arrive twice. No timing assertions.

use std::time::Duration;

use chatty_load::{
    generator::{self, IdlePool, LoadConfig},
    tally::Plan,
    target::Target,
    tokens::TokenSource,
};
use tokio::net::TcpListener;

/// The gateway as the bench serves it: without the per-person rate limits (the caps stay).
async fn gateway() -> (chatty_local::Running, Target) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = chatty_local::Settings {
        rate_limits: chatty_local::RateLimits::Off,
        ..chatty_local::Settings::default()
    };
    let running = chatty_local::start(listener, settings).await.unwrap();
    let target = Target::parse(&running.ws_url()).unwrap();
    (running, target)
}

fn quick(plan: Plan) -> LoadConfig {
    LoadConfig {
        max_send: Duration::from_secs(5),
        drain: Duration::from_secs(5),
        ..LoadConfig::unlimited(plan)
    }
}

/// Six clients in two rooms, every one sending as fast as the gateway takes it: every message reaches
/// every member of its room exactly once, and no other room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_unlimited_run_loses_and_duplicates_nothing() {
    let (running, target) = gateway().await;
    let plan = Plan {
        members: 6,
        rooms: 2,
        messages: 120,
    };
    let report = generator::run(&target, &TokenSource::dev_token(&target), &quick(plan))
        .await
        .unwrap();
    assert_eq!(report.messages_sent, 120, "{report}");
    assert_eq!(report.deliveries_expected, 120 * 3, "{report}");
    assert_eq!(report.delivered, report.deliveries_expected, "{report}");
    assert_eq!(
        (report.lost, report.duplicated, report.unexpected),
        (0, 0, 0),
        "{report}"
    );
    running.stop();
}

/// A paced run beside idle connections (which join nothing) is just as complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_run_beside_idle_connections_is_complete() {
    let (running, target) = gateway().await;
    let tokens = TokenSource::dev_token(&target);
    let idle = IdlePool::open(&target, &tokens, 20).await.unwrap();
    let plan = Plan {
        members: 4,
        rooms: 1,
        messages: 20,
    };
    let config = LoadConfig {
        rate: Some(40.0),
        ..quick(plan)
    };
    let report = generator::run(&target, &tokens, &config).await.unwrap();
    assert_eq!(idle.len(), 20);
    idle.close().await;
    assert_eq!(report.delivered, 20 * 4, "{report}");
    assert!(report.is_clean(), "{report}");
    assert!(!report.send_timed_out, "{report}");
    running.stop();
}
