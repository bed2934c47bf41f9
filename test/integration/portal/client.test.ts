/**
 * The user portal as Gatehouse's second built-in client: every active person signs in to it (no
 * group binding, no role), and its access token reaches the self-service API under /api/me/ only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CLIENT_ID, PORTAL_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';
import { discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const PASSWORD = 'portal-password-1';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`User portal client and self-service authentication (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    const person = (username: string, extra: { role?: 'administrator' | null; state?: 'ACTIVATED' | 'SUSPENDED' | 'STAGED' } = {}) =>
      gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: extra.state ?? 'ACTIVATED', role: extra.role ?? null });
    const asToken = (token: string, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: token, bearer: true });

    before(async () => {
      gatehouse = await startGatehouse(kind);
    });
    after(() => gatehouse?.close());

    test('a person with no role and no group binding signs in to the portal and reads their own profile', async () => {
      const pat = await person('pat');
      const group = await gatehouse.directory.groups.create('Designers');
      await gatehouse.directory.groups.addMember(group.id, pat.id);
      const session = await portalSignIn(gatehouse, 'pat', PASSWORD);
      assert.equal(session.claims?.sub, pat.id);

      const profile = await asToken(session.accessToken, 'GET', '/api/me/profile');
      assert.equal(profile.status, 200, profile.text);
      assert.equal(profile.body.user.username, 'pat');
      assert.deepEqual(profile.body.groups, [{ id: group.id, name: 'Designers' }]);
    });

    test('a portal token is not an admin API credential, even an administrator’s', async () => {
      await person('ada', { role: 'administrator' });
      const session = await portalSignIn(gatehouse, 'ada', PASSWORD);
      for (const path of ['/api/me', '/api/users', '/api/apps']) {
        const refused = await asToken(session.accessToken, 'GET', path);
        assert.equal(refused.status, 401, path);
        assert.equal(refused.body.code, 'auth.invalid_credentials');
      }
    });

    test('the admin console’s token also reaches the self-service API, as the person', async () => {
      await person('grace', { role: 'administrator' });
      const redirectUri = `${gatehouse.issuer}/admin/callback`;
      const consoleRp = await discover({ issuer: gatehouse.issuer, clientId: CONSOLE_CLIENT_ID, authMethod: 'none', redirectUri });
      const { tokens } = await signIn(consoleRp, { redirectUri, scope: 'openid profile email', username: 'grace', password: PASSWORD });
      const profile = await asToken(tokens.access_token, 'GET', '/api/me/profile');
      assert.equal(profile.status, 200, profile.text);
      assert.equal(profile.body.user.username, 'grace');
    });

    test('API keys, other apps’ tokens, no credential and garbage are refused by the self-service API', async () => {
      const { key } = await adminKey(gatehouse, 'administrator');
      for (const options of [{ key }, { key, bearer: true }]) {
        const refused = await call(gatehouse, 'GET', '/api/me/profile', undefined, options);
        assert.equal(refused.status, 403);
        assert.equal(refused.body.code, 'auth.self_service_needs_sign_in');
      }
      const none = await call(gatehouse, 'GET', '/api/me/profile');
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 'auth.invalid_credentials');

      await person('hedy');
      const everyone = await gatehouse.directory.groups.get('All Users');
      const appRedirect = 'https://tool.example.test/callback';
      const { app } = await gatehouse.directory.apps.create({ label: 'Tool', redirect_uris: [appRedirect], auth_method: 'none' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      const rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, authMethod: 'none', redirectUri: appRedirect });
      const { tokens } = await signIn(rp, { redirectUri: appRedirect, scope: 'openid', username: 'hedy', password: PASSWORD });
      const otherApp = await asToken(tokens.access_token, 'GET', '/api/me/profile');
      assert.equal(otherApp.status, 401);

      for (const token of ['a'.repeat(5000), 'gh_nothing', '%00%ff', 'a.b.c']) {
        const response = await asToken(token, 'GET', '/api/me/profile');
        assert.ok([401, 403].includes(response.status), `${token.slice(0, 12)}: ${response.status}`);
      }
    });

    test('a suspended person is refused at once, their existing token included', async () => {
      const sam = await person('sam');
      const session = await portalSignIn(gatehouse, 'sam', PASSWORD);
      assert.equal((await asToken(session.accessToken, 'GET', '/api/me/profile')).status, 200);
      await gatehouse.directory.users.suspend(sam.id);
      assert.equal((await asToken(session.accessToken, 'GET', '/api/me/profile')).status, 401);

      await person('stella', { state: 'SUSPENDED' });
      const redirectUri = `${gatehouse.issuer}/callback`;
      const portal = await discover({ issuer: gatehouse.issuer, clientId: PORTAL_CLIENT_ID, authMethod: 'none', redirectUri });
      const start = await startAuthorization(portal, redirectUri, 'openid');
      await assert.rejects(signIn(portal, { redirectUri, scope: 'openid', username: 'stella', password: PASSWORD, browser: new Browser() }));
      assert.ok(start.url);
    });

    test('the portal is a public client held to PKCE and its own redirect URI', async () => {
      const redirectUri = `${gatehouse.issuer}/callback`;
      const portal = await discover({ issuer: gatehouse.issuer, clientId: PORTAL_CLIENT_ID, authMethod: 'none', redirectUri });
      const noPkce = new URL(portal.serverMetadata().authorization_endpoint as string);
      noPkce.search = new URLSearchParams({ client_id: PORTAL_CLIENT_ID, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 's' }).toString();
      const refused = await new Browser().follow(noPkce.href, redirectUri);
      assert.equal(new URL(refused.url).searchParams.get('error'), 'invalid_request');

      const elsewhere = new URL(noPkce);
      elsewhere.searchParams.set('redirect_uri', 'https://attacker.example/callback');
      elsewhere.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
      elsewhere.searchParams.set('code_challenge_method', 'S256');
      const page = await new Browser().follow(elsewhere.href, 'https://attacker.example/');
      assert.ok(page.response, 'no redirect to an unregistered URI');
      assert.equal(page.response.status, 400);
    });
  });
}
