// Screenshots of the chat as a person sees it, in light and dark theme, at phone and desktop widths, saved
// to tests/browser/screenshots/ to be looked at. The test also checks the layout holds at each size.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch, openRoom, send, signIn, startGateway, wsClient } from './helpers.js';

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
// A gateway of its own, so the room holds exactly this conversation however often the suite runs.
const room = 'design-review';
let gateway;
let browser;
let viewer;
let maya;

before(async () => {
  await mkdir(OUT, { recursive: true });
  gateway = await startGateway();
  const people = {};
  for (const name of ['Maya Chen', 'Theo', 'Priya Natarajan']) {
    people[name] = await wsClient(name, gateway.url);
    await people[name].join(room);
  }
  maya = people['Maya Chen'];
  await maya.say(room, 'Morning all! Standup notes are in the doc: https://example.com/notes');
  await maya.say(room, 'Short one today: we ship the reconnect work.');
  await people.Theo.say(room, 'Nice. I tested it on the train. It dropped twice and every message came through.');
  await people['Priya Natarajan'].say(room, 'Same here. Seeing queued messages marked as pending is a great touch.');
  await people.Theo.say(room, 'Can someone review the paging change before lunch?');
  browser = await launch();
  viewer = await signIn(browser, 'Jordan Lee', { baseUrl: gateway.url });
  await openRoom(viewer.page, room, { baseUrl: gateway.url });
  await send(viewer.page, 'On it, I will look after standup.');
  await viewer.page.locator('.msg:not(.pending) .body', { hasText: 'On it' }).waitFor();
  people.Theo.close();
  people['Priya Natarajan'].close();
});

/** Waits until no CSS transition runs (panels slide when the width crosses a breakpoint). */
async function settled(page) {
  await page.waitForFunction(() =>
    document.getAnimations().every((a) => !(a instanceof CSSTransition) || a.playState !== 'running'));
}

after(async () => {
  maya?.close();
  await browser?.close();
  await gateway?.stop();
});

for (const scheme of ['light', 'dark']) {
  for (const [size, viewport] of Object.entries(SIZES)) {
    /** The room at this size and theme: nothing overflows sideways, the composer is on screen. */
    test(`chat in ${scheme} theme at ${size} width`, async () => {
      const { page } = viewer;
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize(viewport);
      maya.send({ action: 'typing', room });
      await page.locator('.typing', { hasText: 'Maya Chen is typing…' }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
      const box = await page.locator('.composer').boundingBox();
      assert.ok(box.y + box.height <= viewport.height + 1, 'the composer is on screen');
      await settled(page);
      await page.screenshot({ path: path.join(OUT, `${scheme}-${size}.png`) });
    });
  }
}

/** On a phone the room list is a drawer behind the menu button. */
test('rooms drawer on a phone', async () => {
  const { page } = viewer;
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(SIZES.phone);
  // The room list slides off screen when the screen narrows, and the menu button slides it back in.
  await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().right <= 0);
  await settled(page);
  await page.getByRole('button', { name: 'Rooms' }).click();
  await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().x === 0);
  await settled(page);
  await page.screenshot({ path: path.join(OUT, 'light-phone-rooms.png') });
  await page.locator('.scrim').click({ position: { x: 370, y: 400 } });
});

/**
 * The sign-in page, signed out: the app's sign-in card (app/src/components/sign_in.rs), checked to show
 * what the picture should before it is taken, so a broken page cannot pass as a screenshot of one.
 */
test('sign-in page', async () => {
  for (const scheme of ['light', 'dark']) {
    const context = await browser.newContext({ viewport: SIZES.desktop, colorScheme: scheme });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const response = await page.goto(`${gateway.url}/`);
    // 503 is the gateway's "The app is not built yet" page.
    assert.equal(response.status(), 200, `${scheme}: the built app is served`);
    const button = page.getByRole('button', { name: 'Sign in', exact: true });
    await button.waitFor();
    const card = page.locator('.card.sign-in');
    assert.ok(await card.isVisible(), `${scheme}: the sign-in card shows`);
    const heading = card.getByRole('heading', { level: 1, name: 'Talk in rooms that keep up with you.', exact: true });
    assert.ok(await heading.isVisible(), `${scheme}: the heading shows`);
    assert.ok(await button.isVisible(), `${scheme}: the sign-in button shows`);
    assert.equal(await page.getByRole('button').count(), 1, `${scheme}: the one button is sign-in`);
    const box = await card.boundingBox();
    assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= SIZES.desktop.width
      && box.y + box.height <= SIZES.desktop.height, `${scheme}: the card fits the screen`);
    assert.equal(await page.getByText('The app is not built yet').count(), 0, `${scheme}: not the not-built page`);
    assert.equal(await page.getByRole('alert').count(), 0, `${scheme}: no error ("Chatty can't start", a notice)`);
    assert.equal(await page.locator('[aria-busy="true"]').count(), 0, `${scheme}: not still loading`);
    assert.deepEqual(pageErrors, [], `${scheme}: no script errors`);
    await page.screenshot({ path: path.join(OUT, `${scheme}-sign-in.png`) });
    await context.close();
  }
});
