/**
 * Token revocation (RFC 7009) and what it does to the resource side: a revoked access token is
 * refused at /userinfo with invalid_token (RFC 6750 §3.1) and introspects as inactive (RFC 7662); a
 * revoked refresh token can't be used and takes the grant's access tokens with it (RFC 7009 §2.1).
 * Only the client the token was issued to can revoke or introspect it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import {
  type TestApp,
  assertNoInternals,
  assertOAuthError,
  client,
  createApp,
  exchangeOk,
  introspect,
  obtainCode,
  post,
  token,
  userinfo,
  shutdown,
  startWithStaff,
} from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`revocation (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;
    let postApp: TestApp;
    let other: TestApp;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'vera');
      app = await createApp(gatehouse, { label: 'Revoking', group: 'staff', refreshToken: true });
      postApp = await createApp(gatehouse, { label: 'Revoking (post)', group: 'staff', refreshToken: true, authMethod: 'client_secret_post' });
      other = await createApp(gatehouse, { label: 'Other', group: 'staff', refreshToken: true });
    });
    after(() => shutdown(gatehouse));

    async function tokensFor(target: TestApp) {
      const tokens = await exchangeOk(gatehouse, target, await obtainCode(target, 'vera', { scope: 'openid email offline_access' }));
      assert.ok(tokens.refresh_token);
      assert.equal((await userinfo(gatehouse, tokens.access_token)).status, 200);
      return { access: tokens.access_token, refresh: tokens.refresh_token };
    }

    function assertInvalidToken(response: Awaited<ReturnType<typeof userinfo>>) {
      assert.equal(response.status, 401, response.text);
      assert.equal(response.json?.error, 'invalid_token');
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
      assert.equal(response.json?.sub, undefined, 'no claims');
      assert.equal(response.json?.email, undefined, 'no claims');
      assertNoInternals(response.text);
    }

    test('a revoked access token is refused at userinfo with 401 invalid_token', async () => {
      for (const target of [app, postApp]) {
        const tokens = await tokensFor(target);
        const revoked = await post(gatehouse, '/oauth2/revoke', { token: tokens.access, token_type_hint: 'access_token' }, target.credentials);
        assert.equal(revoked.status, 200, revoked.text);
        assert.equal(revoked.text, '');
        assertInvalidToken(await userinfo(gatehouse, tokens.access));
        assert.deepEqual(await introspect(gatehouse, tokens.access, target.credentials), { active: false });
        // openid-client sees the same refusal.
        await assert.rejects(client.fetchUserInfo(target.config, tokens.access, client.skipSubjectCheck), (error: unknown) => {
          assert.ok(error instanceof client.WWWAuthenticateChallengeError, String(error));
          assert.equal(error.status, 401);
          return true;
        });
      }
    });

    test('revocation through openid-client works the same way', async () => {
      const tokens = await tokensFor(app);
      await client.tokenRevocation(app.config, tokens.access);
      assertInvalidToken(await userinfo(gatehouse, tokens.access));
    });

    test('a revoked refresh token is dead, and so are the access tokens of its grant', async () => {
      const tokens = await tokensFor(app);
      const revoked = await post(gatehouse, '/oauth2/revoke', { token: tokens.refresh, token_type_hint: 'refresh_token' }, app.credentials);
      assert.equal(revoked.status, 200, revoked.text);
      assertOAuthError(await token(gatehouse, { grant_type: 'refresh_token', refresh_token: tokens.refresh }, app.credentials), 400, 'invalid_grant', [tokens.refresh]);
      assert.deepEqual(await introspect(gatehouse, tokens.refresh, app.credentials), { active: false });
      assertInvalidToken(await userinfo(gatehouse, tokens.access));
    });

    test('a wrong token_type_hint does not save a token from revocation', async () => {
      const tokens = await tokensFor(app);
      const revoked = await post(gatehouse, '/oauth2/revoke', { token: tokens.access, token_type_hint: 'refresh_token' }, app.credentials);
      assert.equal(revoked.status, 200, revoked.text);
      assertInvalidToken(await userinfo(gatehouse, tokens.access));
    });

    test('revocation needs client authentication, and an unauthenticated request revokes nothing', async () => {
      const tokens = await tokensFor(app);
      const anonymous = await post(gatehouse, '/oauth2/revoke', { token: tokens.access });
      assert.ok(anonymous.status === 400 || anonymous.status === 401, anonymous.text);
      assert.ok(['invalid_client', 'invalid_request'].includes(String(anonymous.json?.error)), anonymous.text);
      const wrongSecret = await post(gatehouse, '/oauth2/revoke', { token: tokens.access }, { ...app.credentials, clientSecret: 'wrong' });
      assertOAuthError(wrongSecret, 401, 'invalid_client', [tokens.access]);
      const publicAttempt = await post(gatehouse, '/oauth2/revoke', { token: tokens.access, client_id: app.credentials.clientId });
      assertOAuthError(publicAttempt, 401, 'invalid_client', [tokens.access]);
      assert.equal((await userinfo(gatehouse, tokens.access)).status, 200, 'still valid');
    });

    test('another app cannot revoke or introspect the tokens of this one', async () => {
      const tokens = await tokensFor(app);
      for (const value of [tokens.access, tokens.refresh]) {
        const response = await post(gatehouse, '/oauth2/revoke', { token: value }, other.credentials);
        // RFC 7009 §2.1: the request is refused; an error response, not a silent success.
        assert.ok(response.status >= 400 && response.status < 500, `${response.status} ${response.text}`);
        assertNoInternals(response.text, [value]);
        assert.deepEqual(await introspect(gatehouse, value, other.credentials), { active: false });
      }
      assert.equal((await userinfo(gatehouse, tokens.access)).status, 200, 'the access token survived');
      assert.equal((await introspect(gatehouse, tokens.refresh, app.credentials)).active, true, 'the refresh token survived');
    });

    test('revoking an unknown token is a 200 no-op (RFC 7009 §2.2)', async () => {
      const response = await post(gatehouse, '/oauth2/revoke', { token: 'no-such-token' }, app.credentials);
      assert.equal(response.status, 200, response.text);
    });
  });
}
