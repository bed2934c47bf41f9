/**
 * Refresh-token reuse grace: an app may allow the refresh token it just rotated to be presented
 * again for a few seconds (two tabs, a retried request), and gets the very same new tokens back.
 * Without an interval, and after it, reuse revokes the grant as before (RFC 9700 §4.14.2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../../../src/http/server.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { freePort } from '../../helpers/net.ts';
import { type Response2, type TestApp, assertOAuthError, client, createApp, introspect, obtainCode, post, shutdown, startWithStaff, token, userinfo } from './support.ts';

interface TokenPair {
  access_token: string;
  refresh_token: string;
  id_token?: string;
}

const pairOf = (response: Response2): TokenPair => {
  assert.equal(response.status, 200, response.text);
  return response.json as unknown as TokenPair;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`refresh-token reuse grace (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    /** Reuse interval 0, the default: strict. */
    let strict: TestApp;
    /** Reuse interval 10 s. */
    let graceful: TestApp;
    /** Reuse interval 1 s, to see it pass. */
    let brief: TestApp;
    /** Another app with an interval, holding nobody's tokens. */
    let other: TestApp;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'tess');
      strict = await createApp(gatehouse, { label: 'Strict', group: 'staff', refreshToken: true });
      graceful = await createApp(gatehouse, { label: 'Graceful', group: 'staff', refreshToken: true });
      brief = await createApp(gatehouse, { label: 'Brief', group: 'staff', refreshToken: true });
      other = await createApp(gatehouse, { label: 'Other', group: 'staff', refreshToken: true });
      await gatehouse.directory.apps.update(graceful.id, { refresh_token_reuse_interval: 10 });
      await gatehouse.directory.apps.update(brief.id, { refresh_token_reuse_interval: 1 });
      await gatehouse.directory.apps.update(other.id, { refresh_token_reuse_interval: 10 });
    });
    after(() => shutdown(gatehouse));

    /** A fresh sign-in with offline_access, exchanged through openid-client. */
    async function signInOffline(app: TestApp) {
      const issued = await obtainCode(app, 'tess', { scope: 'openid email offline_access' });
      const tokens = await client.authorizationCodeGrant(app.config, issued.callbackUrl, {
        pkceCodeVerifier: issued.start.codeVerifier,
        expectedState: issued.start.state,
        expectedNonce: issued.start.nonce,
      });
      assert.ok(tokens.refresh_token);
      return { access: tokens.access_token, refresh: tokens.refresh_token };
    }

    const refresh = (app: TestApp, refreshToken: string) => token(gatehouse, { grant_type: 'refresh_token', refresh_token: refreshToken }, app.credentials);

    /** Every token of the grant is dead: what reuse outside the grace does. */
    async function assertRevoked(app: TestApp, newest: TokenPair, older: string[] = []) {
      assertOAuthError(await refresh(app, newest.refresh_token), 400, 'invalid_grant');
      for (const access of [newest.access_token, ...older]) assert.equal((await userinfo(gatehouse, access)).status, 401);
      assert.deepEqual(await introspect(gatehouse, newest.refresh_token, app.credentials), { active: false });
    }

    test('without an interval (the default) reuse is refused and revokes the grant, as before', async () => {
      assert.equal((await gatehouse.directory.apps.get(strict.id)).refresh_token_reuse_interval, 0);
      const first = await signInOffline(strict);
      const rotated = await client.refreshTokenGrant(strict.config, first.refresh);
      assertOAuthError(await refresh(strict, first.refresh), 400, 'invalid_grant', [rotated.refresh_token, rotated.access_token]);
      await assertRevoked(strict, rotated as TokenPair, [first.access]);
    });

    test('without an interval two concurrent refreshes with one token: one wins, the other revokes the grant, as before', async () => {
      const first = await signInOffline(strict);
      const responses = await Promise.all([refresh(strict, first.refresh), refresh(strict, first.refresh)]);
      assert.equal(responses.filter((r) => r.status === 200).length, 1, responses.map((r) => `${r.status} ${r.text}`).join(' | '));
      const won = responses.find((r) => r.status === 200);
      assert.ok(won);
      await assertRevoked(strict, pairOf(won));
    });

    test('within the interval the rotated token gets the same new pair back; the grant lives and the new refresh token works', async () => {
      const first = await signInOffline(graceful);
      const rotated = await client.refreshTokenGrant(graceful.config, first.refresh);
      assert.ok(rotated.refresh_token && rotated.refresh_token !== first.refresh);
      // A relying-party library retrying with the token it still holds.
      const again = await client.refreshTokenGrant(graceful.config, first.refresh);
      assert.equal(again.access_token, rotated.access_token);
      assert.equal(again.refresh_token, rotated.refresh_token);
      assert.equal(again.id_token, rotated.id_token);
      assert.equal((await userinfo(gatehouse, rotated.access_token)).status, 200);
      // A third time is no different.
      assert.deepEqual(pairOf(await refresh(graceful, first.refresh)).refresh_token, rotated.refresh_token);

      const next = await client.refreshTokenGrant(graceful.config, rotated.refresh_token);
      assert.ok(next.refresh_token && next.refresh_token !== rotated.refresh_token && next.access_token !== rotated.access_token);
      assert.equal((await userinfo(gatehouse, next.access_token)).status, 200);
    });

    test('two concurrent refreshes with one token within the interval both get the same pair', async () => {
      const first = await signInOffline(graceful);
      const responses = await Promise.all([1, 2, 3].map(() => refresh(graceful, first.refresh)));
      const pairs = responses.map(pairOf);
      for (const pair of pairs.slice(1)) {
        assert.equal(pair.access_token, pairs[0]?.access_token);
        assert.equal(pair.refresh_token, pairs[0]?.refresh_token);
      }
      const [pair] = pairs;
      assert.ok(pair && pair.refresh_token !== first.refresh);
      assert.equal((await userinfo(gatehouse, pair.access_token)).status, 200);
      assert.equal((await refresh(graceful, pair.refresh_token)).status, 200);
    });

    test('two nodes on one database: a concurrent refresh on each gets the same pair', async () => {
      const config = { ...gatehouse.runtime.config, port: await freePort() };
      const second = await openRuntime(config);
      const server = await startServer(second, { logLevel: 'warn' });
      try {
        const secondNode = { ...gatehouse, issuer: `http://127.0.0.1:${config.port}` };
        const first = await signInOffline(graceful);
        const params = { grant_type: 'refresh_token', refresh_token: first.refresh };
        const [here, there] = await Promise.all([token(gatehouse, params, graceful.credentials), post(secondNode, '/oauth2/token', params, graceful.credentials)]);
        assert.deepEqual(pairOf(there), pairOf(here));
      } finally {
        await server.close();
        await second.close();
      }
    });

    test('once the rotated refresh token has been used in turn, the older one is reuse again', async () => {
      const first = await signInOffline(graceful);
      const rotated = pairOf(await refresh(graceful, first.refresh));
      const next = pairOf(await refresh(graceful, rotated.refresh_token));
      assertOAuthError(await refresh(graceful, first.refresh), 400, 'invalid_grant', [next.refresh_token, next.access_token]);
      await assertRevoked(graceful, next, [rotated.access_token]);
    });

    test('after the interval, reuse is refused and revokes the grant', async () => {
      const first = await signInOffline(brief);
      const rotated = await client.refreshTokenGrant(brief.config, first.refresh);
      await sleep(1300);
      assertOAuthError(await refresh(brief, first.refresh), 400, 'invalid_grant', [rotated.refresh_token, rotated.access_token]);
      await assertRevoked(brief, rotated as TokenPair, [first.access]);
    });

    test('another app presenting the rotated token within the interval is refused and learns nothing', async () => {
      const first = await signInOffline(graceful);
      const rotated = pairOf(await refresh(graceful, first.refresh));
      const stolen = await refresh(other, first.refresh);
      assertOAuthError(stolen, 400, 'invalid_grant', [rotated.refresh_token, rotated.access_token]);
      // Another app presenting a token first, and its owner then: the owner rotates as usual.
      const fresh = await signInOffline(graceful);
      assertOAuthError(await refresh(other, fresh.refresh), 400, 'invalid_grant', [fresh.refresh]);
      const owned = pairOf(await refresh(graceful, fresh.refresh));
      assert.deepEqual(pairOf(await refresh(graceful, fresh.refresh)), owned);
    });

    test('the grace ends with the grant: after a revocation, or once the person has lost access', async () => {
      const revoked = await signInOffline(graceful);
      const rotated = pairOf(await refresh(graceful, revoked.refresh));
      const revocation = await post(gatehouse, '/oauth2/revoke', { token: rotated.refresh_token }, graceful.credentials);
      assert.equal(revocation.status, 200, revocation.text);
      assertOAuthError(await refresh(graceful, revoked.refresh), 400, 'invalid_grant', [rotated.refresh_token]);

      const withdrawn = await signInOffline(graceful);
      const before = pairOf(await refresh(graceful, withdrawn.refresh));
      await gatehouse.directory.groups.removeMember('staff', 'tess');
      try {
        assertOAuthError(await refresh(graceful, withdrawn.refresh), 400, 'invalid_grant', [before.refresh_token, before.access_token]);
      } finally {
        await gatehouse.directory.groups.addMember('staff', 'tess');
      }
    });

    test('remembered rotations hold no usable token', async () => {
      const first = await signInOffline(graceful);
      const rotated = pairOf(await refresh(graceful, first.refresh));
      const rows = await gatehouse.runtime.storage.db.selectFrom('refresh_token_rotations').selectAll().execute();
      assert.ok(rows.length > 0);
      const dump = JSON.stringify(rows);
      for (const secret of [first.refresh, rotated.refresh_token, rotated.access_token]) assert.ok(!dump.includes(secret));
    });
  });
}
