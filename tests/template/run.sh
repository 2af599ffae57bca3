#!/usr/bin/env bash
# The AWS deployment, checked without an AWS account (docs/deploy.md, "What the tests prove"):
#   1. cfn-lint: every resource and property of template.yaml is valid CloudFormation;
#   2. sam validate --lint: the SAM transform accepts it (dummy region, no credentials);
#   3. invariants (Python, unittest): the rules a linter cannot know, each also shown to catch its own break;
#   4. cargo test -p xtask: `cargo xtask deploy` up to the AWS calls, config.json from a describe-stacks fixture;
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

if [ "${CHATTY_SKIP_SAM_BUILD:-0}" = 1 ]; then
  step "sam build: skipped (CHATTY_SKIP_SAM_BUILD=1)"
else
  step "sam build (cargo-lambda, arm64) and the architecture of every bootstrap"
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
  # A target directory of its own: cross-compiled release artefacts never invalidate the host builds. The
  # release profile's fat LTO only shrinks the binaries; turned off here, it would cost minutes per function.
  export CARGO_TARGET_DIR=${CHATTY_SAM_TARGET_DIR:-$PWD/target-sam}
  export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  build_dir=.aws-sam/build
  rm -rf "$build_dir"
  sam build --template-file template.yaml --build-dir "$build_dir"
  python3 tests/template/check_bootstraps.py template.yaml "$build_dir"
  ok
fi

printf '\ntemplate: %d passed, 0 failed\n' "$passed"
