// Connection life: when the socket drops, the app says so, reconnects by itself, catches up on what was
// said meanwhile, and sends what was written while it was away. Also: the server's own connection cap
// (API Gateway's 2 hours, shortened here) is survived without the person doing anything.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  bodies, composer, cuttableNetwork, launch, openRoom, roomName, send, signIn, signInHere, startGateway,
  wsClient,
} from './helpers.js';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** The socket drops; messages sent meanwhile by someone else show once the app is back. */
test('after a drop the app reconnects and shows the messages it missed', async () => {
  const room = roomName('drop');
  const { page, context } = await signIn(browser, 'Carol');
  const network = await cuttableNetwork(page);
  await openRoom(page, room);
  const dave = await wsClient('Dave');
  await dave.join(room);
  await dave.say(room, 'before the drop');
  await page.locator('.msg .body', { hasText: 'before the drop' }).waitFor();

  await network.drop();
  await page.locator('.status.reconnecting').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('.status').textContent(), /Reconnecting/);

  await dave.say(room, 'while you were away 1');
  await dave.say(room, 'while you were away 2');
  // Written while disconnected: queued, shown as pending. On reconnect the app sends `join` and these at
  // once; with concurrent consumers (the production-shape pass) none may be applied before the join.
  const offline = ['written while offline', 'and again', 'and a third time'];
  for (const text of offline) await send(page, text);
  await page.locator('.msg.pending', { hasText: 'written while offline' }).waitFor();
  assert.match(await page.locator('.msg.pending .pending-status').first().textContent(), /Waiting for connection/);

  network.restore();
  await page.locator('.status.online').waitFor({ timeout: 40_000 });
  await page.locator('.msg .body', { hasText: 'while you were away 2' }).waitFor({ timeout: 10_000 });
  await page.locator('.msg:not(.pending) .body', { hasText: offline.at(-1) }).waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => document.querySelectorAll('.msg.pending').length === 0, null, { timeout: 10_000 });
  assert.equal(await page.getByText('Not sent').count(), 0, 'nothing written offline was refused');
  const shown = await bodies(page);
  assert.deepEqual(shown, ['before the drop', 'while you were away 1', 'while you were away 2', ...offline]);
  // Dave got the queued message exactly once.
  const echo = await dave.next((f) => f.type === 'message' && f.body === 'written while offline');
  assert.equal(echo.author.name, 'Carol');
  dave.close();
  await context.close();
});

/** A queued message and a draft survive a reload of the page. */
test('the outbox and drafts survive a reload', async () => {
  const room = roomName('reload');
  const { page, context } = await signIn(browser, 'Erin');
  const network = await cuttableNetwork(page);
  await openRoom(page, room);
  await network.drop();
  await page.locator('.status.reconnecting').waitFor({ timeout: 10_000 });
  await send(page, 'queued before reload');
  await composer(page).fill('an unsent draft');
  await page.locator('.msg.pending', { hasText: 'queued before reload' }).waitFor();

  network.restore();
  await page.reload();
  await page.locator('.status.online').waitFor({ timeout: 20_000 });
  // In the production-shape pass a command may wait for a failed batch to come back; say what the
  // message showed if it never got its answer.
  await page.locator('.msg:not(.pending) .body', { hasText: 'queued before reload' })
    .waitFor({ timeout: 30_000 })
    .catch(async (error) => {
      const shown = await page.locator('.msg', { hasText: 'queued before reload' }).allTextContents();
      throw new Error(`${error.message}\nthe message showed: ${JSON.stringify(shown)}`);
    });
  assert.equal(await composer(page).inputValue(), 'an unsent draft');
  await context.close();
});

/** The server closes every connection after its maximum age; the app reconnects and keeps working. */
test('the server closing a connection at its age limit goes unnoticed', async () => {
  const gateway = await startGateway(['--max-connection-secs', '3']);
  try {
    const room = roomName('cap');
    const { page, context } = await signIn(browser, 'Frank', { baseUrl: gateway.url });
    let sockets = 0;
    page.on('websocket', () => { sockets += 1; });
    await openRoom(page, room, { baseUrl: gateway.url });
    await page.waitForTimeout(7_000);
    assert.ok(sockets >= 2, `the app opened ${sockets} sockets: it reconnected after each cut`);
    await page.locator('.status.online').waitFor({ timeout: 10_000 });

    await send(page, 'still here after the cap');
    await page.locator('.msg:not(.pending) .body', { hasText: 'still here after the cap' }).waitFor({ timeout: 15_000 });
    // Connections live 3 seconds here, so each check uses a fresh one.
    const grace = await wsClient('Grace', gateway.url);
    await grace.join(room);
    grace.send({ action: 'history', room, limit: 50 });
    const history = await grace.next((f) => f.type === 'history' && f.room === room);
    assert.ok(history.messages.some((m) => m.body === 'still here after the cap' && m.author.name === 'Frank'));
    await grace.say(room, 'and I can reach you');
    grace.close();
    await page.locator('.msg .body', { hasText: 'and I can reach you' }).waitFor({ timeout: 15_000 });
    await context.close();
  } finally {
    await gateway.stop();
  }
});

/**
 * The gateway is killed and started again on the same address. The app notices, keeps what was typed
 * meanwhile, reconnects (signing in again if the new process no longer honours the old session, as the
 * local gateway's fresh signing key does), then shows what was said while it was away and sends its
 * queue.
 */
