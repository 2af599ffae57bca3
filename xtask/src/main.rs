//! `cargo xtask <command>`: the project's commands (see `xtask::` for the layout, `docs/deploy.md` for use).

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{bail, Context, Result};
use lambdas::adapters::sqs::SqsQueue;
use time::OffsetDateTime;
use xtask::{
    account::ApiGatewayLogging,
    app_config,
    deploy::{self, Options, Step},
    kick,
    outputs::{
        StackOutputs, COMMAND_QUEUE_URL, GOOGLE_REDIRECT_URI, SITE_URL, USER_POOL_ID,
        WEB_SOCKET_URL,
    },
    samconfig, shrink, site, size,
    smoke::{self, Check, IdToken, Outcome, Target, Tokens},
};

const USAGE: &str = "\
usage: cargo xtask deploy [OPTIONS]   build, deploy and publish the stack (cargo xtask deploy --help)
       cargo xtask smoke [OPTIONS]    check the deployed chat end to end (cargo xtask smoke --help)
       cargo xtask kick USER          sign a person out everywhere (cargo xtask kick --help)
       cargo xtask size [OPTIONS]     what a first visit downloads, against its budget (cargo xtask size --help)
       cargo xtask shrink-app [DIR]   trims the built app; trunk runs it after every build (cargo xtask shrink-app --help)
";

const DEPLOY_USAGE: &str = "\
usage: cargo xtask deploy [--guided] [--stack-name NAME] [--region REGION] [--profile PROFILE]
                          [--config-file SAMCONFIG] [--build-dir DIR] [--no-build] [--dry-run]
                          [--outputs DESCRIBE_STACKS_JSON] [--dist DIR]

Builds the app (trunk) and the functions (sam build), deploys the stack (sam deploy), writes
app/dist/config.json from the stack's outputs and uploads app/dist to the site bucket.

  --guided        sam deploy --guided: asks for the Google client id and secret (the first deploy needs it)
  --stack-name    the CloudFormation stack (default: chatty)
  --region        the stack's region (default: the one sam deploy --guided saved in samconfig.toml; the
                  first deploy needs it); every sam and aws command gets it
  --config-file   SAM's settings (default: samconfig.toml)
  --build-dir     where sam build puts the functions (default: .aws-sam/build)
  --no-build      publish what is already built; skip trunk build and sam build (refused without a build)
  --dry-run       run nothing that needs AWS or a build: print the commands instead (local files in --dist
                  are still rewritten: the loader script and config.json)
  --outputs FILE  read the stack outputs from this `aws cloudformation describe-stacks` JSON instead of AWS
  --dist DIR      the built app (default: app/dist)
";

const SMOKE_USAGE: &str = "\
usage: cargo xtask smoke [--stack-name NAME] [--region REGION] [--profile PROFILE] [--config-file SAMCONFIG]
                         [--outputs DESCRIBE_STACKS_JSON] [--token-a ID_TOKEN --token-b ID_TOKEN]
       cargo xtask smoke --url ws://127.0.0.1:8080/ws

