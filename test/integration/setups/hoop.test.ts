/**
 * Hoop gateway, as its JumpCloud guide sets it up: client_secret_basic, scopes email profile, a
 * groups attribute named https://app.hoop.dev/groups; the gateway validates the opaque access token
 * only by calling /userinfo and reads the groups there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { client, discover, signIn } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://hoop.example.test/api/callback';
const GROUPS_CLAIM = 'https://app.hoop.dev/groups';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Hoop (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups, apps } = gatehouse.directory;
      await users.create({ username: 'hana', email: 'hana@example.com', firstname: 'Hana', lastname: 'Ito', password: 'hoop-password-1' });
      await groups.create('sre');
      await groups.create('developers');
      await groups.create('finance');
      await groups.addMember('sre', 'hana');
      await groups.addMember('developers', 'hana');
      await groups.addMember('finance', 'hana');
      const { app, clientSecret } = await apps.create({
        label: 'Hoop',
        redirect_uris: [REDIRECT_URI],
        login_url: 'https://hoop.example.test/login',
        auth_method: 'client_secret_basic',
        scopes: ['email', 'profile'],
        groups_claim: GROUPS_CLAIM,
      });
      await apps.bind(app.id, 'sre');
      await apps.bind(app.id, 'developers');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    test('the gateway signs in and validates the opaque access token at /userinfo', async () => {
      const { tokens } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid email profile', username: 'hana', password: 'hoop-password-1' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.access_token.split('.').length, 1, 'access tokens are opaque');
      const claims = tokens.claims();
      assert.ok(claims);
      assert.match(claims.sub, /^[0-9a-f]{24}$/);

      const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, 'hana@example.com');
      assert.equal(userinfo.email_verified, true);
      assert.equal(userinfo.given_name, 'Hana');
      assert.equal(userinfo.family_name, 'Ito');
      // Only the groups bound to Hoop, always as an array.
      assert.deepEqual(userinfo[GROUPS_CLAIM], ['developers', 'sre']);
      assert.deepEqual(claims[GROUPS_CLAIM], ['developers', 'sre']);
    });

    test('one bound group is still an array', async () => {
      await gatehouse.directory.apps.unbind('Hoop', 'developers');
      try {
        const { tokens } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid email profile', username: 'hana', password: 'hoop-password-1' });
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck);
        assert.deepEqual(userinfo[GROUPS_CLAIM], ['sre']);
      } finally {
        await gatehouse.directory.apps.bind('Hoop', 'developers');
      }
    });
  });
}
