// The app under the server's limits. A burst of sends past the per-person rate: the refused messages stay
// in the outbox, the person sees "Slow down", and each goes again by itself after `retry_after_ms`, so the
// other person ends with every message once; nothing typed is lost. And a session whose token
// the server calls expired: the app replaces the connection at once with a refreshed token, and what is
// written next arrives.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { composer, launch, openRoom, roomName, send, signIn } from './helpers.js';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** The conversation on `page` for `room` (the `role="log"` region). */
function log(page, room) {
  return page.getByRole('log', { name: `Messages in #${room}` });
}

/** protocol/src/limits.rs `SEND_RATE.burst`: sends past it in one burst are refused for a moment. */
const SEND_BURST = 10;

test('a burst past the send rate slows down, and every message still arrives once', async () => {
  const room = roomName('burst');
  const ada = await signIn(browser, 'Ada');
  const lin = await signIn(browser, 'Lin');
  try {
    await openRoom(ada.page, room);
    await openRoom(lin.page, room);
    const texts = Array.from({ length: SEND_BURST + 5 }, (_, i) => `burst ${i + 1}`);
    // Typed and sent in one go inside the page: one Playwright round trip per message would spread the
    // burst over seconds on a slow machine, and the bucket refills while it is spread.
    await composer(ada.page).evaluate((box, all) => {
      for (const text of all) {
        box.value = text;
        box.dispatchEvent(new Event('input', { bubbles: true }));
        box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
      }
    }, texts);

    // The server refused some: the person is told to slow down, nothing is marked failed.
    await ada.page.getByText(/Slow down/).first().waitFor({ timeout: 10_000 });
    assert.equal(await ada.page.getByText('Not sent').count(), 0, 'a rate limit is a wait, not a failure');

    // Each refused message went again on its own: Lin sees all of them, once each, in the order written.
    const linLog = log(lin.page, room);
    await linLog.getByRole('article').filter({ hasText: texts.at(-1) }).waitFor({ timeout: 20_000 });
    await ada.page.waitForFunction(
      (n) => document.querySelectorAll('[role="log"] .msg time').length >= n,
      texts.length,
      { timeout: 20_000 },
    );
    // Once each. (A message refused for a moment can land after one written later that fitted the
    // refilled bucket; the room's order is the server's.)
    const linBodies = await linLog.locator('.msg .body').allTextContents();
    assert.deepEqual([...linBodies].sort(), [...texts].sort());
    const adaBodies = await log(ada.page, room).locator('.msg .body').allTextContents();
    assert.deepEqual(adaBodies, linBodies, 'the sender ends with every message confirmed, as the room has them');
    assert.equal(await composer(ada.page).inputValue(), '', 'nothing left half-sent in the composer');
  } finally {
    await ada.context.close();
    await lin.context.close();
  }
});

test('a token the server calls expired is replaced at once, and nothing written is lost', async () => {
  const room = roomName('expired');
  const kai = await signIn(browser, 'Kai');
  const rue = await signIn(browser, 'Rue');
  try {
    // Kai's sockets go through the test, which can answer one frame with the server's `token_expired`.
    const sockets = [];
    let expireNext = false;
    await kai.page.routeWebSocket(/\/ws\b/, (ws) => {
      const server = ws.connectToServer();
      sockets.push({ url: ws.url() });
      ws.onMessage((data) => {
        if (expireNext && JSON.parse(data).action === 'send') {
          expireNext = false;
          ws.send(JSON.stringify({
            type: 'error', code: 'token_expired', message: 'Your sign-in expired; reconnecting.',
          }));
          return;
        }
        server.send(data);
      });
    });
    const refreshes = [];
    kai.page.on('request', (request) => {
      if (request.url().endsWith('/oauth2/token') && (request.postData() ?? '').includes('refresh_token')) {
        refreshes.push(Date.now());
      }
    });
    await openRoom(kai.page, room);
    await openRoom(rue.page, room);
    const rueLog = log(rue.page, room);
    await send(kai.page, 'before expiry');
    await rueLog.getByRole('article').filter({ hasText: 'before expiry' }).waitFor({ timeout: 10_000 });

    expireNext = true;
    await send(kai.page, 'written as it expired');
    // A new socket, opened with a refreshed token, carries the message the old one could not.
    await rueLog.getByRole('article').filter({ hasText: 'written as it expired' }).waitFor({ timeout: 15_000 });
    assert.equal(sockets.length, 2, 'the expired connection was replaced once');
    assert.notEqual(sockets[1].url, sockets[0].url, 'the new connection carries another token');
    assert.ok(refreshes.length >= 1, 'the token was refreshed');
    await send(kai.page, 'after reconnecting');
    await rueLog.getByRole('article').filter({ hasText: 'after reconnecting' }).waitFor({ timeout: 10_000 });
    const rueBodies = await rueLog.locator('.msg .body').allTextContents();
    assert.deepEqual(rueBodies, ['before expiry', 'written as it expired', 'after reconnecting']);
    assert.equal(await kai.page.getByText('Not sent').count(), 0);
  } finally {
    await kai.context.close();
    await rue.context.close();
  }
});