Two test clients sign in to the chat and check it end to end, one line per check with its time: both
connect; both join a fresh room and see each other in presence; a message from A comes back to A (same
client_id) and reaches B; history returns it; typing from A reaches B; ping gets pong; a bad frame gets an
error frame and the socket stays usable; A disconnects and B's presence drops A. Empty text frames are
noted, not failed. Ends within two minutes, non-zero if any check failed.

  --url URL       test this WebSocket URL instead of the stack's: ws://HOST:PORT/ws for chatty-local, whose
                  POST /dev/token gives the two tokens (a wss:// URL needs the tokens below)
  --token-a TOKEN the ID token of test user A, --token-b of test user B (Cognito's: docs/deploy.md, \"After
  --token-b TOKEN deploying\", shows how to get them). Better: set CHATTY_SMOKE_TOKEN_A and
                  CHATTY_SMOKE_TOKEN_B, which keeps them out of shell history. Never printed or stored
  --stack-name    the stack whose WebSocketURL output is tested (default: chatty)
  --region        the stack's region (default: the one saved in samconfig.toml)
  --profile       the AWS CLI profile that reads the stack's outputs
  --config-file   SAM's settings, for the saved region (default: samconfig.toml)
  --outputs FILE  read the stack outputs from this `aws cloudformation describe-stacks` JSON instead of AWS
";

const KICK_USAGE: &str = "\
usage: cargo xtask kick USER [--stack-name NAME] [--region REGION] [--profile PROFILE]
                             [--config-file SAMCONFIG] [--outputs DESCRIBE_STACKS_JSON]

Signs a person out of the deployed chat everywhere: Cognito's global sign-out revokes their refresh
tokens, and the registry's kick command (queued on the stack's command queue) closes every connection
they have with `signed_out` and refuses new ones until the ID tokens issued before it have expired
(60 minutes). USER is their Cognito username (Google_...) or their email.

  --stack-name    the stack (default: chatty)
  --region        the stack's region (default: the one saved in samconfig.toml)
  --profile       the AWS profile to act with (it needs cognito-idp:AdminGetUser, ListUsers,
                  AdminUserGlobalSignOut on the pool and sqs:SendMessage on the command queue)
  --config-file   SAM's settings, for the saved region (default: samconfig.toml)
  --outputs FILE  read the stack outputs from this `aws cloudformation describe-stacks` JSON instead of AWS
";

const SIZE_USAGE: &str = "\
usage: cargo xtask size [--dist DIR] [--budget BYTES]

What a first visit to the app downloads, file by file, as `cargo xtask deploy` would publish the built app:
every file of DIR (trunk's inline loader moved into a file of its own) and config.json (the example stack's,
xtask/tests/fixtures, when DIR has none), each counted as the brotli copy (quality 11) the deploy uploads and
CloudFront serves to browsers that accept it. Prints one line per file and the total; exits non-zero when the
total is over the budget. Writes nothing.

  --dist DIR      the built app (default: app/dist, from `trunk build --release --offline`)
  --budget BYTES  the most a first visit may download (default: 200000, xtask::size::BUDGET)
";

const SHRINK_USAGE: &str = "\
usage: cargo xtask shrink-app [DIR]

Trims the app trunk built in DIR (default: $TRUNK_STAGING_DIR, where Trunk.toml's post_build hook runs it
after every `trunk build`, else app/dist): the wasm's imports named by position instead of wasm-bindgen's
hashed names, in the wasm and its JS glue; the JS classes of wasm-streams, which the app never uses, with the
code only they reach; the wasm's custom sections; then binaryen's `wasm-opt` and the glue through terser (not
for trunk's debug builds); the stylesheets without comments and ignorable whitespace; and the page's integrity
hashes for the new files. An app already shrunk is left as it is.
wasm-opt is binaryen's and terser is terser's, from npm, installed by `scripts/setup app` (CHATTY_WASM_OPT and
CHATTY_TERSER name others).
app/README.md, \"Size\".
";

struct Args {
    options: Options,
    dry_run: bool,
    outputs: Option<PathBuf>,
    /// `None`: the repository's `app/dist`.
    dist: Option<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut parsed = Args {
        options: Options::default(),
        dry_run: false,
        outputs: None,
        dist: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--guided" => parsed.options.guided = true,
            "--no-build" => parsed.options.no_build = true,
            "--dry-run" => parsed.dry_run = true,
            "--stack-name" => parsed.options.stack_name = value("--stack-name")?,
            "--region" => parsed.options.region = Some(value("--region")?),
            "--profile" => parsed.options.profile = Some(value("--profile")?),
            "--config-file" => {
                parsed.options.config_file = Some(path_text(absolute(value("--config-file")?)?));
            }
            "--build-dir" => {
                parsed.options.build_dir = Some(path_text(absolute(value("--build-dir")?)?));
            }
            "--outputs" => parsed.outputs = Some(absolute(value("--outputs")?)?),
            "--dist" => parsed.dist = Some(absolute(value("--dist")?)?),
            other => bail!("unknown option {other}\n\n{DEPLOY_USAGE}"),
        }
    }
    Ok(parsed)
}

struct SmokeArgs {
    /// Only the stack's name, region, profile and SAM config file are used.
    options: Options,
    outputs: Option<PathBuf>,
    url: Option<String>,
    token_a: Option<String>,
    token_b: Option<String>,
}

fn parse_smoke(mut args: impl Iterator<Item = String>) -> Result<SmokeArgs> {
    let mut parsed = SmokeArgs {
        options: Options::default(),
        outputs: None,
        url: None,
        token_a: None,
        token_b: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--stack-name" => parsed.options.stack_name = value("--stack-name")?,
            "--region" => parsed.options.region = Some(value("--region")?),
            "--profile" => parsed.options.profile = Some(value("--profile")?),
            "--config-file" => {
                parsed.options.config_file = Some(path_text(absolute(value("--config-file")?)?));
            }
            "--outputs" => parsed.outputs = Some(absolute(value("--outputs")?)?),
            "--url" => parsed.url = Some(value("--url")?),
            "--token-a" => parsed.token_a = Some(value("--token-a")?),
            "--token-b" => parsed.token_b = Some(value("--token-b")?),
            other => bail!("unknown option {other}\n\n{SMOKE_USAGE}"),
        }
    }
    Ok(parsed)
}

