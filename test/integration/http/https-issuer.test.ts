/**
 * Behind a TLS-terminating proxy the server itself speaks plain HTTP, yet on an https issuer every
 * cookie must carry Secure, whether or not the proxy's X-Forwarded-* headers are trusted; every
 * response carries Strict-Transport-Security; and the session cookie is SameSite=None, so that a
 * cross-site form POST (authorization or end-session request) still carries it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../../../src/http/server.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { Browser } from '../../helpers/browser.ts';
import { freshConfig } from '../../helpers/databases.ts';
import { browse } from '../../helpers/rp.ts';

for (const trustProxy of [false, 1] as const) {
  test(`cookies are Secure on an https issuer (trust proxy: ${trustProxy})`, async () => {
    const { config, cleanup } = await freshConfig('sqlite', { issuer: 'https://id.example.test', port: 0, trustProxy });
    const runtime = await openRuntime(config);
    const server = await startServer(runtime, { logLevel: 'warn' });
    try {
      const { app } = await runtime.directory.apps.create({ label: 'Proxy test', redirect_uris: ['https://app.example.test/cb'] });
      const url = `${server.url}/oauth2/auth?client_id=${app.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://app.example.test/cb')}`;
      const response = await fetch(url, { redirect: 'manual' });
      assert.equal(response.status, 303);
      const cookies = response.headers.getSetCookie();
      assert.ok(cookies.length > 0);
      for (const cookie of cookies) {
        assert.match(cookie, /;\s*secure/i, cookie);
        assert.match(cookie, /;\s*httponly/i, cookie);
        assert.match(cookie, /;\s*samesite=lax/i, cookie);
      }
    } finally {
      await server.close();
      await runtime.close();
      await cleanup();
    }
  });
}

/** A browser that reaches the https issuer's URLs at the plain-HTTP test server, as a TLS proxy would. */
class ProxiedBrowser extends Browser {
  readonly setCookies: string[] = [];
  readonly issuer: string;
  readonly serverUrl: string;
  constructor(issuer: string, serverUrl: string) {
    super();
    this.issuer = issuer;
    this.serverUrl = serverUrl;
  }
  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await super.request(url.startsWith(this.issuer) ? `${this.serverUrl}${url.slice(this.issuer.length)}` : url, init);
    this.setCookies.push(...response.headers.getSetCookie());
    return response;
  }
}

test('on an https issuer every response carries Strict-Transport-Security, and the session cookie is SameSite=None; Secure', async () => {
  const issuer = 'https://id.example.test';
  const { config, cleanup } = await freshConfig('sqlite', { issuer, port: 0 });
  const runtime = await openRuntime(config);
  const server = await startServer(runtime, { logLevel: 'warn' });
  try {
    for (const path of ['/', '/healthz', '/.well-known/openid-configuration', '/.well-known/jwks.json', '/api/users', '/interaction/nope', '/oauth2/sessions/logout', '/admin/', '/nothing-here']) {
      const response = await fetch(`${server.url}${path}`, { redirect: 'manual' });
      assert.equal(response.headers.get('strict-transport-security'), 'max-age=31536000', `${path} (${response.status})`);
    }

    await runtime.directory.users.create({ username: 'tess', email: 'tess@example.com', password: 'correct-horse-battery' });
    await runtime.directory.groups.create('staff');
    await runtime.directory.groups.addMember('staff', 'tess');
    const redirectUri = 'https://app.example.test/cb';
    const { app } = await runtime.directory.apps.create({ label: 'Cross-site', redirect_uris: [redirectUri] });
    await runtime.directory.apps.bind(app.id, 'staff');
    const browser = new ProxiedBrowser(issuer, server.url);
    const url = `${issuer}/oauth2/auth?client_id=${app.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(redirectUri)}`;
    const outcome = await browse(browser, url, redirectUri, { username: 'tess', password: 'correct-horse-battery' });
    assert.ok(outcome.callbackUrl?.searchParams.get('code'), `signed in: ${outcome.page?.html.slice(0, 300)}`);
    const session = browser.setCookies.filter((cookie) => /^_session(\.sig)?=/.test(cookie));
    assert.equal(session.length, 2, browser.setCookies.join('\n'));
    // A form POST from the app's site to the authorization or end-session endpoint must carry the session.
    for (const cookie of session) {
      assert.match(cookie, /;\s*samesite=none/i, cookie);
      assert.match(cookie, /;\s*secure/i, cookie);
      assert.match(cookie, /;\s*httponly/i, cookie);
    }
    // The interaction cookies stay SameSite=Lax: the sign-in form is never posted from another site.
    for (const cookie of browser.setCookies.filter((c) => /^_interaction/.test(c))) assert.match(cookie, /;\s*samesite=lax/i, cookie);
  } finally {
    await server.close();
    await runtime.close();
    await cleanup();
  }
});
