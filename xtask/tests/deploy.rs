//! `cargo xtask deploy` end to end, short of AWS: the binary runs with `--dry-run` on a built-app stand-in and a
//! `describe-stacks` fixture shaped like the real answer (tests/fixtures/describe-stacks.json). Also checks that
//! template.yaml declares what the deploy reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use protocol::AppConfig;
use xtask::{app_config, outputs::StackOutputs};

const FIXTURE: &str = include_str!("fixtures/describe-stacks.json");

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// A fresh directory standing in for `app/dist` after `trunk build --release`.
fn built_app(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!DOCTYPE html><html><head></head><body>\n<script type=\"module\">\n\
         import init from '/chatty-app-1f2e3d4c5b6a7980.js';\n\
         const wasm = await init({ module_or_path: '/chatty-app-1f2e3d4c5b6a7980_bg.wasm' });\n\
         </script></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.join("chatty-app-1f2e3d4c5b6a7980.js"),
        "export default 1;",
    )
    .unwrap();
    std::fs::write(dir.join("chatty-app-1f2e3d4c5b6a7980_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
    dir
}

fn dry_run(dist: &Path) -> String {
    let fixture = repo_root().join("xtask/tests/fixtures/describe-stacks.json");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["deploy", "--dry-run", "--outputs"])
        .arg(&fixture)
        .arg("--dist")
        .arg(dist)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The stack's outputs become the app's config.json, readable as the app's own `AppConfig`.
#[test]
fn config_json_comes_from_the_stack_outputs() {
    let dist = built_app("config");
    dry_run(&dist);
    let written: AppConfig =
        serde_json::from_str(&std::fs::read_to_string(dist.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        written.ws_url,
        "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
    );
    let auth = &written.auth;
    let base = "https://chatty-123456789012.auth.eu-west-1.amazoncognito.com";
    assert_eq!(auth.authorize_url, format!("{base}/oauth2/authorize"));
    assert_eq!(auth.token_url, format!("{base}/oauth2/token"));
    assert_eq!(auth.logout_url, format!("{base}/logout"));
    assert_eq!(auth.client_id, "4a5b6c7d8e9f0a1b2c3d4e5f6a");
    assert_eq!(auth.identity_provider.as_deref(), Some("Google"));
    assert_eq!(auth.scopes, "openid email profile");
}

/// The plan builds offline, deploys, uploads every file with its caching, `index.html` last, and invalidates
/// only the two files that are not content-hashed.
#[test]
fn the_plan_publishes_index_html_last() {
    let dist = built_app("plan");
    let stdout = dry_run(&dist);
    let commands: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once("[deploy]\x1b[0m ").map(|(_, c)| c))
        .filter(|c| c.starts_with("trunk ") || c.starts_with("sam ") || c.starts_with("aws "))
        .collect();
    assert_eq!(commands[0], "trunk build --release --offline");
    assert_eq!(commands[1], "sam build");
    assert_eq!(commands[2], "sam deploy --stack-name chatty");
    let uploads: Vec<&str> = commands
        .iter()
        .copied()
        .filter(|c| c.starts_with("aws s3 cp"))
        .collect();
    assert_eq!(
        uploads.len(),
        6,
        "js, wasm, favicon, boot script, config.json, index.html: {uploads:#?}"
    );
    let bucket = "s3://chatty-sitebucket-1a2b3c4d5e6f/";
    assert!(
        uploads[5].contains(&format!("{bucket}index.html"))
            && uploads[5].contains("--cache-control no-cache")
    );
    assert!(
        uploads[4].contains(&format!("{bucket}config.json"))
            && uploads[4].contains("--cache-control no-cache")
    );
    let wasm = uploads.iter().find(|c| c.contains("_bg.wasm")).unwrap();
    assert!(wasm.contains("--content-type application/wasm"));
    assert!(wasm.contains("'public, max-age=31536000, immutable'"));
    assert!(uploads
        .iter()
        .any(|c| c.contains(&format!("{bucket}boot-"))));
    assert_eq!(
        *commands.last().unwrap(),
        "aws cloudfront create-invalidation --distribution-id E2ABCDEFGHIJKL --paths /index.html /config.json"
    );
    assert!(!std::fs::read_to_string(dist.join("index.html"))
        .unwrap()
        .contains("import init"));
}

/// Every output the deploy reads is declared in template.yaml, and the scopes config.json asks for are the
/// ones the app client allows.
#[test]
fn template_declares_what_the_deploy_reads() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let outputs = format!(
        "\n{}",
        template
            .split("\nOutputs:\n")
            .nth(1)
            .expect("template.yaml has Outputs")
    );
    for key in xtask::outputs::READ_KEYS {
        assert!(
            outputs.contains(&format!("\n  {key}:\n")),
            "template.yaml has no output {key}"
        );
    }
    let scopes = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedOAuthScopes: "))
        .expect("the app client lists its scopes");
    let allowed: Vec<&str> = scopes
        .trim_matches(['[', ']'])
        .split(',')
        .map(str::trim)
        .collect();
    let asked: Vec<&str> = app_config::SCOPES.split(' ').collect();
    assert_eq!(allowed, asked);
    assert!(template.contains(&format!(
        "ProviderName: {}\n",
        app_config::IDENTITY_PROVIDER
    )));
}

/// The fixture parses and maps in-process too (the same code the binary runs).
#[test]
fn fixture_maps_in_process() {
    let outputs = StackOutputs::from_describe_stacks(FIXTURE).unwrap();
    let config = app_config::from_outputs(&outputs).unwrap();
    let json = app_config::to_json(&config);
    let back: AppConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config);
}