struct KickArgs {
    /// Only the stack's name, region, profile and SAM config file are used.
    options: Options,
    outputs: Option<PathBuf>,
    user: String,
}

fn parse_kick(mut args: impl Iterator<Item = String>) -> Result<KickArgs> {
    let mut options = Options::default();
    let mut outputs = None;
    let mut user = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--stack-name" => options.stack_name = value("--stack-name")?,
            "--region" => options.region = Some(value("--region")?),
            "--profile" => options.profile = Some(value("--profile")?),
            "--config-file" => {
                options.config_file = Some(path_text(absolute(value("--config-file")?)?));
            }
            "--outputs" => outputs = Some(absolute(value("--outputs")?)?),
            other if other.starts_with('-') => bail!("unknown option {other}\n\n{KICK_USAGE}"),
            other if user.is_none() => user = Some(other.to_owned()),
            other => bail!("one person at a time ({other} is a second)\n\n{KICK_USAGE}"),
        }
    }
    let user = user.with_context(|| format!("name the person\n\n{KICK_USAGE}"))?;
    Ok(KickArgs {
        options,
        outputs,
        user,
    })
}

struct SizeArgs {
    /// `None`: the repository's `app/dist`.
    dist: Option<PathBuf>,
    budget: usize,
}

fn parse_size(mut args: impl Iterator<Item = String>) -> Result<SizeArgs> {
    let mut parsed = SizeArgs {
        dist: None,
        budget: size::BUDGET,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--dist" => parsed.dist = Some(absolute(value("--dist")?)?),
            "--budget" => {
                let budget = value("--budget")?;
                parsed.budget = budget
                    .parse()
                    .with_context(|| format!("--budget takes a number of bytes, not {budget}"))?;
            }
            other => bail!("unknown option {other}\n\n{SIZE_USAGE}"),
        }
    }
    Ok(parsed)
}

/// Paths given on the command line are relative to where the command was typed, not the repository root.
fn absolute(path: String) -> Result<PathBuf> {
    Ok(std::env::current_dir()?.join(path))
}

