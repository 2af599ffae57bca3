// Honest send states: a send the server does not answer within the app's timeout (SEND_TIMEOUT_MS in
// app/src/outbox.rs, 10 s) turns "Not sent" with Retry; the answer, when it comes after all, confirms
// it exactly once, and a Retry meanwhile sends the same message (same `client_id`), which the room
// still holds once. The test sits between the sender's page and the gateway (`routeWebSocket`) and
// holds back the server's answers to one message until it lets them go.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openRoom, roomName, send, signIn } from './helpers.js';

/** app/src/outbox.rs `SEND_TIMEOUT_MS`. */
const SEND_TIMEOUT_MS = 10_000;

let browser;
let ada;
let lin;
const room = roomName('states');
/** Every `send` frame Ada's page wrote, in order. */
const sends = [];
/** Bodies whose answers are held back, the client ids they went with, and the answers held. */
const holdBodies = new Set();
const holdIds = new Set();
let held = [];
let toPage;

before(async () => {
  browser = await launch();
  ada = await signIn(browser, 'Ada');
  lin = await signIn(browser, 'Lin');
  await ada.page.routeWebSocket(/\/ws\b/, (ws) => {
    const server = ws.connectToServer();
    toPage = (data) => ws.send(data);
    ws.onMessage((data) => {
      const frame = JSON.parse(data);
      if (frame.action === 'send') {
        sends.push(frame);
        if (holdBodies.has(frame.body)) holdIds.add(frame.client_id);
      }
      server.send(data);
    });
    server.onMessage((data) => {
      const frame = JSON.parse(data);
      if (frame.client_id && holdIds.has(frame.client_id)) {
        held.push(data);
        return;
      }
      ws.send(data);
    });
  });
  await openRoom(ada.page, room);
  await openRoom(lin.page, room);
});

after(async () => {
  await browser?.close();
});

/** Lets every held answer through to the page, in the order they came, and stops holding. */
function release() {
  holdIds.clear();
  holdBodies.clear();
  for (const data of held) toPage(data);
  held = [];
}

/** Ada's messages with `text`: pending rows and confirmed ones. */
function rows(page, text) {
  return {
    pending: page.locator('.msg.pending', { has: page.locator('.body', { hasText: text }) }),
    confirmed: page.locator('.msg:not(.pending) .body', { hasText: text }),
  };
}

/** Waits (up to 15 s) until `check()` holds: what the test sees of the socket arrives on its own time. */
async function until(check, what) {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How many of the held answers are for `text`. */
function heldFor(text) {
  return held.filter((data) => JSON.parse(data).body === text).length;
}

/**
 * Waits until the server's echo of `text` is held back (the server did store and answer it). Delivery is at
 * least once: in the production shape a repeated or failed queue batch posts the answer again, so it may be
 * held more than once — the app must show it once all the same.
 */
async function answerHeld(text) {
  await lin.page.locator('.msg .body', { hasText: text }).waitFor({ timeout: 10_000 });
  await until(() => heldFor(text) >= 1, `the answer to "${text}" reached the test`);
}

test('an unanswered send turns "Not sent", and the late answer confirms it once', async () => {
  const text = 'answer held back';
  holdBodies.add(text);
  await send(ada.page, text);
  const { pending, confirmed } = rows(ada.page, text);
  await answerHeld(text);
  assert.equal(await pending.count(), 1, 'shown as pending while unanswered');
  assert.equal(await confirmed.count(), 0);

  const notSent = pending.locator('.pending-status', { hasText: 'Not sent' });
  await notSent.waitFor({ timeout: SEND_TIMEOUT_MS * 3 });
  assert.match(await notSent.textContent(), /No answer from the server in 10 seconds/);
  assert.ok(await pending.getByRole('button', { name: 'Retry' }).isVisible());
  assert.equal(sends.filter((f) => f.body === text).length, 1, 'nothing was sent again by itself');

  release();
  await confirmed.waitFor({ timeout: 10_000 });
  await pending.waitFor({ state: 'detached' });
  assert.equal(await confirmed.count(), 1, 'confirmed exactly once');
  assert.equal(await ada.page.getByText('Not sent').count(), 0);
});

test('Retry after a timeout sends the same message, and the room holds it once', async () => {
  const text = 'retried after timeout';
  holdBodies.add(text);
  await send(ada.page, text);
  const { pending, confirmed } = rows(ada.page, text);
  await answerHeld(text);
  await pending.locator('.pending-status', { hasText: 'Not sent' }).waitFor({ timeout: SEND_TIMEOUT_MS * 3 });

  const answersBefore = heldFor(text);
  await pending.getByRole('button', { name: 'Retry' }).click();
  await pending.locator('.pending-status', { hasText: 'Sending…' }).waitFor();
  await until(() => sends.filter((f) => f.body === text).length === 2, 'Retry sent it again');
  const attempts = sends.filter((f) => f.body === text);
  assert.equal(attempts[1].client_id, attempts[0].client_id, 'with the same client id');
  // The server fans the repeat out again (every page keeps one copy per id); wait for its answer to Ada
  // too, then let both through.
  await until(() => heldFor(text) > answersBefore, 'the server answered the retry');
  release();
  await pending.waitFor({ state: 'detached', timeout: 10_000 });
  assert.equal(await confirmed.count(), 1, 'the sender sees it once');

  // A message sent after it reaches Lin after any copy of it would have: Lin has it once too.
  await send(ada.page, 'and one more');
  await lin.page.locator('.msg .body', { hasText: 'and one more' }).waitFor({ timeout: 10_000 });
  assert.equal(await rows(lin.page, text).confirmed.count(), 1, 'the room holds it once');
  await rows(ada.page, 'and one more').confirmed.waitFor();
  assert.equal(await rows(ada.page, text).confirmed.count(), 1);
});
