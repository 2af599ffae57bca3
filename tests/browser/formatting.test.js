// Message formatting between two people: what one writes with Markdown-style markers the other sees as
// elements (`<strong>`, `<em>`, `<code>`, `<pre>`, `<a href>`), and hostile text (HTML, script links,
// unbalanced markers, a whole body of asterisks) shows as the text it is, with no element made from it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openRoom, roomName, send, signIn } from './helpers.js';

/** protocol/src/limits.rs `MAX_BODY_CHARS`: the longest body the server takes. */
const MAX_BODY_CHARS = 4_000;

let browser;
let ada;
let lin;
const room = roomName('format');

before(async () => {
  browser = await launch();
  ada = await signIn(browser, 'Ada');
  lin = await signIn(browser, 'Lin');
  await openRoom(ada.page, room);
  await openRoom(lin.page, room);
  for (const { page } of [ada, lin]) {
    await page.evaluate(() => {
      window.__pwned = false;
    });
  }
});

after(async () => {
  await browser?.close();
});

/** Lin's copy of the confirmed message whose text contains `marker`. */
async function received(marker) {
  const body = lin.page.locator('.msg:not(.pending) .body', { hasText: marker });
  await body.waitFor({ timeout: 10_000 });
  return body;
}

/** The tag names of every element inside a message body, in document order. */
function tags(body) {
  return body.evaluate((el) => [...el.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()));
}

/** Bold, italic, inline code, a code block and a link arrive as the matching elements. */
test('formatting shows as elements to the other person', async () => {
  await send(ada.page, [
    'Deploy is **done**, *finally*: run `cargo test -q` then see https://example.com/runbook.',
    '```sh',
    'cargo build --release',
    'echo "<ok>"',
    '```',
    '***really*** good.',
  ].join('\n'));
  const body = await received('Deploy is');
  assert.equal(await body.locator('strong').first().textContent(), 'done');
  assert.equal(await body.locator('em').first().textContent(), 'finally');
  assert.equal(await body.locator(':scope > code').textContent(), 'cargo test -q');
  const link = body.locator('a');
  assert.equal(await link.count(), 1);
  assert.equal(await link.getAttribute('href'), 'https://example.com/runbook');
  assert.equal(await link.textContent(), 'https://example.com/runbook', 'the full stop is not in the link');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.match(await link.getAttribute('rel'), /\bnoopener\b/);
  assert.match(await link.getAttribute('rel'), /\bnoreferrer\b/);
  assert.equal(await body.locator('pre > code').textContent(), 'cargo build --release\necho "<ok>"',
    'the code block keeps its lines, drops the language line, and its HTML-looking text is text');
  assert.equal(await body.locator('strong > em').textContent(), 'really');
  assert.deepEqual(await tags(body), ['strong', 'em', 'code', 'a', 'pre', 'code', 'strong', 'em']);
  // The sender sees the same once the server confirms it.
  const own = ada.page.locator('.msg:not(.pending) .body', { hasText: 'Deploy is' });
  await own.waitFor();
  assert.deepEqual(await tags(own), await tags(body));
});

/** HTML, script and data links, and unbalanced markers: only text, no element from the body's content. */
test('hostile text renders as text', async () => {
  const hostile = [
    'evil <script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">',
    '<a href="javascript:window.__pwned = true">click</a> [x](javascript:alert(1)) javascript:alert(1)',
    'data:text/html,<b>x</b> <iframe src="data:text/html,hi"></iframe>',
    '**unclosed *crossed** marks* *** ** ``` unclosed fence `unclosed code',
  ].join('\n');
  await send(ada.page, hostile);
  const body = await received('evil <script>');
  const text = await body.textContent();
  for (const piece of ['<script>window.__pwned = true</script>', 'javascript:alert(1)', '<iframe src=', '``` unclosed fence `unclosed code']) {
    assert.ok(text.includes(piece), `${piece} shows as text: ${text}`);
  }
  assert.equal(await body.locator('script, img, a, iframe, b, pre, code').count(), 0,
    'no element comes from the text itself');
  for (const { page } of [ada, lin]) {
    assert.equal(await page.evaluate(() => window.__pwned), false, 'no script ran');
    assert.equal(await page.locator('[role="log"] script, [role="log"] iframe, img[src="x"]').count(), 0,
      'nothing from the message entered the page');
  }
});

/** A body of the longest size, all asterisks (and one of alternating markers), shows as its text. */
test('a body of nothing but markers shows at once as text', async () => {
  const stars = '*'.repeat(MAX_BODY_CHARS);
  await send(ada.page, stars);
  const body = lin.page.locator('.msg:not(.pending) .body').filter({ hasText: /^\*+$/ });
  await body.waitFor({ timeout: 10_000 });
  assert.equal(await body.textContent(), stars);
  assert.deepEqual(await tags(body), []);

  // Markers that open, close and cross all the way: formatted, and nothing but the text's own letters.
  const confirmed = lin.page.locator('.msg:not(.pending) .body');
  const before = await confirmed.count();
  await send(ada.page, '**a*'.repeat(MAX_BODY_CHARS / 4));
  await lin.page.waitForFunction((n) => document.querySelectorAll('.msg:not(.pending) .body').length > n, before);
  const mixed = confirmed.last();
  assert.match(await mixed.textContent(), /^[*a]+$/);
  assert.ok((await tags(mixed)).every((tag) => tag === 'strong' || tag === 'em'), 'only emphasis');
  // The page is still responsive: the next message shows too.
  await send(ada.page, 'still here');
  await received('still here');
});