fn path_text(path: PathBuf) -> String {
    path.to_string_lossy().into_owned()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let args: Vec<String> = args.collect();
    let wants_help = args.iter().any(|a| a == "-h" || a == "--help");
    let result = match command.as_deref() {
        Some("deploy") if wants_help => {
            print!("{DEPLOY_USAGE}");
            Ok(())
        }
        Some("smoke") if wants_help => {
            print!("{SMOKE_USAGE}");
            Ok(())
        }
        Some("kick") if wants_help => {
            print!("{KICK_USAGE}");
            Ok(())
        }
        Some("size") if wants_help => {
            print!("{SIZE_USAGE}");
            Ok(())
        }
        Some("shrink-app") if wants_help => {
            print!("{SHRINK_USAGE}");
            Ok(())
        }
        Some("shrink-app") => run_shrink(&args),
        Some("deploy") => parse(args.into_iter()).and_then(|args| run_deploy(&args)),
        Some("kick") => parse_kick(args.into_iter()).and_then(run_kick),
        Some("smoke") => parse_smoke(args.into_iter()).and_then(run_smoke),
        Some("size") => parse_size(args.into_iter()).and_then(|args| run_size(&args)),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command {other}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_deploy(args: &Args) -> Result<()> {
    let mut options = args.options.clone();
    let runner = Runner {
        dry_run: args.dry_run,
    };
    // Everything runs from the repository root: Trunk.toml, template.yaml and samconfig.toml are there.
    let root = repository_root();
    std::env::set_current_dir(root)?;
    let dist = args.dist.clone().unwrap_or_else(|| root.join("app/dist"));
    let samconfig_path = options
        .config_file
        .as_ref()
        .map_or_else(|| root.join("samconfig.toml"), PathBuf::from);

    // Everything that can refuse does so before anything runs.
    deploy::require_build(&options, root)?;
    let saved = read_samconfig(&samconfig_path)?;
    if options.region.is_none() {
        options.region = samconfig::saved_region(&saved)?;
    }
    match &options.region {
        Some(region) => say(&format!("region {region}")),
        None if args.dry_run => say("no region saved yet: the commands below would need --region"),
        None => bail!(
            "no region: {} has none saved yet. The first deploy is \
             `cargo xtask deploy --guided --region REGION`; sam deploy --guided saves it for later deploys",
            samconfig_path.display()
        ),
    }

    runner.run_all(&deploy::build_app(&options))?;
    let moved = site::externalize_in_dist(&dist)?;
    if !moved.is_empty() {
        say(&format!(
            "moved the inline loader into {}",
            moved.join(", ")
        ));
    }
    let logging = if args.dry_run {
        say(&format!(
            "would decide ConfigureApiGatewayLogging with: {} and {}",
            deploy::describe_stack(&options),
            deploy::get_account(&options)
        ));
        None
    } else {
        let stack = runner.capture_unless_missing(&deploy::describe_stack(&options))?;
        let account = runner.capture(&deploy::get_account(&options))?;
        let decided = ApiGatewayLogging::decide(stack.as_deref(), &account)?;
        say(&decided.explain());
        Some(decided)
    };
    let overrides = samconfig::saved_parameter_overrides(&saved)?;
    runner.run_all(&deploy::deploy_stack(
        &options,
        &overrides,
        logging.as_ref(),
    ))?;
    // A guided deploy may have saved another region than the one it was offered; the stack is there.
    if options.guided && args.options.region.is_none() && !args.dry_run {
        if let Some(region) = samconfig::saved_region(&read_samconfig(&samconfig_path)?)? {
            options.region = Some(region);
        }
    }
    let options = &options;

    let outputs = match &args.outputs {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        }
        None if args.dry_run => {
            say(&format!(
                "would read the outputs with: {}",
                deploy::describe_stack(options)
            ));
            say("pass --outputs FILE to see the rest of the plan");
            return Ok(());
        }
        None => runner.capture(&deploy::describe_stack(options))?,
    };
    let outputs = StackOutputs::from_describe_stacks(&outputs)?;

    let config = app_config::from_outputs(&outputs)?;
    let config_path = dist.join("config.json");
    std::fs::write(&config_path, app_config::to_json(&config))?;
    say(&format!("wrote {}", config_path.display()));
    let compressed = site::precompress_in_dist(&dist)?;
    say(&format!(
        "compressed {} files with brotli (quality {}), for browsers that accept it",
        compressed.len(),
        site::BROTLI_QUALITY
    ));

    let files = site::files_in_upload_order(&dist)?;
    runner.run_all(&deploy::publish(options, &outputs, &files)?)?;

    say(&format!("the app: {}", outputs.get(SITE_URL)?));
    say(&format!(
        "Google's OAuth client must list this authorised redirect URI: {}",
        outputs.get(GOOGLE_REDIRECT_URI)?
    ));
    say("check it end to end: cargo xtask smoke (docs/deploy.md, \"After deploying\")");
    Ok(())
}

/// Trims the built app in the given directory, trunk's staging directory or `app/dist`.
fn run_shrink(args: &[String]) -> Result<()> {
    let dist = match args {
        [] => match std::env::var_os("TRUNK_STAGING_DIR") {
            Some(staging) => PathBuf::from(staging),
            None => repository_root().join("app/dist"),
        },
        [dir] => absolute(dir.clone())?,
        _ => bail!("shrink-app takes one directory at most\n\n{SHRINK_USAGE}"),
    };
    // trunk's debug builds are for reading, and large: no wasm-opt, no terser.
    let release = match std::env::var("TRUNK_PROFILE").as_deref() {
        Ok("debug") => None,
        _ => Some(shrink::ReleaseTools::find()?),
    };
    let line = match shrink::shrink_dist(&dist, release.as_ref())? {
        Some(shrunk) => format!(
            "wasm {} -> {} bytes, JS glue {} -> {} bytes, CSS {} -> {} bytes{} ({})",
            shrunk.wasm.0,
            shrunk.wasm.1,
            shrunk.js.0,
            shrunk.js.1,
            shrunk.css.0,
            shrunk.css.1,
            if release.is_some() {
                format!(", wasm-opt {}, terser", shrink::WASM_OPT_PASSES.join(" "))
            } else {
                String::new()
            },
            dist.display()
        ),
        None => format!("already shrunk, nothing to do ({})", dist.display()),
    };
    announce("shrink-app", &line);
    Ok(())
}

/// Measures the first visit; fails above the budget.
fn run_size(args: &SizeArgs) -> Result<()> {
    let root = repository_root();
    let dist = args.dist.clone().unwrap_or_else(|| root.join("app/dist"));
    let example = root.join("xtask/tests/fixtures/describe-stacks.json");
    let outputs = std::fs::read_to_string(&example)
        .with_context(|| format!("reading {}", example.display()))?;
    let config = app_config::from_outputs(&StackOutputs::from_describe_stacks(&outputs)?)?;
    let downloads = size::first_visit(&dist, &app_config::to_json(&config))?;
    print!("{}", size::report(&downloads, args.budget));
    let total = size::total(&downloads);
    if total > args.budget {
        bail!(
            "a first visit downloads {total} bytes, over the budget of {}: app/README.md, \"Size\", says \
             what takes the space and how it was measured",
            args.budget
        );
    }
    Ok(())
}

/// The URL (given, or the stack's `WebSocketURL`), the tokens (given, from the environment, or the local
/// gateway's), then every check, printed as it ends.
fn run_smoke(args: SmokeArgs) -> Result<()> {
    let ws_url = match &args.url {
        Some(url) => url.clone(),
        None => stack_ws_url(&args)?,
    };
    let given = |flag: &Option<String>, variable: &str| {
        flag.clone()
            .or_else(|| std::env::var(variable).ok())
            .filter(|token| !token.is_empty())
    };
    let tokens = match (
        given(&args.token_a, "CHATTY_SMOKE_TOKEN_A"),
        given(&args.token_b, "CHATTY_SMOKE_TOKEN_B"),
    ) {
        (Some(a), Some(b)) => Tokens::Given {
            a: IdToken::new(a),
            b: IdToken::new(b),
        },
        (None, None) => Tokens::DevToken,
        _ => bail!("give both tokens (--token-a and --token-b, or CHATTY_SMOKE_TOKEN_A and _B), or neither"),
    };
    let target = Target::new(&ws_url, tokens)?;
    let smoke_say = |line: &str| announce("smoke", line);
    smoke_say(&format!(
        "{}, tokens from {}",
        target.ws_url,
        target.token_source()
    ));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(smoke::run(&target, |check| {
        smoke_say(&check_line(check));
    }));
    for finding in &report.findings {
        smoke_say(&format!("NOTE  {finding}"));
    }
    if !report.all_passed() {
        let count = |wanted: fn(&Outcome) -> bool| {
            report.checks.iter().filter(|c| wanted(&c.outcome)).count()
        };
        bail!(
            "{} of {} checks failed, {} did not run",
            count(|o| matches!(o, Outcome::Failed(_))),
            report.checks.len(),
            count(|o| matches!(o, Outcome::Skipped(_)))
        );
    }
    smoke_say(&format!("all {} checks passed", report.checks.len()));
    Ok(())
}

/// `PASS  both connect  412 ms  A and B`
fn check_line(check: &Check) -> String {
    let (status, detail) = match &check.outcome {
        Outcome::Passed(detail) => ("PASS", detail),
        Outcome::Failed(reason) => ("FAIL", reason),
        Outcome::Skipped(reason) => ("SKIP", reason),
    };
    format!(
        "{status}  {:<57} {:>6} ms  {detail}",
        check.name,
        check.elapsed.as_millis()
    )
}

/// The stack's `WebSocketURL`.
fn stack_ws_url(args: &SmokeArgs) -> Result<String> {
    Ok(stack_outputs(&args.options, args.outputs.as_deref())?
        .get(WEB_SOCKET_URL)?
        .to_owned())
}

/// The stack's outputs, from `outputs` (a describe-stacks JSON file) or `aws cloudformation
/// describe-stacks` in the stack's region (given, or saved in samconfig.toml).
fn stack_outputs(options: &Options, outputs: Option<&Path>) -> Result<StackOutputs> {
    let json = match outputs {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        }
        None => {
            let options = with_saved_region(options)?;
            if options.region.is_none() {
                bail!("no region: pass --region (or --url), or deploy first so samconfig.toml has one");
            }
            Runner { dry_run: false }.capture(&deploy::describe_stack(&options))?
        }
    };
    StackOutputs::from_describe_stacks(&json)
}

