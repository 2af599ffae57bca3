//! `cargo xtask <command>`: the project's commands (see `xtask::` for the layout, `docs/deploy.md` for use).

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{bail, Context, Result};
use xtask::{
    app_config,
    deploy::{self, Options, Step},
    outputs::{StackOutputs, GOOGLE_REDIRECT_URI, SITE_URL},
    site,
};

const USAGE: &str = "\
usage: cargo xtask deploy [--guided] [--stack-name NAME] [--region REGION] [--profile PROFILE]
                          [--no-build] [--dry-run] [--outputs DESCRIBE_STACKS_JSON] [--dist DIR]

Builds the app (trunk) and the functions (sam build), deploys the stack (sam deploy), writes
app/dist/config.json from the stack's outputs and uploads app/dist to the site bucket.

  --guided        sam deploy --guided: asks for the Google client id and secret (the first deploy needs it)
  --stack-name    the CloudFormation stack (default: chatty)
  --no-build      publish what is already built; skip trunk build and sam build
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
    let options = &args.options;
    let runner = Runner {
        dry_run: args.dry_run,
    };
    // Everything runs from the repository root: Trunk.toml, template.yaml and samconfig.toml are there.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is in the repository");
    std::env::set_current_dir(root)?;
    let dist = args.dist.clone().unwrap_or_else(|| root.join("app/dist"));

    runner.run_all(&deploy::build_app(options))?;
    let moved = site::externalize_in_dist(&dist)?;
    if !moved.is_empty() {
        say(&format!(
            "moved the inline loader into {}",
            moved.join(", ")
        ));
    }
    runner.run_all(&deploy::deploy_stack(options))?;

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
