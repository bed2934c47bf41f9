/**
 * On SQLite a node answers access-token and grant look-ups from memory while no stored row has
 * changed (migration 005). Whatever removes or changes a token elsewhere — another process's SQL,
 * revocation, sign-out, a refresh-token reuse — must still stop it on the very next request. Runs on
 * PostgreSQL too, where nothing is remembered, as the same contract.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { storageKey } from '../../../src/oidc/adapter.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { client, discover, signIn } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://remembered.example.test/callback';
const USER = { username: 'rema', email: 'rema@example.com', password: 'remembered-password-1', state: 'ACTIVATED' as const };

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Remembered tokens stop at once (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;

    const userinfo = async (token: string) => (await fetch(`${gatehouse.issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;
    const introspect = async (token: string) => (await client.tokenIntrospection(config, token)).active;
    const freshTokens = async () => {
      const { tokens } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid offline_access email', username: USER.username, password: USER.password });
      // Used twice: the second answer may come from memory.
      assert.equal(await userinfo(tokens.access_token), 200);
      assert.equal(await userinfo(tokens.access_token), 200);
      assert.equal(await introspect(tokens.access_token), true);
      return tokens;
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      await gatehouse.directory.users.create(USER);
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'Remembered', redirect_uris: [REDIRECT_URI], refresh_token: true, scopes: ['email'] });
      await gatehouse.directory.apps.bind(app.id, 'All Users');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    test('an access token deleted by another writer (raw SQL, as a command would) is refused on the next request', async () => {
      const tokens = await freshTokens();
      await gatehouse.runtime.storage.db.deleteFrom('oidc_payloads').where('model', '=', 'AccessToken').where('id', '=', storageKey(tokens.access_token)).execute();
      assert.equal(await userinfo(tokens.access_token), 401);
      assert.equal(await introspect(tokens.access_token), false);
    });

    test('a grant deleted by another writer stops its access token on the next request', async () => {
      const tokens = await freshTokens();
      await gatehouse.runtime.storage.db.deleteFrom('oidc_payloads').where('model', '=', 'Grant').execute();
      assert.equal(await userinfo(tokens.access_token), 401);
    });

    test('revoking the access token stops it on the next request', async () => {
      const tokens = await freshTokens();
      await client.tokenRevocation(config, tokens.access_token);
      assert.equal(await userinfo(tokens.access_token), 401);
      assert.equal(await introspect(tokens.access_token), false);
    });

    test('reusing a rotated refresh token revokes the grant: the remembered access token stops too', async () => {
      const tokens = await freshTokens();
      const refreshToken = tokens.refresh_token as string;
      const rotated = await client.refreshTokenGrant(config, refreshToken);
      assert.equal(await userinfo(rotated.access_token), 200);
      await assert.rejects(client.refreshTokenGrant(config, refreshToken));
      assert.equal(await userinfo(tokens.access_token), 401);
      assert.equal(await userinfo(rotated.access_token), 401);
    });
  });
}
