/**
 * PKCE (RFC 7636, RFC 9700 §2.1.1): a code bound to a challenge is only redeemed with its verifier,
 * only S256 is accepted, public clients must use it, and a verifier can't be slipped in for a code
 * that was issued without a challenge (the downgrade attack).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import {
  Browser,
  REDIRECT_URI,
  type TestApp,
  assertOAuthError,
  authorizationUrl,
  call,
  createApp,
  exchange,
  obtainCode,
  pkcePair,
  redirectError,
  token,
  shutdown,
  startWithStaff,
} from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`PKCE (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let confidential: TestApp;
    let publicApp: TestApp;
    let browser: Browser;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'pia');
      confidential = await createApp(gatehouse, { label: 'Confidential', group: 'staff' });
      publicApp = await createApp(gatehouse, { label: 'Public SPA', authMethod: 'none', group: 'staff' });
      // One signed-in browser: later authorizations skip the form and go straight to the app.
      browser = new Browser();
      await obtainCode(confidential, 'pia', { browser });
    });
    after(() => shutdown(gatehouse));

    test('a code issued for a challenge is refused without the code_verifier', async () => {
      const issued = await obtainCode(confidential, 'pia', { browser });
      const response = await exchange(gatehouse, confidential, issued, { code_verifier: undefined });
      assertOAuthError(response, 400, 'invalid_grant', [issued.code, confidential.credentials.clientSecret]);
    });

    test('a code issued for a challenge is refused with a wrong code_verifier', async () => {
      const issued = await obtainCode(confidential, 'pia', { browser });
      const { verifier: other } = await pkcePair();
      const response = await exchange(gatehouse, confidential, issued, { code_verifier: other });
      assertOAuthError(response, 400, 'invalid_grant', [issued.code, confidential.credentials.clientSecret]);
      // The challenge itself is not the verifier (that would be "plain").
      const challenge = new URL(issued.start.url).searchParams.get('code_challenge') ?? '';
      assertOAuthError(await exchange(gatehouse, confidential, issued, { code_verifier: challenge }), 400, 'invalid_grant');
    });

    test('a public client is held to its challenge too', async () => {
      const issued = await obtainCode(publicApp, 'pia', { browser });
      assertOAuthError(await exchange(gatehouse, publicApp, issued, { code_verifier: undefined }), 400, 'invalid_grant');
      const { verifier: other } = await pkcePair();
      assertOAuthError(await exchange(gatehouse, publicApp, issued, { code_verifier: other }), 400, 'invalid_grant');
    });

    test('code_challenge_method=plain is refused at the authorization endpoint, before any sign-in', async () => {
      const verifier = 'a'.repeat(43);
      const response = await call(
        authorizationUrl(gatehouse, {
          client_id: confidential.credentials.clientId,
          response_type: 'code',
          scope: 'openid',
          redirect_uri: REDIRECT_URI,
          state: 'st',
          code_challenge: verifier,
          code_challenge_method: 'plain',
        }),
      );
      const params = redirectError(response);
      assert.equal(params.get('error'), 'invalid_request');
      assert.match(params.get('error_description') ?? '', /code_challenge_method/);
      assert.equal(params.get('state'), 'st');
    });

    test('an unknown code_challenge_method and a challenge without a method are refused', async () => {
      const { challenge } = await pkcePair();
      for (const extra of [{ code_challenge: challenge, code_challenge_method: 'S512' }, { code_challenge: challenge }]) {
        const response = await call(
          authorizationUrl(gatehouse, { client_id: confidential.credentials.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, ...extra }),
        );
        assert.equal(redirectError(response).get('error'), 'invalid_request');
      }
    });

    test('a public client (auth method none) without code_challenge gets error=invalid_request at its redirect URI', async () => {
      // Even for a signed-in person: no code without PKCE.
      for (const cookieJar of [new Browser(), browser]) {
        const cookie = [...cookieJar.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
        const response = await call(
          authorizationUrl(gatehouse, { client_id: publicApp.credentials.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 'st' }),
          { headers: cookie ? { cookie } : {} },
        );
        const params = redirectError(response);
        assert.equal(params.get('error'), 'invalid_request');
        assert.match(params.get('error_description') ?? '', /PKCE/);
      }
    });

    test('a verifier for a code issued without a challenge is refused (PKCE downgrade)', async () => {
      // A confidential client may skip PKCE; the code is then not bound to any verifier...
      const start = new URL(
        authorizationUrl(gatehouse, { client_id: confidential.credentials.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, state: 'st', nonce: 'n' }),
      );
      const step = await browser.follow(String(start), REDIRECT_URI);
      assert.equal(step.response, undefined, 'the signed-in browser goes straight back to the app');
      const code = new URL(step.url).searchParams.get('code');
      assert.ok(code);
      // ...so an attacker who injects it together with their own verifier must fail (RFC 9700 §4.8.2).
      const { verifier } = await pkcePair();
      const response = await token(gatehouse, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, confidential.credentials);
      assertOAuthError(response, 400, 'invalid_grant', [code]);
    });

    test('a malformed code_verifier is a client error, not a server error', async () => {
      const issued = await obtainCode(confidential, 'pia', { browser });
      for (const verifier of ['short', 'x'.repeat(129), 'has spaces in it and is long enough to pass the length check ok', '%00%ff']) {
        const response = await exchange(gatehouse, confidential, issued, { code_verifier: verifier });
        assert.ok(response.status === 400, `${verifier}: ${response.status} ${response.text}`);
        assert.ok(['invalid_grant', 'invalid_request'].includes(String(response.json?.error)), response.text);
        assert.equal(response.json?.access_token, undefined);
      }
    });
  });
}
