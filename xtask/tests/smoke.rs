//! `cargo xtask smoke` against a real `chatty-local` started in this process on an ephemeral loopback port:
//! the library run passes every check, and the command prints a line per check, exits non-zero when a check
//! fails, and never prints the tokens it was given.

use std::process::{Command, Output};

use chatty_local::{Running, Settings};
use tokio::net::TcpListener;
use xtask::smoke::{self, Outcome, Target, Tokens, CHECKS};

/// A local gateway as `chatty-local` runs by default: in-memory pipeline, rate limits on.
async fn gateway() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    chatty_local::start(listener, Settings::default())
        .await
        .unwrap()
}

/// Runs `cargo xtask smoke ARGS` with `env`, off the runtime so the in-process gateway keeps serving.
async fn xtask_smoke(args: Vec<String>, env: Vec<(&'static str, String)>) -> (Output, String) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("smoke")
            .args(args)
            .env_remove("CHATTY_SMOKE_TOKEN_A")
            .env_remove("CHATTY_SMOKE_TOKEN_B")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, printed)
}

/// Every check passes against the local gateway, with tokens from its `POST /dev/token`, in the documented
/// order.
#[tokio::test]
async fn every_check_passes_against_the_local_gateway() {
    let gateway = gateway().await;
    let target = Target::new(&gateway.ws_url(), Tokens::DevToken).unwrap();
    let mut seen = Vec::new();
    let report = smoke::run(&target, |check| seen.push(check.name)).await;
    for check in &report.checks {
        assert!(
            matches!(check.outcome, Outcome::Passed(_)),
            "{}: {:?}",
            check.name,
            check.outcome
        );
    }
    assert!(report.all_passed());
    assert_eq!(seen, CHECKS, "each check reported as it ended, in order");
    gateway.stop();
}

/// The command, given two users' tokens in the environment (as on AWS), prints one PASS line per check with
/// its time, exits 0, and prints neither token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_passes_with_given_tokens_and_never_prints_them() {
    let gateway = gateway().await;
    let (token_a, token_b) = (
        gateway.signin.id_token("smoke alice"),
        gateway.signin.id_token("smoke bob"),
    );
    let (output, printed) = xtask_smoke(
        vec!["--url".into(), gateway.ws_url()],
        vec![
            ("CHATTY_SMOKE_TOKEN_A", token_a.clone()),
            ("CHATTY_SMOKE_TOKEN_B", token_b.clone()),
        ],
    )
    .await;
    assert!(output.status.success(), "{printed}");
    for name in CHECKS {
        let line = printed
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{printed}"));
        assert!(line.contains("PASS") && line.contains(" ms"), "{line}");
    }
    assert!(printed.contains("smoke alice, smoke bob"), "{printed}");
    assert!(
        !printed.contains(&token_a) && !printed.contains(&token_b),
        "a token was printed:\n{printed}"
    );
    gateway.stop();
}

/// Tokens the gateway refuses fail the first check, skip the rest and exit non-zero, still without printing
/// the tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_fail_the_run() {
    let gateway = gateway().await;
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmb3JnZWQifQ.";
    let (output, printed) = xtask_smoke(
        vec![
            "--url".into(),
            gateway.ws_url(),
            "--token-a".into(),
            forged.into(),
            "--token-b".into(),
            forged.into(),
        ],
        Vec::new(),
    )
    .await;
    assert!(!output.status.success(), "{printed}");
    assert!(printed.contains("FAIL  both connect"), "{printed}");
    assert!(printed.contains("HTTP 401"), "{printed}");
    assert_eq!(
        printed.matches("SKIP").count(),
        CHECKS.len() - 1,
        "{printed}"
    );
    assert!(!printed.contains(forged), "a token was printed:\n{printed}");
    gateway.stop();
}

/// Without `--url` the stack's `WebSocketURL` output is tested; a `wss://` URL needs the two users' tokens,
/// and says where to find out how to get them.
#[tokio::test]
async fn the_stack_url_needs_given_tokens() {
    let outputs = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/describe-stacks.json"
    );
    let (output, printed) = xtask_smoke(vec!["--outputs".into(), outputs.into()], Vec::new()).await;
    assert!(!output.status.success(), "{printed}");
    assert!(
        printed.contains("CHATTY_SMOKE_TOKEN_A") && printed.contains("docs/deploy.md"),
        "{printed}"
    );
}
