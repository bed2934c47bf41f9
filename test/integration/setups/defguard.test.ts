/**
 * Defguard, as its JumpCloud guide sets it up: a custom OIDC app with several redirect URIs (the
 * dashboard's /auth/callback and the enrollment proxy's /openid/callback and /openid/mfa/callback),
 * a login URL, the profile standard scope only, and `email` added by hand as an attribute mapping —
 * because JumpCloud's email scope adds a non-standard string `email_verified` that Defguard rejects.
 * The client id and secret are shown once. The guide does not name the client authentication type;
 * JumpCloud's default, Client Secret Basic, is used (openidconnect-rs, Defguard's library, defaults
 * to it too). Defguard asks for `openid profile email`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const DASHBOARD_CALLBACK = 'https://defguard.example.net/auth/callback';
const PROXY_CALLBACK = 'https://enroll.defguard.example.net/openid/callback';
const MFA_CALLBACK = 'https://enroll.defguard.example.net/openid/mfa/callback';
const UNREGISTERED = 'https://defguard.example.net/auth/callback-evil';
const LOGIN_URL = 'https://defguard.example.net/auth/login';
const SCOPE = 'openid profile email';

const ALICE = {
  username: 'alice',
  email: 'alice@example.com',
  firstname: 'Alice',
  lastname: 'Nowak',
  password: 'defguard-password-1',
  attributes: { department: 'Network Operations' },
};
const BOB = { username: 'bob', email: 'bob@example.com', firstname: 'Bob', lastname: 'Kowalski', password: 'defguard-password-2' };

/** A browser that asks for HTML the way real ones do (Accept: text/html), so errors come as pages. */
class HtmlBrowser extends Browser {
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    return super.request(url, { ...init, headers });
  }
}

