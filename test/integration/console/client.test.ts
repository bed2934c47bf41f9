/**
 * The admin console as an OpenID Connect client of Gatehouse itself: a public client with PKCE that
 * only administrators get into, whose access token the directory API accepts for as long as the
 * person stays an active administrator — checked again on every call, like every other token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { call } from '../../helpers/api.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, type client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const PASSWORD = 'console-password-1';
const SCOPE = 'openid profile email';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Admin console sign-in and API access (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let consoleRp: client.Configuration;
    let redirectUri: string;

    const person = (username: string, role: Parameters<TestGatehouse['directory']['users']['create']>[0]['role']) =>
      gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED', role });
    const consoleSignIn = (username: string) => signIn(consoleRp, { redirectUri, scope: SCOPE, username, password: PASSWORD });
    const asConsole = (token: string, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: token, bearer: true });

    before(async () => {
      gatehouse = await startGatehouse(kind);
      redirectUri = `${gatehouse.issuer}/admin/callback`;
      consoleRp = await discover({ issuer: gatehouse.issuer, clientId: CONSOLE_CLIENT_ID, authMethod: 'none', redirectUri });
    });
    after(() => gatehouse?.close());

    test('an administrator signs in with PKCE and the access token is accepted by the API as that person', async () => {
      const ada = await person('ada', 'administrator');
      const { tokens } = await consoleSignIn('ada');
      assert.equal(tokens.claims()?.sub, ada.id);
      assert.equal(tokens.refresh_token, undefined, 'the console gets no refresh token');

      const me = await asConsole(tokens.access_token, 'GET', '/api/me');
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.user.username, 'ada');
      assert.equal(me.body.role, 'administrator');
      assert.equal(me.body.credential, 'console_session');
      assert.deepEqual(me.body.permissions, ['read', 'helpdesk', 'directory', 'security']);

      // A write through the console is the person's own, in the audit log.
      const created = await asConsole(tokens.access_token, 'POST', '/api/groups', { name: 'Made in the console' });
      assert.equal(created.status, 201, created.text);
      const events = await asConsole(tokens.access_token, 'GET', '/api/audit-events?action=group.create');
      assert.equal(events.body.data[0].actor.type, 'user');
      assert.equal(events.body.data[0].actor.id, ada.id);
      assert.ok(!JSON.stringify(events.body).includes(tokens.access_token), 'the token is not in the audit log');
    });

    test('a read_only administrator reads through the console but cannot write', async () => {
      await person('rory', 'read_only');
      const { tokens } = await consoleSignIn('rory');
      assert.equal((await asConsole(tokens.access_token, 'GET', '/api/users')).status, 200);
      const write = await asConsole(tokens.access_token, 'POST', '/api/groups', { name: 'Not allowed' });
      assert.equal(write.status, 403);
      assert.equal(write.body.code, 'auth.forbidden');
    });

    test('a person without an administrator role is refused: a no-access page, then access_denied at the console', async () => {
      await person('nell', null);
      const start = await startAuthorization(consoleRp, redirectUri, SCOPE);
      const browser = new Browser();
      const outcome = await browse(browser, start.url, redirectUri, { username: 'nell', password: PASSWORD });
      assert.ok(outcome.page, 'a page, not a code');
      assert.equal(outcome.page.status, 403);
      assert.match(outcome.page.html, /You don(&#39;|')t have access to Gatehouse Admin Console/);
      assert.match(outcome.page.html, /only administrators can use the admin console/);

      const [form] = parseForms(outcome.page.html);
      assert.ok(form);
      const back = await browser.submit(outcome.page.url, form, {}, redirectUri);
      const callback = new URL(back.url);
      assert.equal(callback.origin + callback.pathname, redirectUri);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('code'), null);

      const [event] = (await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 1, offset: 0 })).events;
      assert.equal(event?.outcome, 'failure');
      assert.equal(event?.details.reason, 'not_administrator');
    });

    test('the console is a public client held to PKCE and its own redirect URI', async () => {
      const noPkce = new URL(consoleRp.serverMetadata().authorization_endpoint as string);
      noPkce.search = new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 's' }).toString();
      const refused = await new Browser().follow(noPkce.href, redirectUri);
      assert.equal(new URL(refused.url).searchParams.get('error'), 'invalid_request');

      const elsewhere = new URL(noPkce);
      elsewhere.searchParams.set('redirect_uri', 'https://attacker.example/admin/callback');
      elsewhere.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
      elsewhere.searchParams.set('code_challenge_method', 'S256');
      const page = await new Browser().follow(elsewhere.href, 'https://attacker.example/');
      assert.ok(page.response, 'no redirect to an unregistered URI');
      assert.equal(page.response.status, 400);
    });

    test('the console is not an app of the directory: not listed, not changeable through the API', async () => {
      await person('grace', 'administrator');
      const { tokens } = await consoleSignIn('grace');
      const apps = await asConsole(tokens.access_token, 'GET', '/api/apps');
      assert.ok(!JSON.stringify(apps.body).includes(CONSOLE_CLIENT_ID));
      assert.equal((await asConsole(tokens.access_token, 'DELETE', `/api/apps/${CONSOLE_CLIENT_ID}`)).status, 404);
    });

    test('an access token of another app is not an API credential, even an administrator’s', async () => {
      await person('hedy', 'administrator');
      const everyone = await gatehouse.directory.groups.get('All Users');
      const appRedirect = 'https://tool.example.test/callback';
      const { app } = await gatehouse.directory.apps.create({ label: 'Tool', redirect_uris: [appRedirect], auth_method: 'none' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      const rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, authMethod: 'none', redirectUri: appRedirect });
      const { tokens } = await signIn(rp, { redirectUri: appRedirect, scope: 'openid', username: 'hedy', password: PASSWORD });
      const refused = await asConsole(tokens.access_token, 'GET', '/api/me');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, 'auth.invalid_credentials');
    });

    test('malformed bearer credentials are a 401, never a 500', async () => {
      for (const token of ['a'.repeat(5000), `gh_${'x'.repeat(300)}`, '%00%ff', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.']) {
        const response = await asConsole(token, 'GET', '/api/me');
        assert.equal(response.status, 401, token.slice(0, 20));
        assert.equal(response.body.code, 'auth.invalid_credentials');
      }
    });

    const withdrawals: Array<{ name: string; withdraw: (g: TestGatehouse, username: string, token: string) => Promise<unknown> }> = [
      { name: 'taking away the role', withdraw: (g, username) => g.directory.users.setRole(username, null) },
      { name: 'suspending the person', withdraw: (g, username) => g.directory.users.suspend(username) },
      {
        name: 'revoking the token (sign-out)',
        withdraw: (g, _username, token) =>
          fetch(`${g.issuer}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: CONSOLE_CLIENT_ID }) }),
      },
    ];
    for (const [index, { name, withdraw }] of withdrawals.entries()) {
      test(`${name} stops the console's access token at once`, async () => {
        const username = `leaver${index}`;
        await person(username, 'administrator');
        const { tokens } = await consoleSignIn(username);
        assert.equal((await asConsole(tokens.access_token, 'GET', '/api/me')).status, 200);
        await withdraw(gatehouse, username, tokens.access_token);
        const after = await asConsole(tokens.access_token, 'GET', '/api/me');
        assert.equal(after.status, 401, after.text);
      });
    }
  });
}
