/**
 * A copy of the database must not hand out credentials: after apps are created, secrets regenerated
 * and people signed in (codes, tokens, refreshes), a dump of every table contains no client secret
 * and no password, and the signing keys' private parts are sealed. Whether raw token values appear
 * (oidc-provider keys opaque tokens by their value) is reported as a diagnostic, not asserted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { PASSWORD, type TestApp, createApp, exchangeOk, obtainCode, token, shutdown } from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`secrets at rest (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    const secrets: Array<[string, string]> = [];
    const tokens: Array<[string, string]> = [];
    let basicApp: TestApp;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups, apps } = gatehouse.directory;
      await groups.create('staff');
      await users.create({ username: 'sara', email: 'sara@example.com', password: PASSWORD });
      await groups.addMember('staff', 'sara');

      basicApp = await createApp(gatehouse, { label: 'Basic', group: 'staff', refreshToken: true });
      const postApp = await createApp(gatehouse, { label: 'Post', group: 'staff', authMethod: 'client_secret_post' });
      const rotated = await createApp(gatehouse, { label: 'Rotated', group: 'staff' });
      secrets.push(['basic app secret', basicApp.credentials.clientSecret ?? ''], ['post app secret', postApp.credentials.clientSecret ?? '']);
      secrets.push(['secret before regeneration', rotated.credentials.clientSecret ?? '']);
      const { clientSecret: regenerated } = await apps.regenerateSecret(rotated.id);
      secrets.push(['secret after regeneration', regenerated]);
      const rotatedNow = { ...rotated, credentials: { ...rotated.credentials, clientSecret: regenerated } };

      // Use every secret at the token endpoint, with both methods, so that any request logging or
      // caching of credentials would have had its chance to write them down.
      const basicTokens = await exchangeOk(gatehouse, basicApp, await obtainCode(basicApp, 'sara', { scope: 'openid email offline_access' }));
      assert.ok(basicTokens.refresh_token);
      const refreshed = await token(gatehouse, { grant_type: 'refresh_token', refresh_token: basicTokens.refresh_token }, basicApp.credentials);
      assert.equal(refreshed.status, 200, refreshed.text);
      const postTokens = await exchangeOk(gatehouse, postApp, await obtainCode(postApp, 'sara'));
      const rotatedTokens = await exchangeOk(gatehouse, rotatedNow, await obtainCode(rotatedNow, 'sara'));
      const another = await exchangeOk(gatehouse, rotatedNow, await obtainCode(rotatedNow, 'sara'));
      // A refused attempt with the retired secret too.
      const refused = await token(gatehouse, { grant_type: 'authorization_code', code: 'x', redirect_uri: 'x' }, rotated.credentials);
      assert.equal(refused.status, 401, refused.text);
      const latest = refreshed.json as { access_token: string; refresh_token: string };
      tokens.push(
        ['access token', basicTokens.access_token],
        ['rotated-out refresh token', basicTokens.refresh_token],
        ['access token after refresh', latest.access_token],
        ['refresh token after refresh', latest.refresh_token],
        ['post app access token', postTokens.access_token],
        ['rotated app access token', rotatedTokens.access_token],
        ['another access token', another.access_token],
      );
      // Keep one fresh code unexchanged too.
      const pending = await obtainCode(basicApp, 'sara');
      tokens.push(['authorization code (unredeemed)', pending.code]);
    });
    after(() => shutdown(gatehouse));

    /** Every row of every table, as text. */
    async function dump(): Promise<Map<string, string>> {
      const db = gatehouse.runtime.storage.db;
      const tables = await db.introspection.getTables();
      const names = tables.map((t) => t.name);
      for (const required of ['users', 'apps', 'oidc_payloads', 'signing_keys']) assert.ok(names.includes(required), `table ${required} exists (${names.join(', ')})`);
      const out = new Map<string, string>();
      for (const name of names) {
        // biome-ignore lint/suspicious/noExplicitAny: every table, whatever its columns.
        const rows = await (db as any).selectFrom(name).selectAll().execute();
        out.set(name, JSON.stringify(rows));
      }
      return out;
    }

    test('no client secret appears in any table, in any common encoding', async () => {
      const tables = await dump();
      assert.ok((tables.get('apps') ?? '').includes('sha256:'), 'the apps table holds hashes');
      for (const [what, secret] of secrets) {
        assert.ok(secret.length >= 40, `${what} is a real secret`);
        const forms = [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), Buffer.from(secret, 'base64url').toString('hex'), Buffer.from(secret, 'base64url').toString('base64')];
        for (const [table, text] of tables) {
          for (const form of forms) assert.ok(!text.includes(form), `${what} found in ${table}`);
        }
      }
    });

    test('no password appears in any table', async () => {
      for (const [table, text] of await dump()) {
        assert.ok(!text.includes(PASSWORD), `the password found in ${table}`);
        assert.ok(!text.includes(Buffer.from(PASSWORD).toString('base64')), `the password (base64) found in ${table}`);
      }
      const users = await dump().then((t) => t.get('users') ?? '');
      assert.match(users, /\$argon2id\$/, 'passwords are stored as argon2id hashes');
    });

    test('the private signing keys are sealed, not stored as plain JWKs', async () => {
      const rows = await gatehouse.runtime.storage.db.selectFrom('signing_keys').select(['kid', 'private_jwk']).execute();
      assert.ok(rows.length > 0);
      for (const row of rows) {
        assert.doesNotMatch(row.private_jwk, /"d"\s*:/, `key ${row.kid}: no private exponent in clear`);
        assert.doesNotMatch(row.private_jwk, /"(p|q|dp|dq|qi)"\s*:/, `key ${row.kid}: no CRT parameters in clear`);
      }
    });

    test('no code, access token or refresh token is stored in a usable form', async () => {
      const tables = await dump();
      assert.ok((await gatehouse.runtime.storage.db.selectFrom('oidc_payloads').select('model').execute()).some((row) => row.model === 'Grant'), 'the dump sees oidc-provider rows');
      for (const [what, value] of tokens) {
        const where = [...tables].filter(([, text]) => text.includes(value)).map(([table]) => table);
        assert.deepEqual(where, [], `${what} appears in ${where.join(', ')}`);
      }
    });
  });
}
