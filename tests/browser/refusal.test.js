// A message the server refuses: the sender sees it marked "Not sent" with the server's reason and a Retry
// button; Retry sends it again (same client_id) and it ends confirmed, and the other person sees it once.
// The refusal is staged: the page's WebSocket is routed through the test to the real gateway, and the
// first `send` of one chosen text is answered by the test with the server's own `internal` error frame
// (a transient failure "on our side") instead of being forwarded. Everything else passes both ways.
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

/** protocol/src/server.rs: `ErrorCode::Internal`, as the server writes it (code and `describe()`). */
const INTERNAL = { code: 'internal', message: 'Something went wrong on our side; try again.' };

/**
 * Routes the page's WebSockets to the real gateway, answering the first `send` whose body is `marker`
 * with an `internal` error frame for its client_id instead of forwarding it. `sends` lists every `send`
 * frame with that body the page wrote, and whether it was forwarded; `sends.sockets` counts the sockets;
 * `sends.trail` names every frame either way (and the socket it went on), in order, for a failure to
 * show (see `explained`).
 */
async function refuseFirstSendOf(page, marker) {
  const sends = [];
  sends.sockets = 0;
  sends.trail = [];
  const started = Date.now();
  const note = (socket, direction, data) => {
    const frame = parsed(data);
    const what = [frame?.action ?? frame?.type, frame?.code, frame?.room, frame?.client_id, frame?.body];
    sends.trail.push(`${Date.now() - started} ms, socket ${socket} ${direction} ${what.filter(Boolean).join(' ')}`);
  };
  await page.routeWebSocket(/\/ws\b/, (ws) => {
    sends.sockets += 1;
    const socket = sends.sockets;
    const server = ws.connectToServer();
    server.onMessage((data) => {
      note(socket, '←', data);
      ws.send(data);
    });
    ws.onMessage((data) => {
      note(socket, '→', data);
      const frame = parsed(data);
      if (frame?.action === 'send' && frame.body === marker) {
        const refuse = !sends.some((s) => !s.forwarded);
        sends.push({ clientId: frame.client_id, forwarded: !refuse });
        if (refuse) {
          sends.trail.push('  (refused by the test)');
          ws.send(JSON.stringify({ type: 'error', ...INTERNAL, client_id: frame.client_id }));
          return;
        }
      }
      server.send(data);
    });
  });
  return sends;
}

/** A frame as JSON, or undefined if it is not JSON (then it is the server's business). */
function parsed(data) {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** Waits for `waiting`; if it fails, the error also shows every frame of `sends.trail`. */
async function explained(waiting, sends) {
  try {
    return await waiting;
  } catch (error) {
    error.message += `\nthe frames, page → and ← server:\n${sends.trail.join('\n')}`;
    throw error;
  }
}

/** The connection status badge saying "Online". */
function online(page) {
  return page.getByRole('status').filter({ hasText: /^Online$/ });
}

/** The conversation on `page` for `room` (the `role="log"` region). */
function log(page, room) {
  return page.getByRole('log', { name: `Messages in #${room}` });
}

test('a send the server refuses is marked failed with its reason, and Retry delivers it once', async () => {
  const room = roomName('refused');
  const marker = `refused once, then delivered ${Date.now().toString(36)}`;
  const mia = await signIn(browser, 'Mia');
  const noor = await signIn(browser, 'Noor');
  try {
    const sends = await refuseFirstSendOf(mia.page, marker);
    await openRoom(mia.page, room);
    await openRoom(noor.page, room);
    const miaLog = log(mia.page, room);
    const noorLog = log(noor.page, room);

    await send(mia.page, 'before the refusal');
    await noorLog.getByRole('article').filter({ hasText: 'before the refusal' }).waitFor();

    // The refused message stays on the sender's screen, marked as not sent, with why and what to do.
    await send(mia.page, marker);
    const row = miaLog.getByRole('article').filter({ hasText: marker });
    const status = row.getByRole('status');
    await status.filter({ hasText: 'Not sent' }).waitFor({ timeout: 10_000 });
    await row.getByText(`Not sent: ${INTERNAL.message}`, { exact: true }).waitFor();
    assert.equal(await composer(mia.page).inputValue(), '', 'the text left the composer: it lives in the row');
    const retry = row.getByRole('button', { name: 'Retry', exact: true });
    assert.equal(await retry.isVisible(), true);
    assert.equal(await row.getByRole('button', { name: 'Discard', exact: true }).isVisible(), true);
    assert.deepEqual(sends.map((s) => s.forwarded), [false], 'the first send was refused, not forwarded');
    assert.equal(await online(mia.page).count(), 1, 'the connection stayed open');
    // A failed message waits for the person: nothing goes out again on its own.
    await mia.page.waitForTimeout(500);
    assert.equal(sends.length, 1, 'nothing was resent without Retry');

    await retry.click();
    // Confirmed: the server's copy, with its time, replaces the pending row; no status or buttons remain.
    const confirmed = miaLog.getByRole('article').filter({ hasText: marker }).filter({ has: mia.page.locator('time') });
    await explained(confirmed.waitFor({ timeout: 10_000 }), sends);
    await row.getByRole('status').waitFor({ state: 'detached' });
    assert.equal(await miaLog.getByRole('article').filter({ hasText: marker }).count(), 1);
    assert.equal(await miaLog.getByRole('button', { name: /^(Retry|Discard)$/ }).count(), 0);
    assert.equal(sends.length, 2);
    assert.equal(sends[1].forwarded, true);
    assert.equal(sends[1].clientId, sends[0].clientId, 'Retry resent the same message (same client_id)');

    // Noor sees it exactly once, after what came before it. A message sent after it, once it has arrived
    // too, shows nothing else was on its way.
    await send(mia.page, 'after the retry');
    await noorLog.getByRole('article').filter({ hasText: 'after the retry' }).waitFor({ timeout: 10_000 });
    const noorBodies = await noorLog.locator('.msg .body').allTextContents();
    assert.deepEqual(noorBodies, ['before the refusal', marker, 'after the retry']);
    assert.equal(await noorLog.getByRole('article').filter({ hasText: marker }).count(), 1);
    const miaBodies = await miaLog.locator('.msg .body').allTextContents();
    assert.deepEqual(miaBodies, ['before the refusal', marker, 'after the retry']);
    assert.equal(await noorLog.getByText('Not sent').count(), 0, 'the refusal was only ever the sender\'s');
    assert.equal(sends.sockets, 1, 'all of it on one connection: the refusal did not close it');
    assert.equal(await online(mia.page).count(), 1);
  } finally {
    await mia.context.close();
    await noor.context.close();
  }
});
