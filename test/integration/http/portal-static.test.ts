/**
 * The user portal's page at the issuer's root: the same prepared files and strict policy as the
 * console, its own sign-in settings, and only its own paths: the API, the protocol, the sign-in
 * pages and unknown addresses keep their answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PORTAL_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

// The files do not depend on the database: SQLite only.
describe('User portal files', () => {
  let gatehouse: TestGatehouse;
  before(async () => {
    gatehouse = await startGatehouse('sqlite');
  });
  after(() => gatehouse?.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gatehouse.issuer}${path}`, { headers, redirect: 'manual' });
  const metaOf = (html: string, name: string) => {
    const content = new RegExp(`<meta name="${name}" content="([^"]+)">`).exec(html)?.[1];
    return content ? JSON.parse(content.replaceAll('&#34;', '"')) : undefined;
  };

  test('/ is the portal page, with the console’s strict policy and the portal’s own sign-in settings', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.deepEqual(metaOf(html, 'gatehouse-portal'), { issuer: gatehouse.issuer, clientId: PORTAL_CLIENT_ID, basePath: '' });
    assert.equal(metaOf(html, 'gatehouse-console'), undefined, 'not the console’s settings');
    assert.doesNotMatch(html, /Gatehouse is running/);
  });

  test('its screens and its redirect URIs get the page; the console is still at /admin', async () => {
    for (const path of ['/profile', '/security', '/sessions', '/callback?code=x&state=y', '/signed-out']) {
      const response = await get(path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
      assert.ok(metaOf(await response.text(), 'gatehouse-portal'), path);
    }
    const console = await get('/admin/users');
    assert.equal(console.status, 200);
    assert.equal(metaOf(await console.text(), 'gatehouse-portal'), undefined);
  });

  test('the portal and the console share hashed assets under /assets/, cached for good; the favicon is at the root', async () => {
    for (const path of ['/', '/admin/']) {
      const html = await (await get(path)).text();
      const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(script, `${path} loads a hashed script`);
      const response = await get(script);
      assert.equal(response.status, 200, script);
      assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    }
    const favicon = await get('/favicon.svg');
    assert.equal(favicon.status, 200);
    assert.equal(favicon.headers.get('content-type'), 'image/svg+xml');
  });

  test('every other root path keeps its own answer', async () => {
    const unknown = await get('/nothing-here');
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'route.not_found');
    // Only the portal's screens, not whatever lies under them.
    const under = await get('/profile/extra');
    assert.equal(under.status, 404);
    assert.match(under.headers.get('content-type') ?? '', /^application\/json/);

    const api = await get('/api/nothing-here');
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal((await get('/api/me/profile')).status, 401);

    const discovery = await get('/.well-known/openid-configuration');
    assert.equal(discovery.status, 200);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, gatehouse.issuer);
    const interaction = await get('/interaction/not-a-uid');
    assert.equal(interaction.status, 400);
    assert.doesNotMatch(await interaction.text(), /gatehouse-portal/);
    assert.equal((await get('/healthz')).status, 200);
  });
});