/** email_verified must never be the string "true" (JumpCloud's quirk): absent, or a JSON boolean. */
function assertEmailVerifiedNotString(claims: Record<string, unknown>, where: string) {
  if ('email_verified' in claims) assert.equal(typeof claims.email_verified, 'boolean', `${where}: email_verified is ${JSON.stringify(claims.email_verified)}`);
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Defguard (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let clientId: string;
    let clientSecret: string;
    let dashboard: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, apps } = gatehouse.directory;
      await users.create(ALICE);
      await users.create(BOB);
      const created = await apps.create({
        label: 'Defguard',
        redirect_uris: [DASHBOARD_CALLBACK, PROXY_CALLBACK, MFA_CALLBACK],
        login_url: LOGIN_URL,
        auth_method: 'client_secret_basic',
        scopes: ['profile'],
        attribute_mapping: [
          { claim: 'email', source: 'field', field: 'email' },
          { claim: 'department', source: 'attribute', attribute: 'department' },
          { claim: 'organization', source: 'constant', value: 'Example Sp. z o.o.' },
        ],
      });
      assert.ok(created.clientSecret, 'the secret is shown once, at creation');
      assert.equal(created.app.has_client_secret, true);
      assert.equal((created.app as unknown as Record<string, unknown>).client_secret, undefined, 'the app record never carries the secret');
      clientId = created.app.client_id;
      clientSecret = created.clientSecret;
      await apps.bind(created.app.id, 'All Users');
      dashboard = await discover({ issuer: gatehouse.issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri: DASHBOARD_CALLBACK });
    });
    after(() => gatehouse?.close());

    test('the mapped email and the profile claims reach the ID token and userinfo; email_verified is never a string', async () => {
      const { tokens } = await signIn(dashboard, { redirectUri: DASHBOARD_CALLBACK, scope: SCOPE, username: ALICE.username, password: ALICE.password });
      const claims = tokens.claims();
      assert.ok(claims);
      assert.match(claims.sub, /^[0-9a-f]{24}$/);
      assert.equal(claims.aud, clientId);
      // Through the mapping, though the app does not have the email scope.
      assert.equal(claims.email, ALICE.email);
      assertEmailVerifiedNotString(claims, 'ID token');
      assert.equal(claims.given_name, ALICE.firstname);
      assert.equal(claims.family_name, ALICE.lastname);
      assert.equal(claims.name, 'Alice Nowak');
      assert.equal(claims.preferred_username, ALICE.username);
      assert.equal(claims.department, 'Network Operations');
      assert.equal(claims.organization, 'Example Sp. z o.o.');
      // The email scope was asked for but the app is not allowed it.
      assert.ok(!tokens.scope?.split(' ').includes('email'), `granted scope: ${tokens.scope}`);

      const userinfo = await client.fetchUserInfo(dashboard, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, ALICE.email);
      assertEmailVerifiedNotString(userinfo, 'userinfo');
      assert.equal(userinfo.given_name, ALICE.firstname);
      assert.equal(userinfo.family_name, ALICE.lastname);
      assert.equal(userinfo.department, 'Network Operations');
      assert.equal(userinfo.organization, 'Example Sp. z o.o.');
    });

    test('a custom attribute the user lacks is left out, not sent empty', async () => {
      const { tokens } = await signIn(dashboard, { redirectUri: DASHBOARD_CALLBACK, scope: SCOPE, username: BOB.username, password: BOB.password });
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.email, BOB.email);
      assert.equal('department' in claims, false, `department: ${JSON.stringify(claims.department)}`);
      assert.equal(claims.organization, 'Example Sp. z o.o.');
      const userinfo = await client.fetchUserInfo(dashboard, tokens.access_token, claims.sub);
      assert.equal('department' in userinfo, false);
    });

    test('each registered redirect URI signs in', async () => {
      for (const redirectUri of [DASHBOARD_CALLBACK, PROXY_CALLBACK, MFA_CALLBACK]) {
        const config = await discover({ issuer: gatehouse.issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri });
        const { tokens, callbackUrl } = await signIn(config, { redirectUri, scope: SCOPE, username: ALICE.username, password: ALICE.password });
        assert.equal(`${callbackUrl.origin}${callbackUrl.pathname}`, redirectUri);
        assert.equal(tokens.claims()?.email, ALICE.email);
      }
    });

    test('one browser session serves both the dashboard and the enrollment proxy', async () => {
      const browser = new Browser();
      await signIn(dashboard, { redirectUri: DASHBOARD_CALLBACK, scope: SCOPE, username: ALICE.username, password: ALICE.password, browser });
      const proxy = await discover({ issuer: gatehouse.issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri: PROXY_CALLBACK });
      const start = await startAuthorization(proxy, PROXY_CALLBACK, SCOPE);
      const outcome = await browse(browser, start.url, PROXY_CALLBACK);
      assert.ok(outcome.callbackUrl, 'no sign-in form the second time');
      assert.ok(outcome.callbackUrl.searchParams.get('code'));
    });

    test('an unregistered redirect URI is refused without redirecting to it', async () => {
      const config = await discover({ issuer: gatehouse.issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri: UNREGISTERED });
      const start = await startAuthorization(config, UNREGISTERED, SCOPE);
      const browser = new HtmlBrowser();
      const response = await browser.request(String(start.url));
      const location = response.headers.get('location');
      await response.body?.cancel();
      assert.ok(!location?.startsWith(UNREGISTERED), `redirected to ${location}`);
      const outcome = await browse(browser, start.url, UNREGISTERED, { username: ALICE.username, password: ALICE.password });
      assert.equal(outcome.callbackUrl, undefined);
      assert.ok(outcome.page);
      assert.equal(outcome.page.status, 400);
      assert.doesNotMatch(outcome.page.html, /name="password"/, 'no sign-in form for a request that can never complete');
      assert.match(outcome.page.html, /<html/i, 'the person gets a page, not JSON');
      assert.match(outcome.page.html, /invalid_redirect_uri/);
      assert.ok(!outcome.page.html.includes(`href="${UNREGISTERED}`), 'no link to the unregistered URI');
    });

    test('the secret is accepted either way (RFC 6749 §2.3.1), and a wrong value is refused', async () => {
      // Registered for client_secret_basic: the same secret in the body works too.
      const post = await discover({ issuer: gatehouse.issuer, clientId, clientSecret, authMethod: 'client_secret_post', redirectUri: DASHBOARD_CALLBACK });
      const { tokens } = await signIn(post, { redirectUri: DASHBOARD_CALLBACK, scope: SCOPE, username: ALICE.username, password: ALICE.password });
      assert.ok(tokens.access_token);
      const wrong = await discover({ issuer: gatehouse.issuer, clientId, clientSecret: `${clientSecret}x`, authMethod: 'client_secret_basic', redirectUri: DASHBOARD_CALLBACK });
      await assert.rejects(
        signIn(wrong, { redirectUri: DASHBOARD_CALLBACK, scope: SCOPE, username: ALICE.username, password: ALICE.password }),
        // A 401 with a Basic challenge carrying error="invalid_client" (RFC 6749 §5.2).
        (error: { status?: number; error?: string; cause?: Array<{ scheme: string; parameters: { error?: string } }> }) =>
          error.status === 401 && (error.error === 'invalid_client' || error.cause?.some((c) => c.scheme === 'basic' && c.parameters.error === 'invalid_client') === true),
      );
    });
  });
}
