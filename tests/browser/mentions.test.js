// Mentions and notifications with two people in headless Chromium, each in their own browser context:
// Grace types `@Ad` and picks Ada from the list (keyboard and mouse); Ada sees the message highlighted;
// with two people called the same, a pick names only the one picked. With Ada's page hidden, a mention
// and a direct message raise a notification (and the tone, when on), an ordinary message does not, a
// visible page does not, a muted room does not; the permission is asked only from the button; clicking a
// notification opens its room.
//
// The page's visibility and the browser's notification and audio APIs are stand-ins installed before
// the app loads (`alertStubs`): headless Chromium shows no notifications, cannot be hidden on demand and
// plays no sound, so the test records what the app asks of them instead.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { BASE_URL, composer, launch, openRoom, roomName, send, signInHere, wsClient } from './helpers.js';

const run = Date.now().toString(36);
const names = { ada: `Ada ${run}`, grace: `Grace ${run}` };
const team = roomName('team');
const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');

let browser;
let ada;
let grace;

/**
 * Runs in the page before the app: the page's visibility under the test's control
 * (`__setHidden(bool)`), and stand-ins for `Notification` (permission "default" until asked; each
 * notification recorded in `__notifications`), `AudioContext` (each tone counted in `__tones`) and
 * `window.focus` (counted in `__focusCalls`).
 */
function alertStubs() {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  };
  window.__notifications = [];
  window.__permissionRequests = 0;
  class StubNotification {
    static permission = 'default';
    static requestPermission() {
      window.__permissionRequests += 1;
      StubNotification.permission = 'granted';
      return Promise.resolve('granted');
    }
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.onclick = null;
      this.closed = false;
      window.__notifications.push(this);
    }
    close() {
      this.closed = true;
    }
  }
  window.Notification = StubNotification;
  window.__tones = 0;
  const param = () => ({ value: 0, setValueAtTime() {}, exponentialRampToValueAtTime() {} });
  window.AudioContext = class {
    constructor() {
      this.currentTime = 0;
      this.destination = {};
    }
    resume() {
      return Promise.resolve();
    }
    createOscillator() {
      return { frequency: param(), connect() {}, start: () => { window.__tones += 1; }, stop() {} };
    }
    createGain() {
      return { gain: param(), connect() {} };
    }
  };
  window.__focusCalls = 0;
  window.focus = () => {
    window.__focusCalls += 1;
  };
}

