/**
 * Redirect URIs are compared exactly (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3): anything but a registered
 * URI, character for character, gets Gatehouse's own error page, never a redirect, even when the
 * person already has a session and even with prompt=none, whose errors would otherwise go to the app.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { REDIRECT_URI, type TestApp, assertErrorPage, authorizationUrl, call, createApp, obtainCode, pkcePair, shutdown, startWithStaff } from './support.ts';

const UNREGISTERED: ReadonlyArray<[string, string]> = [
  ['another site', 'https://attacker.example/callback'],
  ['same host, different path', 'https://app.example.test/other'],
  ['same host, path prefix', 'https://app.example.test/callback/../evil'],
  ['a longer path', 'https://app.example.test/callback/more'],
  ['an added query', 'https://app.example.test/callback?next=https://attacker.example'],
  ['a trailing slash', 'https://app.example.test/callback/'],
  ['a different scheme', 'http://app.example.test/callback'],
  ['a different port', 'https://app.example.test:8443/callback'],
  ['the default port spelled out', 'https://app.example.test:443/callback'],
  ['a different case in the path', 'https://app.example.test/Callback'],
  ['a subdomain', 'https://evil.app.example.test/callback'],
  ['a lookalike suffix', 'https://app.example.test.attacker.example/callback'],
  ['userinfo before the host', 'https://app.example.test@attacker.example/callback'],
  ['a fragment', 'https://app.example.test/callback#x'],
  ['an encoded path', 'https://app.example.test/%63allback'],
  ['a private scheme', 'com.example.app:/callback'],
  ['javascript:', 'javascript:alert(1)//https://app.example.test/callback'],
  ['data:', 'data:text/html,<script>alert(1)</script>'],
  ['a relative URI', '/callback'],
];

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`unregistered redirect URIs (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'rita');
      app = await createApp(gatehouse, { label: 'Redirects', group: 'staff' });
    });
    after(() => shutdown(gatehouse));

    async function authorize(redirectUri: string, extra: Record<string, string> = {}, cookie?: string) {
      const { challenge } = await pkcePair();
      const url = authorizationUrl(gatehouse, {
        client_id: app.credentials.clientId,
        response_type: 'code',
        scope: 'openid email',
        redirect_uri: redirectUri,
        state: 'state-123',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...extra,
      });
      return call(url, cookie ? { headers: { cookie } } : {});
    }

    function assertRefused(response: Awaited<ReturnType<typeof authorize>>, redirectUri: string) {
      assertErrorPage(response, 400);
      assert.equal(response.headers.get('refresh'), null, 'no delayed redirect either');
      assert.match(response.text, /invalid_redirect_uri/);
      assert.match(response.text, /redirect_uri/);
      assert.doesNotMatch(response.text, /<form|<a\s|http-equiv/i, 'no link or form that would send the person on');
      if (redirectUri.length > 12) assert.ok(!response.text.includes(redirectUri), 'the page does not echo the unregistered URI');
    }

    test('the registered URI itself works (control)', async () => {
      const response = await authorize(REDIRECT_URI);
      assert.equal(response.status, 303);
      assert.ok(response.headers.get('location')?.startsWith(`${gatehouse.issuer}/interaction/`), response.headers.get('location') ?? '');
    });

    for (const [name, redirectUri] of UNREGISTERED) {
      test(`refused without a redirect: ${name}`, async () => {
        assertRefused(await authorize(redirectUri), redirectUri);
      });
    }

    test('a missing redirect_uri is refused too (even with one registered URI)', async () => {
      const response = await authorize('');
      assertErrorPage(response, 400);
      assert.match(response.text, /invalid_request/);
      assert.match(response.text, /redirect_uri/);
    });

    test('a signed-in person with prompt=none still gets no redirect and no code', async () => {
      const issued = await obtainCode(app, 'rita');
      const cookie = [...issued.browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      for (const redirectUri of ['https://attacker.example/callback', `${REDIRECT_URI}/`, `${REDIRECT_URI}?x=1`]) {
        for (const extra of [{}, { prompt: 'none' }]) {
          const response = await authorize(redirectUri, extra, cookie);
          assertRefused(response, redirectUri);
          assert.doesNotMatch(response.text, /code=/);
        }
      }
      // The same session with the registered URI goes straight to the app: the refusals were about the URI.
      const ok = await authorize(REDIRECT_URI, { prompt: 'none' }, cookie);
      assert.equal(ok.status, 303);
      assert.match(ok.headers.get('location') ?? '', /^https:\/\/app\.example\.test\/callback\?code=/);
    });
  });
}
