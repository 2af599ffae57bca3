//! `cargo xtask deploy` end to end, short of AWS: the binary runs with `--dry-run` on a built-app stand-in and a
//! `describe-stacks` fixture shaped like the real answer (tests/fixtures/describe-stacks.json). Also checks that
//! template.yaml declares what the deploy reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use protocol::AppConfig;
use tempfile::TempDir;
use xtask::{app_config, outputs::StackOutputs};

const FIXTURE: &str = include_str!("fixtures/describe-stacks.json");

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// A fresh directory standing in for `app/dist` after `trunk build --release`, removed when dropped.
fn built_app() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!DOCTYPE html><html><head></head><body>\n<script type=\"module\">\n\
         import init from '/chatty-app-1f2e3d4c5b6a7980.js';\n\
         const wasm = await init({ module_or_path: '/chatty-app-1f2e3d4c5b6a7980_bg.wasm' });\n\
         </script></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("chatty-app-1f2e3d4c5b6a7980.js"),
        "export default 1;",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("chatty-app-1f2e3d4c5b6a7980_bg.wasm"),
        b"\0asm",
    )
    .unwrap();
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("xtask/tests/fixtures").join(name)
}

/// Runs `cargo xtask deploy` with `args`, with no program on `PATH`: nothing it could start would run.
fn xtask(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("deploy")
        .args(args)
        .env("PATH", "")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The plan `--dry-run` prints for a built app in `dist`, with the describe-stacks fixture, the committed
/// samconfig.toml's settings (no region saved) unless `extra` says otherwise.
fn dry_run_with(dist: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--dry-run".as_ref(), "--outputs".as_ref()];
    let outputs = fixture("describe-stacks.json");
    let committed = repo_root().join("samconfig.toml");
    args.push(outputs.as_os_str());
    args.extend(["--dist".as_ref(), dist.as_os_str()]);
    if !extra.contains(&"--config-file") {
        args.extend(["--config-file".as_ref(), committed.as_os_str()]);
    }
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let (ok, stdout, stderr) = xtask(&args);
    assert!(ok, "{stdout}\n{stderr}");
    stdout
}

fn dry_run(dist: &Path) -> String {
    dry_run_with(dist, &[])
}

/// The commands a plan would run, in order.
fn commands(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.split_once("[deploy]\x1b[0m ").map(|(_, c)| c))
        .filter(|c| c.starts_with("trunk ") || c.starts_with("sam ") || c.starts_with("aws "))
        .collect()
}

/// A fresh directory standing in for `.aws-sam/build` after `sam build`, removed when dropped.
fn sam_build() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("template.yaml"), "Resources: {}\n").unwrap();
    dir
}

