// Reactions between two people: Ada reacts to a message from the picker, Grace sees the count live and
// Ada's name on hover, Grace adds the same emoji (2), Ada takes hers back (1), and a reload on both sides
// shows the same chips, pressed for the one who reacted. The server refuses emoji outside the set and
// people outside the room.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openRoom, roomName, send, signIn, wsClient } from './helpers.js';

let browser;
let ada;
let grace;
const room = roomName('reactions');
const text = 'Lunch at noon?';

before(async () => {
  browser = await launch();
  ada = await signIn(browser, 'Ada');
  grace = await signIn(browser, 'Grace');
  await openRoom(ada.page, room);
  await openRoom(grace.page, room);
});

after(async () => {
  await browser?.close();
});

/** The confirmed message on `page` whose text contains `body`. */
function message(page, body) {
  return page.locator('.msg:not(.pending)', { has: page.locator('.body', { hasText: body }) });
}

/** The 👍 chip under the message on `page`. */
function thumbs(page) {
  return message(page, text).locator('.reaction:not(.add)', { hasText: '👍' });
}

/**
 * Waits until the 👍 chip on `page` shows `count`, pressed or not (`pressed`), and answers its `title`;
 * with `count` 0, until there is no chip.
 */
async function chipShows(page, count, pressed) {
  if (count === 0) {
    await thumbs(page).waitFor({ state: 'detached', timeout: 10_000 });
    return '';
  }
  const chip = message(page, text).locator(`.reaction[aria-pressed="${pressed}"]`, {
    hasText: new RegExp(`👍\\s*${count}$`),
  });
  await chip.waitFor({ timeout: 10_000 });
  return chip.getAttribute('title');
}

/** Ada reacts from the picker; Grace sees the chip arrive live, with Ada's name on hover. */
test('a reaction reaches the other person live and names who reacted', async () => {
  await send(grace.page, text);
  const adas = message(ada.page, text);
  await adas.waitFor({ timeout: 10_000 });
  await adas.hover();
  await adas.getByRole('button', { name: 'Add a reaction' }).click();
  await adas.getByRole('menuitem', { name: 'React with 👍' }).click();
  assert.equal(await chipShows(ada.page, 1, true), 'Ada');
  assert.equal(await adas.getByRole('menu').count(), 0, 'the picker closes once used');

  assert.equal(await chipShows(grace.page, 1, false), 'Ada');
  await thumbs(grace.page).hover();
  assert.equal(await thumbs(grace.page).getAttribute('title'), 'Ada', 'hovering names who reacted');
});

/** Grace adds the same emoji with its chip (2, pressed for her), then Ada takes hers back (1). */
test('chips toggle each person\'s own reaction and count everyone\'s', async () => {
  await thumbs(grace.page).click();
  assert.equal(await chipShows(grace.page, 2, true), 'Ada and Grace');
  assert.equal(await chipShows(ada.page, 2, true), 'Ada and Grace');

  await thumbs(ada.page).click();
  assert.equal(await chipShows(ada.page, 1, false), 'Grace');
  assert.equal(await chipShows(grace.page, 1, true), 'Grace');
});

/** A reload on both sides shows the same chip, pressed only for Grace: history carries reactions. */
test('reactions survive a reload on both sides', async () => {
  await Promise.all([ada.page.reload(), grace.page.reload()]);
  assert.equal(await chipShows(ada.page, 1, false), 'Grace');
  assert.equal(await chipShows(grace.page, 1, true), 'Grace');
  // Ada's click after the reload adds hers again: the app knew it was not hers.
  await thumbs(ada.page).click();
  assert.equal(await chipShows(grace.page, 2, true), 'Grace and Ada');
  await thumbs(ada.page).click();
  assert.equal(await chipShows(grace.page, 1, true), 'Grace');
});

/** The server takes only emoji of the set, and only from people in the room. */
test('the server refuses other emoji and people outside the room', async () => {
  const mallory = await wsClient('Mallory');
  const outsider = await wsClient('Oscar');
  await mallory.join(room);
  mallory.send({ action: 'history', room });
  const page = await mallory.next((f) => f.type === 'history' && f.room === room);
  const target = page.messages.find((m) => m.body === text);
  assert.deepEqual(target.reactions.map((r) => [r.emoji, r.count]), [['👍', 1]]);
  assert.deepEqual(target.mine, [], 'Mallory reacted with nothing');
  mallory.send({ action: 'react', room, id: target.id, emoji: '🍕', on: true });
  assert.equal((await mallory.next((f) => f.type === 'error')).code, 'invalid_emoji');
  outsider.send({ action: 'react', room, id: target.id, emoji: '👍', on: true });
  assert.equal((await outsider.next((f) => f.type === 'error')).code, 'not_a_member');
  mallory.close();
  outsider.close();
  assert.equal(await chipShows(grace.page, 1, true), 'Grace', 'nothing changed');
});
