// Signing out on a shared computer: the refresh token is revoked at the provider (a copy of it taken before
// is worth nothing), and what the person wrote but had not sent — drafts and the outbox — is gone from the
// browser, so whoever signs in next finds none of it. Their room list stays.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, composer, launch, openRoom, roomName, send, signInHere } from './helpers.js';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** `POST /oauth2/token` with a refresh token, as the app refreshes: the HTTP status. */
async function refresh(token) {
  const response = await fetch(`${BASE_URL}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'chatty-local', refresh_token: token }),
  });
  return response.status;
}

/** The person's keys in localStorage and their values. */
function stored(page) {
  return page.evaluate(() => Object.fromEntries(
    Object.keys(localStorage).filter((k) => k.startsWith('chatty.')).map((k) => [k, localStorage.getItem(k)]),
  ));
}

test('signing out revokes the refresh token and forgets drafts and the outbox', async () => {
  const room = roomName('signout');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    // Sends pass through the test, which holds them back, so one stays unsent in the outbox.
    await page.routeWebSocket(/\/ws\b/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((data) => {
        if (JSON.parse(data).action !== 'send') server.send(data);
      });
    });
    await page.goto(`${BASE_URL}/`);
    await signInHere(page, 'Noor');
    await openRoom(page, room);
    await send(page, 'never answered');
    await page.getByText('never answered').waitFor();
    await composer(page).fill('a draft about someone');

    const refreshToken = await page.evaluate(() => JSON.parse(sessionStorage.getItem('chatty.session')).refresh_token);
    assert.equal(await refresh(refreshToken), 200, 'the refresh token works while signed in');
    const before = await stored(page);
    const key = (what) => Object.keys(before).find((k) => k.endsWith(`.${what}`));
    assert.ok(before[key('outbox')]?.includes('never answered'), 'the unsent message is in the outbox');
    await page.waitForFunction(() => Object.keys(localStorage).some(
      (k) => k.endsWith('.drafts') && localStorage.getItem(k).includes('a draft about someone'),
    ));

    // The app shows the sign-in screen at once, then revokes the token and leaves for the provider's
    // logout page, which sends it back: the page loads again after the revocation, and only then is it
    // safe to ask the page anything (earlier, a navigation could destroy the context mid-question).
    const backFromLogout = page.waitForEvent('load');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await backFromLogout;
    await page.getByRole('button', { name: /sign in|continue with/i }).waitFor();

    assert.equal(await refresh(refreshToken), 400, 'the refresh token was revoked');
    const after = await stored(page);
    assert.equal(after[key('outbox')], undefined, 'the outbox is gone');
    assert.equal(after[key('drafts')], undefined, 'the drafts are gone');
    assert.ok(after[key('rooms')]?.includes(room), 'the room list stays');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('chatty.session')), null, 'no session left');

    // Signing in again finds nothing half-written.
    await signInHere(page, 'Noor');
    await openRoom(page, room);
    assert.equal(await composer(page).inputValue(), '');
    assert.equal(await page.getByText('never answered').count(), 0);
  } finally {
    await context.close();
  }
});
