/**
 * ngrok endpoint SSO, as its JumpCloud guide sets it up: a custom OIDC app "ngrok oidc" with redirect
 * URI https://idp.ngrok.com/oauth2/callback, Client Secret Basic, the endpoint URL as login URL;
 * ngrok's traffic policy asks for `openid profile email`. SP-initiated sign-in only. "By default,
 * apps created in JumpCloud have no group assignments; in other words, nobody can use JumpCloud SSO
 * to access ngrok until you assign a group to the app": All Users is then bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://idp.ngrok.com/oauth2/callback';
const LOGIN_URL = 'https://myexample.ngrok.app';
const LABEL = 'ngrok oidc';
const SCOPE = 'openid profile email';
const USER = { username: 'noor', email: 'noor@example.com', firstname: 'Noor', lastname: 'Haddad', password: 'ngrok-password-1' };

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`ngrok (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;
    let appId: string;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, apps } = gatehouse.directory;
      await users.create(USER);
      const { app, clientSecret } = await apps.create({
        label: LABEL,
        redirect_uris: [REDIRECT_URI],
        login_url: LOGIN_URL,
        auth_method: 'client_secret_basic',
        scopes: ['profile', 'email'],
      });
      appId = app.id;
      assert.deepEqual(await apps.boundGroups(app.id), [], 'a new app has no group assignments');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    test('deny until a group is bound, then the same session signs in', async () => {
      const browser = new Browser();

      // 1. No group bound: after the password, a page says so; no code reaches ngrok.
      const denied = await startAuthorization(config, REDIRECT_URI, SCOPE);
      const outcome = await browse(browser, denied.url, REDIRECT_URI, { username: USER.username, password: USER.password });
      assert.equal(outcome.callbackUrl, undefined, 'no redirect to the app before the person has seen why');
      assert.ok(outcome.page);
      assert.equal(outcome.page.status, 403);
      assert.match(outcome.page.html, /don't have access/);
      assert.ok(outcome.page.html.includes(LABEL), 'the page names the app');
      assert.ok(outcome.page.html.includes(USER.username), 'the page says who is signed in');
      assert.doesNotMatch(outcome.page.html, /name="password"/);

      // 2. "Return to ngrok oidc" hands the app a standard error, with its state, and no code.
      const forms = parseForms(outcome.page.html);
      assert.equal(forms.length, 1);
      const [returnForm] = forms;
      assert.ok(returnForm);
      assert.match(outcome.page.html, new RegExp(`Return to ${LABEL}`));
      // The button is CSRF-protected like the sign-in form: a forged submission is refused.
      const forged = await browser.submit(outcome.page.url, returnForm, { csrf: 'forged' }, REDIRECT_URI);
      assert.equal(forged.response?.status, 403);
      const back = await browser.submit(outcome.page.url, returnForm, {}, REDIRECT_URI);
      assert.equal(back.response, undefined, `expected a redirect to ngrok, got a page (${back.response?.status})`);
      const callback = new URL(back.url);
      assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('state'), denied.state);
      assert.equal(callback.searchParams.get('code'), null);
      assert.equal(callback.searchParams.get('iss'), gatehouse.issuer, 'RFC 9207 issuer identification on the error too');

      // 3. Still denied with prompt=none: straight back to the app, no page.
      const silent = await startAuthorization(config, REDIRECT_URI, SCOPE, { prompt: 'none' });
      const silentOutcome = await browse(browser, silent.url, REDIRECT_URI);
      assert.ok(silentOutcome.callbackUrl);
      assert.equal(silentOutcome.callbackUrl.searchParams.get('error'), 'access_denied');
      assert.equal(silentOutcome.callbackUrl.searchParams.get('code'), null);

      // 4. The administrator binds All Users; the Gatehouse session suffices, no password again.
      await gatehouse.directory.apps.bind(appId, 'All Users');
      const allowed = await startAuthorization(config, REDIRECT_URI, SCOPE);
      const allowedOutcome = await browse(browser, allowed.url, REDIRECT_URI);
      assert.ok(allowedOutcome.callbackUrl, `expected a code without a form, got a page (${allowedOutcome.page?.status}): ${allowedOutcome.page?.html.slice(0, 300)}`);
      const tokens = await client.authorizationCodeGrant(config, allowedOutcome.callbackUrl, {
        pkceCodeVerifier: allowed.codeVerifier,
        expectedState: allowed.state,
        expectedNonce: allowed.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.email, USER.email);
      assert.equal(claims.email_verified, true);
      assert.equal(claims.given_name, USER.firstname);
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(userinfo.email, USER.email);
    });

    test('unbinding denies the next sign-in again', async () => {
      await gatehouse.directory.apps.unbind(appId, 'All Users');
      try {
        const start = await startAuthorization(config, REDIRECT_URI, SCOPE);
        const outcome = await browse(new Browser(), start.url, REDIRECT_URI, { username: USER.username, password: USER.password });
        assert.equal(outcome.page?.status, 403);
        assert.match(outcome.page?.html ?? '', /don't have access/);
      } finally {
        await gatehouse.directory.apps.bind(appId, 'All Users');
      }
    });
  });
}