test('after the gateway is killed and restarted the app recovers without losing anything', async () => {
  let gateway = await startGateway();
  const { port } = gateway;
  const room = roomName('restart');
  // The chat view leaves the page while the composer has the focus (the old session is refused): the
  // textarea's blur then comes after its view was disposed, and must not panic the app.
  const { page, context, pageErrors } = await signIn(browser, 'Hana', { baseUrl: gateway.url });
  try {
    await openRoom(page, room, { baseUrl: gateway.url });
    await gateway.stop();
    await page.locator('.status.reconnecting').waitFor({ timeout: 10_000 });
    await send(page, 'queued during the restart');
    await page.locator('.msg.pending', { hasText: 'queued during the restart' }).waitFor();

    gateway = await startGateway([], { port });
    const ivan = await wsClient('Ivan', gateway.url);
    await ivan.join(room);
    await ivan.say(room, 'said while you were away');

    const back = page.locator('.status.online');
    const signInAgain = page.getByRole('button', { name: /sign in/i });
    await back.or(signInAgain).first().waitFor({ timeout: 45_000 });
    if (await signInAgain.isVisible()) {
      await signInHere(page, 'Hana');
    }
    await page.waitForURL(new RegExp(`/rooms/${room}$`));
    await page.locator('.msg .body', { hasText: 'said while you were away' }).waitFor({ timeout: 15_000 });
    await page.locator('.msg:not(.pending) .body', { hasText: 'queued during the restart' }).waitFor({ timeout: 15_000 });
    const echo = await ivan.next((f) => f.type === 'message' && f.body === 'queued during the restart');
    assert.equal(echo.author.name, 'Hana');
    assert.deepEqual(pageErrors, [], 'no panic on the way');
    ivan.close();
  } finally {
    await context.close();
    await gateway.stop();
  }
});

/**
 * While the app waits to reconnect, "Retry now" skips the wait. The network refuses every socket until the
 * app's own backoff is long (app/src/backoff.rs: the ceiling starts at 0.5 s and doubles with each failure,
 * and the wait is at least half of it), so a reconnect before that wait is over can only be the button's.
 */
test('retry now reconnects without waiting out the backoff', async (t) => {
  const room = roomName('retry');
  const { page, context } = await signIn(browser, 'Jun');
  const network = await cuttableNetwork(page);
  await openRoom(page, room);
  const dropped = Date.now();
  await network.drop();
  // The dropped connection had answered, so the backoff restarts: waits of 0.25–0.5, 0.5–1, 1–2, 2–4 and
  // 4–8 s come before the five refused tries, and after the fifth the app waits at least 8 s on its own.
  const fifthRefused = await network.refused(5);
  // At most 15.5 s of waiting: a refused try fails at once instead of hanging until the 10 s open timeout.
  assert.ok(fifthRefused - dropped < 30_000, `five tries took ${fifthRefused - dropped} ms`);
  const ownWaitMs = 8_000;
  await page.waitForFunction(
    () => /Reconnecting in ([5-9]|\d\d+)s/.test(document.querySelector('.status')?.textContent ?? ''),
  );
  network.restore();
  const reconnected = network.nextAccepted();
  await page.getByRole('button', { name: 'Retry now' }).click();
  await page.locator('.status.online').waitFor();
  const socketAt = await reconnected;
  t.diagnostic(`reconnected ${socketAt - fifthRefused} ms after the fifth refusal (the app's own wait: ≥ ${ownWaitMs} ms)`);
  assert.ok(
    socketAt - fifthRefused < ownWaitMs,
    `the new socket came ${socketAt - fifthRefused} ms after the last refusal, before the app's own retry`,
  );
  assert.equal(await page.getByRole('button', { name: 'Retry now' }).count(), 0);
  await context.close();
});

/**
 * Before the ID token needs refreshing (5 minutes before it expires; the local sign-in issues 1-hour
 * tokens), the app refreshes it and replaces the connection with one opened with the new token, and the
 * person notices nothing: the status never leaves "Online" and the room keeps working. The page's clock is
 * moved forward 55½ minutes, so this takes seconds; the gateway checks tokens against the real clock, which
 * the refreshed token passes as the old one did.
 */
test('the token is refreshed and the connection replaced before it expires, unnoticed', async () => {
  const room = roomName('rotate');
  const { page, context } = await signIn(browser, 'Kim');
  await context.clock.install();
  await openRoom(page, room);
  const statuses = [];
  await page.exposeFunction('recordStatus', (status) => statuses.push(status));
  await page.evaluate(() => {
    const badge = document.querySelector('.status');
    new MutationObserver(() => window.recordStatus(badge.className))
      .observe(badge, { attributes: true, attributeFilter: ['class'] });
  });

  const refresh = page.waitForRequest(
    (r) => r.url().endsWith('/oauth2/token') && /grant_type=refresh_token/.test(r.postData() ?? ''),
  );
  const replaced = page.waitForEvent('websocket');
  await page.clock.fastForward('55:30');
  const refreshed = await (await (await refresh).response()).json();
  const second = new URL((await replaced).url()).searchParams.get('token');
  // (Within the same second the local issuer mints the same token again: compare with what it returned.)
  assert.equal(second, refreshed.id_token, 'the new connection uses the refreshed token');
  await page.locator('.status.online').waitFor();

  const lee = await wsClient('Lee');
  await lee.join(room);
  await send(page, 'sent on the new connection');
  await page.locator('.msg:not(.pending) .body', { hasText: 'sent on the new connection' }).waitFor();
  const echo = await lee.next((f) => f.type === 'message' && f.body === 'sent on the new connection');
  assert.equal(echo.author.name, 'Kim');
  await lee.say(room, 'and heard on it');
  await page.locator('.msg .body', { hasText: 'and heard on it' }).waitFor();
  lee.close();
  assert.deepEqual(statuses.filter((s) => !/\bonline\b/.test(s)), [], 'the status stayed Online throughout');
  await context.close();
});
