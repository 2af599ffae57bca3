#!/usr/bin/env bash
# The four Lambda functions as cargo-lambda builds them:
#   1. `cargo lambda build --release --arm64` produces an aarch64 `bootstrap` for each (offline, zig linker);
#   2. `cargo lambda watch` (the Lambda Runtime API emulator) runs them against a real redis-server and moto
#      (SQS, the management API, Cognito), and `cargo lambda invoke --data-file` feeds them the recorded
#      events in tests/fixtures/events/, checking every response and the effects on Redis and the queues.
# Needs what `scripts/setup test` installs; fails (never skips) when something is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -d .venv/bin ] && export PATH="$ROOT/.venv/bin:$PATH"
FIXTURES=$ROOT/tests/fixtures/events
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

say() { printf '\033[1;34m[lambda]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[lambda] FAIL:\033[0m %s\n' "$*" >&2; exit 1; }

for tool in cargo-lambda redis-server redis-cli moto_server jq curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed: run scripts/setup test"
done

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listened on port $1 ($2)"
}

# --- 1. the deployable artefacts -------------------------------------------------------------------------
say "cargo lambda build --release --arm64 (the four bootstraps)"
cargo lambda build --release --arm64 -p chatty-lambdas --features aws
for function in authorizer gateway registry sender; do
  bootstrap=$CARGO_TARGET_DIR/lambda/$function/bootstrap
  [ -x "$bootstrap" ] || fail "$bootstrap was not built"
  file "$bootstrap" | grep -q 'ELF 64-bit LSB .*ARM aarch64' || fail "$bootstrap is not an aarch64 ELF: $(file "$bootstrap")"
  say "ok: $function/bootstrap is aarch64 ($(du -h "$bootstrap" | cut -f1))"
done

# --- 2. real servers -------------------------------------------------------------------------------------
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
wait_port "$REDIS_PORT" redis-server
wait_port "$MOTO_PORT" moto_server
MOTO=http://127.0.0.1:$MOTO_PORT
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# aws_json SERVICE_TARGET_PREFIX CONTENT_TYPE_VERSION ACTION BODY: one JSON-protocol call to moto.
aws_json() {
  curl -sf "$MOTO/" -H "X-Amz-Target: $1.$3" -H "Content-Type: application/x-amz-json-$2" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/$4/aws4_request, SignedHeaders=host, Signature=0" \
    -d "$5"
}
sqs() { aws_json AmazonSQS 1.0 "$1" sqs "$2"; }
cognito() { aws_json AWSCognitoIdentityProviderService 1.1 "$1" cognito-idp "$2"; }

COMMANDS=$(sqs CreateQueue '{"QueueName":"chatty-commands"}' | jq -r .QueueUrl)
DELIVERIES=$(sqs CreateQueue '{"QueueName":"chatty-deliveries"}' | jq -r .QueueUrl)
POOL=$(cognito CreateUserPool '{"PoolName":"chatty"}' | jq -r .UserPool.Id)
CLIENT=$(cognito CreateUserPoolClient "{\"UserPoolId\":\"$POOL\",\"ClientName\":\"app\",\"ReadAttributes\":[\"name\"]}" | jq -r .UserPoolClient.ClientId)
cognito AdminCreateUser "{\"UserPoolId\":\"$POOL\",\"Username\":\"alice\",\"MessageAction\":\"SUPPRESS\",\"UserAttributes\":[{\"Name\":\"name\",\"Value\":\"Alice Liddell\"}]}" >/dev/null
cognito AdminSetUserPassword "{\"UserPoolId\":\"$POOL\",\"Username\":\"alice\",\"Password\":\"Wonderland-1865\",\"Permanent\":true}" >/dev/null
ID_TOKEN=$(cognito AdminInitiateAuth "{\"UserPoolId\":\"$POOL\",\"ClientId\":\"$CLIENT\",\"AuthFlow\":\"ADMIN_USER_PASSWORD_AUTH\",\"AuthParameters\":{\"USERNAME\":\"alice\",\"PASSWORD\":\"Wonderland-1865\"}}" | jq -r .AuthenticationResult.IdToken)
[ -n "$ID_TOKEN" ] && [ "$ID_TOKEN" != null ] || fail "moto's Cognito issued no ID token"

# --- 3. the functions under the Lambda Runtime API emulator -----------------------------------------------
cat >"$WORK/env" <<ENV
RUST_LOG=info
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_REGION=us-east-1
AWS_ENDPOINT_URL=$MOTO
COGNITO_ISSUER=https://cognito-idp.us-east-1.amazonaws.com/$POOL
COGNITO_CLIENT_ID=$CLIENT
JWKS_URL=$MOTO/$POOL/.well-known/jwks.json
COMMAND_QUEUE_URL=$COMMANDS
DELIVERY_QUEUE_URL=$DELIVERIES
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
CONNECTIONS_ENDPOINT=$MOTO
ENV
WATCH_PORT=$(free_port)
say "cargo lambda watch on port $WATCH_PORT"
cargo lambda watch -p chatty-lambdas --features aws --ignore-changes -P "$WATCH_PORT" -A 127.0.0.1 \
  --env-file "$WORK/env" >"$WORK/watch.log" 2>&1 &
PIDS+=($!)
wait_port "$WATCH_PORT" "cargo lambda watch"

