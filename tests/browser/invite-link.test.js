// A single-use invite link between people who share no room, in headless Chromium: Ada makes one for her
// private room; Grace, signed out, opens it, signs in and lands in the room with its history (the code
// survives the sign-in's round trip, and leaves the address bar); Eve, signed in, opens the same link
// afterwards and is told it can't be used, and the room stays out of her sidebar and her reach.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, launch, send, signIn, signInHere } from './helpers.js';

const run = Date.now().toString(36);
const names = { ada: `Ada ${run}`, grace: `Grace ${run}`, eve: `Eve ${run}` };

let browser;
let ada;
let plans;
let link;

before(async () => {
  browser = await launch();
  ada = await signIn(browser, names.ada);
});

after(async () => {
  await browser?.close();
});

/** The sidebar's entry for a room whose label holds `text`. */
function entry(page, text) {
  return page.locator('.sidebar .room-item', { hasText: text });
}

/** Ada creates a private room, writes in it, and makes an invite link from its member panel. */
test('Ada makes an invite link for her private room', async () => {
  const { page } = ada;
  await page.locator('#join-room').fill('plans');
  await page.locator('.private-toggle input').check();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/rooms\/_[0-9a-f]{6}-plans$/);
  plans = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  await send(page, 'the secret plan');
  await page.locator('.msg:not(.pending) .body', { hasText: 'the secret plan' }).waitFor();
  await page.getByRole('button', { name: 'Create invite link' }).click();
  const field = page.getByRole('textbox', { name: 'Invite link' });
  await field.waitFor({ timeout: 10_000 });
  link = await field.inputValue();
  assert.match(link, new RegExp(`^${BASE_URL}/#join=[0-9a-f]{32}$`));
  await page.getByRole('button', { name: 'Copy' }).click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
});

/** Grace, signed out, opens the link: the sign-in card, then the room itself, with what was written. */
test('Grace opens it signed out, signs in and is in the room with its history', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[Grace] page error:', error));
  await page.goto(link);
  await page.getByRole('button', { name: /sign in|continue with/i }).waitFor();
  assert.ok(!page.url().includes('#join'), `the code left the address bar: ${page.url()}`);
  await signInHere(page, names.grace);
  await page.waitForURL((url) => url.pathname === `/rooms/${plans}`, { timeout: 10_000 });
  await page.locator('.msg .body', { hasText: 'the secret plan' }).waitFor({ timeout: 10_000 });
  await entry(page, 'plans').waitFor();
  await page.locator('.members .member-name', { hasText: names.grace }).waitFor();
  await ada.page.locator('.members .member-name', { hasText: names.grace }).waitFor({ timeout: 10_000 });
  await send(page, 'thanks for the link');
  await ada.page.locator('.msg:not(.pending) .body', { hasText: 'thanks for the link' }).waitFor({ timeout: 10_000 });
});

/** Eve, signed in elsewhere, opens the same link afterwards: refused, not in the room, not shown it. */
test('someone opening the used link afterwards is refused and kept out', async () => {
  const eve = await signIn(browser, names.eve);
  const { page } = eve;
  await page.goto(link);
  await page.locator('.status.online').waitFor();
  const notice = page.locator('.notice span');
  await notice.waitFor({ timeout: 10_000 });
  assert.match(await notice.textContent(), /invite link can't be used/);
  assert.ok(!page.url().includes(plans), page.url());
  assert.equal(await entry(page, 'plans').count(), 0, 'not in her sidebar');
  await page.waitForTimeout(500);
  assert.equal(await page.getByText('the secret plan').count(), 0);
  assert.equal(
    await ada.page.locator('.members .member-list:not(.invite-list) .member-name', { hasText: names.eve }).count(),
    0,
    'nobody sees her in the room',
  );
});
