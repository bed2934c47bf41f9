/**
 * Refresh tokens rotate on every use; presenting a rotated one again is treated as theft and kills
 * the whole grant (RFC 9700 §4.14.2): the newest refresh token and every access token stop working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import {
  Browser,
  type TestApp,
  assertOAuthError,
  client,
  createApp,
  exchangeOk,
  introspect,
  obtainCode,
  token,
  userinfo,
  shutdown,
  startWithStaff,
} from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`refresh tokens (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;
    let other: TestApp;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'remy');
      app = await createApp(gatehouse, { label: 'Refreshing', group: 'staff', refreshToken: true });
      other = await createApp(gatehouse, { label: 'Other', group: 'staff', refreshToken: true });
    });
    after(() => shutdown(gatehouse));

    /** A fresh sign-in with offline_access, exchanged through openid-client. */
    async function signInOffline(scope = 'openid email offline_access') {
      const issued = await obtainCode(app, 'remy', { scope });
      const tokens = await client.authorizationCodeGrant(app.config, issued.callbackUrl, {
        pkceCodeVerifier: issued.start.codeVerifier,
        expectedState: issued.start.state,
        expectedNonce: issued.start.nonce,
      });
      assert.ok(tokens.refresh_token);
      return { access: tokens.access_token, refresh: tokens.refresh_token };
    }

    test('reusing a rotated refresh token fails with invalid_grant and revokes the whole grant', async () => {
      const first = await signInOffline();
      const rotated = await client.refreshTokenGrant(app.config, first.refresh);
      assert.ok(rotated.refresh_token);
      assert.notEqual(rotated.refresh_token, first.refresh, 'the refresh token rotates');
      assert.equal((await userinfo(gatehouse, rotated.access_token)).status, 200);

      const reuse = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: first.refresh }, app.credentials);
      assertOAuthError(reuse, 400, 'invalid_grant', [rotated.refresh_token, rotated.access_token, app.credentials.clientSecret]);

      // The newest refresh token is dead...
      assertOAuthError(await token(gatehouse, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token }, app.credentials), 400, 'invalid_grant');
      assert.deepEqual(await introspect(gatehouse, rotated.refresh_token, app.credentials), { active: false });
      // ...and so are the access tokens of both uses.
      for (const access of [first.access, rotated.access_token]) {
        const info = await userinfo(gatehouse, access);
        assert.equal(info.status, 401, info.text);
        assert.equal(info.json?.error, 'invalid_token');
        assert.deepEqual(await introspect(gatehouse, access, app.credentials), { active: false });
      }
    });

    test('the same refresh token presented twice at once: one rotation wins, the other is reuse and revokes the grant', async () => {
      const first = await signInOffline();
      const responses = await Promise.all([
        token(gatehouse, { grant_type: 'refresh_token', refresh_token: first.refresh }, app.credentials),
        token(gatehouse, { grant_type: 'refresh_token', refresh_token: first.refresh }, app.credentials),
      ]);
      const won = responses.filter((r) => r.status === 200);
      assert.equal(won.length, 1, responses.map((r) => `${r.status} ${r.text}`).join(' | '));
      const loser = responses.find((r) => r.status !== 200);
      assert.ok(loser);
      assertOAuthError(loser, 400, 'invalid_grant');
      const rotated = won[0]?.json as unknown as { access_token: string; refresh_token: string };
      assertOAuthError(await token(gatehouse, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token }, app.credentials), 400, 'invalid_grant');
      for (const access of [first.access, rotated.access_token]) assert.equal((await userinfo(gatehouse, access)).status, 401);
    });

    test('a refresh token is bound to its client', async () => {
      const tokens = await signInOffline();
      const stolen = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: tokens.refresh }, other.credentials);
      assertOAuthError(stolen, 400, 'invalid_grant', [tokens.refresh, tokens.access]);
      // The other client can't see it either.
      assert.deepEqual(await introspect(gatehouse, tokens.refresh, other.credentials), { active: false });
      // The owner still can use it.
      const refreshed = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: tokens.refresh }, app.credentials);
      assert.equal(refreshed.status, 200, refreshed.text);
    });

    test('a refresh cannot widen the scope', async () => {
      const tokens = await signInOffline('openid offline_access');
      const wider = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: tokens.refresh, scope: 'openid offline_access email profile' }, app.credentials);
      assertOAuthError(wider, 400, 'invalid_scope', [tokens.refresh]);
    });

    test('made-up refresh tokens and access tokens passed as refresh tokens fail with invalid_grant', async () => {
      const tokens = await signInOffline();
      for (const value of ['not-a-token', tokens.access, `${tokens.refresh}x`, tokens.refresh.slice(1)]) {
        assertOAuthError(await token(gatehouse, { grant_type: 'refresh_token', refresh_token: value }, app.credentials), 400, 'invalid_grant', [tokens.refresh]);
      }
    });

    test('an app without the refresh grant gets no refresh token and cannot refresh', async () => {
      const plain = await createApp(gatehouse, { label: 'No refresh', group: 'staff' });
      const issued = await obtainCode(plain, 'remy', { scope: 'openid offline_access' });
      const tokens = await exchangeOk(gatehouse, plain, issued);
      assert.equal(tokens.refresh_token, undefined);
      const response = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: 'anything' }, plain.credentials);
      assert.equal(response.status, 400, response.text);
      assert.ok(['unauthorized_client', 'invalid_request'].includes(String(response.json?.error)), response.text);
    });

    // Not a negative test, but found here: single sign-on into a refresh-token app breaks when the
    // person already has a Gatehouse session (see the report of this suite).
    test('a person with a session from another app still gets a refresh token (SSO with offline_access)', async () => {
      const browser = new Browser();
      await obtainCode(other, 'remy', { browser, scope: 'openid' });
      const issued = await obtainCode(app, 'remy', { browser, scope: 'openid email offline_access' });
      const tokens = await exchangeOk(gatehouse, app, issued);
      assert.ok(tokens.refresh_token, 'offline_access honoured for a pre-approved app');
    });
  });
}