# invoke FUNCTION EVENT_FILE: prints the function's response.
invoke() {
  cargo lambda invoke "$1" -P "$WATCH_PORT" -A 127.0.0.1 --data-file "$2" 2>"$WORK/invoke.err" \
    || { cat "$WORK/invoke.err" >&2; tail -40 "$WORK/watch.log" >&2; fail "invoking $1 with $(basename "$2")"; }
}
# expect DESCRIPTION JQ_FILTER JSON: the filter must yield true.
expect() {
  echo "$3" | jq -e "$2" >/dev/null || fail "$1: $(echo "$3" | jq -c .)"
  say "ok: $1"
}
received() { sqs ReceiveMessage "{\"QueueUrl\":\"$1\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1}"; }

# authorizer: the genuine token is allowed with the user as context; a tampered one is denied.
sed "s|__ID_TOKEN__|$ID_TOKEN|g" "$FIXTURES/authorizer-connect.json" >"$WORK/authorizer.json"
response=$(invoke authorizer "$WORK/authorizer.json")
expect "authorizer allows moto's Cognito ID token" \
  '.policyDocument.Statement[0].Effect == "Allow" and .context.name == "Alice Liddell" and (.principalId | length) > 0' "$response"
TAMPERED=$(python3 -c 'import sys; h, p, s = sys.argv[1].split("."); print(h + "." + p[:-2] + ("A" if p[-2] != "A" else "B") + p[-1] + "." + s)' "$ID_TOKEN")
sed "s|__ID_TOKEN__|$TAMPERED|g" "$FIXTURES/authorizer-connect.json" >"$WORK/tampered.json"
response=$(invoke authorizer "$WORK/tampered.json")
expect "authorizer denies a tampered token" '.policyDocument.Statement[0].Effect == "Deny"' "$response"
grep -q "$ID_TOKEN" "$WORK/watch.log" && fail "a token appeared in the function logs"
say "ok: no token in the logs"

# gateway: $connect and a send become commands; a bad frame is answered in the route response, not queued.
response=$(invoke gateway "$FIXTURES/gateway-connect.json")
expect "gateway accepts \$connect" '.statusCode == 200' "$response"
response=$(invoke gateway "$FIXTURES/gateway-send.json")
expect "gateway queues a send frame without answering it" '.statusCode == 200 and .body == null' "$response"
response=$(invoke gateway "$FIXTURES/gateway-bad-frame.json")
expect "gateway answers a bad frame in its route response, echoing the client id" \
  '.statusCode == 200 and (.body | fromjson | .type == "error" and .code == "invalid_room" and .client_id == "c-2")' "$response"
response=$(invoke gateway "$FIXTURES/gateway-disconnect.json")
expect "gateway accepts \$disconnect" '.statusCode == 200' "$response"
queued=$(received "$COMMANDS")
expect "gateway queued connect, send and disconnect, in the vouched-for user's name" \
  '[.Messages[].Body | fromjson] | (map(.command) | sort) == ["connect", "disconnect", "frame"]
   and (map(select(.command == "frame"))[0] | .frame.client_id == "c-1" and .user.name == "Alice Liddell")' "$queued"

# registry: three commands applied to Redis, one unreadable body reported alone.
response=$(invoke registry "$FIXTURES/registry-batch.json")
expect "registry reports only the unreadable message" \
  '.batchItemFailures == [{"itemIdentifier": "4d3a1f3e-0004-4c1e-9a53-2f9d3c1e0b11"}]' "$response"
[ "$(rcli XLEN 'chatty:{room:general}:history')" = 1 ] || fail "the send was not stored in Redis"
[ "$(rcli HKEYS 'chatty:{room:general}:members')" = "Cj3sIfRRIAMCJgw=" ] || fail "the join was not stored in Redis"
say "ok: Redis holds the member and the message"
response=$(invoke registry "$FIXTURES/registry-batch.json")
[ "$(rcli XLEN 'chatty:{room:general}:history')" = 1 ] || fail "a redelivered send was stored twice"
say "ok: the redelivered batch stored nothing twice"
queued=$(received "$DELIVERIES")
expect "registry queued the presence and the message for the member" \
  '[.Messages[].Body | fromjson | .frame.type] | (index("presence") != null and index("message") != null)' "$queued"

# sender: posts to every recipient through the management API (moto accepts them); a bad body fails alone.
response=$(invoke sender "$FIXTURES/sender-batch.json")
expect "sender reports only the unreadable delivery" \
  '.batchItemFailures == [{"itemIdentifier": "7e2b9c1d-0002-4f0a-8b1c-5d6e7f8a9b0c"}]' "$response"
grep -q '"level":"INFO"' "$WORK/watch.log" || fail "the functions' logs are not JSON"
say "ok: logs are JSON"

# metrics: each batch printed one CloudWatch embedded-metric-format line (CloudWatch Logs extracts it).
metrics=$(grep -o '{.*"_aws":.*}' "$WORK/watch.log" | jq -s . || true)
expect "registry and sender printed their counts as EMF metrics" \
  'any(.[]; .MessagesSent == 1 and .BatchItemFailures == 1)
   and any(.[]; .Delivered == 2 and .BatchItemFailures == 1)
   and all(.[]; ._aws.CloudWatchMetrics[0].Namespace == "Chatty"
                and (._aws.CloudWatchMetrics[0].Metrics | map(.Name) | length) > 0)' "$metrics"

say "all Lambda function checks passed"
