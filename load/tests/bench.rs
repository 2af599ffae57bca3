//! One benchmark measurement, on a small scenario: the server child is charged the CPU it spent on the
//! messages, so the table's "server CPU" row is never a zero that could hide a cost.

use std::path::Path;

use chatty_load::{
    bench::{self, Runs, Scenario, ServerKind, Store},
    tally::Plan,
};

/// The relay child, driven with 400 messages in two rooms of five: everything arrives once, and the
/// child spent some CPU time on each message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measurement_charges_the_server_its_cpu_per_message() {
    let scenario = Scenario {
        name: "two rooms of five",
        plan: Plan {
            members: 10,
            rooms: 2,
            messages: 400,
        },
        rate: None,
        idle: 0,
        store: Store::Memory,
        memory_twin: None,
    };
    let program = Path::new(env!("CARGO_BIN_EXE_chatty-load"));
    let measured = bench::measure(program, &ServerKind::Relay, Vec::new(), &scenario, false)
        .await
        .unwrap();
    assert!(measured.report.is_clean(), "{}", measured.report);
    assert_eq!(measured.report.delivered, 400 * 5);
    assert!(
        measured.cpu_us_per_message > 0.0,
        "{}",
        measured.cpu_us_per_message
    );
    let runs = Runs(vec![measured]);
    assert!(runs.is_clean());
    assert!(runs.median(|m| Some(m.cpu_us_per_message)).unwrap() > 0.0);
}
