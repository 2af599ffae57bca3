// Private rooms and direct messages with three people in headless Chromium, each in their own browser
// context (Grace on two): Ada creates a private room and invites Grace from the member list; Grace sees
// it on a second device; Eve, outside it, gets the same answer as for a room that does not exist and
// never sees its messages or its people; a direct message between Ada and Grace survives reloads on both
// sides with the right unread count, cleared on every device once read.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import {
  createPrivateRoom, launch, openRoom, roomName, send, sendConfirmed, sidebarEntry, signIn, BASE_URL,
} from './helpers.js';

const run = Date.now().toString(36);
const names = { ada: `Ada ${run}`, grace: `Grace ${run}`, eve: `Eve ${run}` };
const team = roomName('team');
const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');

let browser;
let ada;
let grace;
let gracePhone;
let eve;
let plans;

before(async () => {
  browser = await launch();
  ada = await signIn(browser, names.ada);
  grace = await signIn(browser, names.grace);
  eve = await signIn(browser, names.eve);
  for (const { page } of [ada, grace, eve]) await openRoom(page, team);
  await ada.page.locator('.members .member-name', { hasText: names.eve }).waitFor();
});

after(async () => {
  await browser?.close();
});

/** Ada ticks "Private", creates "plans", writes in it, and invites Grace from the people she met. */
test('Ada creates a private room and invites Grace from the member list', async () => {
  const { page } = ada;
  plans = await createPrivateRoom(page, 'plans');
  await page.locator('.room-title', { hasText: 'plans' }).waitFor();
  await page.locator('.members .member-name', { hasText: names.ada }).waitFor();
  await sendConfirmed(page, 'the secret plan');
  assert.equal(await sidebarEntry(page, 'plans').locator('.lock').count(), 1, 'shown as private');
  await page.getByRole('button', { name: `Invite ${names.grace}` }).click();
  await sidebarEntry(grace.page, 'plans').waitFor({ timeout: 10_000 });
});

/** Grace signs in on a second device: the private room is in her sidebar, and its history is hers. */
test('Grace sees the private room on a second device', async () => {
  gracePhone = await signIn(browser, names.grace);
  const { page } = gracePhone;
  await sidebarEntry(page, 'plans').waitFor({ timeout: 10_000 });
  await sidebarEntry(page, 'plans').locator('a').click();
  await page.locator('.msg .body', { hasText: 'the secret plan' }).waitFor();
  await page.locator('.members .member-name', { hasText: names.grace }).waitFor();
  await ada.page.locator('.members .member-name', { hasText: names.grace }).waitFor();
});

/**
 * Eve opens the private room's address, then a private name nobody created: both answer the same
 * sentence, show no message and no one in the room, and neither stays in her sidebar.
 */
test('a third person cannot join, read or see presence, the same as for a missing room', async () => {
  const { page } = eve;
  const missing = plans.replace(/-plans$/, '-nothing-here');
  const seen = [];
  for (const room of [plans, missing]) {
    await page.goto(`${BASE_URL}/rooms/${room}`);
    await page.locator('.status.online').waitFor();
    const notice = page.locator('.notice span');
    await notice.waitFor({ timeout: 10_000 });
    seen.push(await notice.textContent());
    await page.waitForTimeout(300);
    assert.equal(await page.locator('.msg').count(), 0, `${room}: no messages`);
    assert.equal(await page.locator('.members .member').count(), 0, `${room}: nobody present`);
    assert.equal(await sidebarEntry(page, room.split('-').pop()).count(), 0, `${room}: not in the sidebar`);
  }
  assert.equal(seen[0], seen[1]);
  assert.match(seen[0], /no such room/i);
  // Ada, in the room, sees who is present: not Eve (Eve is only offered for an invitation).
  await ada.page.locator('.members .invite-list .member-name', { hasText: names.eve }).waitFor();
  const present = ada.page.locator('.members .member-list:not(.invite-list) .member-name');
  assert.equal(await present.filter({ hasText: names.eve }).count(), 0);
  await page.waitForTimeout(500);
  assert.equal(await page.getByText('the secret plan').count(), 0);
});

/** The unread badge of a direct conversation in a sidebar (0 without one). */
async function unread(page, who) {
  const badge = sidebarEntry(page, who).locator('.badge');
  return (await badge.count()) === 0 ? 0 : Number(await badge.textContent());
}

/**
 * Ada writes to Grace from the team room's member list; Grace's sidebar lists the conversation apart,
 * under Ada's name, with two unread on both her devices, still after a reload; read on one device, it is
 * read on the other too, after a reload as well; Ada finds the conversation under Grace's name after
 * hers.
 */
test('a direct message survives reloads on both sides with correct unread counts', async () => {
  await openRoom(ada.page, team);
  await ada.page.getByRole('button', { name: `Message ${names.grace}` }).click();
  await ada.page.waitForURL(/\/rooms\/_dm-[0-9a-f]{40}$/);
  const dm = new URL(ada.page.url()).pathname;
  await send(ada.page, 'psst, Grace');
  await send(ada.page, 'are you there?');
  await ada.page.locator('.msg:not(.pending) .body', { hasText: 'are you there?' }).waitFor();

  for (const { page } of [grace, gracePhone]) {
    await page.goto(`${BASE_URL}/rooms/${team}`);
    await sidebarEntry(page, names.ada).waitFor({ timeout: 10_000 });
    await page.locator('.dm-list .room-item', { hasText: names.ada }).waitFor();
    await page.waitForFunction(
      (who) => [...document.querySelectorAll('.dm-list .room-item')].some((e) => e.textContent.includes(who) && e.querySelector('.badge')?.textContent === '2'),
      names.ada,
    );
    await page.reload();
    await page.locator('.status.online').waitFor();
    await sidebarEntry(page, names.ada).locator('.badge', { hasText: '2' }).waitFor({ timeout: 10_000 });
    assert.equal(await unread(page, names.ada), 2);
  }
  await grace.page.screenshot({ path: path.join(SCREENSHOTS, 'private-sidebar.png') });

  await sidebarEntry(grace.page, names.ada).locator('a').click();
  await grace.page.waitForURL((url) => url.pathname === dm);
  await grace.page.locator('.msg .body', { hasText: 'are you there?' }).waitFor();
  await sidebarEntry(grace.page, names.ada).locator('.badge').waitFor({ state: 'detached' });
  // Read positions go out every two seconds; the other device hears of it, and a reload agrees.
  await sidebarEntry(gracePhone.page, names.ada).locator('.badge').waitFor({ state: 'detached', timeout: 10_000 });
  await gracePhone.page.reload();
  await gracePhone.page.locator('.status.online').waitFor();
  await sidebarEntry(gracePhone.page, names.ada).waitFor();
  await gracePhone.page.waitForTimeout(1_000);
  assert.equal(await unread(gracePhone.page, names.ada), 0);

  await ada.page.reload();
  await ada.page.locator('.status.online').waitFor();
  await ada.page.locator('.dm-list .room-item', { hasText: names.grace }).waitFor({ timeout: 10_000 });
  await ada.page.locator('.msg .body', { hasText: 'psst, Grace' }).waitFor();
  assert.equal(await unread(ada.page, names.grace), 0, 'her own messages are not unread');
});
