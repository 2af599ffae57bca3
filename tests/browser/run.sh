#!/usr/bin/env bash
# The browser end-to-end tests: builds the app (trunk, offline) and the local gateway, starts the gateway
# on a free loopback port serving app/dist, runs the Node tests against it in headless Chromium, and
# always stops the gateway. Tests that need a gateway with other limits start their own from the same
# binary. CHATTY_LOCAL_BIN, when set, names an already built gateway to use instead of building one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

trunk build --release --offline
if [ -z "${CHATTY_LOCAL_BIN:-}" ]; then
  cargo build -p chatty-local
  CHATTY_LOCAL_BIN="$TARGET_DIR/debug/chatty-local"
fi
BIN="$CHATTY_LOCAL_BIN"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$TARGET_DIR/browser-tests-gateway.log"
"$BIN" --addr "127.0.0.1:$PORT" --dist "$ROOT/app/dist" >"$LOG" 2>&1 &
GATEWAY=$!
stop_gateway() {
  kill "$GATEWAY" 2>/dev/null || true
  wait "$GATEWAY" 2>/dev/null || true
}
trap stop_gateway EXIT

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/config.json" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$GATEWAY" 2>/dev/null; then
    echo "the gateway exited; its log:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done

cd "$ROOT/tests/browser"
[ -d node_modules ] || npm ci --no-audit --no-fund
CHATTY_URL="http://127.0.0.1:$PORT" CHATTY_LOCAL_BIN="$BIN" CHATTY_DIST="$ROOT/app/dist" \
  node --test --test-concurrency=1 --test-force-exit --test-timeout=180000 \
    chat.test.js history.test.js reconnect.test.js refusal.test.js limits.test.js private.test.js screenshots.test.js
