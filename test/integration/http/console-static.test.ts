/**
 * The admin console's files: read once at start and served from memory, the page with a strict
 * policy (scripts from this origin only, no framing, no referrer leaking the sign-in code), the
 * hashed assets cached for good, unknown files a 404 rather than the page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

// The files do not depend on the database: SQLite only.
describe('Admin console files', () => {
  let gatehouse: TestGatehouse;
  before(async () => {
    gatehouse = await startGatehouse('sqlite');
  });
  after(() => gatehouse?.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gatehouse.issuer}${path}`, { headers, redirect: 'manual' });

  test('/admin redirects to /admin/, which is the console page with its policy and sign-in settings', async () => {
    const bare = await get('/admin');
    assert.equal(bare.status, 302);
    // Absolute, from the issuer, like every redirect (security/issuer-urls.test.ts).
    assert.equal(bare.headers.get('location'), `${gatehouse.issuer}/admin/`);

    const page = await get('/admin/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    const meta = /<meta name="gatehouse-console" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(meta, 'the sign-in settings are in the page');
    const config = JSON.parse(meta.replaceAll('&#34;', '"'));
    assert.deepEqual(config, { issuer: gatehouse.issuer, clientId: CONSOLE_CLIENT_ID, basePath: '/admin' });
  });

  test('the console’s own routes (a deep link, the sign-in callback) get the page', async () => {
    for (const path of ['/admin/users/0123456789abcdef01234567', '/admin/callback?code=x&state=y', '/admin/apps/new']) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.match(await response.text(), /<div id="root">/, path);
    }
  });

  test('hashed assets are cached for good and compressed; unknown files are a 404', async () => {
    const html = await (await get('/admin/')).text();
    // The console and the portal share one build's hashed assets, at /assets/.
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'the page loads a hashed script');
    const plain = await get(script);
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(plain.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(plain.headers.get('x-content-type-options'), 'nosniff');
    const body = Buffer.from(await plain.arrayBuffer());

    const compressed = await fetch(`${gatehouse.issuer}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(compressed.headers.get('content-encoding'), 'gzip');
    assert.deepEqual(Buffer.from(await compressed.arrayBuffer()), body, 'the same file once decompressed');

    const etag = plain.headers.get('etag');
    assert.ok(etag);
    assert.equal((await get(script, { 'if-none-match': etag })).status, 304);

    for (const missing of ['/assets/nothing-here.js', '/admin/assets/nothing-here.js', '/admin/nothing.png']) {
      const response = await get(missing);
      assert.equal(response.status, 404, missing);
      assert.equal(((await response.json()) as { code: string }).code, 'request.not_found');
    }
  });
});
