//! `cargo xtask deploy`, as data: the commands it runs, in order, built from the options and (for publishing)
//! the stack's outputs. `main.rs` runs them, or prints them with `--dry-run`.
//!
//! 1. [`build_app`]: `trunk build --release --offline` → `app/dist`, then (in `main.rs`) trunk's inline loader
//!    is moved into a file ([`crate::site`]).
//! 2. [`deploy_stack`]: `sam build` (cargo-lambda, arm64) and `sam deploy` (`--guided` the first time), with
//!    `ConfigureApiGatewayLogging` as [`crate::account`] decided from [`describe_stack`] and [`get_account`].
//!    With `--no-build`, [`require_build`] first checks there is a build to deploy.
//! 3. [`describe_stack`]: the outputs, as JSON, from which `app/dist/config.json` is written
//!    ([`crate::app_config`]).
//! 4. [`publish`]: every file of `app/dist` to the site bucket with its caching and type (and each brotli copy,
//!    [`crate::site::precompress_in_dist`], with `Content-Encoding: br`), `index.html` last, then a CloudFront
//!    invalidation of the two files that are not content-hashed and their copies.

use std::{fmt, path::Path};

use anyhow::{bail, Result};

use crate::{
    account,
    outputs::{StackOutputs, DISTRIBUTION_ID, SITE_BUCKET_NAME},
    site::{content_encoding, content_type, served_file, Caching, SiteFile},
};

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub stack_name: String,
    /// `--region`, else the one `sam deploy --guided` saved in samconfig.toml ([`crate::samconfig`]).
    pub region: Option<String>,
    pub profile: Option<String>,
    /// SAM's `--config-file` (default: samconfig.toml at the root).
    pub config_file: Option<String>,
    /// SAM's `--build-dir` (default: [`DEFAULT_BUILD_DIR`]).
    pub build_dir: Option<String>,
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
            config_file: None,
            build_dir: None,
            guided: false,
            no_build: false,
        }
    }
}

/// Where `sam build` puts the functions and the template `sam deploy` deploys.
pub const DEFAULT_BUILD_DIR: &str = ".aws-sam/build";

impl Options {
    fn build_dir(&self) -> &str {
        self.build_dir.as_deref().unwrap_or(DEFAULT_BUILD_DIR)
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

    fn arg_if(self, flag: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.arg(flag).arg(value),
            None => self,
        }
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

/// `--no-build` publishes what `sam build` left in the build directory; without it `sam deploy` would fall back
/// to template.yaml at the root and upload the source tree as every function's code. `root` is where relative
/// build directories start.
pub fn require_build(options: &Options, root: &Path) -> Result<()> {
    let template = root.join(options.build_dir()).join("template.yaml");
    if options.no_build && !template.is_file() {
        bail!(
            "--no-build, but there is no build: {} does not exist. Run `cargo xtask deploy` without \
             --no-build (or `sam build`) first",
            template.display()
        );
    }
    Ok(())
}

/// The four functions (cargo-lambda through SAM, arm64) and the stack. `saved_overrides` are samconfig.toml's
/// parameter overrides; `logging` is what [`crate::account`] decided (`None`: not decided, e.g. a dry run).
pub fn deploy_stack(
    options: &Options,
    saved_overrides: &[String],
    logging: Option<&account::ApiGatewayLogging>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let build_dir = options.build_dir.as_deref();
    if !options.no_build {
        steps.push(
            Step::new("sam", &["build"])
                .arg_if("--build-dir", build_dir)
                .arg_if("--config-file", options.config_file.as_deref()),
        );
    }
    let mut deploy = Step::new("sam", &["deploy", "--stack-name", &options.stack_name]);
    if options.guided {
        deploy = deploy.arg("--guided");
    }
    deploy = deploy
        .arg_if(
            "--template-file",
            build_dir
                .map(|dir| format!("{dir}/template.yaml"))
                .as_deref(),
        )
        .arg_if("--config-file", options.config_file.as_deref());
    if let Some(logging) = logging {
        // SAM takes these instead of the saved overrides, so those come first and this one wins.
        deploy = deploy.arg("--parameter-overrides");
        for saved in saved_overrides {
            deploy = deploy.arg(saved);
        }
        deploy = deploy.arg(format!(
            "{}={}",
            account::PARAMETER,
            logging.create_in_stack()
        ));
    }
    steps.push(deploy.account(options));
    steps
}

/// Whether API Gateway has a CloudWatch role in the region (read by [`account::ApiGatewayLogging::decide`]).
pub fn get_account(options: &Options) -> Step {
    Step::new("aws", &["apigateway", "get-account", "--output", "json"]).account(options)
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
/// entry points. A brotli copy (`x.wasm.br`) goes up with `Content-Encoding: br` and the type and caching of the
/// file it serves. Old hashed files stay in the bucket, so a page loaded before the deploy still finds its assets.
pub fn publish(options: &Options, outputs: &StackOutputs, files: &[SiteFile]) -> Result<Vec<Step>> {
    let bucket = outputs.get(SITE_BUCKET_NAME)?;
    let mut steps: Vec<Step> = files
        .iter()
        .map(|file| {
            let served = served_file(&file.key);
            let upload = Step::new("aws", &["s3", "cp"])
                .arg(file.path.to_string_lossy())
                .arg(format!("s3://{bucket}/{}", file.key))
                .arg("--cache-control")
                .arg(Caching::of(served).header())
                .arg("--content-type")
                .arg(content_type(served))
                .arg_if("--content-encoding", content_encoding(&file.key));
            upload.arg("--only-show-errors").account(options)
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
        .arg("/index.html.br")
        .arg("/config.json")
        .arg("/config.json.br")
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
            .chain(&deploy_stack(&options, &[], None))
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
            ..Options::default()
        };
        assert!(build_app(&options).is_empty());
        let steps: Vec<String> = deploy_stack(&options, &[], None)
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

    /// The logging decision reaches `sam deploy` after the saved overrides (SAM's later value wins), so the
    /// Google client id and the other saved answers are not dropped.
    #[test]
    fn the_logging_decision_follows_the_saved_overrides() {
        let options = Options {
            build_dir: Some("/tmp/build".into()),
            config_file: Some("/tmp/samconfig.toml".into()),
            ..Options::default()
        };
        let saved = [r#"GoogleClientId="id" ConfigureApiGatewayLogging="false""#.to_owned()];
        let steps: Vec<String> =
            deploy_stack(&options, &saved, Some(&account::ApiGatewayLogging::NotSet))
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            steps,
            [
                "sam build --build-dir /tmp/build --config-file /tmp/samconfig.toml",
                "sam deploy --stack-name chatty --template-file /tmp/build/template.yaml \
                 --config-file /tmp/samconfig.toml --parameter-overrides \
                 'GoogleClientId=\"id\" ConfigureApiGatewayLogging=\"false\"' ConfigureApiGatewayLogging=true"
            ]
        );
    }

    /// `--no-build` needs a build: a missing one is refused, naming where it was looked for.
    #[test]
    fn no_build_needs_a_build() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path();
        let options = Options {
            no_build: true,
            build_dir: Some("build".into()),
            ..Options::default()
        };
        let err = require_build(&options, root).unwrap_err().to_string();
        assert!(
            err.contains("no build") && err.contains("build/template.yaml"),
            "{err}"
        );
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::fs::write(root.join("build/template.yaml"), "Resources: {}").unwrap();
        require_build(&options, root).unwrap();
        let building = Options {
            no_build: false,
            ..options
        };
        require_build(&building, &root.join("elsewhere")).unwrap();
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
