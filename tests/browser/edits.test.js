// Editing and deleting your own messages, between two people: the other sees the edit (marked "edited")
// and the deletion (a placeholder) live, a reload shows the latest versions, someone away catches up on
// the changes made meanwhile, and nobody can change someone else's message.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cuttableNetwork, launch, openRoom, roomName, send, signIn, wsClient } from './helpers.js';

let browser;
let ada;
let lin;
const room = roomName('edits');

before(async () => {
  browser = await launch();
  ada = await signIn(browser, 'Ada');
  lin = await signIn(browser, 'Lin');
  await openRoom(ada.page, room);
  await openRoom(lin.page, room);
});

after(async () => {
  await browser?.close();
});

/** The confirmed message on `page` whose text contains `text`. */
function message(page, text) {
  return page.locator('.msg:not(.pending)', { has: page.locator('.body', { hasText: text }) });
}

/** Ada edits her message in place with the Edit button. */
async function edit(text, replacement) {
  const own = message(ada.page, text);
  await own.hover();
  await own.getByRole('button', { name: 'Edit' }).click();
  // Editing replaces the text with the box: the only one on the page.
  const box = ada.page.getByRole('textbox', { name: 'Edit message' });
  assert.equal(await box.inputValue(), text);
  await box.fill(replacement);
  await box.press('Enter');
}

/** An edit shows live for the other person, marked edited; only the author is offered Edit and Delete. */
test('an edit reaches the other person live, marked edited', async () => {
  await send(ada.page, 'helo wrold');
  await message(lin.page, 'helo wrold').waitFor({ timeout: 10_000 });
  assert.equal(await message(lin.page, 'helo wrold').getByRole('button', { name: 'Edit' }).count(), 0,
    'nobody is offered to edit someone else\'s message');
  await edit('helo wrold', 'hello world');
  const seen = message(lin.page, 'hello world');
  await seen.waitFor({ timeout: 10_000 });
  assert.equal(await seen.locator('.body').textContent(), 'hello world');
  assert.equal(await seen.locator('.edited').textContent(), '(edited)');
  assert.equal(await message(lin.page, 'helo wrold').count(), 0, 'the old text is gone');
  await message(ada.page, 'hello world').locator('.edited').waitFor();
});

/** A deleted message becomes a placeholder for everyone. */
test('a delete leaves a placeholder for everyone', async () => {
  await send(ada.page, 'regrettable remark');
  await message(lin.page, 'regrettable remark').waitFor({ timeout: 10_000 });
  const own = message(ada.page, 'regrettable remark');
  await own.hover();
  await own.getByRole('button', { name: 'Delete' }).click();
  for (const { page } of [ada, lin]) {
    await page.locator('.body.deleted', { hasText: 'This message was deleted.' }).first().waitFor({ timeout: 10_000 });
    assert.equal(await page.getByText('regrettable remark').count(), 0);
  }
});

/** A reload shows the latest versions: history carries the edit and the delete. */
test('history carries the latest versions', async () => {
  await lin.page.reload();
  await message(lin.page, 'hello world').locator('.edited').waitFor({ timeout: 10_000 });
  await lin.page.locator('.body.deleted').first().waitFor();
  assert.equal(await lin.page.getByText('regrettable remark').count(), 0);
  assert.equal(await lin.page.getByText('helo wrold').count(), 0);
});

/** Someone whose connection dropped sees, once back, the edits and deletes of older messages made while away. */
test('a reconnect catches up on edits and deletes made while away', async () => {
  const kim = await signIn(browser, 'Kim');
  const network = await cuttableNetwork(kim.page);
  await openRoom(kim.page, room);
  await send(ada.page, 'said before the drop');
  await send(ada.page, 'also before the drop');
  await message(kim.page, 'also before the drop').waitFor({ timeout: 10_000 });

  await network.drop();
  await kim.page.locator('.status.reconnecting').waitFor({ timeout: 10_000 });
  await edit('said before the drop', 'said, then fixed while Kim was away');
  const own = message(ada.page, 'also before the drop');
  await own.hover();
  await own.getByRole('button', { name: 'Delete' }).click();
  await message(lin.page, 'said, then fixed').waitFor({ timeout: 10_000 });
  await send(ada.page, 'and a new one');

  network.restore();
  await message(kim.page, 'and a new one').waitFor({ timeout: 20_000 });
  await message(kim.page, 'said, then fixed while Kim was away').locator('.edited').waitFor({ timeout: 10_000 });
  assert.equal(await kim.page.getByText('also before the drop').count(), 0, 'the delete arrived too');
  await kim.context.close();
});

/** The server refuses to let anyone else edit or delete a message: `not_your_message`. */
test('someone else cannot edit or delete a message', async () => {
  const mallory = await wsClient('Mallory');
  await mallory.join(room);
  mallory.send({ action: 'history', room });
  const page = await mallory.next((f) => f.type === 'history' && f.room === room);
  const adas = page.messages.find((m) => m.body === 'hello world');
  assert.ok(adas, 'the history page holds the edited message');
  mallory.send({ action: 'edit', room, id: adas.id, body: 'pwned' });
  const refused = await mallory.next((f) => f.type === 'error');
  assert.equal(refused.code, 'not_your_message');
  mallory.send({ action: 'delete', room, id: adas.id });
  assert.equal((await mallory.next((f) => f.type === 'error')).code, 'not_your_message');
  mallory.close();
  assert.equal(await message(lin.page, 'hello world').count(), 1, 'nothing changed');
});
