//! `cargo xtask deploy`, as data: the commands it runs, in order, built from the options and (for publishing)
//! the stack's outputs. `main.rs` runs them, or prints them with `--dry-run`.
//!
//! 1. [`build_app`]: `trunk build --release --offline` → `app/dist`, then (in `main.rs`) trunk's inline loader
//!    is moved into a file ([`crate::site`]).
//! 2. [`deploy_stack`]: `sam build` (cargo-lambda, arm64) and `sam deploy` (`--guided` the first time).
//! 3. [`describe_stack`]: the outputs, as JSON, from which `app/dist/config.json` is written
//!    ([`crate::app_config`]).
//! 4. [`publish`]: every file of `app/dist` to the site bucket with its caching and type, `index.html` last,
//!    then a CloudFront invalidation of the two files that are not content-hashed.

use std::fmt;

use anyhow::Result;

use crate::{
    outputs::{StackOutputs, DISTRIBUTION_ID, SITE_BUCKET_NAME},
    site::{content_type, Caching, SiteFile},
};

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub stack_name: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// `sam deploy --guided`: asks for the parameters (Google client id and secret) and saves all but the
    /// secret in samconfig.toml. Needed the first time.
    pub guided: bool,
    /// Skip `trunk build` and `sam build` (publish what is already built).
    pub no_build: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            stack_name: "chatty".to_owned(),
            region: None,
            profile: None,
            guided: false,
            no_build: false,
        }
    }
}

/// One command to run from the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: &'static str,
    pub args: Vec<String>,
}

impl Step {
    fn new(program: &'static str, args: &[&str]) -> Self {
        Self {
            program,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// `--region`/`--profile`, for the SAM and AWS CLIs alike (both spell them the same).
    fn account(mut self, options: &Options) -> Self {
        if let Some(region) = &options.region {
            self = self.arg("--region").arg(region);
        }
        if let Some(profile) = &options.profile {
            self = self.arg("--profile").arg(profile);
        }
        self
    }
}

/// Shell-quoted, so a printed plan can be pasted into a terminal.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program)?;
        for arg in &self.args {
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b));
            if plain {
                write!(f, " {arg}")?;
            } else {
                write!(f, " '{}'", arg.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}

/// The browser app, built offline (trunk must never download its tools; `scripts/setup app` installs them).
pub fn build_app(options: &Options) -> Vec<Step> {
    if options.no_build {
        return Vec::new();
    }
    vec![Step::new("trunk", &["build", "--release", "--offline"])]
}

/// The four functions (cargo-lambda through SAM, arm64) and the stack.
pub fn deploy_stack(options: &Options) -> Vec<Step> {
    let mut steps = Vec::new();
    if !options.no_build {
        steps.push(Step::new("sam", &["build"]));
    }
    let mut deploy = Step::new("sam", &["deploy", "--stack-name", &options.stack_name]);
    if options.guided {
        deploy = deploy.arg("--guided");
    }
    steps.push(deploy.account(options));
    steps
}

/// The stack's outputs as JSON (parsed by [`StackOutputs::from_describe_stacks`]).
pub fn describe_stack(options: &Options) -> Step {
    Step::new(
        "aws",
        &[
            "cloudformation",
            "describe-stacks",
            "--stack-name",
            &options.stack_name,
            "--output",
            "json",
        ],
    )
    .account(options)
}

/// Uploads `files` (already in upload order, see [`crate::site::files_in_upload_order`]) and invalidates the
/// entry points. Old hashed files stay in the bucket, so a page loaded before the deploy still finds its assets.
pub fn publish(options: &Options, outputs: &StackOutputs, files: &[SiteFile]) -> Result<Vec<Step>> {
    let bucket = outputs.get(SITE_BUCKET_NAME)?;
    let mut steps: Vec<Step> = files
        .iter()
        .map(|file| {
            Step::new("aws", &["s3", "cp"])
                .arg(file.path.to_string_lossy())
                .arg(format!("s3://{bucket}/{}", file.key))
                .arg("--cache-control")
                .arg(Caching::of(&file.key).header())
                .arg("--content-type")
                .arg(content_type(&file.key))
                .arg("--only-show-errors")
                .account(options)
        })
        .collect();
    steps.push(
        Step::new(
            "aws",
            &["cloudfront", "create-invalidation", "--distribution-id"],
        )
        .arg(outputs.get(DISTRIBUTION_ID)?)
        .arg("--paths")
        .arg("/index.html")
        .arg("/config.json")
        .account(options),
    );
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app is built in release mode and offline, before anything is deployed.
    #[test]
    fn builds_the_app_offline_first() {
        let options = Options::default();
        let steps: Vec<String> = build_app(&options)
            .iter()
            .chain(&deploy_stack(&options))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            steps,
            [
                "trunk build --release --offline",
                "sam build",
                "sam deploy --stack-name chatty"
            ]
        );
    }

    /// `--guided`, region and profile reach SAM; `--no-build` skips both builds.
    #[test]
    fn passes_the_account_options_through() {
        let options = Options {
            stack_name: "chat-test".into(),
            region: Some("eu-west-1".into()),
            profile: Some("me".into()),
            guided: true,
            no_build: true,
        };
        assert!(build_app(&options).is_empty());
        let steps: Vec<String> = deploy_stack(&options)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            steps,
            ["sam deploy --stack-name chat-test --guided --region eu-west-1 --profile me"]
        );
        assert_eq!(
            describe_stack(&options).to_string(),
            "aws cloudformation describe-stacks --stack-name chat-test --output json --region eu-west-1 --profile me"
        );
    }

    #[test]
    fn quotes_what_a_shell_would_split() {
        let step = Step::new("aws", &["s3", "cp", "a b", "public, max-age=1", "it's"]);
        assert_eq!(
            step.to_string(),
            r"aws s3 cp 'a b' 'public, max-age=1' 'it'\''s'"
        );
    }
}
