// History paging: a room with more messages than one page shows the newest first, and scrolling up loads
// the older ones, page by page, without losing the reader's place.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bodies, launch, openRoom, roomName, signIn, wsClient } from './helpers.js';

const TOTAL = 130;
let browser;
let reader;
const room = roomName('history');
const label = (i) => `seed message ${String(i).padStart(3, '0')}`;

before(async () => {
  const seeder = await wsClient('Seeder');
  await seeder.join(room);
  for (let i = 1; i <= TOTAL; i += 1) {
    await seeder.say(room, label(i));
  }
  seeder.close();
  browser = await launch();
  reader = await signIn(browser, 'Reader', { viewport: { width: 1280, height: 800 } });
  await openRoom(reader.page, room);
});

after(async () => {
  await browser?.close();
});

/** Opening the room shows its newest page, scrolled to the newest message. */
test('the newest messages show first, at the bottom', async () => {
  const { page } = reader;
  await page.locator('.msg .body', { hasText: label(TOTAL) }).waitFor();
  const shown = await bodies(page);
  assert.ok(shown.length < TOTAL, `only a page is loaded at first (${shown.length})`);
  assert.equal(shown.at(-1), label(TOTAL));
  const atBottom = await page.locator('.log').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48);
  assert.ok(atBottom, 'the list starts at the bottom');
});

/** Scrolling to the top loads older pages until the beginning; the view stays on what was read. */
test('scrolling up loads older history, in order, without jumping', async () => {
  const { page } = reader;
  const log = page.locator('.log');
  for (let round = 0; round < 10; round += 1) {
    if (await page.locator('.log-top .beginning').isVisible()) break;
    const before = await bodies(page);
    const oldest = before[0];
    await log.evaluate((el) => { el.scrollTop = 0; });
    await page.waitForFunction(
      (count) => document.querySelectorAll('.msg:not(.pending) .body').length > count
        || document.querySelector('.log-top .beginning'),
      before.length,
    );
    // The message that was at the top is still in view: the reader keeps their place.
    const top = page.locator('.msg .body', { hasText: oldest });
    const [box, view] = await Promise.all([top.boundingBox(), log.boundingBox()]);
    assert.ok(box.y >= view.y - 1 && box.y < view.y + view.height, `"${oldest}" stays in view`);
  }
  await page.locator('.log-top .beginning').waitFor();
  const all = await bodies(page);
  assert.equal(all.length, TOTAL);
  assert.deepEqual(all, Array.from({ length: TOTAL }, (_, i) => label(i + 1)));
});

/** A reader scrolled up is not yanked down by a new message; a button offers to jump instead. */
test('a new message does not scroll a reader who scrolled up', async () => {
  const { page } = reader;
  const log = page.locator('.log');
  await log.evaluate((el) => { el.scrollTop = 200; });
  await page.waitForTimeout(200);
  const before = await log.evaluate((el) => el.scrollTop);
  const writer = await wsClient('Writer');
  await writer.join(room);
  await writer.say(room, 'a brand new message');
  const jump = page.getByRole('button', { name: /1 new message/ });
  await jump.waitFor();
  assert.equal(await log.evaluate((el) => el.scrollTop), before, 'the reader stays where they were');
  await jump.click();
  await page.locator('.msg .body', { hasText: 'a brand new message' }).waitFor();
  assert.ok(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48));
  assert.equal(await jump.count(), 0, 'the button goes once the reader is at the bottom');
  writer.close();
});
