// Two people in one room, each in their own browser context signed in through the local sign-in page:
// what one sends the other sees live, typing shows, and message text is never treated as HTML.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bodies, composer, launch, openRoom, roomName, send, signIn } from './helpers.js';

let browser;
let alice;
let bob;
const room = roomName('chat');

before(async () => {
  browser = await launch();
  alice = await signIn(browser, 'Alice Liddell');
  bob = await signIn(browser, 'Bob');
  await openRoom(alice.page, room);
  await openRoom(bob.page, room);
});

after(async () => {
  await browser?.close();
});

/** Signing in shows the person's name, and both people appear in the room's member list. */
test('both people are signed in and listed as online in the room', async () => {
  await assert.doesNotReject(alice.page.locator('.me-name', { hasText: 'Alice Liddell' }).waitFor());
  for (const { page } of [alice, bob]) {
    const members = page.locator('.members .member-name');
    await members.filter({ hasText: 'Bob' }).waitFor();
    await members.filter({ hasText: 'Alice Liddell' }).waitFor();
  }
});

/** A message sent with Enter appears in the other browser, under the sender's name, without a reload. */
test('a message sent by one person appears live for the other', async () => {
  await send(alice.page, 'Hello Bob, can you see this?');
  const seen = bob.page.locator('.msg .body', { hasText: 'Hello Bob, can you see this?' });
  await seen.waitFor({ timeout: 10_000 });
  const article = bob.page.locator('.msg', { has: bob.page.locator('.body', { hasText: 'Hello Bob' }) });
  assert.equal(await article.locator('.author').textContent(), 'Alice Liddell');
  // The sender's own copy is confirmed by the echo: no pending row is left behind.
  await alice.page.locator('.msg:not(.pending) .body', { hasText: 'Hello Bob' }).waitFor();
  assert.equal(await alice.page.locator('.msg.pending').count(), 0);
  assert.equal(await composer(alice.page).inputValue(), '', 'the composer is cleared after sending');
});

/** Shift+Enter makes a new line instead of sending; the line break survives the trip. */
test('shift+enter writes a multi-line message', async () => {
  const box = composer(bob.page);
  await box.fill('first line');
  await box.press('Shift+Enter');
  await box.pressSequentially('second line');
  assert.equal(await box.inputValue(), 'first line\nsecond line');
  await box.press('Enter');
  const body = alice.page.locator('.msg .body', { hasText: 'second line' });
  await body.waitFor();
  assert.equal(await body.textContent(), 'first line\nsecond line');
});

/** Typing in the composer shows "… is typing" to the other person. */
test('the other person sees a typing indicator', async () => {
  await composer(bob.page).pressSequentially('I am typing something', { delay: 20 });
  await alice.page.locator('.typing', { hasText: 'Bob is typing…' }).waitFor({ timeout: 10_000 });
  await composer(bob.page).fill('');
});

