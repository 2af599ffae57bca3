#!/usr/bin/env bash
# The AWS deployment, checked without an AWS account (docs/deploy.md, "What the tests prove"):
#   1. cfn-lint: every resource and property of template.yaml is valid CloudFormation;
#   2. sam validate --lint: the SAM transform accepts it (dummy region, no credentials);
#   3. invariants (Python, unittest): the rules a linter cannot know, each also shown to catch its own break;
#   4. cargo test -p xtask: `cargo xtask deploy` up to the AWS calls, config.json from a describe-stacks fixture;
#      then the built app, prepared by it, starts in headless Chromium under the template's CSP (and trunk's
#      untouched output does not: the control);
#   5. sam build, offline: cargo-lambda cross-compiles every function, and each bootstrap is an aarch64 ELF.
# Needs `scripts/setup test` (the Python tools in .venv). CHATTY_SKIP_SAM_BUILD=1 skips step 5 (minutes of
# compiling) when iterating on the template.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d .venv ] && export PATH="$PWD/.venv/bin:$PATH"

# Nothing here may need an AWS account: no credentials, no profile, a dummy region (plain `sam validate` reads
# AWS_DEFAULT_REGION, not AWS_REGION), no telemetry.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

passed=0
step() { printf '\n\033[1;34m--> %s\033[0m\n' "$*"; }
ok() { passed=$((passed + 1)); }

step "cfn-lint template.yaml"
cfn-lint template.yaml
ok

step "sam validate --lint"
sam validate --lint --template-file template.yaml
ok

step "template invariants"
python3 -m unittest discover --start-directory tests/template --pattern 'test_*.py' --verbose
ok

step "cargo xtask deploy, short of AWS"
cargo test --quiet --package xtask
ok

# The built app under the CSP CloudFront will send. app/dist comes from `trunk build --release --offline`,
# which tests/browser (run before this suite by scripts/test) does; build it first when running this alone.
step "the app starts under the template's Content-Security-Policy"
if [ -f app/dist/index.html ]; then
  python3 tests/template/check_csp.py app/dist
  ok
else
  echo "app/dist is not built: run \`trunk build --release --offline\` (or tests/browser/run.sh) first" >&2
  exit 1
fi

if [ "${CHATTY_SKIP_SAM_BUILD:-0}" = 1 ]; then
  step "sam build: skipped (CHATTY_SKIP_SAM_BUILD=1)"
else
  step "sam build (cargo-lambda, arm64) and the architecture of every bootstrap"
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
  # The same target directory, profile and cargo flags as tests/lambda's `cargo lambda build` (CargoLambda.toml
  # makes them equal), so after that suite this step compiles nothing; alone, it compiles everything once.
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
  build_dir=.aws-sam/build
  rm -rf "$build_dir"
  sam build --template-file template.yaml --build-dir "$build_dir"
  python3 tests/template/check_bootstraps.py template.yaml "$build_dir"
  ok
fi

printf '\ntemplate: %d passed, 0 failed\n' "$passed"
