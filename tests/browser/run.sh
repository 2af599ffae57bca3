#!/usr/bin/env bash
# The browser end-to-end tests: builds the app (trunk, offline), checks what a first visit downloads against
# its budget (`cargo xtask size`), builds the local gateway, starts the gateway
# on a free loopback port serving app/dist, runs the Node tests against it in headless Chromium, and
# always stops the gateway. Tests that need a gateway with other limits start their own from the same
# binary. CHATTY_LOCAL_BIN, when set, names an already built gateway to use instead of building one.
#
# Two passes. The first runs every file against the default gateway (in memory, one in-order consumer).
# The second runs the conversation, reconnect, outbox and limit tests again in the production shape: a
# three-master Redis cluster, five concurrent consumers per queue, and deterministic chaos (reordered and
# repeated queue messages, failed batches, failing posts). The gateways the tests start themselves inherit
# that shape through the environment (REDIS_URL, CHATTY_REDIS_CLUSTER, CHATTY_CONSUMERS, CHATTY_CHAOS).
#
# Arguments, when given, name the test files to run (first pass only) instead of all of them.
set -euo pipefail

TESTS=("$@")
if [ ${#TESTS[@]} -eq 0 ]; then
  TESTS=(chat.test.js history.test.js reconnect.test.js refusal.test.js limits.test.js signout.test.js
    formatting.test.js send-states.test.js private.test.js edits.test.js reactions.test.js invite-link.test.js
    mentions.test.js screenshots.test.js)
  PRODUCTION_SHAPE=(chat.test.js reconnect.test.js refusal.test.js limits.test.js send-states.test.js
    private.test.js edits.test.js reactions.test.js invite-link.test.js)
else
  PRODUCTION_SHAPE=()
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

trunk build --release --offline
# What a first visit downloads, brotli as deployed, file by file: fails above the budget (app/README.md, "Size").
cargo xtask size
if [ -z "${CHATTY_LOCAL_BIN:-}" ]; then
  cargo build -p chatty-local
  CHATTY_LOCAL_BIN="$TARGET_DIR/debug/chatty-local"
fi
BIN="$CHATTY_LOCAL_BIN"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_all EXIT

# Starts the gateway on a free port with the environment's settings; sets PORT.
start_gateway() {
  PORT="$(free_port)"
  local log="$TARGET_DIR/browser-tests-gateway$1.log"
  "$BIN" --addr "127.0.0.1:$PORT" --dist "$ROOT/app/dist" >"$log" 2>&1 &
  local gateway=$!
  PIDS+=("$gateway")
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/config.json" >/dev/null 2>&1; then return; fi
    if ! kill -0 "$gateway" 2>/dev/null; then
      echo "the gateway exited; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

# A free port whose cluster bus port (10,000 higher) is free too, so at most 55535.
free_cluster_port() {
  python3 -c '
import random, socket
while True:
    port = random.randint(20000, 55535)
    try:
        for p in (port, port + 10000):
            socket.socket().bind(("127.0.0.1", p))
    except OSError:
        continue
    print(port)
    break'
}

# Three redis-server masters on free ports joined into one cluster; sets CLUSTER_SEED.
start_cluster() {
  local dir ports=()
  dir="$(mktemp -d)"
  for _ in 1 2 3; do
    local port server
    port="$(free_cluster_port)"
    ports+=("127.0.0.1:$port")
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --dir "$dir" \
      --cluster-config-file "nodes-$port.conf" --save "" --appendonly no >"$dir/$port.log" 2>&1 &
    server=$!
    PIDS+=("$server")
    until redis-cli -p "$port" ping >/dev/null 2>&1; do
      if ! kill -0 "$server" 2>/dev/null; then
        echo "redis-server on $port exited; its log:" >&2
        cat "$dir/$port.log" >&2
        exit 1
      fi
      sleep 0.1
    done
  done
  redis-cli --cluster create "${ports[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
  until redis-cli -p "${ports[0]#*:}" cluster info | grep -q cluster_state:ok; do sleep 0.1; done
  CLUSTER_SEED="redis://${ports[0]}"
}

run_tests() {
  (cd "$ROOT/tests/browser" &&
    CHATTY_URL="http://127.0.0.1:$PORT" CHATTY_LOCAL_BIN="$BIN" CHATTY_DIST="$ROOT/app/dist" \
      node --test --test-concurrency=1 --test-force-exit --test-timeout=180000 "$@")
}

(cd "$ROOT/tests/browser" && { [ -d node_modules ] || npm ci --no-audit --no-fund; })

echo "browser tests, default gateway (in memory, one in-order consumer)"
start_gateway ""
run_tests "${TESTS[@]}"
stop_all
[ ${#PRODUCTION_SHAPE[@]} -gt 0 ] || exit 0

echo "browser tests, production shape (3-master Redis cluster, --consumers 5, --chaos 7)"
start_cluster
export REDIS_URL="$CLUSTER_SEED" CHATTY_REDIS_CLUSTER=true CHATTY_CONSUMERS=5 CHATTY_CHAOS=7
start_gateway "-production-shape"
run_tests "${PRODUCTION_SHAPE[@]}"