/// The stack's outputs become the app's config.json, readable as the app's own `AppConfig`.
#[test]
fn config_json_comes_from_the_stack_outputs() {
    let app = built_app();
    let dist = app.path();
    dry_run(dist);
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

/// The plan builds offline, deploys, uploads every file with its caching and a brotli copy of each beside it,
/// `index.html` (and its copy) last, and invalidates only the two files that are not content-hashed and their
/// copies.
#[test]
fn the_plan_publishes_index_html_last() {
    let app = built_app();
    let dist = app.path();
    let stdout = dry_run(dist);
    let commands = commands(&stdout);
    let config = repo_root().join("samconfig.toml");
    let config = config.display();
    assert_eq!(commands[0], "trunk build --release --offline");
    assert_eq!(commands[1], format!("sam build --config-file {config}"));
    assert_eq!(
        commands[2],
        format!("sam deploy --stack-name chatty --config-file {config}")
    );
    let uploads: Vec<&str> = commands
        .iter()
        .copied()
        .filter(|c| c.starts_with("aws s3 cp"))
        .collect();
    assert_eq!(
        uploads.len(),
        12,
        "js, wasm, favicon, boot script, config.json, index.html, each with its copy: {uploads:#?}"
    );
    let bucket = "s3://chatty-sitebucket-1a2b3c4d5e6f/";
    for (upload, key) in uploads[8..].iter().zip([
        "config.json ",
        "config.json.br ",
        "index.html ",
        "index.html.br ",
    ]) {
        assert!(
            upload.contains(&format!("{bucket}{key}"))
                && upload.contains("--cache-control no-cache"),
            "{upload}"
        );
    }
    let wasm = uploads.iter().find(|c| c.contains("_bg.wasm ")).unwrap();
    assert!(wasm.contains("--content-type application/wasm"));
    assert!(wasm.contains("'public, max-age=31536000, immutable'"));
    assert!(!wasm.contains("--content-encoding"));
    let copy = uploads.iter().find(|c| c.contains("_bg.wasm.br ")).unwrap();
    assert!(
        copy.contains("--content-type application/wasm")
            && copy.contains("'public, max-age=31536000, immutable'")
            && copy.contains("--content-encoding br"),
        "{copy}"
    );
    let page = uploads[11];
    assert!(
        page.contains("--content-type 'text/html; charset=utf-8'")
            && page.contains("--content-encoding br")
    );
    assert!(uploads
        .iter()
        .any(|c| c.contains(&format!("{bucket}boot-"))));
    assert_eq!(
        *commands.last().unwrap(),
        "aws cloudfront create-invalidation --distribution-id E2ABCDEFGHIJKL --paths /index.html \
         /index.html.br /config.json /config.json.br"
    );
    assert!(!std::fs::read_to_string(dist.join("index.html"))
        .unwrap()
        .contains("import init"));
    assert!(dist.join("index.html.br").is_file());
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

/// Every `sam deploy` and `aws` command uses the region `sam deploy --guided` saved in samconfig.toml, not the
/// environment's default (the child's AWS configuration is not even consulted: nothing runs).
#[test]
fn every_aws_command_uses_the_saved_region() {
    let app = built_app();
    let dist = app.path();
    let guided = fixture("samconfig-guided.toml");
    let stdout = dry_run_with(dist, &["--config-file", guided.to_str().unwrap()]);
    let account_commands: Vec<&str> = commands(&stdout)
        .into_iter()
        .filter(|c| c.starts_with("aws ") || c.starts_with("sam deploy"))
        .collect();
    assert!(account_commands.len() >= 8, "{stdout}");
    for command in &account_commands {
        assert!(command.ends_with("--region eu-west-1"), "{command}");
    }
    assert!(stdout.contains("aws apigateway get-account --output json --region eu-west-1"));
}

/// `--region` overrides the saved region, for every command.
#[test]
fn the_region_flag_wins() {
    let app = built_app();
    let dist = app.path();
    let guided = fixture("samconfig-guided.toml");
    let stdout = dry_run_with(
        dist,
        &[
            "--config-file",
            guided.to_str().unwrap(),
            "--region",
            "us-west-2",
        ],
    );
    assert!(!stdout.contains("eu-west-1 "), "{stdout}");
    for command in commands(&stdout)
        .into_iter()
        .filter(|c| c.starts_with("aws ") || c.starts_with("sam deploy"))
    {
        assert!(command.ends_with("--region us-west-2"), "{command}");
    }
}

/// A real deploy with no region anywhere stops before running anything, and says how to give one.
#[test]
fn no_region_is_refused_before_anything_runs() {
    let sam = sam_build();
    let build = sam.path();
    let committed = repo_root().join("samconfig.toml");
    let (ok, stdout, stderr) = xtask(&[
        "--no-build".as_ref(),
        "--build-dir".as_ref(),
        build.as_os_str(),
        "--config-file".as_ref(),
        committed.as_os_str(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no region") && stderr.contains("--guided --region"),
        "{stderr}"
    );
    assert!(commands(&stdout).is_empty(), "{stdout}");
}

/// `--no-build` without a build is refused, naming the missing template, before anything runs (a plain
/// `sam deploy` would otherwise deploy template.yaml with the source tree as every function's code).
#[test]
fn no_build_without_a_build_is_refused() {
    let app = built_app();
    let dist = app.path();
    let nothing = tempfile::tempdir().unwrap();
    let missing = nothing.path().join("build");
    let guided = fixture("samconfig-guided.toml");
    let (ok, stdout, stderr) = xtask(&[
        "--dry-run".as_ref(),
        "--no-build".as_ref(),
        "--build-dir".as_ref(),
        missing.as_os_str(),
        "--config-file".as_ref(),
        guided.as_os_str(),
        "--dist".as_ref(),
        dist.as_os_str(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("--no-build, but there is no build"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}", missing.join("template.yaml").display())),
        "{stderr}"
    );
    assert!(commands(&stdout).is_empty(), "{stdout}");
}

/// With a build, `--no-build` deploys that build's template and builds nothing.
#[test]
fn no_build_deploys_the_existing_build() {
    let app = built_app();
    let dist = app.path();
    let sam = sam_build();
    let build = sam.path();
    let guided = fixture("samconfig-guided.toml");
    let stdout = dry_run_with(
        dist,
        &[
            "--no-build",
            "--build-dir",
            build.to_str().unwrap(),
            "--config-file",
            guided.to_str().unwrap(),
        ],
    );
    let commands = commands(&stdout);
    assert!(
        commands[0].starts_with(&format!(
            "sam deploy --stack-name chatty --template-file {}/template.yaml",
            build.display()
        )),
        "{commands:#?}"
    );
    assert!(!commands
        .iter()
        .any(|c| c.starts_with("trunk ") || c.starts_with("sam build")));
}
