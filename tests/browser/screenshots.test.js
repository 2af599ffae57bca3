// Screenshots of the chat as a person sees it, in light and dark theme, at phone and desktop widths, saved
// to tests/browser/screenshots/ to be looked at. The test also checks the layout holds at each size.
// The README's two pictures (light desktop, dark phone) are these same screenshots: with
// CHATTY_README_SCREENSHOTS=1 (what scripts/screenshots sets) they are copied to docs/screenshots/, and
// every run checks the committed ones are the right size and small.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch, openRoom, send, signIn, startGateway, wsClient } from './helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'screenshots');
const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };
/** The README's pictures, committed: theme and size of each. */
const README_DIR = path.join(HERE, '..', '..', 'docs', 'screenshots');
const README_SHOTS = [['light', 'desktop'], ['dark', 'phone']];
/** Largest a committed picture may be, so the repository stays small. */
const README_MAX_BYTES = 150 * 1024;
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
  await maya.say(room, 'Short one today: we ship the **reconnect** work.');
  await maya.say(room, 'Design review moved to **15:00**, agenda here: https://example.com/agenda');
  await people['Priya Natarajan'].say(room, 'I will bring the phone layout *and* the dark theme.');
  await people.Theo.say(room, 'Nice. I tested it on the train: it dropped *twice* and every message came through.');
  await people['Priya Natarajan'].say(room, 'Same here. To try it on your machine:\n```\n./scripts/dev --addr 127.0.0.1:9000\n```');
  await people.Theo.say(room, 'Can someone review the paging change before lunch? It is `load_older` in `client.rs`.');
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
      // The reader was at the bottom, and stays there at every size: the newest message is in full view.
      await page.waitForFunction(() => {
        const log = document.querySelector('[role="log"]').getBoundingClientRect();
        const last = [...document.querySelectorAll('[role="log"] .msg')].at(-1).getBoundingClientRect();
        return last.top >= log.top && last.bottom <= log.bottom + 1;
      }, null, { timeout: 10_000 });
      await settled(page);
      const file = path.join(OUT, `${scheme}-${size}.png`);
      await page.screenshot({ path: file });
      if (process.env.CHATTY_README_SCREENSHOTS && README_SHOTS.some(([s, w]) => s === scheme && w === size)) {
        await mkdir(README_DIR, { recursive: true });
        await copyFile(file, path.join(README_DIR, `${scheme}-${size}.png`));
      }
    });
  }
}

/** The README's pictures are committed, PNGs of the screen sizes above, and small. */
test('the README pictures are there and small', async () => {
  const readme = await readFile(path.join(HERE, '..', '..', 'README.md'), 'utf8');
  for (const [scheme, size] of README_SHOTS) {
    const name = `${scheme}-${size}.png`;
    assert.ok(readme.includes(`docs/screenshots/${name}`), `README.md shows ${name}`);
    const png = await readFile(path.join(README_DIR, name));
    assert.ok(png.length < README_MAX_BYTES, `${name} is ${png.length} bytes`);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    // The IHDR chunk: width and height, big-endian, at bytes 16 and 20.
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [SIZES[size].width, SIZES[size].height]);
  }
});

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