/** Signs `name` in, in a new context whose pages get the stand-ins. */
async function signInWithStubs(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(alertStubs);
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${name}] page error:`, error));
  await page.goto(`${BASE_URL}/`);
  await signInHere(page, name);
  return { context, page };
}

before(async () => {
  browser = await launch();
  ada = await signInWithStubs(names.ada);
  grace = await signInWithStubs(names.grace);
  for (const { page } of [ada, grace]) await openRoom(page, team);
  await grace.page.locator('.members .member-name', { hasText: names.ada }).waitFor();
});

after(async () => {
  await browser?.close();
});

/** The confirmed message on `page` whose text contains `text`. */
function message(page, text) {
  return page.locator('.msg:not(.pending)', { has: page.locator('.body', { hasText: text }) });
}

/** The notifications Ada's page raised so far, as `{ title, body }`. */
function notifications() {
  return ada.page.evaluate(() => window.__notifications.map(({ title, body }) => ({ title, body })));
}

/** The suggestions the composer lists now (each option's text). */
function suggestions(page) {
  return page.locator('.mention-list [role="option"]');
}

/** Takes the same screenshot in the light and the dark theme. */
async function screenshotBoth(page, name, locator) {
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    await (locator ?? page).screenshot({ path: path.join(SCREENSHOTS, `${name}-${colorScheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Loading the app asks nothing; the button asks once, and then says notifications are on. */
test('the notification permission is asked from the button, never on load', async () => {
  const { page } = ada;
  await page.locator('.msg, .log-top .beginning').first().waitFor();
  assert.equal(await page.evaluate(() => window.__permissionRequests), 0, 'nothing asked on load');
  await page.getByRole('button', { name: 'Enable notifications' }).click();
  await page.locator('.alert-state.on', { hasText: 'Notifications on' }).waitFor();
  assert.equal(await page.evaluate(() => window.__permissionRequests), 1);
  assert.equal(await page.getByRole('button', { name: 'Enable notifications' }).count(), 0);
});

/**
 * Grace types `@Ad`: the list offers Ada (not Grace herself); Enter picks her without sending, and the
 * message then names her. Ada sees it highlighted, her name marked as hers; Grace sees the mention
 * marked but no highlight. A click picks as well, and Escape closes the list leaving the text as typed.
 */
test('Grace mentions Ada from the autocomplete and Ada sees it highlighted', async () => {
  const box = composer(grace.page);
  await box.click();
  await box.pressSequentially('lunch, @Ad');
  await suggestions(grace.page).first().waitFor();
  assert.deepEqual(
    (await suggestions(grace.page).locator('.member-name').allTextContents()),
    [names.ada],
  );
  assert.equal(await suggestions(grace.page).first().getAttribute('aria-selected'), 'true');
  await screenshotBoth(grace.page, 'mentions-autocomplete');
  await box.press('Enter');
  assert.equal(await box.inputValue(), `lunch, @${names.ada} `, 'Enter picked instead of sending');
  assert.equal(await suggestions(grace.page).count(), 0, 'the list closed');
  await box.pressSequentially('at noon?');
  await box.press('Enter');

  const seen = message(ada.page, 'at noon?');
  await seen.waitFor({ timeout: 10_000 });
  assert.match(await seen.getAttribute('class'), /\bmentioned\b/);
  assert.equal(await seen.locator('.mention.of-you').textContent(), `@${names.ada}`);
  const sent = message(grace.page, 'at noon?');
  await sent.waitFor();
  assert.doesNotMatch(await sent.getAttribute('class'), /\bmentioned\b/);
  assert.equal(await sent.locator('.mention:not(.of-you)').textContent(), `@${names.ada}`);
  await seen.scrollIntoViewIfNeeded();
  await screenshotBoth(ada.page, 'mentions-highlight');

  // The mouse: `@` alone lists everyone else here; a click picks.
  await box.pressSequentially('ping @');
  await suggestions(grace.page).first().waitFor();
  await suggestions(grace.page).filter({ hasText: names.ada }).click();
  assert.equal(await box.inputValue(), `ping @${names.ada} `);
  await expectFocused(grace.page, box);
  // Escape closes the list and keeps what was typed.
  await box.fill('');
  await box.pressSequentially('@Ad');
  await suggestions(grace.page).first().waitFor();
  await box.press('Escape');
  assert.equal(await suggestions(grace.page).count(), 0);
  assert.equal(await box.inputValue(), '@Ad');
  await box.fill('');
});

async function expectFocused(page, locator) {
  assert.ok(await locator.evaluate((el) => el === document.activeElement), 'the composer keeps the focus');
}

/**
 * A second person with Ada's very name joins: the list shows both with their handles, and a pick writes
 * the handle, so only the one picked is named.
 */
test('with two people of one name, a pick names only the one picked', async () => {
  const twin = await wsClient(`Ada  ${run}`); // two spaces: another person, the same name once cleaned
  try {
    await twin.join(team);
    await pickOneOfTwo();
  } finally {
    twin.close();
  }
  await grace.page.locator('.members .member-name', { hasText: names.ada }).nth(1).waitFor({ state: 'detached', timeout: 10_000 });
});

/** Grace picks the twin, then Ada, from two people called the same; only the one picked is named. */
async function pickOneOfTwo() {
  const box = composer(grace.page);
  await box.click();
  await box.pressSequentially('@Ad');
  await suggestions(grace.page).nth(1).waitFor({ timeout: 10_000 });
  const handles = await suggestions(grace.page).locator('.handle').allTextContents();
  assert.deepEqual(await suggestions(grace.page).locator('.member-name').allTextContents(), [names.ada, names.ada]);
  const adaHandle = (await ada.page.locator('.me-name').getAttribute('title')).split(' · ').pop();
  const twinHandle = handles.find((h) => h !== adaHandle);
  assert.ok(handles.includes(adaHandle) && twinHandle, `${handles} holds Ada's ${adaHandle}`);

  await suggestions(grace.page).filter({ hasText: twinHandle }).click();
  assert.equal(await box.inputValue(), `${twinHandle} `);
  await box.pressSequentially('this is for the twin');
  await box.press('Enter');
  await box.pressSequentially('@Ad');
  await suggestions(grace.page).filter({ hasText: adaHandle }).click();
  await box.pressSequentially('and this is for Ada');
  await box.press('Enter');

  const forAda = message(ada.page, 'and this is for Ada');
  await forAda.waitFor({ timeout: 10_000 });
  assert.match(await forAda.getAttribute('class'), /\bmentioned\b/);
  assert.equal(await forAda.locator('.mention.of-you').textContent(), adaHandle);
  const forTwin = message(ada.page, 'this is for the twin');
  assert.doesNotMatch(await forTwin.getAttribute('class'), /\bmentioned\b/);
  assert.equal(await forTwin.locator('.mention:not(.of-you)').textContent(), twinHandle);
}

/**
 * With Ada's page hidden: an ordinary message raises nothing, a mention raises one notification (and the
 * tone, turned on), a mention while the page is in sight raises nothing.
 */
test('a mention notifies while the page is hidden, an ordinary message does not', async () => {
  await ada.page.getByLabel('Sound').check();
  assert.equal(await ada.page.evaluate(() => window.__tones), 1, 'turning sound on plays it once');
  await ada.page.evaluate(() => window.__setHidden(true));
  const earlier = (await notifications()).length;

  await send(grace.page, 'just chatting, nobody in particular');
  await message(ada.page, 'just chatting').waitFor({ timeout: 10_000 });
  await send(grace.page, `@${names.ada} are you there?`);
  await ada.page.waitForFunction((n) => window.__notifications.length > n, earlier, { timeout: 10_000 });
  await message(ada.page, 'are you there?').waitFor();
  const raised = (await notifications()).slice(earlier);
  assert.deepEqual(raised, [{ title: `${names.grace} in #${team}`, body: `@${names.ada} are you there?` }]);
  assert.equal(await ada.page.evaluate(() => window.__tones), 2, 'the tone came with it');

  await ada.page.evaluate(() => window.__setHidden(false));
  await send(grace.page, `@${names.ada} now you see me`);
  await message(ada.page, 'now you see me').waitFor({ timeout: 10_000 });
  await ada.page.waitForTimeout(300);
  assert.equal((await notifications()).length, earlier + 1, 'nothing while the page is in sight');
  await ada.page.evaluate(() => window.__setHidden(true));
});

/**
 * A direct message notifies (any message, no mention needed); clicking the notification brings the
 * window forward and opens the conversation.
 */
test('a direct message notifies and its notification opens the conversation', async () => {
  await grace.page.getByRole('button', { name: `Message ${names.ada}` }).click();
  await grace.page.waitForURL(/\/rooms\/_dm-[0-9a-f]{40}$/);
  const dm = new URL(grace.page.url()).pathname;
  await send(grace.page, 'hello there');
  // Ada's list gains the conversation and her app joins it: from then on, its messages are live.
  await ada.page.locator('.dm-list .room-item', { hasText: names.grace }).waitFor({ timeout: 10_000 });
  await grace.page.locator('.members .member-name', { hasText: names.ada }).waitFor({ timeout: 10_000 });
  // Whether the first message came live or with the first page, it is counted unread once it is in:
  // any notification for it was raised by then.
  await ada.page.locator('.dm-list .room-item', { hasText: names.grace }).locator('.badge').waitFor({ timeout: 10_000 });
  const earlier = (await notifications()).length;
  await send(grace.page, 'psst');
  await ada.page.waitForFunction((n) => window.__notifications.length > n, earlier, { timeout: 10_000 });
  assert.deepEqual((await notifications()).slice(earlier), [{ title: names.grace, body: 'psst' }]);

  assert.notEqual(new URL(ada.page.url()).pathname, dm);
  await ada.page.evaluate(() => window.__notifications.at(-1).onclick());
  await ada.page.waitForURL((url) => url.pathname === dm);
  assert.equal(await ada.page.evaluate(() => window.__focusCalls), 1);
  assert.equal(await ada.page.evaluate(() => window.__notifications.at(-1).closed), true);
  await ada.page.locator('.msg .body', { hasText: 'psst' }).waitFor();
});

/**
 * Ada mutes the team room from its header: a mention there raises neither a notification nor the tone,
 * its unread count is shown subdued; the choice (and the sound) survives a reload.
 */
test('a muted room raises nothing and its unread count is subdued', async () => {
  await ada.page.locator('.sidebar .room-item a', { hasText: team }).click();
  await ada.page.waitForURL((url) => url.pathname === `/rooms/${team}`);
  const mute = ada.page.getByRole('button', { name: 'Mute room' });
  await mute.click();
  assert.equal(await mute.getAttribute('aria-pressed'), 'true');
  await ada.page.evaluate(() => window.__setHidden(true));
  const earlier = { notes: (await notifications()).length, tones: await ada.page.evaluate(() => window.__tones) };

  await grace.page.locator('.sidebar .room-item a', { hasText: team }).click();
  await grace.page.waitForURL((url) => url.pathname === `/rooms/${team}`);
  await send(grace.page, `@${names.ada} this room is muted`);
  await message(ada.page, 'this room is muted').waitFor({ timeout: 10_000 });
  await ada.page.waitForTimeout(300);
  assert.equal((await notifications()).length, earlier.notes, 'no notification from a muted room');
  assert.equal(await ada.page.evaluate(() => window.__tones), earlier.tones, 'no tone either');
  const badge = ada.page.locator('.sidebar .room-item', { hasText: team }).locator('.badge');
  await badge.waitFor();
  assert.match(await badge.getAttribute('class'), /\bmuted\b/);
  await ada.page.locator('.sidebar').screenshot({ path: path.join(SCREENSHOTS, 'mentions-muted-sidebar.png') });

  await ada.page.reload();
  await ada.page.locator('.status.online').waitFor();
  assert.equal(await ada.page.getByRole('button', { name: 'Mute room' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await ada.page.getByLabel('Sound').isChecked(), true);
  assert.equal(await ada.page.evaluate(() => window.__permissionRequests), 0, 'a reload asks nothing');
});
