// Shared by the browser tests: launching headless Chromium, signing in through the local sign-in page,
// talking to the gateway directly from Node (tokens from /dev/token, a raw WebSocket), and starting
// extra gateways when a test needs its own (short connection limits).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

export const BASE_URL = process.env.CHATTY_URL ?? 'http://127.0.0.1:8080';

/** Headless Chromium from Debian's package; Playwright never downloads a browser here. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A unique room name per test run, so tests never see each other's messages. */
export function roomName(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/**
 * Opens a new browser context and signs in as `name` the way a person does: the app's sign-in button,
 * the local authorize page, back through the callback. Resolves once the chat screen shows, with the
 * page's uncaught errors (logged as they come, and collected in `pageErrors` for a test to assert on).
 */
export async function signIn(browser, name, { baseUrl = BASE_URL, viewport, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1280, height: 800 }, colorScheme });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => {
    pageErrors.push(error.message);
    console.error(`[${name}] page error:`, error);
  });
  // A Rust panic reaches the page as `unreachable`; what panicked and where is what the panic hook logs.
  page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('panicked')) {
      console.error(`[${name}] panic:`, message.text());
    }
  });
  await page.goto(`${baseUrl}/`);
  await signInHere(page, name);
  return { context, page, pageErrors };
}

/** On a page showing the app's sign-in card: goes through the local sign-in page as `name`. */
export async function signInHere(page, name) {
  await page.getByRole('button', { name: /sign in|continue with/i }).click();
  await page.locator('#name').fill(name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(/\/rooms\//);
  await page.locator('.status.online').waitFor();
}

/** Goes to a room (joining it) and waits until its history has loaded. */
export async function openRoom(page, room, { baseUrl = BASE_URL } = {}) {
  await page.goto(`${baseUrl}/rooms/${room}`);
  await page.locator('.status.online').waitFor();
  await page.locator('.log-top .beginning, .msg').first().waitFor();
}

/** Ticks "Private" and creates the room `label` from the sidebar; the page lands in it. Its full name. */
export async function createPrivateRoom(page, label) {
  await page.locator('#join-room').fill(label);
  await page.locator('.private-toggle input').check();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(new RegExp(`/rooms/_[0-9a-f]{6}-${label}$`));
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
}

/** The sidebar's entry for a room or conversation whose label holds `text`. */
export function sidebarEntry(page, text) {
  return page.locator('.sidebar .room-item', { hasText: text });
}

/** The composer of the room on screen. */
export function composer(page) {
  return page.locator('textarea[aria-label^="Message"]');
}

/** Types a message and presses Enter. */
export async function send(page, text) {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

/** Sends `text` and waits until the server confirmed it. */
export async function sendConfirmed(page, text) {
  await send(page, text);
  await page.locator('.msg:not(.pending) .body', { hasText: text }).waitFor();
}

/** The confirmed messages' texts on screen, in order. */
export function bodies(page) {
  return page.locator('.msg:not(.pending) .body').allTextContents();
}

/** An ID token from the gateway's local-only shortcut. */
export async function devToken(name, baseUrl = BASE_URL) {
  const response = await fetch(`${baseUrl}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!response.ok) throw new Error(`/dev/token answered ${response.status}`);
  return (await response.json()).id_token;
}

/**
 * Routes the page's WebSockets through the test so it can cut them like a network failure: `drop()`
 * closes every open socket on both sides and refuses new ones until `restore()`. `refused(n)` resolves
 * with the time of the n-th socket refused since the last drop, `nextAccepted()` with the time the next
 * socket is let through.
 */
export async function cuttableNetwork(page) {
  const open = [];
  let down = false;
  let refusals = [];
  const waiting = [];
  const settle = () => {
    for (const w of waiting.splice(0)) {
      const at = w.accepted ? w.at : refusals[w.n - 1];
      if (at === undefined) waiting.push(w);
      else w.resolve(at);
    }
  };
  await page.routeWebSocket(/\/ws\b/, (ws) => {
    if (down) {
      refusals.push(Date.now());
      settle();
      ws.close({ code: 1011, reason: 'network down (test)' });
      return;
    }
    for (const w of waiting) if (w.accepted) w.at ??= Date.now();
    settle();
    const server = ws.connectToServer();
    open.push({ ws, server });
  });
  return {
    async drop() {
      down = true;
      refusals = [];
      for (const { ws, server } of open.splice(0)) {
        await server.close({ code: 1001, reason: 'network down (test)' });
        await ws.close({ code: 1011, reason: 'network down (test)' });
      }
    },
    restore() {
      down = false;
    },
    refused(n) {
      return new Promise((resolve) => { waiting.push({ n, resolve }); settle(); });
    },
    nextAccepted() {
      return new Promise((resolve) => { waiting.push({ accepted: true, resolve }); });
    },
  };
}

/**
 * A chat client speaking the wire protocol from Node: `send(frame)` and `next(predicate)` for the next
 * frame matching a predicate (frames already received count).
 */
export async function wsClient(name, baseUrl = BASE_URL) {
  const token = await devToken(name, baseUrl);
  const config = await (await fetch(`${baseUrl}/config.json`)).json();
  const socket = new WebSocket(`${config.ws_url}?token=${encodeURIComponent(token)}`);
  const frames = [];
  const waiters = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(frame)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    }
  });
  await once(socket, 'open');
  return {
    send: (frame) => socket.send(JSON.stringify(frame)),
    next(predicate, timeoutMs = 10_000) {
      const seen = frames.find(predicate);
      if (seen) {
        frames.splice(frames.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching frame in time')), timeoutMs);
        waiters.push({ predicate, resolve: (f) => { clearTimeout(timer); frames.splice(frames.indexOf(f), 1); resolve(f); } });
      });
    },
    /** Joins a room and waits for the presence frame that confirms it. */
    async join(room) {
      this.send({ action: 'join', room });
      await this.next((f) => f.type === 'presence' && f.room === room);
    },
    /**
     * Sends a message and waits for the server's echo. Like the app, it waits out a `rate_limited` answer
     * (`retry_after_ms`) and sends the same message again, so seeding a room keeps to the send rate.
     */
    async say(room, body) {
      const clientId = `n-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      for (;;) {
        this.send({ action: 'send', room, client_id: clientId, body });
        const answer = await this.next((f) => ['message', 'error'].includes(f.type) && f.client_id === clientId);
        if (answer.type === 'message') return answer;
        if (answer.code !== 'rate_limited') throw new Error(`the server refused ${body}: ${answer.code}`);
        await new Promise((resolve) => setTimeout(resolve, answer.retry_after_ms));
      }
    },
    close: () => socket.close(),
  };
}

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Starts a gateway of its own (the binary run.sh built) with extra arguments, on `port` or a free one.
 * Resolves to `{ url, port, stop }` once it answers.
 */
export async function startGateway(extraArgs = [], { port: wanted } = {}) {
  const binary = process.env.CHATTY_LOCAL_BIN;
  if (!binary) throw new Error('CHATTY_LOCAL_BIN is not set: run the tests through tests/browser/run.sh');
  const port = wanted ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(binary, ['--addr', `127.0.0.1:${port}`, '--dist', process.env.CHATTY_DIST ?? 'app/dist', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  for (let i = 0; i < 100; i += 1) {
    try {
      if ((await fetch(`${url}/config.json`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}