/// `options` with the region samconfig.toml saved when none was given.
fn with_saved_region(options: &Options) -> Result<Options> {
    let mut options = options.clone();
    if options.region.is_none() {
        let samconfig_path = options
            .config_file
            .as_ref()
            .map_or_else(|| repository_root().join("samconfig.toml"), PathBuf::from);
        options.region = samconfig::saved_region(&read_samconfig(&samconfig_path)?)?;
    }
    Ok(options)
}

/// The stack's pool and command queue, then [`kick::kick`] with the operator's credentials.
fn run_kick(args: KickArgs) -> Result<()> {
    let options = with_saved_region(&args.options)?;
    let outputs = stack_outputs(&options, args.outputs.as_deref())?;
    let pool = outputs.get(USER_POOL_ID)?.to_owned();
    let queue_url = outputs.get(COMMAND_QUEUE_URL)?.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let kicked = runtime.block_on(async {
        let mut loader = lambdas::adapters::aws::sdk_loader();
        if let Some(region) = options.region.clone() {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        let sdk = loader.load().await;
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
        let commands = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), queue_url);
        kick::kick(
            &cognito,
            &commands,
            &pool,
            &args.user,
            OffsetDateTime::now_utc(),
        )
        .await
    })?;
    let until = kicked
        .until
        .format(&time::format_description::well_known::Rfc3339)?;
    announce(
        "kick",
        &format!(
            "{} (user id {}) is signed out: refresh tokens revoked, connections closing, new ones refused until {until}",
            kicked.person.username, kicked.person.user_id
        ),
    );
    Ok(())
}

fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is in the repository")
}

fn read_samconfig(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

struct Runner {
    dry_run: bool,
}

impl Runner {
    fn run_all(&self, steps: &[Step]) -> Result<()> {
        for step in steps {
            say(&step.to_string());
            if self.dry_run {
                continue;
            }
            let status = command(step).status().with_context(|| missing_tool(step))?;
            if !status.success() {
                bail!("`{step}` failed ({status})");
            }
        }
        Ok(())
    }

    fn capture(&self, step: &Step) -> Result<String> {
        say(&step.to_string());
        let output = command(step)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| missing_tool(step))?;
        if !output.status.success() {
            bail!("`{step}` failed ({})", output.status);
        }
        String::from_utf8(output.stdout).context("the command printed something other than UTF-8")
    }

    /// Like [`Runner::capture`], but a stack that does not exist (yet) is `None`, not a failure.
    fn capture_unless_missing(&self, step: &Step) -> Result<Option<String>> {
        say(&step.to_string());
        let output = command(step).output().with_context(|| missing_tool(step))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            return Ok(Some(
                String::from_utf8(output.stdout)
                    .context("the command printed something other than UTF-8")?,
            ));
        }
        if stderr.contains("does not exist") {
            return Ok(None);
        }
        eprint!("{stderr}");
        bail!("`{step}` failed ({})", output.status)
    }
}

fn command(step: &Step) -> Command {
    let mut command = Command::new(step.program);
    command.args(&step.args);
    command
}

fn missing_tool(step: &Step) -> String {
    format!(
        "could not start `{}`; docs/deploy.md lists what to install",
        step.program
    )
}

fn say(line: &str) {
    announce("deploy", line);
}

fn announce(tag: &str, line: &str) {
    println!("\x1b[1;34m[{tag}]\x1b[0m {line}");
}
