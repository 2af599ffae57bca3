//! `cargo xtask <command>`: the project's commands (see `xtask::` for the layout, `docs/deploy.md` for use).

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{bail, Context, Result};
use xtask::{
    account::ApiGatewayLogging,
    app_config,
    deploy::{self, Options, Step},
    outputs::{StackOutputs, GOOGLE_REDIRECT_URI, SITE_URL},
    samconfig, site,
};

const USAGE: &str = "\
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
            other => bail!("unknown option {other}\n\n{USAGE}"),
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
    let result = match args.next().as_deref() {
        Some("deploy") => parse(args).and_then(|args| run_deploy(&args)),
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is in the repository");
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

    let files = site::files_in_upload_order(&dist)?;
    runner.run_all(&deploy::publish(options, &outputs, &files)?)?;

    say(&format!("the app: {}", outputs.get(SITE_URL)?));
    say(&format!(
        "Google's OAuth client must list this authorised redirect URI: {}",
        outputs.get(GOOGLE_REDIRECT_URI)?
    ));
    Ok(())
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
    println!("\x1b[1;34m[deploy]\x1b[0m {line}");
}