/** A message that looks like HTML is shown as its literal text: no element is created, no script runs. */
test('a <script> message renders as text', async () => {
  const evil = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true"><b>bold?</b>';
  await send(bob.page, evil);
  for (const { page } of [alice, bob]) {
    const body = page.locator('.msg .body', { hasText: '<script>' });
    await body.waitFor();
    assert.equal(await body.textContent(), evil);
    assert.equal(await body.locator('script, img, b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned ?? false), false);
  }
});

/** Links in messages are clickable, and only http(s) ones. */
test('web addresses become safe links', async () => {
  await send(alice.page, 'docs at https://example.com/guide and javascript:alert(1)');
  const body = bob.page.locator('.msg .body', { hasText: 'docs at' });
  await body.waitFor();
  const links = body.locator('a');
  assert.equal(await links.count(), 1);
  assert.equal(await links.getAttribute('href'), 'https://example.com/guide');
  assert.equal(await links.getAttribute('rel'), 'noopener noreferrer nofollow');
});

/** Both screens show the same conversation in the same order. */
test('both people see the same conversation in the same order', async () => {
  const expected = await bodies(alice.page);
  await bob.page.waitForFunction(
    (count) => document.querySelectorAll('.msg:not(.pending) .body').length >= count,
    expected.length,
  );
  assert.deepEqual(await bodies(bob.page), expected);
  assert.ok(expected.length >= 4, `${expected.length} messages`);
});

/** Near the 4,000-character limit a counter appears; past it, sending is refused before anything goes out. */
test('the composer counts down to the length limit', async () => {
  const { page } = alice;
  const box = composer(page);
  await box.fill('x'.repeat(3_990));
  assert.equal(await page.locator('.counter').textContent(), '10');
  await box.fill('x'.repeat(4_001));
  await page.locator('.counter.over', { hasText: '-1' }).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Send' }).isDisabled());
  await box.press('Enter');
  await page.locator('.hint.error', { hasText: 'at most 4000 characters' }).waitFor();
  assert.equal(await page.locator('.msg.pending').count(), 0, 'nothing was queued');
  await box.fill('');
  assert.equal(await page.locator('.counter').count(), 0);
});

/** With no network at all the composer is disabled and says why; it comes back with the network. */
test('the composer is disabled while the browser is offline', async () => {
  const { page, context } = alice;
  await context.setOffline(true);
  await page.locator('.hint', { hasText: "You're offline" }).waitFor();
  assert.ok(await composer(page).isDisabled());
  await context.setOffline(false);
  await page.waitForFunction(() => !document.querySelector('textarea').disabled);
  assert.equal(await page.locator('.hint', { hasText: "You're offline" }).count(), 0);
});

/**
 * Messages in a room you are not looking at count as unread (in the room list and the tab title), and
 * opening the room shows a "new messages" line above the first of them.
 */
test('unread messages are counted and marked', async () => {
  const { page } = bob;
  await page.locator('.room-list a', { hasText: 'general' }).click();
  await page.waitForURL(/\/rooms\/general$/);
  await send(alice.page, 'you missed this one');
  await send(alice.page, 'and this one');
  const badge = page.locator('.room-item', { hasText: room }).locator('.badge');
  await page.waitForFunction(
    (name) => [...document.querySelectorAll('.room-item')].some((li) => li.textContent.includes(name) && li.querySelector('.badge')?.textContent === '2'),
    room,
  );
  assert.equal(await badge.textContent(), '2');
  assert.equal(await page.title(), '(2) #general · Chatty');
  await page.locator('.room-list a', { hasText: room }).click();
  const line = page.locator('.new-line');
  await line.waitFor();
  const next = page.locator('.new-line + .msg .body');
  assert.equal(await next.textContent(), 'you missed this one');
  assert.equal(await badge.count(), 0, 'reading the room clears its count');
  assert.equal(await page.title(), `#${room} · Chatty`);
});

/**
 * Moving between rooms, by the room list's links and by the browser's back and forward buttons, changes
 * the page in place: the address follows, the room shown follows the address, and the page is never
 * loaded again.
 */
test('room links and back and forward move between rooms without reloading', async () => {
  const { page } = bob;
  await page.evaluate(() => {
    window.loadedOnce = true;
  });
  const showing = (name) => page.locator('.room-title', { hasText: new RegExp(`^.${name}$`) }).waitFor();
  await page.locator('.room-list a', { hasText: 'general' }).click();
  await page.waitForURL(/\/rooms\/general$/);
  await showing('general');
  await page.goBack();
  await page.waitForURL(new RegExp(`/rooms/${room}$`));
  await showing(room);
  await page.goForward();
  await page.waitForURL(/\/rooms\/general$/);
  await showing('general');
  await page.locator('.room-list a', { hasText: room }).click();
  await showing(room);
  assert.equal(await page.evaluate(() => window.loadedOnce), true, 'the page was not loaded again');
});

/** A room name that cannot exist is explained rather than failing silently. */
test('an invalid room name in the address says why', async () => {
  // The same tab: sessionStorage (and so the session) belongs to a tab.
  const { page } = bob;
  await page.goto(`${new URL(page.url()).origin}/rooms/Not%20A%20Room`);
  await page.getByRole('heading', { name: "That's not a room name" }).waitFor();
});
