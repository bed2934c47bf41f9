/**
 * prompt=select_account: JumpCloud answers it with an error; Gatehouse asks the person whether to
 * continue with the signed-in account or to sign in with another one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, type client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://app.example.test/callback';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`prompt=select_account (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, apps } = gatehouse.directory;
      await users.create({ username: 'ada', email: 'ada@example.com', password: 'first-person-passphrase-1' });
      await users.create({ username: 'bob', email: 'bob@example.com', password: 'second-person-passphrase-1' });
      const { app, clientSecret } = await apps.create({ label: 'Wiki', redirect_uris: [REDIRECT_URI], scopes: ['profile'] });
      await apps.bind(app.id, 'All Users');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    async function chooser(browser: Browser) {
      const start = await startAuthorization(config, REDIRECT_URI, 'openid profile', { prompt: 'select_account' });
      const outcome = await browse(browser, start.url, REDIRECT_URI);
      assert.ok(outcome.page, 'a page is shown, not an error redirect');
      assert.match(outcome.page.html, /Continue as ada/);
      return { start, page: outcome.page };
    }

    test('continuing keeps the signed-in account', async () => {
      const { browser } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid profile', username: 'ada', password: 'first-person-passphrase-1' });
      const { page } = await chooser(browser);
      const [continueForm] = parseForms(page.html);
      assert.ok(continueForm);
      const forged = await browser.submit(page.url, continueForm, { csrf: 'forged' }, REDIRECT_URI);
      assert.equal(forged.response?.status, 403, 'a forged "continue" is refused');
      const step = await browser.submit(page.url, continueForm, {}, REDIRECT_URI);
      const callback = new URL(step.url);
      assert.ok(callback.searchParams.get('code'));
    });

    test('signing in with another account switches to it', async () => {
      const { browser } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid profile', username: 'ada', password: 'first-person-passphrase-1' });
      const { start, page } = await chooser(browser);
      // Another account: its name first (identifier step), then its password.
      const identifierForm = parseForms(page.html).find((f) => f.fields.some((field) => field.name === 'username'));
      assert.ok(identifierForm);
      const passwordStep = await browser.submit(page.url, identifierForm, { username: 'bob' }, REDIRECT_URI);
      assert.equal(passwordStep.response?.status, 200);
      const loginForm = parseForms((await passwordStep.response?.text()) ?? '').find((f) => f.fields.some((field) => field.name === 'password'));
      assert.ok(loginForm, 'the password step');
      let step = await browser.submit(passwordStep.url, loginForm, { password: 'second-person-passphrase-1' }, REDIRECT_URI);
      // Switching accounts ends the old session first: oidc-provider shows a self-submitting form for that.
      if (step.response) {
        const [logoutForm] = parseForms(await step.response.text());
        assert.ok(logoutForm);
        step = await browser.submit(step.url, logoutForm, {}, REDIRECT_URI);
      }
      const { authorizationCodeGrant } = await import('openid-client');
      const tokens = await authorizationCodeGrant(config, new URL(step.url), { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce });
      assert.equal(tokens.claims()?.preferred_username, 'bob');
    });

    test('without a session the sign-in form answers it', async () => {
      const start = await startAuthorization(config, REDIRECT_URI, 'openid profile', { prompt: 'select_account' });
      const outcome = await browse(new Browser(), start.url, REDIRECT_URI, { username: 'ada', password: 'first-person-passphrase-1' });
      assert.ok(outcome.callbackUrl?.searchParams.get('code'));
    });
  });
}
