/**
 * Input rules of the directory that every way in shares (issue 9, "The command line"): redirect URIs
 * with a `*` are refused, and passwords made only of blank characters are refused when set and never
 * match at sign-in. Over real HTTP on both databases; the command line side is in
 * test/integration/cli/first-hour.test.ts.
 */
import { hash } from '@node-rs/argon2';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ARGON2_OPTIONS, verifyPassword } from '../../../src/directory/passwords.ts';
import { plainHttpRedirectUris } from '../../../src/directory/apps.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, discover, startAuthorization } from '../../helpers/rp.ts';

const BLANKS = ['          ', '\t\t\t\t\t\t\t\t\t', '\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0\u00a0', ' \u3000 \u2003 \n  \r\n '];

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`input rules over the API (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let key: string;
    // biome-ignore lint/suspicious/noExplicitAny: response bodies of every shape
    const api = (method: string, path: string, body?: unknown) => call<any>(gh, method, path, body, { key });

    before(async () => {
      gh = await startGatehouse(kind);
      key = (await adminKey(gh, 'administrator_with_billing')).key;
    });
    after(() => gh?.close());

    test('a redirect URI or post-logout redirect URI with * is refused with {code, message}, on create and on update', async () => {
      for (const uri of ['https://*.example.com/cb', 'https://app.example.com/*', 'https://app.example.com/cb*', 'com.example.app:/*']) {
        const created = await api('POST', '/api/apps', { label: 'Wildcard', redirect_uris: ['https://ok.example.com/cb', uri] });
        assert.equal(created.status, 400, `${uri}: ${created.text}`);
        assert.equal(created.body.code, 'app.invalid_uri');
        assert.match(created.body.message, /must not contain \*/);
        const logout = await api('POST', '/api/apps', { label: 'Wildcard', redirect_uris: ['https://ok.example.com/cb'], post_logout_redirect_uris: [uri] });
        assert.equal(logout.status, 400, logout.text);
        assert.equal(logout.body.code, 'app.invalid_uri');
        assert.match(logout.body.message, /Post-logout redirect URI .* must not contain \*/);
      }
      assert.equal((await api('GET', '/api/apps?limit=1000')).body.data.length, 0, 'nothing was created');

      const ok = await api('POST', '/api/apps', { label: 'Exact', redirect_uris: ['https://ok.example.com/cb'] });
      assert.equal(ok.status, 201, ok.text);
      const patched = await api('PATCH', `/api/apps/${ok.body.app.id}`, { redirect_uris: ['https://ok.example.com/*'] });
      assert.equal(patched.status, 400, patched.text);
      assert.equal(patched.body.code, 'app.invalid_uri');
      assert.deepEqual((await api('GET', `/api/apps/${ok.body.app.id}`)).body.redirect_uris, ['https://ok.example.com/cb']);
    });

    test('a password of blank characters only is refused wherever one is set', async () => {
      for (const password of BLANKS) {
        const created = await api('POST', '/api/users', { username: 'blank', email: 'blank@example.com', password });
        assert.equal(created.status, 400, created.text);
        assert.equal(created.body.code, 'user.password_blank');
        assert.match(created.body.message, /only of spaces/);
        const jumpcloud = await api('POST', '/api/systemusers', { username: 'blank', email: 'blank@example.com', password });
        assert.equal(jumpcloud.status, 400, jumpcloud.text);
        assert.match(jumpcloud.text, /only of spaces/);
      }
      const user = await api('POST', '/api/users', { username: 'blank', email: 'blank@example.com', password: 'a real password' });
      assert.equal(user.status, 201, user.text);
      const set = await api('PUT', `/api/users/${user.body.id}/password`, { password: '            ' });
      assert.equal(set.status, 400, set.text);
      assert.equal(set.body.code, 'user.password_blank');
      // Spaces around real characters are a real password.
      assert.equal((await api('PUT', `/api/users/${user.body.id}/password`, { password: '  spaced out  ' })).status, 200);
    });

    test('a blank password stored before the rule existed never signs in', async () => {
      const redirectUri = 'https://blank.example.test/cb';
      const blank = '          ';
      const { users, groups, apps } = gh.directory;
      const user = await users.create({ username: 'legacy', email: 'legacy@example.com', password: 'a real password' });
      await gh.runtime.storage.db.updateTable('users').set({ password_hash: await hash(blank, ARGON2_OPTIONS) }).where('id', '=', user.id).execute();
      await groups.create('legacy');
      await groups.addMember('legacy', 'legacy');
      const { app, clientSecret } = await apps.create({ label: 'Legacy', redirect_uris: [redirectUri] });
      await apps.bind(app.id, 'legacy');
      const rp = await discover({ issuer: gh.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri });
      const start = await startAuthorization(rp, redirectUri, 'openid');
      const outcome = await browse(new Browser(), start.url, redirectUri, { username: 'legacy', password: blank });
      assert.equal(outcome.callbackUrl?.searchParams.get('code') ?? null, null, 'no authorization code for a blank password');
      assert.ok(outcome.page, 'the sign-in page again');
    });
  });
}

test('verifyPassword never matches a blank password, and plain http warnings spare loopback hosts', async () => {
  const stored = await hash('        ', ARGON2_OPTIONS);
  assert.equal(await verifyPassword(stored, '        '), false);
  assert.deepEqual(
    plainHttpRedirectUris(['http://app.example.com/cb', 'http://localhost:3000/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://dev.localhost/cb', 'https://app.example.com/cb', 'com.example.app:/cb', 'http://10.0.0.5/cb']),
    ['http://app.example.com/cb', 'http://10.0.0.5/cb'],
  );
});
