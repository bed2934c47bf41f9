/**
 * Behind a TLS-terminating proxy the server itself speaks plain HTTP, yet on an https issuer every
 * cookie must carry Secure, whether or not the proxy's X-Forwarded-* headers are trusted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../../../src/http/server.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { freshConfig } from '../../helpers/databases.ts';

for (const trustProxy of [false, true]) {
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
