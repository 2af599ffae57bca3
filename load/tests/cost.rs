//! `chatty-load cost`, briefly, against real servers (moto's SQS, a `redis-server`, the local gateway in
//! the production shape): the counts it prices are real and agree with one another. No timing assertions.

use std::path::Path;

use chatty_load::{
    cost::{self, CostOptions, CostStore, Measured, Scenario},
    tally::Plan,
};

fn scenario(name: &str, members: usize, rooms: usize) -> Scenario {
    Scenario {
        name: name.to_owned(),
        plan: Plan {
            members,
            rooms,
            messages: 20,
        },
        rate: 20.0,
    }
}

/// What every scenario's counts must say, `size` being its rooms' size.
fn assert_consistent(row: &Measured, size: u64) {
    let (report, usage) = (&row.report, &row.usage);
    let m = report.messages_sent;
    assert_eq!(m, 20, "{row}");
    assert_eq!(report.deliveries_expected, m * size, "{row}");
    assert_eq!((report.lost, report.unexpected), (0, 0), "{row}");
    // API Gateway: one frame in and one invocation of the gateway per message, one frame out per member
    // of the room, each through `@connections`; nobody connected. Moto now and then hands a queue message
    // to two concurrent long polls: each command handed out again is fanned out again (up to one more
    // frame per member), each delivery handed out again is posted again (as many), and the clients count
    // the copies they saw before the run ended as duplicates.
    assert_eq!(usage.api.frames_in, m, "{row}");
    assert_eq!(usage.gateway.invocations, m, "{row}");
    let handed_out_again = usage.commands.received.saturating_sub(m)
        + usage
            .deliveries
            .received
            .saturating_sub(usage.deliveries.sent);
    let extra = usage
        .api
        .frames_out
        .checked_sub(report.deliveries_expected)
        .expect("fewer frames out than deliveries expected");
    assert!(extra <= handed_out_again * size, "{row}");
    assert!(report.duplicated <= extra, "{row}");
    assert_eq!(usage.api.posts, usage.api.frames_out, "{row}");
    assert_eq!(usage.authorizer.invocations, 0, "{row}");
    assert!(usage.api.connection_ms > 0, "{row}");
    // SQS: one SendMessageBatch per inbound frame; each command and each delivery received at least once
    // (moto's repeats again); every batch the registry or the sender consumed is one invocation, settled
    // by one delete; every call is billed as one request (nothing here is over 64 KB).
    assert_eq!(usage.commands.send_calls, m, "{row}");
    assert_eq!(usage.commands.sent, m, "{row}");
    assert!(usage.commands.received >= m, "{row}");
    assert!(usage.deliveries.sent >= m, "{row}");
    assert!(usage.deliveries.received >= usage.deliveries.sent, "{row}");
    for (queue, function) in [
        (&usage.commands, &usage.registry),
        (&usage.deliveries, &usage.sender),
    ] {
        let batches = queue.receive_calls - queue.empty_receives;
        assert_eq!(function.invocations, batches, "{row}");
        assert_eq!(queue.delete_calls, batches, "{row}");
        assert!(batches >= 1 && batches <= queue.received, "{row}");
        assert_eq!(
            queue.requests,
            queue.send_calls + queue.receive_calls + queue.delete_calls,
            "{row}"
        );
        assert!(function.billed_ms >= function.invocations, "{row}");
    }
    assert!(row.redis.commands() > 0, "{row}");
    assert!(row.redis.bytes_in > 0 && row.redis.bytes_out > 0, "{row}");
    // The bill: the floor is the room's size in dollars per million messages (one $1-per-million message
    // per member), and everything else adds to it.
    assert!((row.bill.floor - size as f64).abs() < 1e-9, "{row}");
    assert!(row.bill.total > row.bill.floor, "{row}");
    assert!(row.bill.ratio() > 1.0, "{row}");
}

/// Two rooms of 2 and a room of 10, twenty messages each, through moto's SQS, Redis and the management
/// API: every count the bill prices is what the traffic implies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brief_cost_run_counts_every_billable_call() {
    let options = CostOptions {
        scenarios: vec![
            scenario("2 rooms of 2", 4, 2),
            scenario("1 room of 10", 10, 1),
        ],
        store: CostStore::Standalone,
        ..CostOptions::default()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let report = cost::run(&options, &root).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_consistent(&report.rows[0], 2);
    assert_consistent(&report.rows[1], 10);
    // The same message costs more than its floor, but less so in a larger room.
    assert!(
        report.rows[1].bill.ratio() < report.rows[0].bill.ratio(),
        "{report}"
    );
}
