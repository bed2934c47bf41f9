/**
 * Authorization codes: single use (a replay revokes everything the first use issued, RFC 6749
 * §4.1.2 and §10.5), short-lived (60 s), bound to the client and to the redirect URI they were
 * issued for (§4.1.3).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { storageKey } from '../../../src/oidc/adapter.ts';
import {
  Browser,
  OTHER_REDIRECT_URI,
  REDIRECT_URI,
  type TestApp,
  assertOAuthError,
  client,
  createApp,
  exchange,
  exchangeOk,
  introspect,
  obtainCode,
  token,
  userinfo,
  shutdown,
  startWithStaff,
} from './support.ts';

const epoch = () => Math.floor(Date.now() / 1000);

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`authorization codes (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;
    let other: TestApp;
    let browser: Browser;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'cody');
      app = await createApp(gatehouse, { label: 'Codes', group: 'staff', refreshToken: true, redirectUris: [REDIRECT_URI, OTHER_REDIRECT_URI] });
      other = await createApp(gatehouse, { label: 'Other app', group: 'staff', refreshToken: true });
      browser = new Browser();
      await obtainCode(app, 'cody', { browser });
    });
    after(() => shutdown(gatehouse));

    const codeRow = (code: string) =>
      gatehouse.runtime.storage.db
        .selectFrom('oidc_payloads')
        .selectAll()
        .where('model', '=', 'AuthorizationCode')
        .where('id', '=', storageKey(code))
        .executeTakeFirstOrThrow();

    test('a replayed code fails with invalid_grant and revokes the tokens of its first use', async () => {
      // A fresh browser: see refresh-token.test.ts for offline_access with an existing session.
      const issued = await obtainCode(app, 'cody', { scope: 'openid email offline_access' });
      // The first use, by the real app through openid-client.
      const tokens = await client.authorizationCodeGrant(app.config, issued.callbackUrl, {
        pkceCodeVerifier: issued.start.codeVerifier,
        expectedState: issued.start.state,
        expectedNonce: issued.start.nonce,
        idTokenExpected: true,
      });
      assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
      assert.equal((await userinfo(gatehouse, tokens.access_token)).status, 200, 'the access token works before the replay');

      // The replay, with everything else exactly right.
      const replay = await exchange(gatehouse, app, issued);
      assertOAuthError(replay, 400, 'invalid_grant', [tokens.access_token, tokens.refresh_token, app.credentials.clientSecret]);

      const info = await userinfo(gatehouse, tokens.access_token);
      assert.equal(info.status, 401, info.text);
      assert.equal(info.json?.error, 'invalid_token');
      assert.match(info.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.deepEqual(await introspect(gatehouse, tokens.access_token, app.credentials), { active: false });
      assert.deepEqual(await introspect(gatehouse, tokens.refresh_token, app.credentials), { active: false });
      const refresh = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, app.credentials);
      assertOAuthError(refresh, 400, 'invalid_grant');
      // And the openid-client RP sees the refusal as the OAuth error it is.
      await assert.rejects(client.refreshTokenGrant(app.config, tokens.refresh_token), (error: unknown) => {
        assert.ok(error instanceof client.ResponseBodyError);
        assert.equal(error.error, 'invalid_grant');
        return true;
      });
    });

    test('the same code presented twice at once: one exchange wins, the other is a replay, and the grant is revoked', async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const issued = await obtainCode(app, 'cody', { scope: 'openid email offline_access' });
        // Both requests are read and checked before either consumes the code.
        const responses = await Promise.all([exchange(gatehouse, app, issued), exchange(gatehouse, app, issued)]);
        const won = responses.filter((r) => r.status === 200);
        const refused = responses.filter((r) => r.status !== 200);
        assert.equal(won.length, 1, responses.map((r) => `${r.status} ${r.text}`).join(' | '));
        const [loser] = refused;
        assert.ok(loser);
        assertOAuthError(loser, 400, 'invalid_grant');
        // What the winner got is revoked with the grant.
        const tokens = won[0]?.json as unknown as { access_token: string; refresh_token: string };
        assert.equal((await userinfo(gatehouse, tokens.access_token)).status, 401);
        assert.deepEqual(await introspect(gatehouse, tokens.access_token, app.credentials), { active: false });
        assertOAuthError(await token(gatehouse, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, app.credentials), 400, 'invalid_grant');
      }
    });

    test('codes live 60 seconds', async () => {
      const issued = await obtainCode(app, 'cody', { browser });
      const row = await codeRow(issued.code);
      const payload = JSON.parse(row.payload) as { iat: number; exp: number };
      assert.equal(payload.exp - payload.iat, 60);
      assert.ok(row.expires_at !== null && Math.abs(row.expires_at - (payload.iat + 60)) <= 1, `expires_at ${row.expires_at}`);
      await exchangeOk(gatehouse, app, issued);
    });

    test('an expired code (storage expiry in the past) fails with invalid_grant', async () => {
      const issued = await obtainCode(app, 'cody', { browser });
      await gatehouse.runtime.storage.db
        .updateTable('oidc_payloads')
        .set({ expires_at: epoch() - 5 })
        .where('model', '=', 'AuthorizationCode')
        .where('id', '=', storageKey(issued.code))
        .execute();
      assertOAuthError(await exchange(gatehouse, app, issued), 400, 'invalid_grant', [issued.code]);
    });

    test('an expired code (its own exp in the past, the row still there) fails with invalid_grant', async () => {
      const issued = await obtainCode(app, 'cody', { browser });
      const row = await codeRow(issued.code);
      const payload = JSON.parse(row.payload) as Record<string, unknown>;
      await gatehouse.runtime.storage.db
        .updateTable('oidc_payloads')
        .set({ payload: JSON.stringify({ ...payload, iat: epoch() - 120, exp: epoch() - 60 }) })
        .where('model', '=', 'AuthorizationCode')
        .where('id', '=', storageKey(issued.code))
        .execute();
      assertOAuthError(await exchange(gatehouse, app, issued), 400, 'invalid_grant', [issued.code]);
    });

    test('a code is bound to the redirect URI it was issued for', async () => {
      const issued = await obtainCode(app, 'cody', { browser });
      // Another URI registered for the same app is still the wrong one.
      assertOAuthError(await exchange(gatehouse, app, issued, { redirect_uri: OTHER_REDIRECT_URI }), 400, 'invalid_grant');
      assertOAuthError(await exchange(gatehouse, app, issued, { redirect_uri: `${REDIRECT_URI}/` }), 400, 'invalid_grant');
      assertOAuthError(await exchange(gatehouse, app, issued, { redirect_uri: undefined }), 400, 'invalid_request');
      // Those refusals didn't use the code up: the right request still works.
      await exchangeOk(gatehouse, app, issued);
    });

    test('a code is bound to its client: another app cannot redeem it', async () => {
      const issued = await obtainCode(app, 'cody', { browser });
      const response = await token(
        gatehouse,
        { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.start.codeVerifier },
        other.credentials,
      );
      assertOAuthError(response, 400, 'invalid_grant', [issued.code]);
      await exchangeOk(gatehouse, app, issued);
    });

    test('made-up and truncated codes fail with invalid_grant', async () => {
      const issued = await obtainCode(app, 'cody', { browser });
      for (const code of ['not-a-code', issued.code.slice(0, -1), `${issued.code}x`, issued.code.toUpperCase(), 'x'.repeat(1000)]) {
        assertOAuthError(await exchange(gatehouse, app, issued, { code }), 400, 'invalid_grant', [issued.code]);
      }
      await exchangeOk(gatehouse, app, issued);
    });
  });
}
